"""replace: find an object by text and repaint it from a prompt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast, overload

from ..detection import parse_phrases
from ..errors import InvalidInputError
from ..images import ImageInput
from ..options import (
    DEFAULT_BOX_THRESHOLD,
    DEFAULT_GUIDANCE,
    DEFAULT_NEGATIVE_PROMPT,
    DEFAULT_NMS_IOU,
    DEFAULT_STEPS,
    DEFAULT_STRENGTH,
    DEFAULT_TEXT_THRESHOLD,
    CheckOptions,
    FindOptions,
    MaskMode,
    PaintOptions,
    Select,
    check_query,
    check_text,
    fields_of,
)
from ..results import Edit
from ..runtime import (
    assemble,
    check_painter,
    find_regions,
    keep_best,
    load_pictures,
    paint_candidates,
    painter,
    seeds_for,
    target_boxes,
)
from ..verify import Check

if TYPE_CHECKING:
    from ..pipeline import Pipeline

STAGES = ("detector", "segmenter", "inpainter")


@overload
def replace(
    pipeline: Pipeline,
    image: ImageInput,
    find: str | Sequence[str] | None = ...,
    with_: str | None = ...,
    *,
    select: Select = ...,
    mask_mode: MaskMode = ...,
    strict: bool = ...,
    box_threshold: float = ...,
    text_threshold: float = ...,
    nms_iou: float = ...,
    negative_prompt: str = ...,
    steps: int = ...,
    guidance: float = ...,
    strength: float = ...,
    seed: int | Sequence[int] | None = ...,
    dilate: int | None = ...,
    feather: int | None = ...,
    scheduler: str | None = ...,
    refine: bool = ...,
    upscale: int | None = ...,
    fast: bool = ...,
    verify: bool = ...,
    tries: int = ...,
    min_score: float | None = ...,
    points: Sequence[Sequence[float]] | None = ...,
    labels: Sequence[int] | None = ...,
) -> Edit: ...
@overload
def replace(
    pipeline: Pipeline,
    image: list[ImageInput] | tuple[ImageInput, ...],
    find: str | Sequence[str] | None = ...,
    with_: str | None = ...,
    *,
    select: Select = ...,
    mask_mode: MaskMode = ...,
    strict: bool = ...,
    box_threshold: float = ...,
    text_threshold: float = ...,
    nms_iou: float = ...,
    negative_prompt: str = ...,
    steps: int = ...,
    guidance: float = ...,
    strength: float = ...,
    seed: int | Sequence[int] | None = ...,
    dilate: int | None = ...,
    feather: int | None = ...,
    scheduler: str | None = ...,
    refine: bool = ...,
    upscale: int | None = ...,
    fast: bool = ...,
    verify: bool = ...,
    tries: int = ...,
    min_score: float | None = ...,
    points: Sequence[Sequence[float]] | None = ...,
    labels: Sequence[int] | None = ...,
) -> list[Edit]: ...
def replace(
    pipeline: Pipeline,
    image: ImageInput | Sequence[ImageInput],
    find: str | Sequence[str] | None = None,
    with_: str | None = None,
    *,
    select: Select = "all",
    mask_mode: MaskMode = "mask",
    strict: bool = False,
    box_threshold: float = DEFAULT_BOX_THRESHOLD,
    text_threshold: float = DEFAULT_TEXT_THRESHOLD,
    nms_iou: float = DEFAULT_NMS_IOU,
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
    steps: int = DEFAULT_STEPS,
    guidance: float = DEFAULT_GUIDANCE,
    strength: float = DEFAULT_STRENGTH,
    seed: int | Sequence[int] | None = None,
    dilate: int | None = None,
    feather: int | None = None,
    scheduler: str | None = None,
    refine: bool = False,
    upscale: int | None = None,
    fast: bool = False,
    verify: bool = False,
    tries: int = 1,
    min_score: float | None = None,
    points: Sequence[Sequence[float]] | None = None,
    labels: Sequence[int] | None = None,
) -> Edit | list[Edit]:
    """Find ``find`` in the image and repaint it as ``with_``.

    Given a list of images, every one is checked before any work starts; then they go through
    the detector (one pass per image size), SAM's encoder (one pass) and the UNet (one run per
    group of crops painted at the same size) together, and a list of edits comes back. A given
    ``seed`` is used for every image, as if each were edited alone (a list gives one seed per
    image; without one, each image draws its own); a list of one gives exactly the single call's
    edit. ``timings`` are then the whole batch's.

    Args:
        image: a path, PIL image or numpy array, or a list of them.
        find: what to replace: a phrase, several (``"dog. cat"``) or a list; None with ``points``.
        with_: the prompt for what to paint instead; ``""`` removes the object (:meth:`remove`),
            which takes only the finding options, ``seed``, ``dilate`` and ``feather``.
        select: which matches to repaint: ``"all"`` (their union), ``"best"`` (highest
            score), ``"largest"`` (largest mask, or box in box mode), an index in score order,
            or a list of indices.
        mask_mode: ``"mask"`` repaints SAM's outline (dilated); ``"box"`` repaints the whole
            box, for replacements whose shape differs from the original's (SAM is not run).
        strict: raise :class:`~textinpaint.NothingFoundError` when nothing matches,
            instead of returning the input with ``found=False``.
        box_threshold: see :meth:`detect`.
        text_threshold: see :meth:`detect`.
        nms_iou: see :meth:`detect`.
        negative_prompt: see :meth:`inpaint`.
        steps: see :meth:`inpaint`.
        guidance: see :meth:`inpaint`.
        strength: see :meth:`inpaint`.
        seed: see :meth:`inpaint`; the seed used is in ``Edit.seed``. For a list of images, also
            a list of seeds, one per image.
        dilate: see :meth:`inpaint`.
        feather: see :meth:`inpaint`.
        scheduler: see :meth:`inpaint`.
        refine: see :meth:`inpaint`.
        upscale: see :meth:`inpaint`.
        fast: see :meth:`inpaint`.
        verify: check the edit with the detector: is ``with_`` found over the repainted region,
            and ``find`` no longer there? The score and its parts are in ``Edit.verification``
            (see :mod:`textinpaint.verify`).
        tries: paint this many candidates (seeds ``seed``, ``seed + 1``, ...) in one batched
            UNet run, verify each and keep the best; the others are in ``Edit.candidates``.
        min_score: flag (``Edit.flagged``) an edit whose score is below this; it is still returned.
        points: clicks, ``[(x, y), ...]`` in input pixels of the upright image. Without ``find``,
            SAM cuts out the object they mark; with it, they refine the one selected match (a box
            SAM cut too much or too little of). One image only.
        labels: one per point: 1 on the object, 0 off it (default all 1).

    Returns:
        An :class:`Edit` (a list of them for a list of images). When nothing is found,
        ``found`` is False, ``image`` is the input unchanged and only the detector has run.

    Example:
        >>> from textinpaint import replace
        >>> edit = replace("street.jpg", find="the red car", with_="a vintage blue pickup truck", seed=0)  # doctest: +SKIP
        >>> edit.image.save("out.png")  # doctest: +SKIP
        >>> replace("a.jpg", points=[(410, 220)], with_="a red vespa", seed=0)  # doctest: +SKIP
    """
    finding = FindOptions(box_threshold, text_threshold, nms_iou, select, mask_mode, strict, points, labels)
    check_query(find, finding)
    if with_ is None:
        raise InvalidInputError("with_ is required: the prompt for what to paint (or '' to remove the object)")
    if isinstance(with_, str) and not with_.strip():
        return _remove_instead(
            pipeline,
            image,
            find,
            finding,
            negative_prompt=negative_prompt,
            steps=steps,
            guidance=guidance,
            strength=strength,
            seed=seed,
            dilate=dilate,
            feather=feather,
            scheduler=scheduler,
            refine=refine,
            upscale=upscale,
            fast=fast,
            verify=verify,
            tries=tries,
            min_score=min_score,
        )
    # 1. Check every input and option before any work.
    pictures, batch = load_pictures(pipeline, image)
    check_text("with_", with_)
    seeds = seeds_for(seed, len(pictures))
    painting = PaintOptions(
        negative_prompt, steps, guidance, strength, None, dilate, feather, scheduler, refine, upscale, fast
    )
    checking = CheckOptions(verify, tries, min_score)
    check_painter(pipeline, painting)
    requests = [painting.request(with_, one) for one in seeds]
    # 2. Find: detect, segment, select.
    timings: dict[str, float] = {}
    found = find_regions(pipeline, pictures, find, finding, timings)
    # 3. Paint every region found (`tries` candidates each), crops of one size together.
    candidates = paint_candidates(
        pictures, found, lambda: painter(pipeline, painting), requests, painting, timings, checking.tries
    )
    # 4. Check the candidates with the detector and keep the best.
    painted, checked = keep_best(
        pipeline,
        candidates,
        [r.seed for r in requests],
        checking,
        lambda i, candidate: Check(candidate.rgb, target_boxes(found[i])),
        {"find": None if find is None else parse_phrases(find), "with_": with_},
        finding.nms_iou,
        timings,
    )
    # 5. Record how each edit was made.
    parameters = {"find": find, "with_": with_, **fields_of(finding), **fields_of(painting), **fields_of(checking)}
    seeds_used = [r.seed for r in requests]
    edits = assemble(
        pipeline,
        "replace",
        STAGES,
        pictures,
        found,
        painted,
        seeds_used,
        parameters,
        timings,
        checked=checked,
        min_score=checking.min_score,
    )
    return edits if batch else edits[0]


def _remove_instead(
    pipeline: Pipeline,
    image: ImageInput | Sequence[ImageInput],
    find: str | Sequence[str] | None,
    finding: FindOptions,
    *,
    seed: int | Sequence[int] | None,
    dilate: int | None,
    feather: int | None,
    verify: bool,
    tries: int,
    min_score: float | None,
    **painting: object,
) -> Edit | list[Edit]:
    """``with_=""``: removal with the fill model. Painting options it cannot honour are refused."""
    from .remove import remove

    if CheckOptions(verify, tries, min_score).tries > 1:
        raise InvalidInputError(
            f"with_='' removes the object with the fill model, which paints the same fill for every "
            f"seed: tries={tries} would give {tries} equal candidates; leave tries=1"
        )
    unused = PaintOptions(**painting)  # type: ignore[arg-type]  # PaintOptions checks each value
    changed = [name for name, value in fields_of(unused).items() if value != fields_of(PaintOptions())[name]]
    if changed:
        raise InvalidInputError(
            f"with_='' removes the object with the fill model, which takes no {', '.join(changed)}; "
            "drop them, or give with_ a prompt to repaint the region"
        )
    return remove(
        pipeline,
        cast(Any, image),
        find,
        select=finding.select,
        mask_mode=finding.mask_mode,
        strict=finding.strict,
        box_threshold=finding.box_threshold,
        text_threshold=finding.text_threshold,
        nms_iou=finding.nms_iou,
        seed=seed,
        dilate=dilate,
        feather=feather,
        verify=verify,
        min_score=min_score,
        points=finding.points,
        labels=finding.labels,
    )
