"""generate: make an image from text with the inpainting model's own weights (no second copy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

import numpy as np
import PIL.Image

from ..backends.detection import empty_detections
from ..errors import ImageTooLargeError, InvalidInputError
from ..events import timed
from ..options import GenerateArgs, PaintOptions, check_text, recorded, split
from ..results import Edit
from .steps import fill_requests, paint_settings, painter, record

if TYPE_CHECKING:
    from ..container import Models


def generate(
    pipeline: Models, prompt: str, *, size: tuple[int, int] | None = None, **options: Unpack[GenerateArgs]
) -> Edit:
    """Make an image from text with the inpainting model's own weights (no second copy).

    Args:
        prompt: what to draw.
        size: ``(width, height)`` of the result; default the model's native square. At most
            the pipeline's ``max_pixels``.
        **options: ``negative_prompt``, ``steps``, ``guidance`` (None: the model's own
            default), ``seed``, ``scheduler``, ``upscale``, ``fast``, as for :func:`inpaint`.

    Returns:
        An :class:`Edit` whose ``image`` is an RGB picture of exactly ``size`` (``source`` is
        None: there was no input), ``seed`` the seed used; :meth:`~Edit.to_dict` is the sidecar.

    Example:
        >>> from textinpaint import generate, replace
        >>> park = generate("a woman in a park", seed=1)  # doctest: +SKIP
        >>> edit = replace(park.image, find="hair", with_="short pink hair")  # doctest: +SKIP
    """
    # 1. Check every option before any work.
    groups = split(dict(options), GenerateArgs, "generate")
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
    if groups[PaintOptions].seed is not None and not isinstance(groups[PaintOptions].seed, int):
        raise InvalidInputError(f"seed must be None or one integer for generate; got {groups[PaintOptions].seed!r}")
    if not pipeline.abilities("inpainter").generate:
        raise InvalidInputError("generate needs an inpainter that can draw from text alone; the custom filler cannot")
    painting = paint_settings(pipeline, groups[PaintOptions])
    (request,) = fill_requests(painting, prompt, 1)
    # 2. Load the inpainter.
    timings: dict[str, float] = {}
    with timed("load", timings):
        filler = painter(pipeline, painting)
    width, height = size or (filler.native_size, filler.native_size)
    # 3. Paint a blank canvas under a full mask.
    with timed("generate", timings):
        pixels = filler.generate(request, width, height)  # type: ignore[attr-defined]  # its abilities say it can
    # 4. Record how it was made.
    result = PIL.Image.fromarray(pixels)
    parameters = {"prompt": prompt, "size": list(size) if size else None, **recorded(GenerateArgs, painting)}
    parameters["seed"] = request.seed
    note = record(pipeline, "generate", parameters, ("inpainter",), None)
    return Edit(result, np.ones((height, width), bool), empty_detections(), [], request.seed, True, timings, None, note)
