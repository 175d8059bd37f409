"""replace: find an object by text and repaint it from a prompt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Unpack, overload

from ..backends.detection import empty_detections, parse_phrases
from ..errors import InvalidInputError
from ..images import ImageInput
from ..masks import load_mask
from ..options import (
    CheckOptions,
    FindOptions,
    PaintOptions,
    RemoveArgs,
    ReplaceArgs,
    check_query,
    check_text,
    keywords,
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
def replace(
    pipeline: Models,
    image: ImageInput,
    find: str | Sequence[str] | None = ...,
    with_: str | None = ...,
    *,
    mask: object = ...,
    **options: Unpack[ReplaceArgs],
) -> Edit: ...
@overload
def replace(
    pipeline: Models,
    image: list[ImageInput] | tuple[ImageInput, ...],
    find: str | Sequence[str] | None = ...,
    with_: str | None = ...,
    *,
    mask: object = ...,
    **options: Unpack[ReplaceArgs],
) -> list[Edit]: ...
def replace(
    pipeline: Models,
    image: ImageInput | Sequence[ImageInput],
    find: str | Sequence[str] | None = None,
    with_: str | None = None,
    *,
    mask: object = None,
    **options: Unpack[ReplaceArgs],
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
        mask: the region to repaint as a ``bool`` HxW mask (or PIL / path; white = repaint),
            instead of finding it (no ``find`` or ``points`` then; with a list of images, one mask
            for all of them). With ``verify``, ``find`` is unknown, so only ``present`` is checked.
        with_: the prompt for what to paint instead; ``""`` removes the object (:func:`remove`),
            which takes only the finding options, ``seed``, ``dilate``, ``feather``, ``verify``
            and ``min_score``.
        **options: the finding options (``box_threshold``, ``text_threshold``, ``nms_iou``,
            ``select``, ``mask_mode``, ``strict``, ``points``, ``labels``), the painting options
            (``negative_prompt``, ``steps``, ``guidance``, ``strength``, ``seed``, ``dilate``,
            ``feather``, ``scheduler``, ``refine``, ``upscale``, ``fast``) and the checking
            options (``verify``, ``tries``, ``min_score``); each is described once in
            :mod:`textinpaint.options` (``option_docs()``). ``None`` for ``steps``, ``guidance``
            and ``negative_prompt`` takes the inpainter's own default; the values used are in
            the sidecar.

    Returns:
        An :class:`Edit` (a list of them for a list of images). When nothing is found,
        ``found`` is False, ``image`` is the input unchanged and only the detector has run.

    Example:
        >>> from textinpaint import replace
        >>> edit = replace("street.jpg", find="the red car", with_="a vintage blue pickup truck", seed=0)  # doctest: +SKIP
        >>> edit.image.save("out.png")  # doctest: +SKIP
        >>> replace("a.jpg", points=[(410, 220)], with_="a red vespa", seed=0)  # doctest: +SKIP
    """
    if with_ is None:
        raise InvalidInputError("with_ is required: the prompt for what to paint (or '' to remove the object)")
    if isinstance(with_, str) and not with_.strip():
        return _remove_instead(pipeline, image, find, dict(options) if mask is None else {**options, "mask": mask})
    # 1. Check every input and option before any work.
    groups = split(dict(options), ReplaceArgs, "replace")
    finding, checking = groups[FindOptions], groups[CheckOptions]
    if mask is not None and (find is not None or finding.points is not None):
        raise InvalidInputError("give the region to repaint as mask, or find it with find/points; not both")
    if mask is None:
        check_query(find, finding)
    pictures, batch = load_pictures(pipeline, image)
    given = None if mask is None else [load_mask(mask, p.width, p.height) for p in pictures]
    check_text("with_", with_)
    painting = paint_settings(pipeline, groups[PaintOptions])
    requests = fill_requests(painting, with_, len(pictures))
    texts = {"find": None if find is None else parse_phrases(find), "with_": with_}
    check_texts(pipeline, checking, texts)
    # 2. Find: detect, segment, select.
    timings: dict[str, float] = {}
    if given is not None:
        found = [Found(empty_detections(p.height, p.width), [], region) for p, region in zip(pictures, given)]
    else:
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
        texts,
        finding.nms_iou,
        timings,
    )
    # 5. Record how each edit was made.
    parameters = {"find": find, "with_": with_, **recorded(ReplaceArgs, finding, painting, checking)}
    edits = assemble(
        pipeline,
        "replace",
        STAGES,
        pictures,
        found,
        painted,
        [r.seed for r in requests],
        parameters,
        timings,
        given,
        checked=checked,
        min_score=checking.min_score,
    )
    return edits if batch else edits[0]


def _remove_instead(
    pipeline: Models,
    image: ImageInput | Sequence[ImageInput],
    find: str | Sequence[str] | None,
    options: dict[str, object],
) -> Edit | list[Edit]:
    """``with_=""``: removal with the fill model. Options it cannot honour are refused."""
    from .remove import remove

    groups = split(
        {k: v for k, v in options.items() if k != "mask"}, ReplaceArgs, "replace"
    )  # checked as for a repaint
    if groups[CheckOptions].tries != 1:
        raise InvalidInputError(
            f"with_='' removes the object with the fill model, which paints the same fill for every "
            f"seed: tries={options['tries']} would give {options['tries']} equal candidates; leave tries=1"
        )
    allowed = keywords(RemoveArgs) | {"tries", "mask"}
    defaults = {**recorded(ReplaceArgs, FindOptions(), PaintOptions(), CheckOptions())}
    unused = [name for name, value in options.items() if name not in allowed and value != defaults.get(name)]
    if unused:
        raise InvalidInputError(
            f"with_='' removes the object with the fill model, which takes no {', '.join(unused)}; "
            "drop them, or give with_ a prompt to repaint the region"
        )
    kept = {k: v for k, v in options.items() if k in keywords(RemoveArgs) | {"mask"}}
    return remove(pipeline, image, find, **kept)  # type: ignore[call-overload]  # the keys were checked against RemoveArgs just above
