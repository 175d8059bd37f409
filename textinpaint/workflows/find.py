"""find_boxes / find_masks: the ``detect`` and ``segment`` subcommands as recorded workflows.

They return an :class:`~textinpaint.Edit` that changes nothing but holds the detections (and,
for masks, the union of the selected masks as ``image``), so their sidecars replay like any edit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Unpack

import numpy as np
import PIL.Image

from ..images import ImageInput
from ..options import DetectArgs, FindOptions, SegmentArgs, check_query, recorded, split
from ..results import Edit, later_picture
from .steps import find_regions, load_pictures, record

if TYPE_CHECKING:
    from ..container import Models


def find_boxes(pipeline: Models, image: ImageInput, find: str | Sequence[str], **options: Unpack[DetectArgs]) -> Edit:
    """:meth:`~textinpaint.Pipeline.detect` with a record: ``image`` is the input, ``detections`` the boxes.

    The options are the thresholds (``box_threshold``, ``text_threshold``, ``nms_iou``)."""
    # 1. Check the input and options.
    finding = dataclasses.replace(split(dict(options), DetectArgs, "detect")[FindOptions], mask_mode="box")
    (picture,), _ = load_pictures(pipeline, image)
    # 2. Detect.
    timings: dict[str, float] = {}
    (found,) = find_regions(pipeline, [picture], find, finding, timings)
    # 3. Record.
    parameters = {"find": find, **recorded(DetectArgs, finding)}
    note = record(pipeline, "detect", parameters, ("detector",), picture)
    nothing = np.zeros((picture.height, picture.width), bool)
    return Edit(
        later_picture(picture),
        nothing,
        found.detections,
        found.selected,
        None,
        found.region is not None,
        timings,
        later_picture(picture),
        note,
    )


def find_masks(
    pipeline: Models, image: ImageInput, find: str | Sequence[str] | None = None, **options: Unpack[SegmentArgs]
) -> Edit:
    """Detect, segment and select: ``image`` is the union of the selected masks as a 1-bit picture
    (white = selected), ``mask`` the same as a ``bool`` HxW array. The options are the finding
    options (see :mod:`textinpaint.options`); ``mask_mode`` is always ``"mask"`` here."""
    # 1. Check the input and options.
    finding = dataclasses.replace(split(dict(options), SegmentArgs, "segment")[FindOptions], mask_mode="mask")
    (picture,), _ = load_pictures(pipeline, image)
    check_query(find, finding)
    # 2. Detect, segment, select (or cut out what the points mark).
    timings: dict[str, float] = {}
    (found,) = find_regions(pipeline, [picture], find, finding, timings)
    # 3. Record.
    parameters = {"find": find, **{k: v for k, v in recorded(SegmentArgs, finding).items() if k != "mask_mode"}}
    note = record(pipeline, "segment", parameters, ("detector", "segmenter"), picture)
    union = found.region if found.region is not None else np.zeros((picture.height, picture.width), bool)
    return Edit(
        PIL.Image.fromarray(union),
        union,
        found.detections,
        found.selected,
        None,
        found.region is not None,
        timings,
        later_picture(picture),
        note,
    )
