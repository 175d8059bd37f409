"""find_boxes / find_masks: the ``detect`` and ``segment`` subcommands as recorded workflows.

They return an :class:`~textinpaint.Edit` that changes nothing but holds the detections (and,
for masks, the union of the selected masks as ``image``), so their sidecars replay like any edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import PIL.Image

from ..images import ImageInput
from ..options import (
    DEFAULT_BOX_THRESHOLD,
    DEFAULT_NMS_IOU,
    DEFAULT_TEXT_THRESHOLD,
    FindOptions,
    Select,
    check_query,
    fields_of,
)
from ..results import Edit
from ..runtime import find_regions, load_pictures, record

if TYPE_CHECKING:
    from ..pipeline import Pipeline


def find_boxes(
    pipeline: Pipeline,
    image: ImageInput,
    find: str | Sequence[str],
    *,
    box_threshold: float = DEFAULT_BOX_THRESHOLD,
    text_threshold: float = DEFAULT_TEXT_THRESHOLD,
    nms_iou: float = DEFAULT_NMS_IOU,
) -> Edit:
    """:meth:`~textinpaint.Pipeline.detect` with a record: ``image`` is the input, ``detections`` the boxes."""
    # 1. Check the input and options.
    (picture,), _ = load_pictures(pipeline, image)
    finding = FindOptions(box_threshold, text_threshold, nms_iou, mask_mode="box")
    # 2. Detect.
    timings: dict[str, float] = {}
    (found,) = find_regions(pipeline, [picture], find, finding, timings)
    # 3. Record.
    parameters = {"find": find, "box_threshold": box_threshold, "text_threshold": text_threshold, "nms_iou": nms_iou}
    note = record(pipeline, "detect", parameters, ("detector",), picture)
    source = picture.to_pil()
    nothing = np.zeros((picture.height, picture.width), bool)
    return Edit(
        source, nothing, found.detections, found.selected, None, found.region is not None, timings, source, note
    )


def find_masks(
    pipeline: Pipeline,
    image: ImageInput,
    find: str | Sequence[str] | None = None,
    *,
    select: Select = "all",
    strict: bool = False,
    box_threshold: float = DEFAULT_BOX_THRESHOLD,
    text_threshold: float = DEFAULT_TEXT_THRESHOLD,
    nms_iou: float = DEFAULT_NMS_IOU,
    points: Sequence[Sequence[float]] | None = None,
    labels: Sequence[int] | None = None,
) -> Edit:
    """Detect, segment and select: ``image`` is the union of the selected masks as a 1-bit picture
    (white = selected), ``mask`` the same as a ``bool`` HxW array."""
    # 1. Check the input and options.
    (picture,), _ = load_pictures(pipeline, image)
    finding = FindOptions(box_threshold, text_threshold, nms_iou, select, "mask", strict, points, labels)
    check_query(find, finding)
    # 2. Detect, segment, select (or cut out what the points mark).
    timings: dict[str, float] = {}
    (found,) = find_regions(pipeline, [picture], find, finding, timings)
    # 3. Record.
    parameters = {"find": find, **{k: v for k, v in fields_of(finding).items() if k != "mask_mode"}}
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
        picture.to_pil(),
        note,
    )
