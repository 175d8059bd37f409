"""What a backend can do, declared by the backend itself, and the one check that reads it.

Every painter declares an :class:`Abilities` as its class attribute ``abilities`` (and every
detector says whether it gives masks and how long a phrase may be). The core never asks a
backend's class or name: it reads these declarations, before any model loads (through the stage
table, :meth:`textinpaint.stages.Backend.abilities`) or off the loaded object.

``None`` in an option means "this model's default": :func:`resolve` fills steps, guidance and
the negative prompt from the declaration, honours every explicit value exactly, and refuses what
the backend cannot do with a typed error that names the option and the model.

Example:
    >>> sd = Abilities(name="Stable Diffusion", fast=True)
    >>> sd.defaults(fast=True)[:2]
    (4, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

# Stable Diffusion's defaults, which every SD-family painter (SD 1.5, SD 2, SDXL) declares.
# Steps: SD inpainting models converge by about 30 DDIM/PNDM steps; more costs time for little.
SD_STEPS = 30
# Guidance 7.5 is Stable Diffusion's own default: faithful to the prompt without burnt colours.
SD_GUIDANCE = 7.5
# Negative prompt: the artefacts users complain about most in inpainted regions.
SD_NEGATIVE_PROMPT = "blurry, low quality, deformed, distorted, watermark, text, seam, border"
# A few-step LoRA (LCM-LoRA's card: 2 to 8 steps, guidance 1.0 to 2.0): 4 steps, no unconditional pass.
FEW_STEPS = 4
FEW_STEPS_GUIDANCE = 1.0
FEW_STEPS_MAX = 8


@dataclass(frozen=True)
class Abilities:
    """What one painter can do, and its own defaults.

    Attributes:
        name: the model's name in messages ("FLUX.1 Fill").
        negative_prompt: it takes a negative prompt.
        scheduler: it takes a scheduler name (:data:`textinpaint.schedulers.SCHEDULERS`).
        fast: it can paint in a few steps with a few-step LoRA (``fast=True``).
        control: it paints under a control image (a depth ControlNet, ``depth=True``).
        upscale: it can sharpen its crop with the diffusion upscaler (``upscale=``).
        generate: it can draw a picture from text alone (:func:`textinpaint.generate`).
        batch: it paints several crops in one call.
        steps: its default number of denoising steps.
        guidance: its default guidance.
        negative: its default negative prompt (used when it takes one and none is given).
    """

    name: str = "a custom painter"
    negative_prompt: bool = True
    scheduler: bool = True
    fast: bool = False
    control: bool = False
    upscale: bool = False
    generate: bool = False
    batch: bool = False
    steps: int = SD_STEPS
    guidance: float = SD_GUIDANCE
    negative: str = SD_NEGATIVE_PROMPT

    def defaults(self, *, fast: bool = False) -> tuple[int, float, str]:
        """Steps, guidance and negative prompt used for options left at None."""
        negative = self.negative if self.negative_prompt else ""
        if fast:
            return FEW_STEPS, FEW_STEPS_GUIDANCE, negative
        return self.steps, self.guidance, negative
