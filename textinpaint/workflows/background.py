"""replace_background: keep the subject bit for bit, regenerate everything else."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Unpack, overload

from ..backends.depth import DepthControlled
from ..backends.detection import empty_detections, parse_phrases
from ..errors import InvalidInputError
from ..images import ImageInput
from ..inpainting import Filler
from ..masks import auto_dilation, auto_feather, distance_outside, load_mask
from ..options import (
    BackgroundOptions,
    CheckOptions,
    FindOptions,
    PaintOptions,
    ReplaceBackgroundArgs,
    check_text,
    recorded,
    split,
)
from ..results import Edit
from ..verify import Check
from .steps import (
    Found,
    assemble,
    check_texts,
    fill_requests,
    find_regions,
    keep_best,
    load_pictures,
    paint_candidates,
    paint_settings,
    painter,
    target_boxes,
)

if TYPE_CHECKING:
    from ..container import Models

STAGES = ("detector", "segmenter", "inpainter")


@overload
def replace_background(
    pipeline: Models,
    image: ImageInput,
    keep: str | Sequence[str] | None = ...,
    with_: str | None = ...,
    *,
    mask: object = ...,
    **options: Unpack[ReplaceBackgroundArgs],
) -> Edit: ...
@overload
def replace_background(
    pipeline: Models,
    image: list[ImageInput] | tuple[ImageInput, ...],
    keep: str | Sequence[str] | None = ...,
    with_: str | None = ...,
    *,
    mask: object = ...,
    **options: Unpack[ReplaceBackgroundArgs],
) -> list[Edit]: ...
def replace_background(
    pipeline: Models,
    image: ImageInput | Sequence[ImageInput],
    keep: str | Sequence[str] | None = None,
    with_: str | None = None,
    *,
    mask: object = None,
    **options: Unpack[ReplaceBackgroundArgs],
) -> Edit | list[Edit]:
    """Keep the subject, regenerate everything else from ``with_``.

    The subject is every match of ``keep`` (detect + segment), or ``mask`` when given. Its
    pixels stay bit-identical; the new background is blended in over a ``seam`` px band just
    outside it. With ``depth=True`` a depth map of the input conditions the painting through
    a depth ControlNet, so the new scene keeps the input's perspective.

    Args:
        image: a path, PIL image or numpy array, or a list of them.
        keep: what to keep (phrases, as for :func:`detect`); None when ``mask`` is given.
        with_: the prompt for the new background.
        mask: the subject as a ``bool`` HxW mask (or PIL / path), instead of ``keep``; with a
            list of images, one mask for all of them (they must share its size).
        **options: the background options (``depth``, ``controlnet_scale``, ``seam``), the
            finding options (``box_threshold``, ``text_threshold``, ``nms_iou``, ``strict``,
            ``points`` and ``labels``: clicks on the subject, which refine the one match of
            ``keep`` or mark the subject on their own), the painting options (``negative_prompt``,
            ``steps``, ``guidance``, ``strength``, ``seed``, ``scheduler``, ``refine``,
            ``upscale``, ``fast``) and the checking options (``verify``: is the kept subject
            still found where it was, ``tries``, ``min_score``); see :mod:`textinpaint.options`.

    Returns:
        An :class:`Edit` (a list for a list of images); ``mask`` is the repainted background,
        ``detections`` the subject.

    Example:
        >>> from textinpaint import replace_background
        >>> edit = replace_background("car.jpg", keep="the car", with_="a mountain road at sunset", seed=0)  # doctest: +SKIP
    """
    # 1. Check every input and option before any work.
    groups = split(dict(options), ReplaceBackgroundArgs, "replace_background")
    finding, scene, checking = groups[FindOptions], groups[BackgroundOptions], groups[CheckOptions]
    if with_ is None:
        raise InvalidInputError("with_ is required: the prompt for the new background")
    check_text("with_", with_)
    pictures, batch = load_pictures(pipeline, image)
    if (keep is None and finding.points is None) == (mask is None):
        raise InvalidInputError(
            "give the subject as keep (what to find) and/or points (clicks on it), or as mask; got "
            f"keep={keep!r}, points={finding.points!r} and mask={'an array' if mask is not None else None}"
        )
    # The background's band is the seam (dilate 0: the subject is never grown into).
    painting = paint_settings(pipeline, dataclasses.replace(groups[PaintOptions], dilate=0), control=scene.depth)
    requests = fill_requests(painting, with_, len(pictures))
    texts = {"keep": [] if keep is None else parse_phrases(keep, argument="keep")}
    check_texts(pipeline, checking, texts)
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
        base = painter(pipeline, painting, control=scene.depth)
        if not scene.depth:
            return base
        return DepthControlled(base, pipeline.depth, scene.controlnet_scale)  # type: ignore[arg-type]  # paint_settings checked it takes a control image

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
        texts,
        finding.nms_iou,
        timings,
    )
    # 5. Record how each edit was made.
    parameters = {"keep": keep, "with_": with_, **recorded(ReplaceBackgroundArgs, scene, finding, painting, checking)}
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
