"""generate: make an image from text with the inpainting model's own weights (no second copy)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import PIL.Image

from ..detection import empty_detections
from ..errors import ImageTooLargeError, InvalidInputError
from ..options import DEFAULT_GUIDANCE, DEFAULT_NEGATIVE_PROMPT, DEFAULT_STEPS, PaintOptions, check_text
from ..results import Edit
from ..runtime import check_painter, painter, record, timed

if TYPE_CHECKING:
    from ..pipeline import Pipeline


def generate(
    pipeline: Pipeline,
    prompt: str,
    *,
    size: tuple[int, int] | None = None,
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
    steps: int = DEFAULT_STEPS,
    guidance: float = DEFAULT_GUIDANCE,
    seed: int | None = None,
    scheduler: str | None = None,
    upscale: int | None = None,
    fast: bool = False,
) -> PIL.Image.Image:
    """Make an image from text with the inpainting model's own weights (no second copy).

    Args:
        prompt: what to draw.
        size: ``(width, height)`` of the result; default the model's native square. At most
            the pipeline's ``max_pixels``.
        negative_prompt: as for :meth:`inpaint`.
        steps: as for :meth:`inpaint`.
        guidance: as for :meth:`inpaint`.
        seed: as for :meth:`inpaint`.
        scheduler: as for :meth:`inpaint`.
        upscale: as for :meth:`inpaint`.
        fast: as for :meth:`inpaint`.

    Returns:
        An RGB image of exactly ``size``, with ``info["seed"]`` and ``info["edit"]`` (an
        :class:`Edit` whose :meth:`~Edit.to_dict` is the sidecar).

    Example:
        >>> from textinpaint import generate, replace
        >>> edit = replace(generate("a woman in a park", seed=1), find="hair", with_="short pink hair")  # doctest: +SKIP
    """
    # 1. Check every option before any work.
    check_text("prompt", prompt)
    if size is not None and not (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in size)
    ):
        raise InvalidInputError(f"size must be (width, height) in whole pixels >= 1; got {size!r}")
    if size is not None and size[0] * size[1] > pipeline.max_pixels:
        raise ImageTooLargeError(
            f"size {size[0]}x{size[1]} is {size[0] * size[1]} pixels, over "
            f"max_pixels={pipeline.max_pixels}; ask for a smaller size or raise max_pixels"
        )
    painting = PaintOptions(
        negative_prompt, steps, guidance, 1.0, seed, scheduler=scheduler, upscale=upscale, fast=fast
    )
    check_painter(pipeline, painting)
    request = painting.request(prompt)
    # 2. Load the inpainter; only the diffusers one can draw from nothing.
    timings: dict[str, float] = {}
    with timed("load", timings):
        filler = painter(pipeline, painting)
    from ..diffusion import DiffusersInpainter

    if not isinstance(filler, DiffusersInpainter):
        raise InvalidInputError("generate needs a diffusers inpainting model as inpainter; got a custom filler")
    width, height = size or (filler.native_size, filler.native_size)
    # 3. Paint a blank canvas under a full mask.
    with timed("generate", timings):
        pixels = filler.generate(request, width, height)
    # 4. Record how it was made.
    result = PIL.Image.fromarray(pixels)
    parameters = {
        "prompt": prompt,
        "size": list(size) if size else None,
        "negative_prompt": negative_prompt,
        "steps": painting.steps,
        "guidance": painting.guidance,
        "seed": request.seed,
        "scheduler": scheduler,
        "upscale": upscale,
        "fast": fast,
    }
    note = record(pipeline, "generate", parameters, ("inpainter",), None)
    result.info["seed"] = request.seed
    result.info["edit"] = Edit(
        result, np.ones((height, width), bool), empty_detections(), [], request.seed, True, timings, None, note
    )
    return result
