"""replace_background: keep the subject bit for bit, regenerate everything else."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Unpack, overload

import numpy as np

from ..backends.depth import DepthControlled
from ..backends.detection import empty_detections, parse_phrases
from ..errors import InvalidInputError
from ..images import ImageInput, Picture
from ..inpainting import Filler, Painted
from ..masks import alpha_blend, auto_dilation, auto_feather, distance_outside, load_mask
from ..options import (
    BackgroundOptions,
    CheckOptions,
    FindOptions,
    MatteOptions,
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
    matte_wanted,
    paint_candidates,
    paint_settings,
    painter,
    salient_regions,
    subject_alphas,
    target_boxes,
)

if TYPE_CHECKING:
    from ..container import Models


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

    The subject is every match of ``keep`` (detect + segment), the object ``points`` click,
    ``mask`` when given, or with none of them the salient subject (the ``subject`` stage,
    rembg's model). With ``matte`` (by default when the matting model is on this machine) its
    edge is matted into a soft alpha: the new background is painted under the whole edge band and
    the input is laid over it by that alpha, so hair and fur keep no fringe of the old scene.
    Without, the new background is blended in over a ``seam`` px band just outside the subject.
    Either way the subject's pixels (alpha 255) stay bit-identical. With ``depth=True`` a depth
    map of the input conditions the painting through a depth ControlNet, so the new scene keeps
    the input's perspective.

    Args:
        image: a path, PIL image or numpy array, or a list of them.
        keep: what to keep (phrases, as for :func:`detect`); None: the salient subject (or
            ``points``, or ``mask``).
        with_: the prompt for the new background.
        mask: the subject as a ``bool`` HxW mask (or PIL / path), instead of ``keep``; with a
            list of images, one mask for all of them (they must share its size).
        **options: the background options (``depth``, ``controlnet_scale``, ``seam``), the
            matting options (``matte``: True or ``"vitmatte"``, False, None: automatic;
            ``matte_band``), the
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
        >>> edit = replace_background("product.jpg", with_="a marble table, soft window light", seed=0)  # doctest: +SKIP
    """
    # 1. Check every input and option before any work.
    groups = split(dict(options), ReplaceBackgroundArgs, "replace_background")
    finding, scene, checking = groups[FindOptions], groups[BackgroundOptions], groups[CheckOptions]
    if with_ is None:
        raise InvalidInputError("with_ is required: the prompt for the new background")
    check_text("with_", with_)
    pictures, batch = load_pictures(pipeline, image)
    if mask is not None and (keep is not None or finding.points is not None):
        raise InvalidInputError(
            "give the subject as keep (what to find) and/or points (clicks on it), or as mask, not both; got "
            f"keep={keep!r}, points={finding.points!r} and a mask"
        )
    matting = groups[MatteOptions]
    # The background's band is the seam (dilate 0: the subject is never grown into).
    painting = paint_settings(pipeline, dataclasses.replace(groups[PaintOptions], dilate=0), control=scene.depth)
    requests = fill_requests(painting, with_, len(pictures))
    texts = {"keep": [] if keep is None else parse_phrases(keep, argument="keep")}
    check_texts(pipeline, checking, texts)
    subject = None if mask is None else [load_mask(mask, p.width, p.height) for p in pictures]
    soften = matte_wanted(pipeline, matting.matte)
    # 2. Find the subject: the given mask, every match of `keep` (and the clicks), or the salient one.
    timings: dict[str, float] = {}
    finder: tuple[str, ...] = ("detector", "segmenter")
    if subject is not None:
        found = [Found(empty_detections(p.height, p.width), [], region) for p, region in zip(pictures, subject)]
        finder = ()
    elif keep is None and finding.points is None:
        found = salient_regions(pipeline, pictures, finding, timings)
        finder = ("subject",)
    else:
        found = find_regions(pipeline, pictures, keep, finding, timings)
    # 3. The background: with a matte, every pixel below alpha 255 (the new background is painted
    # under the whole edge band, then the input is laid over it by its alpha); without, everything
    # farther than the seam from the subject. Paint it.
    alphas = subject_alphas(pipeline, pictures, found, soften, matting.matte_band, timings) if soften else None
    seams = [scene.seam or auto_feather(auto_dilation(p.width, p.height)) for p in pictures]
    if alphas is not None:
        backgrounds = [f if a is None else f._replace(region=a < 255) for f, a in zip(found, alphas)]
        feathers = [0] * len(pictures)
    else:
        backgrounds = [
            f if f.region is None else f._replace(region=distance_outside(f.region) > band)
            for f, band in zip(found, seams)
        ]
        feathers = [band - 1 for band in seams]

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
        feathers=feathers,
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
    if alphas is not None:  # the input over the new background, by the subject's alpha
        painted = {i: _laid_over(pictures[i], one, alphas[i]) for i, one in painted.items()}
    # 5. Record how each edit was made.
    parameters = {
        "keep": keep,
        "with_": with_,
        **recorded(ReplaceBackgroundArgs, scene, finding, painting, checking, matting),
        "matte": "vitmatte" if soften else False,
    }
    stages = (*finder, "inpainter", *(("matte",) if soften else ()), *(("controlnet", "depth") if scene.depth else ()))
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


def _laid_over(picture: Picture, painted: Painted, alpha: np.ndarray | None) -> Painted:
    """The input over the painted background by the subject's alpha: the input's pixels bit for
    bit where alpha is 255, the painting where it is 0, their blend along the edge."""
    if alpha is None:
        return painted
    blended = alpha_blend(picture.rgb, painted.rgb, alpha)
    return dataclasses.replace(painted, base=blended, changed=alpha < 255, patch=None, box=None)
