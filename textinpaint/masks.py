"""Mask operations: loading user masks, dilation, feathering, boxes. All masks are ``bool`` HxW.

Morphology and distances use OpenCV; nothing here loops over pixels in Python.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import cv2
import numpy as np
import PIL.Image

from .errors import InvalidInputError
from .images import load_grey


def auto_dilation(width: int, height: int) -> int:
    """Default dilation in pixels for an image of this size.

    SAM predicts masks on a 256x256 grid of its 1024-px frame, so an edge is uncertain by about
    ``max(width, height) / 256`` pixels; twice that covers the edge and the object's halo.
    """
    return max(4, round(max(width, height) / 128))


def auto_feather(dilation: int) -> int:
    """Default feather width: half the dilation, at least 2 px, so the seam is soft but narrow."""
    return max(2, dilation // 2)


def load_mask(mask: object, width: int, height: int, *, argument: str = "mask") -> np.ndarray:
    """Return ``mask`` as a ``bool`` HxW array; arrays and images mean the same.

    Inside is: True for ``bool``; for values that are all 0 or 1, every 1; otherwise the upper
    half of the range (above 127 for 8-bit values and images, 0.5 or more for floats in [0, 1]).
    So a ``uint8`` array of ones, the same array saved as a PNG, and a white-on-black mask
    picture all mean "inside".

    Args:
        mask: a ``bool``/integer/float HxW array, a PIL image, or a path to an image file.
        width: the width the mask must have (the image's).
        height: the height the mask must have.
        argument: the caller's argument name, for error messages.

    Raises:
        InvalidInputError: wrong type, or a size that differs from the image's (both sizes named).
    """
    if isinstance(mask, np.ndarray) and mask.ndim == 2:
        array = _inside(mask, argument)
    elif isinstance(mask, PIL.Image.Image) and mask.mode == "1":
        array = np.asarray(mask, dtype=bool)
    elif isinstance(mask, (np.ndarray, PIL.Image.Image, str, os.PathLike)):
        array = _inside(load_grey(mask, argument=argument), argument)
    else:
        raise InvalidInputError(
            f"{argument} must be a bool HxW array, a PIL image or a path; got {type(mask).__name__}"
        )
    if array.shape != (height, width):
        raise InvalidInputError(
            f"{argument} is {array.shape[1]}x{array.shape[0]} (WxH) but the image is {width}x{height}; "
            "they must be the same size"
        )
    return array


def _inside(values: np.ndarray, argument: str) -> np.ndarray:
    """See :func:`load_mask`: bool as is, 0/1 values by nonzero, else the upper half of the range."""
    if values.dtype == bool:
        return values
    if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        raise InvalidInputError(f"{argument} must hold bool or numeric values; got dtype {values.dtype}")
    if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
        raise InvalidInputError(f"{argument} holds NaN or infinite values")
    top = values.max(initial=0)
    if top <= 1:
        return values >= 0.5 if np.issubdtype(values.dtype, np.floating) else values > 0
    return values > 127


def union(masks: np.ndarray, indices: Sequence[int]) -> np.ndarray:
    """The union of ``masks[i]`` for ``i`` in ``indices`` (NxHxW ``bool``, at least one index),
    as a new HxW ``bool`` array; no copy of the selected masks is made on the way.

    Example:
        >>> union(np.eye(3, dtype=bool)[:, None, :].repeat(2, axis=1), [0, 2]).astype(int).tolist()
        [[1, 0, 1], [1, 0, 1]]
    """
    out = np.array(masks[indices[0]], dtype=bool, order="C")
    target = out.view(np.uint8)
    for index in indices[1:]:
        cv2.bitwise_or(target, np.ascontiguousarray(masks[index], dtype=bool).view(np.uint8), dst=target)
    return out


def distance_outside(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance in pixels from each pixel to the nearest True pixel of ``mask`` (0 on it).

    Returns:
        float32 HxW. Exact (OpenCV's precise distance transform), so growing a mask by ``r`` px
        is simply ``distance <= r``: a true disc, at a cost that does not depend on ``r``.
    """
    return cv2.distanceTransform((~mask).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def distance_near(mask: np.ndarray, reach: int) -> np.ndarray:
    """:func:`distance_outside`, exact wherever it is at most ``reach``; +inf where it is larger
    and the pixel lies far from every part of the mask.

    Parts of the mask more than ``2 * reach`` px apart (in rows or columns, cut recursively) are
    measured separately, so the empty space between distant objects ("all the cars") costs
    nothing. Each part's box is grown by ``reach``; the boxes are disjoint, and a pixel within
    ``reach`` of the mask lies in the box of the part it is near.

    Returns:
        float32 HxW.
    """
    height, width = mask.shape
    boxes = _apart(mask, reach, (0, 0, width, height))
    if len(boxes) == 1 and (boxes[0][2] - boxes[0][0]) * (boxes[0][3] - boxes[0][1]) == width * height:
        return distance_outside(mask)
    out = np.full((height, width), np.inf, dtype=np.float32)
    for x0, y0, x1, y1 in boxes:
        out[y0:y1, x0:x1] = distance_outside(mask[y0:y1, x0:x1])
    return out


def _apart(mask: np.ndarray, reach: int, box: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """The disjoint boxes (xyxy) of the parts of ``mask`` inside ``box``, each grown by ``reach``."""
    x0, y0, x1, y1 = box
    region = mask[y0:y1, x0:x1]
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    if rows.size == 0:
        return []
    for positions, along_rows in ((rows, True), (cols, False)):
        cuts = np.flatnonzero(np.diff(positions) > 2 * reach + 1)
        if cuts.size:
            starts = np.concatenate([[positions[0]], positions[cuts + 1]])
            stops = np.concatenate([positions[cuts], [positions[-1]]]) + 1
            parts = []
            for start, stop in zip(starts.tolist(), stops.tolist()):
                band = (x0, y0 + start, x1, y0 + stop) if along_rows else (x0 + start, y0, x0 + stop, y1)
                parts += _apart(mask, reach, band)
            return parts
    height, width = mask.shape
    return [
        (
            max(0, x0 + int(cols[0]) - reach),
            max(0, y0 + int(rows[0]) - reach),
            min(width, x0 + int(cols[-1]) + 1 + reach),
            min(height, y0 + int(rows[-1]) + 1 + reach),
        )
    ]


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Grow a ``bool`` mask by ``pixels`` (a Euclidean disc); ``pixels=0`` returns a copy."""
    return mask.copy() if pixels <= 0 else distance_outside(mask) <= pixels


def blend_weights(distance: np.ndarray, dilation: int, feathering: int, *, out: np.ndarray | None = None) -> np.ndarray:
    """Blend weights from :func:`distance_outside`: 1.0 within ``dilation`` px of the mask,
    falling linearly to exactly 0 at ``dilation + feathering + 1`` px.

    Args:
        out: a float32 array to write the weights into (``distance`` itself may be given).

    Returns:
        float32 HxW in [0, 1].
    """
    weights = np.subtract(np.float32(dilation + feathering + 1), distance, out=out, dtype=np.float32)
    weights /= np.float32(feathering + 1)
    return np.clip(weights, 0.0, 1.0, out=weights)


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """The smallest ``(x0, y0, x1, y1)`` box (x1, y1 exclusive) holding every True pixel, or None."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def box_mask(xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Union of boxes as a mask; each box is widened to whole pixels (floor x0, y0; ceil x1, y1).

    Args:
        xyxy: Nx4 float array of boxes in image pixels.
    """
    mask = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in np.asarray(xyxy, dtype=np.float64).reshape(-1, 4):
        left, top = max(0, math.floor(x0)), max(0, math.floor(y0))
        right, bottom = min(width, math.ceil(x1)), min(height, math.ceil(y1))
        mask[top:bottom, left:right] = True
    return mask


def auto_matte_band(width: int, height: int) -> int:
    """Default half-width in pixels of the trimap's unknown band: ``max(6, longer side / 64)``
    (16 px on a 1024-px photo: room for hair and fur on either side of a segmenter's edge)."""
    return max(6, round(max(width, height) / 64))


def trimap(mask: np.ndarray, band: int) -> np.ndarray:
    """A matting trimap of a ``bool`` HxW subject mask: 255 where the subject is sure (more than
    ``band`` px inside its edge), 0 where the background is sure (more than ``band`` px outside),
    128 between ("unknown"). Eroded and dilated by OpenCV with a disc; the picture's border does
    not count as an edge.

    Returns:
        HxW ``uint8``.
    """
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    subject = mask.astype(np.uint8)
    inner = cv2.erode(subject, disc)  # OpenCV's default border never erodes at the picture's edge
    outer = cv2.dilate(subject, disc)
    out = np.where(outer > 0, np.uint8(128), np.uint8(0))
    out[inner > 0] = 255
    return out


def alpha_blend(front: np.ndarray, back: np.ndarray | Sequence[int], alpha: np.ndarray) -> np.ndarray:
    """``front`` over ``back`` under an HxW ``uint8`` alpha, in integers: exactly ``front`` where
    alpha is 255, exactly ``back`` where it is 0, the rounded blend between.

    Args:
        front: HxWx3 ``uint8``.
        back: HxWx3 ``uint8``, or one ``(r, g, b)`` colour.
        alpha: HxW ``uint8``.

    Returns:
        HxWx3 ``uint8``.
    """
    weight = alpha.astype(np.uint32)[..., None]
    under = np.asarray(back, dtype=np.uint32)
    return ((front.astype(np.uint32) * weight + under * (255 - weight) + 127) // 255).astype(np.uint8)
