"""replace_background: keep the subject bit for bit, regenerate everything else."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, overload

from ..depth import DepthControlled
from ..detection import empty_detections, parse_phrases
from ..errors import InvalidInputError
from ..images import ImageInput
from ..inpainting import Filler
from ..masks import auto_dilation, auto_feather, distance_outside, load_mask
from ..options import (
    DEFAULT_BOX_THRESHOLD,
    DEFAULT_CONTROLNET_SCALE,
    DEFAULT_GUIDANCE,
    DEFAULT_NEGATIVE_PROMPT,
    DEFAULT_NMS_IOU,
    DEFAULT_STEPS,
    DEFAULT_STRENGTH,
    DEFAULT_TEXT_THRESHOLD,
    BackgroundOptions,
    CheckOptions,
    FindOptions,
    PaintOptions,
    check_text,
    fields_of,
)
from ..results import Edit
from ..runtime import (
    Found,
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
def replace_background(
    pipeline: Pipeline,
    image: ImageInput,
    keep: str | Sequence[str] | None,
    with_: str,
    *,
    mask: object = ...,
    depth: bool = ...,
    controlnet_scale: float = ...,
    seam: int | None = ...,
    strict: bool = ...,
    box_threshold: float = ...,
    text_threshold: float = ...,
    nms_iou: float = ...,
    negative_prompt: str = ...,
    steps: int = ...,
    guidance: float = ...,
    strength: float = ...,
    seed: int | Sequence[int] | None = ...,
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
def replace_background(
    pipeline: Pipeline,
    image: list[ImageInput] | tuple[ImageInput, ...],
    keep: str | Sequence[str] | None,
    with_: str,
    *,
    mask: object = ...,
    depth: bool = ...,
    controlnet_scale: float = ...,
    seam: int | None = ...,
    strict: bool = ...,
    box_threshold: float = ...,
    text_threshold: float = ...,
    nms_iou: float = ...,
    negative_prompt: str = ...,
    steps: int = ...,
    guidance: float = ...,
    strength: float = ...,
    seed: int | Sequence[int] | None = ...,
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
def replace_background(
    pipeline: Pipeline,
    image: ImageInput | Sequence[ImageInput],
    keep: str | Sequence[str] | None,
    with_: str,
    *,
    mask: object = None,
    depth: bool = True,
    controlnet_scale: float = DEFAULT_CONTROLNET_SCALE,
    seam: int | None = None,
    strict: bool = False,
    box_threshold: float = DEFAULT_BOX_THRESHOLD,
    text_threshold: float = DEFAULT_TEXT_THRESHOLD,
    nms_iou: float = DEFAULT_NMS_IOU,
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
    steps: int = DEFAULT_STEPS,
    guidance: float = DEFAULT_GUIDANCE,
    strength: float = DEFAULT_STRENGTH,
    seed: int | Sequence[int] | None = None,
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
    """Keep the subject, regenerate everything else from ``with_``.

    The subject is every match of ``keep`` (detect + segment), or ``mask`` when given. Its
    pixels stay bit-identical; the new background is blended in over a ``seam`` px band just
    outside it. With ``depth=True`` a depth map of the input conditions the painting through
    a depth ControlNet, so the new scene keeps the input's perspective.

    Args:
        image: a path, PIL image or numpy array, or a list of them.
        keep: what to keep (phrases, as for :meth:`detect`); None when ``mask`` is given.
        with_: the prompt for the new background.
        mask: the subject as a ``bool`` HxW mask (or PIL / path), instead of ``keep``; with a
            list of images, one mask for all of them (they must share its size).
        depth: condition on the input's depth through the ControlNet.
        controlnet_scale: the ControlNet's weight (0 ignores it, 1 follows it closely).
        seam: width in px of the blend band outside the subject (default: the automatic feather).
        strict: as for :meth:`replace`.
        box_threshold: as for :meth:`replace`.
        text_threshold: as for :meth:`replace`.
        nms_iou: as for :meth:`replace`.
        negative_prompt: as for :meth:`inpaint`.
        steps: as for :meth:`inpaint`.
        guidance: as for :meth:`inpaint`.
        strength: as for :meth:`inpaint`.
        seed: as for :meth:`replace`.
        scheduler: as for :meth:`inpaint`.
        refine: as for :meth:`inpaint`.
        upscale: as for :meth:`inpaint`.
        fast: as for :meth:`inpaint`.
        verify: check with the detector that the kept subject is still found where it was
            (the ``kept`` part; see :mod:`textinpaint.verify`).
        tries: as for :meth:`replace`: candidates painted in one batched run, the best kept.
        min_score: as for :meth:`replace`.
        points: clicks on the subject (as for :meth:`replace`): with ``keep`` they refine the
            one match, without it they mark the subject on their own.
        labels: as for :meth:`replace`.

    Returns:
        An :class:`Edit` (a list for a list of images); ``mask`` is the repainted background,
        ``detections`` the subject.

    Example:
        >>> from textinpaint import replace_background
        >>> edit = replace_background("car.jpg", keep="the car", with_="a mountain road at sunset", seed=0)  # doctest: +SKIP
    """
    # 1. Check every input and option before any work.
    pictures, batch = load_pictures(pipeline, image)
    check_text("with_", with_)
    if (keep is None and points is None) == (mask is None):
        raise InvalidInputError(
            "give the subject as keep (what to find) and/or points (clicks on it), or as mask; got "
            f"keep={keep!r}, points={points!r} and mask={'an array' if mask is not None else None}"
        )
    finding = FindOptions(box_threshold, text_threshold, nms_iou, "all", "mask", strict, points, labels)
    scene = BackgroundOptions(depth, controlnet_scale, seam)
    painting = PaintOptions(negative_prompt, steps, guidance, strength, None, 0, None, scheduler, refine, upscale, fast)
    checking = CheckOptions(verify, tries, min_score)
    check_painter(pipeline, painting, control=depth)
    requests = [painting.request(with_, one) for one in seeds_for(seed, len(pictures))]
    subject = None if mask is None else [load_mask(mask, p.width, p.height) for p in pictures]
    # 2. Find the subject: the given mask, or detect and segment every match of `keep`.
    timings: dict[str, float] = {}
    if subject is not None:
        found = [Found(empty_detections(p.height, p.width), [], region) for p, region in zip(pictures, subject)]
    else:
        found = find_regions(pipeline, pictures, keep, finding, timings)
    # 3. The background is everything farther than the seam from the subject; paint it.
    seams = [scene.seam or auto_feather(auto_dilation(p.width, p.height)) for p in pictures]
    backgrounds = [
        f if f.region is None else f._replace(region=distance_outside(f.region) > band) for f, band in zip(found, seams)
    ]

    def make_painter() -> Filler:
        base = painter(pipeline, painting)
        if not scene.depth:
            return base
        from ..diffusion import DiffusersInpainter

        if isinstance(base, DiffusersInpainter):
            base = base.with_extras(controlnet=pipeline.controlnet)
        return DepthControlled(base, pipeline.depth, scene.controlnet_scale)  # type: ignore[arg-type]  # check_painter checked it takes a control image

    candidates = paint_candidates(
        pictures,
        backgrounds,
        make_painter,
        requests,
        painting,
        timings,
        checking.tries,
        feathers=[band - 1 for band in seams],
    )
    # 4. Check with the detector that the subject is still there, and keep the best candidate.
    subjects = [target_boxes(f) for f in found]
    painted, checked = keep_best(
        pipeline,
        candidates,
        [r.seed for r in requests],
        checking,
        lambda i, candidate: Check(candidate.rgb, subjects[i], whole=True),
        {"keep": [] if keep is None else parse_phrases(keep, argument="keep")},
        finding.nms_iou,
        timings,
    )
    # 5. Record how each edit was made.
    parameters = {
        "keep": keep,
        "with_": with_,
        **fields_of(scene),
        "strict": strict,
        "box_threshold": box_threshold,
        "text_threshold": text_threshold,
        "nms_iou": nms_iou,
        "points": None if finding.points is None else [list(p) for p in finding.points],
        "labels": None if finding.labels is None else list(finding.labels),
        **{k: v for k, v in fields_of(painting).items() if k not in ("dilate", "feather")},
        **fields_of(checking),
    }
    stages = (*STAGES, "controlnet", "depth") if scene.depth else STAGES
    edits = assemble(
        pipeline,
        "replace_background",
        stages,
        pictures,
        backgrounds,
        painted,
        [r.seed for r in requests],
        parameters,
        timings,
        subject,
        checked=checked,
        min_score=checking.min_score,
    )
    return edits if batch else edits[0]
