"""remove: erase what the text names and fill the hole with background (LaMa)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Unpack, overload

from ..backends.detection import empty_detections, parse_phrases
from ..errors import InvalidInputError
from ..images import ImageInput
from ..inpainting import FillRequest
from ..masks import load_mask
from ..options import CheckOptions, FindOptions, PaintOptions, RemoveArgs, check_query, recorded, split
from ..results import Edit
from ..verify import Check
from .steps import (
    Found,
    assemble,
    check_texts,
    find_regions,
    keep_best,
    load_pictures,
    paint_candidates,
    seeds_for,
    target_boxes,
)

if TYPE_CHECKING:
    from ..container import Models

STAGES = ("detector", "segmenter", "remover")


@overload
def remove(
    pipeline: Models,
    image: ImageInput,
    find: str | Sequence[str] | None = ...,
    *,
    mask: object = ...,
    **options: Unpack[RemoveArgs],
) -> Edit: ...
@overload
def remove(
    pipeline: Models,
    image: list[ImageInput] | tuple[ImageInput, ...],
    find: str | Sequence[str] | None = ...,
    *,
    mask: object = ...,
    **options: Unpack[RemoveArgs],
) -> list[Edit]: ...
def remove(
    pipeline: Models,
    image: ImageInput | Sequence[ImageInput],
    find: str | Sequence[str] | None = None,
    *,
    mask: object = None,
    **options: Unpack[RemoveArgs],
) -> Edit | list[Edit]:
    """Erase what ``find`` names and fill the hole with plausible background (LaMa).

    The diffusion model is not used: with an empty prompt it tends to paint a new object.
    Arguments are as for :func:`replace` (``points``/``labels`` with or without ``find``); the
    options are the finding options, ``seed``, ``dilate``, ``feather``, ``verify`` and
    ``min_score`` (see :mod:`textinpaint.options`). LaMa draws no random numbers, so ``seed`` matters only
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
    groups = split(dict(options), RemoveArgs, "remove")
    finding, painting, checking = groups[FindOptions], groups[PaintOptions], groups[CheckOptions]
    pictures, batch = load_pictures(pipeline, image)
    if mask is not None and (find is not None or finding.points is not None):
        raise InvalidInputError("give the region to erase as mask, or find it with find/points; not both")
    if mask is None:
        check_query(find, finding)
    given = None if mask is None else [load_mask(mask, p.width, p.height) for p in pictures]
    seeds = seeds_for(painting, len(pictures))
    texts = {"find": None if find is None else parse_phrases(find)}
    check_texts(pipeline, checking, texts)
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
        texts,
        finding.nms_iou,
        timings,
    )
    # 5. Record how each edit was made.
    parameters = {"find": find, **recorded(RemoveArgs, finding, painting, checking)}
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
