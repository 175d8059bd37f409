"""cutout: the subject on transparency (or on a colour), with soft edges; every pixel the input's."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Unpack, overload

import numpy as np
import PIL.Image

from ..backends.detection import empty_detections, parse_phrases
from ..errors import InvalidInputError
from ..images import ImageInput, Picture
from ..masks import alpha_blend, bounding_box, load_mask
from ..options import CheckOptions, CutoutArgs, CutoutOptions, FindOptions, MatteOptions, colour_rgb, recorded, split
from ..results import Edit, later_picture
from .steps import (
    Found,
    batch_record,
    check_texts,
    find_regions,
    load_pictures,
    matte_wanted,
    record,
    salient_regions,
    subject_alphas,
)

if TYPE_CHECKING:
    from ..container import Models


@overload
def cutout(
    pipeline: Models,
    image: ImageInput,
    keep: str | Sequence[str] | None = ...,
    *,
    mask: object = ...,
    **options: Unpack[CutoutArgs],
) -> Edit: ...
@overload
def cutout(
    pipeline: Models,
    image: list[ImageInput] | tuple[ImageInput, ...],
    keep: str | Sequence[str] | None = ...,
    *,
    mask: object = ...,
    **options: Unpack[CutoutArgs],
) -> list[Edit]: ...
def cutout(
    pipeline: Models,
    image: ImageInput | Sequence[ImageInput],
    keep: str | Sequence[str] | None = None,
    *,
    mask: object = None,
    **options: Unpack[CutoutArgs],
) -> Edit | list[Edit]:
    """Cut the subject out: the input's pixels with the subject's alpha, at full resolution.

    The subject is the salient foreground (the ``subject`` stage, rembg's model) when nothing
    names it; else every match of ``keep`` (detect + segment), the object ``points`` click, or
    ``mask``. Its edge is matted into a soft alpha (the ``matte`` stage, ViTMatte) when ``matte``
    says so (by default when the matting model is on this machine); without matting the alpha is
    the salient model's own soft mask, or the hard mask.

    Args:
        image: a path, PIL image or numpy array, or a list of them.
        keep: what to cut out (phrases, as for :func:`detect`); None: the salient subject.
        mask: the subject as a ``bool`` HxW mask (or PIL / path), instead of ``keep``.
        **options: ``matte`` (True or ``"vitmatte"``, False, None: automatic), ``matte_band``
            (the matted band's half-width in px), ``background_colour`` (a colour instead of
            transparency), ``crop_to_subject``, and with ``keep`` or ``points`` the finding options
            (``box_threshold``, ``text_threshold``, ``nms_iou``, ``strict``, ``points``,
            ``labels``); see :mod:`textinpaint.options`.

    Returns:
        An :class:`Edit` (a list for a list of images): ``image`` RGBA (RGB on a
        ``background_colour``) with the input's ICC profile and EXIF; ``alpha`` the subject's HxW
        ``uint8`` alpha at the input's size; ``mask`` the pixels that differ from the input (alpha
        below 255; within the crop with ``crop_to_subject``). Where the alpha is 255 the pixels are
        the input's, bit for bit. Nothing found: ``found`` False and a fully transparent image.

    Example:
        >>> from textinpaint import cutout
        >>> cutout("product.jpg").save("product.png")  # doctest: +SKIP
        >>> cutout("portrait.jpg", "the person", background_colour="white").image.save("id.jpg")  # doctest: +SKIP
    """
    # 1. Check every input and option before any work.
    groups = split(dict(options), CutoutArgs, "cutout")
    finding, matting, style = groups[FindOptions], groups[MatteOptions], groups[CutoutOptions]
    pictures, batch = load_pictures(pipeline, image)
    if mask is not None and (keep is not None or finding.points is not None):
        raise InvalidInputError(
            f"give the subject as keep and/or points, or as mask, not both; got keep={keep!r}, "
            f"points={finding.points!r} and a mask"
        )
    texts = {"keep": parse_phrases(keep, argument="keep")} if keep is not None else {}
    check_texts(pipeline, CheckOptions(), texts)
    given = None if mask is None else [load_mask(mask, p.width, p.height) for p in pictures]
    soften = matte_wanted(pipeline, matting.matte)
    # 2. Find the subject: the mask given, the text or clicks (detect + segment), or the salient one.
    timings: dict[str, float] = {}
    if given is not None:
        found = [
            Found(empty_detections(p.height, p.width), [], m if m.any() else None) for p, m in zip(pictures, given)
        ]
        stages: tuple[str, ...] = ()
    elif keep is not None or finding.points is not None:
        found = find_regions(pipeline, pictures, keep, finding, timings)
        stages = ("detector", "segmenter") if keep is not None else ("segmenter",)
    else:
        found = salient_regions(pipeline, pictures, finding, timings)
        stages = ("subject",)
    # 3. The subject's alpha: matted along its edge, or the mask as found.
    alphas = subject_alphas(pipeline, pictures, found, soften, matting.matte_band, timings)
    # 4. Deliver each picture with its alpha, and record how it was made.
    parameters = {
        "keep": keep,
        **recorded(CutoutArgs, finding, matting, style),
        "matte": "vitmatte" if soften else False,
    }
    used = (*stages, "matte") if soften else stages
    edits = []
    for i, (picture, one, alpha) in enumerate(zip(pictures, found, alphas)):
        subject = np.zeros((picture.height, picture.width), np.uint8) if alpha is None else alpha
        picture_out, changed = _delivered(picture, subject, style)
        note = record(
            pipeline,
            "cutout",
            parameters,
            used,
            picture,
            mask=None if given is None else given[i],
            batch=batch_record(pictures, [None] * len(pictures), i),
        )
        edits.append(
            Edit(
                picture_out,
                changed,
                one.detections,
                one.selected,
                None,
                alpha is not None,
                timings,
                later_picture(picture),
                note,
                alpha=subject,
            )
        )
    return edits if batch else edits[0]


def _delivered(picture: Picture, alpha: np.ndarray, style: CutoutOptions) -> tuple[PIL.Image.Image, np.ndarray]:
    """The cutout picture (RGBA, or RGB on the background colour) and the pixels that differ."""
    if picture.alpha is not None:  # a transparent input stays transparent where it was
        alpha = ((alpha.astype(np.uint32) * picture.alpha + 127) // 255).astype(np.uint8)
    colour = colour_rgb(style.background_colour)
    if colour is None:
        image = dataclasses.replace(picture, alpha=alpha).to_pil()
    else:
        image = dataclasses.replace(picture, rgb=alpha_blend(picture.rgb, colour, alpha), alpha=None).to_pil()
    changed = alpha < 255
    if style.crop_to_subject:
        box = bounding_box(alpha > 0)
        if box is not None:
            x0, y0, x1, y1 = box
            cropped = image.crop(box)
            cropped.info.update(image.info)  # the ICC profile and EXIF stay with the pixels
            image, changed = cropped, changed[y0:y1, x0:x1]
    return image, changed
