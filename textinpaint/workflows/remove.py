"""remove: erase what the text names and fill the hole with background (LaMa)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, overload

from ..detection import empty_detections, parse_phrases
from ..errors import InvalidInputError
from ..images import ImageInput
from ..inpainting import FillRequest
from ..masks import load_mask
from ..options import (
    DEFAULT_BOX_THRESHOLD,
    DEFAULT_NMS_IOU,
    DEFAULT_TEXT_THRESHOLD,
    CheckOptions,
    FindOptions,
    MaskMode,
    PaintOptions,
    Select,
    check_query,
    fields_of,
)
from ..results import Edit
from ..runtime import (
    Found,
    assemble,
    find_regions,
    keep_best,
    load_pictures,
    paint_candidates,
    seeds_for,
    target_boxes,
)
from ..verify import Check

if TYPE_CHECKING:
    from ..pipeline import Pipeline

STAGES = ("detector", "segmenter", "remover")


@overload
def remove(
    pipeline: Pipeline,
    image: ImageInput,
    find: str | Sequence[str] | None = ...,
    *,
    select: Select = ...,
    mask_mode: MaskMode = ...,
    strict: bool = ...,
    box_threshold: float = ...,
    text_threshold: float = ...,
    nms_iou: float = ...,
    seed: int | Sequence[int] | None = ...,
    dilate: int | None = ...,
    feather: int | None = ...,
    verify: bool = ...,
    min_score: float | None = ...,
    points: Sequence[Sequence[float]] | None = ...,
    labels: Sequence[int] | None = ...,
    mask: object = ...,
) -> Edit: ...
@overload
def remove(
    pipeline: Pipeline,
    image: list[ImageInput] | tuple[ImageInput, ...],
    find: str | Sequence[str] | None = ...,
    *,
    select: Select = ...,
    mask_mode: MaskMode = ...,
    strict: bool = ...,
    box_threshold: float = ...,
    text_threshold: float = ...,
    nms_iou: float = ...,
    seed: int | Sequence[int] | None = ...,
    dilate: int | None = ...,
    feather: int | None = ...,
    verify: bool = ...,
    min_score: float | None = ...,
    points: Sequence[Sequence[float]] | None = ...,
    labels: Sequence[int] | None = ...,
    mask: object = ...,
) -> list[Edit]: ...
def remove(
    pipeline: Pipeline,
    image: ImageInput | Sequence[ImageInput],
    find: str | Sequence[str] | None = None,
    *,
    select: Select = "all",
    mask_mode: MaskMode = "mask",
    strict: bool = False,
    box_threshold: float = DEFAULT_BOX_THRESHOLD,
    text_threshold: float = DEFAULT_TEXT_THRESHOLD,
    nms_iou: float = DEFAULT_NMS_IOU,
    seed: int | Sequence[int] | None = None,
    dilate: int | None = None,
    feather: int | None = None,
    verify: bool = False,
    min_score: float | None = None,
    points: Sequence[Sequence[float]] | None = None,
    labels: Sequence[int] | None = None,
    mask: object = None,
) -> Edit | list[Edit]:
    """Erase what ``find`` names and fill the hole with plausible background (LaMa).

    The diffusion model is not used: with an empty prompt it tends to paint a new object.
    Arguments are as for :meth:`replace` (``points``/``labels`` with or without ``find``). LaMa draws no random numbers, so ``seed`` matters only
    to a random remover of your own; ``Edit.seed`` is the seed given (None when none was).
    ``mask`` (a ``bool`` HxW array, PIL image or path) erases exactly that region instead of
    finding one (no ``find`` or ``points`` then; with a list of images, one mask for all).
    With ``verify`` (or ``min_score``) the detector looks at the filled window again: the
    ``gone`` part says whether ``find`` is no longer found there (see :mod:`textinpaint.verify`).

    Example:
        >>> from textinpaint import remove
        >>> remove("beach.jpg", "the person").image.save("empty-beach.png")  # doctest: +SKIP
    """
    # 1. Check every input and option before any work.
    pictures, batch = load_pictures(pipeline, image)
    finding = FindOptions(box_threshold, text_threshold, nms_iou, select, mask_mode, strict, points, labels)
    if mask is not None and (find is not None or points is not None):
        raise InvalidInputError("give the region to erase as mask, or find it with find/points; not both")
    if mask is None:
        check_query(find, finding)
    given = None if mask is None else [load_mask(mask, p.width, p.height) for p in pictures]
    painting = PaintOptions(dilate=dilate, feather=feather)
    checking = CheckOptions(verify, 1, min_score)
    seeds = seeds_for(seed, len(pictures))
    requests = [FillRequest("remove", "", 1, 0.0, 1.0, 0 if one is None else one) for one in seeds]
    # 2. Find: detect, segment, select.
    timings: dict[str, float] = {}
    if given is not None:
        found = [Found(empty_detections(p.height, p.width), [], region) for p, region in zip(pictures, given)]
    else:
        found = find_regions(pipeline, pictures, find, finding, timings)
    # 3. Fill every region found with the remover.
    filled = paint_candidates(pictures, found, lambda: pipeline.remover, requests, painting, timings, 1, "remove")
    # 4. Check with the detector that what was found is gone.
    painted, checked = keep_best(
        pipeline,
        filled,
        [r.seed for r in requests],
        checking,
        lambda i, candidate: Check(candidate.rgb, target_boxes(found[i])),
        {"find": None if find is None else parse_phrases(find)},
        finding.nms_iou,
        timings,
    )
    # 5. Record how each edit was made.
    parameters = {
        "find": find,
        **fields_of(finding),
        "dilate": dilate,
        "feather": feather,
        "verify": verify,
        "min_score": min_score,
    }
    edits = assemble(
        pipeline,
        "remove",
        STAGES,
        pictures,
        found,
        painted,
        seeds,
        parameters,
        timings,
        given,
        checked=checked,
        min_score=checking.min_score,
    )
    return edits if batch else edits[0]
