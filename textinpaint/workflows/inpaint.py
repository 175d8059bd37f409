"""inpaint: repaint a given mask from a prompt, at the image's full resolution."""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from ..backends.detection import empty_detections
from ..masks import load_mask
from ..options import InpaintArgs, PaintOptions, recorded, split
from ..results import Edit
from .steps import Found, assemble, fill_requests, load_pictures, paint_found, paint_settings, painter

if TYPE_CHECKING:
    from ..container import Models
    from ..images import ImageInput


def inpaint(pipeline: Models, image: ImageInput, mask: object, prompt: str, **options: Unpack[InpaintArgs]) -> Edit:
    """Repaint the masked region from ``prompt``, at the image's full resolution.

    A window around the mask is painted at the model's native size and blended back with a
    weight set by each pixel's Euclidean distance ``d`` (in pixels) from the mask: 1 (the painted
    pixel) for ``d <= dilate``, falling linearly to exactly 0 at ``d = dilate + feather + 1``.
    Every pixel at ``d >= dilate + feather + 1`` is bit-identical to the input (``edit.mask`` is
    exactly the set of pixels whose weight is above 0). An empty mask returns the input unchanged
    without running the model.

    Args:
        image: a path, PIL image or numpy array.
        mask: HxW ``bool`` array (or a PIL image / path; white = repaint), the image's size.
        prompt: what to paint in the region.
        **options: the painting options: ``negative_prompt``, ``steps``, ``guidance`` (None: the
            inpainter's own default), ``strength``, ``seed`` (None: drawn; the seed used is
            ``edit.seed``), ``dilate``, ``feather``, ``scheduler``, ``refine``, ``upscale``,
            ``fast``; each described in :mod:`textinpaint.options`.

    Returns:
        An :class:`Edit`: ``image`` the edited picture, same size as the input (RGBA when the
        input had alpha), ``mask`` every pixel that may differ, ``seed`` the seed used;
        :meth:`~Edit.to_dict` is the sidecar.

    Example:
        >>> import numpy as np
        >>> from textinpaint import inpaint
        >>> mask = np.zeros((512, 768), bool); mask[100:300, 200:400] = True
        >>> edit = inpaint("room.jpg", mask, "a green armchair", seed=1)  # doctest: +SKIP
        >>> edit.image.save("room-armchair.png")  # doctest: +SKIP
    """
    # 1. Check every input and option before any work.
    groups = split(dict(options), InpaintArgs, "inpaint")
    (picture,), _ = load_pictures(pipeline, image)
    region = load_mask(mask, picture.width, picture.height)
    painting = paint_settings(pipeline, groups[PaintOptions])
    (request,) = fill_requests(painting, prompt, 1)
    # 2. The region is the given mask.
    found = [Found(empty_detections(picture.height, picture.width), [], region if region.any() else None)]
    # 3. Paint it.
    timings: dict[str, float] = {}
    painted = paint_found([picture], found, lambda: painter(pipeline, painting), [request], painting, timings)
    # 4. Record how it was made.
    parameters = {"prompt": prompt, **recorded(InpaintArgs, painting)}
    (edit,) = assemble(
        pipeline, "inpaint", ("inpainter",), [picture], found, painted, [request.seed], parameters, timings, [region]
    )
    edit.found = True
    return edit
