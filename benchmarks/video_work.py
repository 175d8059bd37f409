"""Work accounting for the video workflows: FLOPs per second of video with Wan 2.1 VACE (replace,
remove, background) and with LaMa frame by frame (``remove --per-frame``). Computed, not measured.

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

LaMa is counted from its published configuration (``big-lama``: an FFC ResNet generator, 64
base channels, 3 downsamplings, 18 residual blocks whose convolutions send 3/4 of their 512
channels through the Fourier branch), layer by layer, as ``2 x in x out x k x k x output
pixels`` for each convolution (what ``FlopCounterMode`` counts for one), on the 512x512 crop the
remover paints each frame at; its FFTs (a few percent at most) are not counted. It runs in fp32
(the TorchScript weights), so its H100 floor is at the fp32 peak.
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


# big-lama's generator (configs/training/big-lama.yaml in advimman/lama): the input is the RGB
# picture and the mask; ratio is the share of channels in the Fourier (global) branch.
BIG_LAMA = dict(input_channels=4, output_channels=3, base=64, downsamplings=3, blocks=18, ratio=0.75)


def conv(cin: float, cout: float, kernel: int, height: float, width: float) -> float:
    """FLOPs of one convolution (multiply and add) onto an output of ``height`` x ``width``."""
    return 2.0 * cin * cout * kernel * kernel * height * width


def lama_flops(height: int, width: int, config: dict[str, float] = BIG_LAMA) -> float:
    """FLOPs of one LaMa (FFC ResNet) pass over a ``height`` x ``width`` picture."""
    base, downs = int(config["base"]), int(config["downsamplings"])
    total = conv(config["input_channels"], base, 7, height, width)  # the 7x7 stem
    for i in range(downs):  # 3x3 stride-2 convolutions, doubling the channels
        total += conv(base * 2**i, base * 2 ** (i + 1), 3, height / 2 ** (i + 1), width / 2 ** (i + 1))
    channels = base * 2**downs
    inner_h, inner_w = height / 2**downs, width / 2**downs
    glob = channels * config["ratio"]
    local = channels - glob
    # One FFC: local->local, local->global, global->local 3x3 convolutions, and the spectral
    # transform of the global part: 1x1 to half its width, a 1x1 on the real and imaginary parts
    # of its 2-D FFT (height x (width/2 + 1)), and 1x1 back.
    spatial = conv(local, local, 3, inner_h, inner_w) + conv(local, glob, 3, inner_h, inner_w)
    spatial += conv(glob, local, 3, inner_h, inner_w)
    spectral = conv(glob, glob / 2, 1, inner_h, inner_w) + conv(glob, glob, 1, inner_h, inner_w // 2 + 1)
    spectral += conv(glob / 2, glob, 1, inner_h, inner_w)
    total += config["blocks"] * 2 * (spatial + spectral)  # two FFCs a residual block
    for i in range(downs, 0, -1):  # 3x3 stride-2 transposed convolutions back up, from the smaller side
        total += conv(base * 2**i, base * 2 ** (i - 1), 3, height / 2**i, width / 2**i)
    return total + conv(base, config["output_channels"], 7, height, width)  # the 7x7 head


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=33, help="frames a window paints (4k+1)")
    parser.add_argument("--overlap", type=int, default=4)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=832)
    parser.add_argument("--lama-size", type=int, default=512, help="the side of the crop LaMa paints")
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
    frame = lama_flops(args.lama_size, args.lama_size)
    print()
    print(f"#### LaMa (big-lama) frame by frame, {args.lama_size}x{args.lama_size} crops, {args.fps:g} fps: estimates")
    print()
    print("| model | GFLOP per frame | TFLOP per second of video | H100 lower bound (fp32), s per second of video |")
    print("|---|---|---|---|")
    per_second = frame * args.fps
    print(f"| LaMa big-lama | {frame / 1e9:,.0f} | {per_second / 1e12:,.1f} | {per_second / H100.single_flops:,.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
