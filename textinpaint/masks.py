"""Mask operations: loading user masks, dilation, feathering, boxes. All masks are ``bool`` HxW.

Morphology and distances use OpenCV; nothing here loops over pixels in Python.
"""

from __future__ import annotations

import math
import os

import cv2
import numpy as np
import PIL.Image

from .errors import InvalidInputError
from .images import load_image


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
        array = _inside(load_image(mask, argument=argument).rgb.max(axis=2), argument)
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


def distance_outside(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance in pixels from each pixel to the nearest True pixel of ``mask`` (0 on it).

    Returns:
        float32 HxW. Exact (OpenCV's precise distance transform), so growing a mask by ``r`` px
        is simply ``distance <= r``: a true disc, at a cost that does not depend on ``r``.
    """
    return cv2.distanceTransform((~mask).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Grow a ``bool`` mask by ``pixels`` (a Euclidean disc); ``pixels=0`` returns a copy."""
    return mask.copy() if pixels <= 0 else distance_outside(mask) <= pixels


def blend_weights(distance: np.ndarray, dilation: int, feathering: int) -> np.ndarray:
    """Blend weights from :func:`distance_outside`: 1.0 within ``dilation`` px of the mask,
    falling linearly to exactly 0 at ``dilation + feathering + 1`` px.

    Returns:
        float32 HxW in [0, 1].
    """
    return np.clip((dilation + feathering + 1 - distance) / np.float32(feathering + 1), 0.0, 1.0).astype(np.float32)


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """The smallest ``(x0, y0, x1, y1)`` box (x1, y1 exclusive) holding every True pixel, or None."""
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    return None if w == 0 else (x, y, x + w, y + h)


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
