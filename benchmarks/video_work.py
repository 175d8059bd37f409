"""Work accounting for video replace: FLOPs per second of video with Wan 2.1 VACE. Computed, not measured.

    python benchmarks/video_work.py                   # 1.3B and 14B, 480x832, windows of 33 frames
    python benchmarks/video_work.py --steps 20 --fps 30

As benchmarks/work.py does for photos: ``torch.utils.flop_counter.FlopCounterMode`` on the
full-size architectures (the published configurations of Wan2.1-VACE-1.3B and -14B, the UMT5-XXL
text encoder and the Wan VAE, random weights) on the meta device, so nothing is downloaded and
nothing is computed. One window is 33 frames at 480x832 (9 latent frames of 60x104, 14,040 tokens
through the transformer); each step runs the transformer twice (guidance: the prompt and the
negative prompt); a window hands 4 frames to the next, so it yields 29 new frames. The VAE
encodes the window twice (the kept and the masked frames, as VACE's conditioning does) and
decodes it once. Normalisations and activations are not counted; the matrix and convolution
work, which dominates, is. The H100 time is a roofline lower bound at its published dense fp16
peak: an **estimate**, not a measurement.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from work import H100, META, flops, parameters

VACE = {
    "1.3B": dict(num_attention_heads=12, ffn_dim=8960, num_layers=30, vace_layers=list(range(0, 30, 2))),
    "14B": dict(num_attention_heads=40, ffn_dim=13824, num_layers=40, vace_layers=list(range(0, 40, 5))),
}


def transformer_flops(size: str, frames: int, height: int, width: int) -> tuple[float, int]:
    from diffusers import WanVACETransformer3DModel

    with torch.device(META):
        model = WanVACETransformer3DModel(
            patch_size=(1, 2, 2),
            attention_head_dim=128,
            in_channels=16,
            out_channels=16,
            text_dim=4096,
            freq_dim=256,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=1024,
            vace_in_channels=96,
            **VACE[size],
        ).to(torch.bfloat16)
    latent_frames = (frames - 1) // 4 + 1
    shape = (1, 16, latent_frames, height // 8, width // 8)
    latents = torch.empty(shape, device=META, dtype=torch.bfloat16)
    control = torch.empty((1, 96, *shape[2:]), device=META, dtype=torch.bfloat16)
    text = torch.empty((1, 512, 4096), device=META, dtype=torch.bfloat16)
    step = torch.tensor([500], device=META)

    def run() -> None:
        model(hidden_states=latents, timestep=step, encoder_hidden_states=text, control_hidden_states=control)

    return flops(run), parameters(model)


def text_encoder_flops() -> float:
    from transformers import UMT5Config, UMT5EncoderModel

    config = UMT5Config(
        vocab_size=256384,
        d_model=4096,
        d_kv=64,
        d_ff=10240,
        num_layers=24,
        num_heads=64,
        feed_forward_proj="gated-gelu",
    )
    with torch.device(META):
        encoder = UMT5EncoderModel(config).to(torch.bfloat16)
    tokens = torch.zeros((1, 512), dtype=torch.long, device=META)
    return flops(lambda: encoder(input_ids=tokens))


def vae_flops(frames: int, height: int, width: int) -> tuple[float, float]:
    from diffusers import AutoencoderKLWan

    with torch.device(META):
        vae = AutoencoderKLWan(base_dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2).to(torch.bfloat16)
    video = torch.empty((1, 3, frames, height, width), device=META, dtype=torch.bfloat16)
    latents = torch.empty((1, 16, (frames - 1) // 4 + 1, height // 8, width // 8), device=META, dtype=torch.bfloat16)
    return flops(lambda: vae.encode(video)), flops(lambda: vae.decode(latents))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=33, help="frames a window paints (4k+1)")
    parser.add_argument("--overlap", type=int, default=4)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=832)
    args = parser.parse_args(argv)
    new_frames = args.frames - args.overlap
    windows_per_second = args.fps / new_frames
    text = text_encoder_flops()
    encode, decode = vae_flops(args.frames, args.height, args.width)
    print(
        f"#### Wan 2.1 VACE, windows of {args.frames} frames at {args.width}x{args.height} "
        f"({new_frames} new frames each), {args.steps} steps with guidance, {args.fps:g} fps: estimates"
    )
    print()
    print(
        "| model | transformer params | transformer TFLOP per window | text + VAE TFLOP per window | "
        "TFLOP per second of video | H100 lower bound, s per second of video |"
    )
    print("|---|---|---|---|---|---|")
    for size in VACE:
        one, params = transformer_flops(size, args.frames, args.height, args.width)
        transformer = one * 2 * args.steps
        other = 2 * text + 2 * encode + decode
        per_second = (transformer + other) * windows_per_second
        print(
            f"| VACE {size} | {params / 1e9:.2f} B | {transformer / 1e12:,.0f} | {other / 1e12:,.1f} | "
            f"{per_second / 1e12:,.0f} | {per_second / H100.half_flops:,.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
