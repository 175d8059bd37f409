"""FLUX.1 Fill (through diffusers' ``FluxFillPipeline``) as the inpainter.

FLUX.1 Fill [dev] (Black Forest Labs, 2024) is a 12-billion-parameter rectified-flow transformer
trained for inpainting and outpainting; it is the strongest open inpainter, and the heaviest (about
34 GB of bf16 weights with its T5-XXL text encoder). Its weights are under the FLUX.1 [dev]
Non-Commercial License: outputs may be used commercially, the model itself may not be run
commercially without a licence from Black Forest Labs.

What differs from Stable Diffusion, and what textinpaint does about it:

- **bf16.** FLUX overflows in float16, so a float16 request loads it in bfloat16 (a warning says
  so); float32 works but needs twice the memory.
- **Guidance** is FLUX's distilled guidance (an input of the model, not classifier-free guidance),
  and its inpainting examples use 30: FLUX declares 30 as its default, so ``guidance=None`` paints
  at 30 and records 30, and any value given (7.5 too) is painted and recorded as given.
- **No negative prompt.** FLUX.1 Fill has none: ``negative_prompt=None`` means none, and a
  negative prompt you give is refused with :class:`~textinpaint.errors.InvalidInputError`.
- **Its own scheduler** (flow matching, Euler): the ``scheduler`` names do not apply and are refused;
  so are ``fast=True`` (no few-step LoRA for FLUX here) and ``depth=True`` (no FLUX depth
  ControlNet here). ``refine`` and ``upscale`` work as with Stable Diffusion.

Everything else is as for :class:`~textinpaint.backends.diffusion.DiffusersInpainter`: the crop around the
mask is painted at the model's native size (1024 px), same-size crops share one batched run,
every call builds a light pipeline over the shared modules, and pixels outside the mask are the
input's, bit for bit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..abilities import SD_STEPS, Abilities
from ..errors import InvalidInputError
from ..inpainting import FillRequest
from ..models import variant_options
from ..options import Speed
from .diffusion import DiffusionPainter, call_arguments, call_copy, report_steps

logger = logging.getLogger(__name__)

# FLUX.1 Fill's distilled guidance in its own examples: its default.
FLUX_GUIDANCE = 30.0


@dataclass(frozen=True)
class FluxInpainter(DiffusionPainter):
    """A diffusers ``FluxFillPipeline`` as a :class:`~textinpaint.inpainting.Filler` (same contract
    as :class:`~textinpaint.backends.diffusion.DiffusersInpainter`, its sibling)."""

    abilities: ClassVar[Abilities] = Abilities(
        name="FLUX.1 Fill",
        negative_prompt=False,
        scheduler=False,
        fast=False,
        control=False,
        upscale=True,
        generate=True,
        batch=True,
        # The same step count as the SD painters keeps edits comparable; FLUX's examples use 28-50.
        steps=SD_STEPS,
        guidance=FLUX_GUIDANCE,
        negative="",
    )

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype, speed: Speed | None = None) -> FluxInpainter:
        from diffusers import FluxFillPipeline

        if dtype == torch.float16:
            logger.warning("FLUX.1 Fill overflows in float16; loading %s in bfloat16", source)
            dtype = torch.bfloat16
        pipe: Any = FluxFillPipeline.from_pretrained(source, dtype=dtype, **variant_options("inpainter", source, dtype))
        if speed and speed.offload:
            if device.type != "cuda":
                raise InvalidInputError(f"offload=True needs a CUDA device; got device={device}")
            pipe.enable_model_cpu_offload(device=device)
        else:
            pipe = pipe.to(device)
        if speed and speed.vae_tiling:
            pipe.vae.enable_tiling()
        if speed and speed.compile:
            pipe.transformer = torch.compile(pipe.transformer)
        pipe.set_progress_bar_config(disable=True)
        return cls(pipe)

    @property
    def native_size(self) -> int:
        return int(self.pipe.default_sample_size * self.pipe.vae_scale_factor)

    @property
    def _grid(self) -> int:
        """FLUX packs 2 x 2 latents into one token: sides are multiples of twice the VAE's factor (16)."""
        return max(16, int(self.pipe.vae_scale_factor) * 2)

    def _pass(
        self,
        images: list[np.ndarray],
        masks: list[np.ndarray],
        requests: list[FillRequest],
        width: int,
        height: int,
        strength: float,
        *,
        controls: list[np.ndarray] | None = None,
        controlnet_scale: float = 1.0,
    ) -> list[np.ndarray]:
        """One denoising run over a batch at ``width`` x ``height``; returns ``uint8`` pictures of that size."""
        first = requests[0]
        if first.negative_prompt or first.scheduler is not None or first.fast or controls is not None:
            raise InvalidInputError(
                "FLUX.1 Fill takes no negative prompt, scheduler name, few-step mode or control image "
                "(textinpaint.options.resolve refuses them before any work)"
            )
        pipe = call_copy(self.pipe, self.pipe.scheduler.from_config(self.pipe.scheduler.config))
        arguments = call_arguments(images, masks, requests, width, height, strength)
        arguments["output_type"] = "np"
        report_steps(arguments)
        pictures = pipe(**arguments).images
        return [np.rint(np.clip(p, 0.0, 1.0) * 255.0).astype(np.uint8) for p in pictures]
