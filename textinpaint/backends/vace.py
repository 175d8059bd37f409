"""Repainting a masked region of a video consistently over time: Wan 2.1 VACE through diffusers.

``WanVACEPipeline`` as the diffusers docs run it for video inpainting: the frames, a mask per
frame (white: repaint), the prompt, and ``num_frames`` a multiple of 4 plus 1. A window of frames
is painted in one pass, so what is painted holds still from frame to frame (per-frame image
inpainting flickers). :meth:`WanVace.paint` takes the window's crops at full resolution and
brings them to the model's size and back, as the image painters do; which frames are known
context (their mask empty) is the caller's choice, which is how windows hand over their seam.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import torch

from ..abilities import Abilities
from ..inpainting import FillRequest, generation_size, resize, shrink_any

# Wan's own sampling defaults (the diffusers docs' VACE example): 30 steps, guidance 5.0, and its
# Chinese-and-English negative prompt shortened to the artefacts that matter for a region.
WAN_STEPS = 30
WAN_GUIDANCE = 5.0
WAN_NEGATIVE = "bright colors, overexposed, static, blurred details, subtitles, worst quality, low quality, jpeg artifacts, deformed, disfigured"
# Wan 2.1 paints 480x832 (about 400,000 pixels); sides are multiples of 16 (the VAE's 8 x the 2x2 patches).
NATIVE_SIDE = 624
MULTIPLE = 16


@dataclass(frozen=True)
class WanVace:
    """A loaded Wan VACE pipeline: :meth:`paint` repaints a window of frames."""

    pipe: Any  # a diffusers WanVACEPipeline
    device: torch.device
    dtype: torch.dtype
    native_size: int = NATIVE_SIDE  # the side of the square area it paints at

    abilities = Abilities(
        name="Wan VACE",
        scheduler=False,
        steps=WAN_STEPS,
        guidance=WAN_GUIDANCE,
        negative=WAN_NEGATIVE,
    )

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype) -> WanVace:
        from diffusers import WanVACEPipeline

        pipe = WanVACEPipeline.from_pretrained(source, dtype=dtype)
        pipe.set_progress_bar_config(disable=True)
        # Never beyond what its rotary position table covers (half of it: a small model says so).
        config = pipe.transformer.config
        reach = config.rope_max_seq_len * config.patch_size[1] * pipe.vae_scale_factor_spatial // 2
        return cls(pipe.to(device), device, dtype, min(NATIVE_SIDE, reach))

    @staticmethod
    def window_frames(count: int) -> int:
        """The frames one pass paints for ``count`` frames: the next multiple of 4 plus 1 (the
        window is padded by repeating its last frame)."""
        return (max(count, 1) - 1 + 3) // 4 * 4 + 1

    @torch.inference_mode()
    def paint(self, crops: list[np.ndarray], masks: list[np.ndarray], request: FillRequest) -> list[np.ndarray]:
        """Repaint ``masks`` (HxW ``bool`` each) in ``crops`` (HxWx3 ``uint8``, one size), one pass.

        Returns:
            The painted crops, ``uint8``, each its input's shape (the caller blends them in).
        """
        height, width = masks[0].shape
        gen_width, gen_height = generation_size(width, height, self.native_size, MULTIPLE)
        count = len(crops)
        total = self.window_frames(count)
        video = [PIL.Image.fromarray(resize(crop, gen_width, gen_height)) for crop in crops]
        holes = [PIL.Image.fromarray(shrink_any(mask, gen_width, gen_height).astype(np.uint8) * 255) for mask in masks]
        video += [video[-1]] * (total - count)
        holes += [holes[-1]] * (total - count)
        generator = torch.Generator(device="cpu").manual_seed(request.seed)
        frames = self.pipe(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or None,
            video=video,
            mask=holes,
            height=gen_height,
            width=gen_width,
            num_frames=total,
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
            generator=generator,
            output_type="np",
        ).frames[0]
        painted = (np.clip(frames[:count], 0.0, 1.0) * 255).round().astype(np.uint8)
        return [resize(frame, width, height) for frame in painted]


def write_tiny(folder: Path, *, seed: int) -> Path:
    """A Wan VACE pipeline in its real diffusers layout, a few hundred kB: a 3-layer transformer
    (2 heads of 12, VACE blocks at layers 0 and 2), a base-3 Wan VAE, a 2-layer UMT5 encoder of
    width 32 and the tiny T5 tokenizer; the flow-matching scheduler."""
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanVACEPipeline, WanVACETransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    from ..testing import _t5_tokenizer

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        tokenizer = _t5_tokenizer()
        encoder = UMT5EncoderModel(
            UMT5Config(
                vocab_size=len(tokenizer),
                d_model=32,
                d_kv=8,
                d_ff=64,
                num_layers=2,
                num_heads=4,
                relative_attention_num_buckets=8,
            )
        )
        vae = AutoencoderKLWan(
            base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
        )
        transformer = WanVACETransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=16,
            out_channels=16,
            text_dim=32,
            freq_dim=256,
            ffn_dim=32,
            num_layers=3,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=16,  # a small table: it paints at most 128x128 in area (fast on a CPU)
            vace_layers=[0, 2],
            vace_in_channels=96,
        )
        pipe = WanVACEPipeline(
            tokenizer=tokenizer,
            text_encoder=encoder,
            vae=vae,
            scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
            transformer=transformer,
        )
        pipe.save_pretrained(folder)  # type: ignore[attr-defined]  # diffusers adds it through a mixin mypy cannot see
    return folder
