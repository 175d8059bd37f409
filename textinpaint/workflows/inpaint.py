"""inpaint: repaint a given mask from a prompt, at the image's full resolution."""

from __future__ import annotations

from typing import TYPE_CHECKING

import PIL.Image

from ..detection import empty_detections
from ..masks import load_mask
from ..options import (
    DEFAULT_GUIDANCE,
    DEFAULT_NEGATIVE_PROMPT,
    DEFAULT_STEPS,
    DEFAULT_STRENGTH,
    PaintOptions,
    fields_of,
)
from ..runtime import Found, assemble, check_painter, load_pictures, paint_found, painter

if TYPE_CHECKING:
    from ..images import ImageInput
    from ..pipeline import Pipeline


def inpaint(
    pipeline: Pipeline,
    image: ImageInput,
    mask: object,
    prompt: str,
    *,
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
    steps: int = DEFAULT_STEPS,
    guidance: float = DEFAULT_GUIDANCE,
    strength: float = DEFAULT_STRENGTH,
    seed: int | None = None,
    dilate: int | None = None,
    feather: int | None = None,
    scheduler: str | None = None,
    refine: bool = False,
    upscale: int | None = None,
    fast: bool = False,
) -> PIL.Image.Image:
    """Repaint the masked region from ``prompt``, at the image's full resolution.

    A window around the mask is painted at the model's native size and blended back with a
    weight set by each pixel's Euclidean distance ``d`` (in pixels) from the mask: 1 (the painted
    pixel) for ``d <= dilate``, falling linearly to exactly 0 at ``d = dilate + feather + 1``.
    Every pixel at ``d >= dilate + feather + 1`` is bit-identical to the input (``info["edit"].mask``
    is exactly the set of pixels whose weight is above 0). An empty mask returns the input
    unchanged without running the model.

    Args:
        image: a path, PIL image or numpy array.
        mask: HxW ``bool`` array (or a PIL image / path; white = repaint), the image's size.
        prompt: what to paint in the region.
        negative_prompt: what to steer away from ("" for none).
        steps: denoising steps.
        guidance: classifier-free guidance scale.
        strength: 1.0 repaints from noise; lower keeps more of the original.
        seed: random seed; a fresh one is drawn when None. The seed used is in ``image.info["seed"]``.
        dilate: grow the mask by this many pixels (default: ``max(4, longer side / 128)``).
        feather: width in pixels of the soft blend band outside the dilated mask
            (default: half the dilation, at least 2).
        scheduler: ``"ddim"``, ``"pndm"``, ``"euler"``, ``"euler a"``, ``"dpm++ 2m"``,
            ``"dpm++ 2m karras"``, ``"unipc"``, ``"lms"``; None keeps the model's own.
        refine: run a second, low-strength pass at 1.5x the resolution to add detail.
        upscale: 2 or 4: sharpen the painted crop with the diffusion upscaler before it is
            fitted back (only the repainted region changes; the output keeps its size).
        fast: paint in 4 steps (at most 8) with a few-step LoRA (LCM-LoRA for SD 1.5 and SDXL,
            the ``fast`` stage) fused into a copy of the UNet, and its scheduler; ``steps`` and
            ``guidance`` left at their defaults become 4 and 1.0 (see :mod:`textinpaint.fast`).

    Returns:
        The edited image, same size as the input (RGBA when the input had alpha), with
        ``info["seed"]`` and ``info["edit"]`` (an :class:`Edit` whose
        :meth:`~Edit.to_dict` is the sidecar).

    Example:
        >>> import numpy as np
        >>> from textinpaint import inpaint
        >>> mask = np.zeros((512, 768), bool); mask[100:300, 200:400] = True
        >>> out = inpaint("room.jpg", mask, "a green armchair", seed=1)  # doctest: +SKIP
    """
    # 1. Check every input and option before any work.
    (picture,), _ = load_pictures(pipeline, image)
    region = load_mask(mask, picture.width, picture.height)
    painting = PaintOptions(
        negative_prompt, steps, guidance, strength, seed, dilate, feather, scheduler, refine, upscale, fast
    )
    check_painter(pipeline, painting)
    request = painting.request(prompt)
    # 2. The region is the given mask.
    found = [Found(empty_detections(picture.height, picture.width), [], region if region.any() else None)]
    # 3. Paint it.
    timings: dict[str, float] = {}
    painted = paint_found([picture], found, lambda: painter(pipeline, painting), [request], painting, timings)
    # 4. Record how it was made.
    parameters = {"prompt": prompt, **fields_of(painting)}
    (edit,) = assemble(
        pipeline, "inpaint", ("inpainter",), [picture], found, painted, [request.seed], parameters, timings, [region]
    )
    edit.found = True
    edit.image.info["seed"] = request.seed
    edit.image.info["edit"] = edit
    return edit.image
