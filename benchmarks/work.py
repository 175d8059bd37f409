"""Work accounting: the FLOPs and weight bytes of every stage, ours against the Grounded-SAM demo,
and a roofline estimate of the time on an H100. Computed, not measured: no GPU is needed.

    python benchmarks/work.py                 # SD 1.5 chain at 512x512, the baseline, fast=True, SDXL and FLUX.1 Fill at 1024x1024
    python benchmarks/work.py --steps 30      # another step count for ours

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` on the full-size architectures
of ``architectures.py`` (published configurations, random weights): on the meta device where
the network allows it, on the CPU for GroundingDINO (its post-processing reads values). A FLOP
is a multiply or an add (a multiply-add is 2). Operations the counter has no formula for
(GroundingDINO's deformable-attention sampling, normalisations, activations) are not counted:
the figures are the matrix and convolution work, which dominates. Bytes are the weights each
stage reads in its dtype, once per forward pass; activations are left out. The time estimate is
a roofline lower bound per stage, ``max(FLOPs / peak, bytes / bandwidth)``, at the H100 SXM's
published dense peaks: an **estimate**, not a measurement.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).parent))

import architectures

META = torch.device("meta")
CPU = torch.device("cpu")


@dataclass(frozen=True)
class Device:
    """Published peaks of one accelerator (dense, no sparsity)."""

    name: str
    half_flops: float  # fp16/bf16 tensor cores, FLOP/s
    single_flops: float  # fp32 without TF32, FLOP/s
    bandwidth: float  # memory, bytes/s


H100 = Device("H100 SXM5 (dense peaks: 989 TFLOP/s fp16, 67 TFLOP/s fp32, 3.35 TB/s HBM3)", 989e12, 67e12, 3.35e12)


@dataclass(frozen=True)
class Stage:
    """One network's share of a run: FLOPs of one call, calls, and its weights in its dtype."""

    name: str
    flops: float  # of one call
    calls: int
    parameters: int
    dtype: torch.dtype

    @property
    def total_flops(self) -> float:
        return self.flops * self.calls

    @property
    def bytes(self) -> float:
        return self.parameters * torch.finfo(self.dtype).bits / 8 * self.calls

    def seconds(self, device: Device) -> float:
        peak = device.half_flops if torch.finfo(self.dtype).bits == 16 else device.single_flops
        return max(self.total_flops / peak, self.bytes / device.bandwidth)


def flops(run) -> float:
    """FLOPs of ``run()`` as FlopCounterMode counts them."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        run()
    return float(counter.get_total_flops())


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ---- the networks ---------------------------------------------------------------------------


def detector_stage(dtype: torch.dtype, side: int = 800, tokens: int = 6) -> Stage:
    """GroundingDINO tiny on one picture resized to ``side`` (its processor's shortest edge, 800)
    and a short query; counted on the CPU in float32 (the FLOPs do not depend on the dtype)."""
    model = architectures.grounding_dino_tiny(CPU, torch.float32).model.requires_grad_(False)
    pixels = torch.zeros(1, 3, side, side)
    ids = torch.full((1, tokens), 1000)
    counted = flops(lambda: model(pixel_values=pixels, input_ids=ids, attention_mask=torch.ones_like(ids)))
    return Stage("detector (GroundingDINO tiny, 800x800)", counted, 1, parameters(model), dtype)


def segmenter_stages(dtype: torch.dtype, boxes: int = 1) -> list[Stage]:
    """SAM ViT-H: the image encoder at 1024x1024 once, the prompt encoder and mask decoder for ``boxes``."""
    with torch.device("meta"):
        model = architectures.sam("huge", META, dtype).model.requires_grad_(False)
    image = torch.empty(1, 3, 1024, 1024, device=META, dtype=dtype)
    embedding = torch.empty(1, 256, 64, 64, device=META, dtype=dtype)
    prompts = torch.empty(1, boxes, 4, device=META, dtype=dtype)
    encoder = flops(lambda: model.vision_encoder(image))
    decoder = flops(lambda: model(image_embeddings=embedding, input_boxes=prompts, multimask_output=False))
    return [
        Stage("SAM ViT-H image encoder (1024x1024)", encoder, 1, parameters(model.vision_encoder), dtype),
        Stage(
            f"SAM prompt encoder + mask decoder ({boxes} box)",
            decoder,
            1,
            parameters(model) - parameters(model.vision_encoder),
            dtype,
        ),
    ]


def vae_stages(
    vae: torch.nn.Module, image: torch.Tensor, latents: torch.Tensor, dtype: torch.dtype
) -> tuple[Stage, Stage]:
    """One VAE encode of ``image`` and one decode of ``latents``, each with the weights it reads."""
    encoder = parameters(vae.encoder) + parameters(vae.quant_conv)
    decoder = parameters(vae.decoder) + parameters(vae.post_quant_conv)
    return (
        Stage("VAE encode", flops(lambda: vae.encode(image)), 1, encoder, dtype),
        Stage("VAE decode", flops(lambda: vae.decode(latents)), 1, decoder, dtype),
    )


def sd15_stages(dtype: torch.dtype, side: int, steps: int, guidance: bool) -> list[Stage]:
    """SD 1.5 inpainting at ``side``: text encoder, one VAE encode (the masked image), ``steps``
    UNet passes (batch 2 with classifier-free guidance), one VAE decode."""
    with torch.device("meta"):
        pipe = architectures.sd15_inpainting(META, dtype).pipe
    for module in (pipe.unet, pipe.vae, pipe.text_encoder):
        module.requires_grad_(False)
    batch, latent = (2 if guidance else 1), side // 8
    ids = torch.zeros(batch, 77, dtype=torch.long, device=META)
    sample = torch.empty(batch, 9, latent, latent, device=META, dtype=dtype)
    context = torch.empty(batch, 77, 768, device=META, dtype=dtype)
    image = torch.empty(1, 3, side, side, device=META, dtype=dtype)
    latents = torch.empty(1, 4, latent, latent, device=META, dtype=dtype)
    encode, decode = vae_stages(pipe.vae, image, latents, dtype)
    return [
        Stage(
            "text encoder (CLIP ViT-L/14)",
            flops(lambda: pipe.text_encoder(ids)),
            1,
            parameters(pipe.text_encoder),
            dtype,
        ),
        encode,
        Stage(
            f"UNet ({steps} steps, batch {batch})",
            flops(lambda: pipe.unet(sample, 10, encoder_hidden_states=context)),
            steps,
            parameters(pipe.unet),
            dtype,
        ),
        decode,
    ]


def sdxl_stages(dtype: torch.dtype, side: int, steps: int) -> list[Stage]:
    """SDXL inpainting at ``side``: both text encoders, VAE encode, ``steps`` UNet passes (batch 2), VAE decode."""
    with torch.device("meta"):
        modules = architectures.sdxl_modules()
    for module in modules.values():
        module.to(META, dtype).requires_grad_(False)
    unet, vae = modules["unet"], modules["vae"]
    latent = side // 8
    ids = torch.zeros(2, 77, dtype=torch.long, device=META)
    sample = torch.empty(2, 9, latent, latent, device=META, dtype=dtype)
    context = torch.empty(2, 77, 2048, device=META, dtype=dtype)
    added = {
        "text_embeds": torch.empty(2, 1280, device=META, dtype=dtype),
        "time_ids": torch.empty(2, 6, device=META, dtype=dtype),
    }
    image = torch.empty(1, 3, side, side, device=META, dtype=dtype)
    latents = torch.empty(1, 4, latent, latent, device=META, dtype=dtype)
    text = flops(lambda: modules["text_encoder"](ids)) + flops(lambda: modules["text_encoder_2"](ids))
    encode, decode = vae_stages(vae, image, latents, dtype)
    return [
        Stage(
            "text encoders (CLIP ViT-L + OpenCLIP bigG)",
            text,
            1,
            parameters(modules["text_encoder"]) + parameters(modules["text_encoder_2"]),
            dtype,
        ),
        encode,
        Stage(
            f"UNet ({steps} steps, batch 2)",
            flops(lambda: unet(sample, 10, encoder_hidden_states=context, added_cond_kwargs=added)),
            steps,
            parameters(unet),
            dtype,
        ),
        decode,
    ]


def flux_fill_stages(dtype: torch.dtype, side: int, steps: int) -> list[Stage]:
    """FLUX.1 Fill at ``side``: CLIP-L and T5-XXL (512 tokens) once, VAE encode, ``steps``
    transformer passes (batch 1: its guidance is an input, not a second pass), VAE decode."""
    with torch.device("meta"):
        modules = architectures.flux_fill_modules()
    for module in modules.values():
        module.to(META, dtype).requires_grad_(False)
    transformer, vae = modules["transformer"], modules["vae"]
    tokens = (side // 16) ** 2  # 8x VAE, then 2 x 2 latents per token
    hidden = torch.empty(1, tokens, 384, device=META, dtype=dtype)
    context = torch.empty(1, 512, 4096, device=META, dtype=dtype)
    pooled = torch.empty(1, 768, device=META, dtype=dtype)
    image_ids = torch.zeros(tokens, 3, device=META, dtype=dtype)
    text_ids = torch.zeros(512, 3, device=META, dtype=dtype)
    step = torch.ones(1, device=META, dtype=dtype)
    image = torch.empty(1, 3, side, side, device=META, dtype=dtype)
    latents = torch.empty(1, 16, side // 8, side // 8, device=META, dtype=dtype)
    clip_ids = torch.zeros(1, 77, dtype=torch.long, device=META)
    t5_ids = torch.zeros(1, 512, dtype=torch.long, device=META)
    text = flops(lambda: modules["text_encoder"](clip_ids)) + flops(lambda: modules["text_encoder_2"](t5_ids))
    encoder = parameters(vae.encoder)
    decoder = parameters(vae.decoder)
    return [
        Stage(
            "text encoders (CLIP-L + T5-XXL)",
            text,
            1,
            parameters(modules["text_encoder"]) + parameters(modules["text_encoder_2"]),
            dtype,
        ),
        Stage("VAE encode (image and masked image)", 2 * flops(lambda: vae.encode(image)), 1, 2 * encoder, dtype),
        Stage(
            f"transformer ({steps} steps, batch 1)",
            flops(
                lambda: transformer(
                    hidden_states=hidden,
                    encoder_hidden_states=context,
                    pooled_projections=pooled,
                    timestep=step,
                    img_ids=image_ids,
                    txt_ids=text_ids,
                    guidance=step,
                )
            ),
            steps,
            parameters(transformer),
            dtype,
        ),
        Stage("VAE decode", flops(lambda: vae.decode(latents)), 1, decoder, dtype),
    ]


# ---- the report -----------------------------------------------------------------------------


def table(title: str, stages: list[Stage], device: Device) -> tuple[list[str], float, float, float]:
    lines = [
        f"### {title}",
        "",
        "| stage | dtype | GFLOPs | weights read (GB) | roofline estimate (ms) |",
        "|---|---|---|---|---|",
    ]
    for stage in stages:
        dtype = str(stage.dtype).replace("torch.", "")
        lines.append(
            f"| {stage.name} | {dtype} | {stage.total_flops / 1e9:,.0f} | {stage.bytes / 1e9:.2f} | "
            f"{stage.seconds(device) * 1e3:.1f} |"
        )
    total_flops = sum(s.total_flops for s in stages)
    total_bytes = sum(s.bytes for s in stages)
    total_seconds = sum(s.seconds(device) for s in stages)
    lines.append(
        f"| **total** | | **{total_flops / 1e9:,.0f}** | **{total_bytes / 1e9:.2f}** | **{total_seconds * 1e3:.1f}** |"
    )
    return lines, total_flops, total_bytes, total_seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=25, help="our denoising steps (default 25)")
    parser.add_argument("--baseline-steps", type=int, default=50, help="the demo's steps (the pipeline's default, 50)")
    parser.add_argument("--size", type=int, default=512, help="the SD 1.5 side (default 512)")
    parser.add_argument("--no-sdxl", action="store_true", help="leave out the SDXL table")
    parser.add_argument("--fast-steps", type=int, default=4, help="fast=True's steps (default 4)")
    parser.add_argument("--flux-steps", type=int, default=28, help="FLUX.1 Fill's steps (default 28)")
    parser.add_argument("--no-flux", action="store_true", help="leave out the FLUX.1 Fill table")
    args = parser.parse_args(argv)
    half, single = torch.float16, torch.float32
    detector = detector_stage(half)
    ours = [detector, *segmenter_stages(half), *sd15_stages(half, args.size, args.steps, guidance=True)]
    baseline = [
        Stage(detector.name, detector.flops, 1, detector.parameters, single),
        *segmenter_stages(single),
        *sd15_stages(half, args.size, args.baseline_steps, guidance=True),
    ]
    device = H100
    out = [
        "Roofline estimates on the " + device.name + ": lower bounds, not measurements.",
        "",
    ]
    lines, ours_flops, ours_bytes, ours_seconds = table(
        f"ours: GroundingDINO tiny, SAM ViT-H, SD 1.5 inpainting at {args.size}x{args.size}, "
        f"{args.steps} steps with guidance, all fp16",
        ours,
        device,
    )
    out += lines + [""]
    lines, base_flops, base_bytes, base_seconds = table(
        f"baseline (Grounded-SAM demo): the same networks, GroundingDINO and SAM in fp32, SD 1.5 "
        f"inpainting fp16 on the whole frame at {args.size}x{args.size}, {args.baseline_steps} steps",
        baseline,
        device,
    )
    out += lines + [""]
    out.append(
        f"Work, ours / baseline: {ours_flops / base_flops:.2f} of the FLOPs, {ours_bytes / base_bytes:.2f} "
        f"of the weight bytes; estimated time {ours_seconds * 1e3:.0f} ms against {base_seconds * 1e3:.0f} ms "
        f"({base_seconds / ours_seconds:.2f}x faster, an estimate)."
    )
    painting = sd15_stages(half, args.size, args.steps, guidance=True)
    fast = sd15_stages(half, args.size, args.fast_steps, guidance=False)
    lines, fast_flops, _, fast_seconds = table(
        f"fast=True: SD 1.5 inpainting with the LCM-LoRA fused, {args.size}x{args.size}, {args.fast_steps} steps, "
        "guidance 1.0 (no unconditional pass), fp16 (painting only)",
        fast,
        device,
    )
    full_flops = sum(s.total_flops for s in painting)
    full_seconds = sum(s.seconds(device) for s in painting)
    out += ["", *lines, ""]
    out.append(
        f"Painting, fast / {args.steps} steps with guidance: {fast_flops / full_flops:.2f} of the FLOPs; estimated "
        f"{fast_seconds * 1e3:.0f} ms against {full_seconds * 1e3:.0f} ms ({full_seconds / fast_seconds:.1f}x faster, "
        "an estimate; the fused LoRA adds no work)."
    )
    if not args.no_sdxl:
        lines, *_ = table(
            f"SDXL inpainting at 1024x1024, {args.steps} steps with guidance, fp16 (painting only)",
            sdxl_stages(half, 1024, args.steps),
            device,
        )
        out += ["", *lines]
    if not args.no_flux:
        lines, *_ = table(
            f"FLUX.1 Fill at 1024x1024, {args.flux_steps} steps, bf16 (painting only)",
            flux_fill_stages(torch.bfloat16, 1024, args.flux_steps),
            device,
        )
        out += ["", *lines]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
