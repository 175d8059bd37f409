"""Stage 3: repaint a masked region at the photo's full resolution.

The model never sees the whole photo. A window around the (dilated) mask is cut out, handed to a
*filler* at full resolution, and the filled window is blended back with a feathered alpha that is
1 on the dilated mask and falls to exactly 0 a few pixels outside it. Every pixel where the alpha
is 0 is copied from the input, so it is bit-identical.

A filler (:class:`Filler`) is anything with a ``native_size`` and a ``__call__(crop, mask, request)``
that returns a crop of the same size: the diffusers adapter (:mod:`textinpaint.backends.diffusion`, which resizes to the
model's native size and back), LaMa for removal (:mod:`textinpaint.backends.removal`), or a stand-in in tests.
"""

from __future__ import annotations

import functools
import logging
import math
import secrets
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from .abilities import SD_GUIDANCE, SD_NEGATIVE_PROMPT, SD_STEPS
from .errors import InvalidInputError
from .masks import blend_weights, bounding_box, distance_near

logger = logging.getLogger(__name__)

# Context around the mask: a quarter of the region's size (at least 16 px) lets the model match
# lighting and texture without wasting resolution on far-away pixels.
_CONTEXT_FRACTION = 0.25
_MIN_CONTEXT = 16
# A crop is never thinner than 1:2 when the photo allows, so the model sees a usable shape.
_MAX_ASPECT = 2.0


@dataclass(frozen=True)
class FillRequest:
    """What to paint: the text prompt and the sampler settings as used (every default already
    resolved for the painter, see :func:`textinpaint.options.resolve`), with a concrete seed.
    The defaults here are Stable Diffusion's, for a request built by hand."""

    prompt: str
    negative_prompt: str = SD_NEGATIVE_PROMPT
    steps: int = SD_STEPS
    guidance: float = SD_GUIDANCE
    strength: float = 1.0
    seed: int = 0
    scheduler: str | None = None  # a short name (see textinpaint.backends.diffusion.SCHEDULERS); None keeps the model's
    refine: bool = False  # a second, low-strength pass at a higher resolution
    upscale: int | None = None  # 2 or 4: sharpen the painted crop with a diffusion upscaler
    fast: bool = False  # paint with the few-step LoRA (textinpaint.backends.fast) and its scheduler


class Filler(Protocol):
    """Fills the masked pixels of a crop: the one thing every inpainter and remover does.

    ``native_size`` is the side of the square the model was trained at (512 for SD 1.5); windows
    are chosen around it. ``__call__`` gets an HxWx3 ``uint8`` crop at full resolution, an HxW
    ``bool`` mask and the request, and returns an HxWx3 ``uint8`` crop of the same size. Any
    object with these two works with every workflow except those that need more (see
    :class:`BatchFiller` and :class:`ControlFiller`), which refuse it up front, saying why.
    """

    @property
    def native_size(self) -> int: ...

    def __call__(self, crop: np.ndarray, mask: np.ndarray, request: FillRequest) -> np.ndarray: ...


@runtime_checkable
class BatchFiller(Protocol):
    """A :class:`Filler` that paints several crops in one call (optional: a speed-up for batches).

    ``fill_many`` returns one ``uint8`` crop per input crop, each the shape of its input.
    """

    @property
    def native_size(self) -> int: ...

    def __call__(self, crop: np.ndarray, mask: np.ndarray, request: FillRequest) -> np.ndarray: ...

    def fill_many(
        self, crops: list[np.ndarray], masks: list[np.ndarray], requests: list[FillRequest]
    ) -> list[np.ndarray]: ...


@runtime_checkable
class ControlFiller(Protocol):
    """A filler that paints under a control image (a depth map), as background replacement needs.

    ``controls`` are HxWx3 ``uint8`` pictures aligned with their crops; ``controlnet_scale`` is
    how closely to follow them.
    """

    @property
    def native_size(self) -> int: ...

    def fill_controlled(
        self,
        crops: list[np.ndarray],
        masks: list[np.ndarray],
        requests: list[FillRequest],
        controls: list[np.ndarray],
        controlnet_scale: float,
    ) -> list[np.ndarray]: ...


def check_filler(filler: object, argument: str) -> Filler:
    """``filler`` if it is a :class:`Filler`; else a typed error naming what it lacks."""
    lacks = []
    native = getattr(filler, "native_size", None)
    if not isinstance(native, int) or isinstance(native, bool) or native < 8:
        lacks.append(f"an integer native_size >= 8 (has {native!r})")
    if not callable(filler):
        lacks.append("__call__(crop, mask, request)")
    if lacks:
        raise InvalidInputError(
            f"{argument} must be a Filler (see textinpaint.Filler); {type(filler).__name__} lacks {' and '.join(lacks)}"
        )
    return filler  # type: ignore[return-value]  # checked just above


def fill_all(
    filler: Filler, crops: list[np.ndarray], masks: list[np.ndarray], requests: list[FillRequest]
) -> list[np.ndarray]:
    """Paint every crop: in one call when the filler is a :class:`BatchFiller`, else one by one."""
    if isinstance(filler, BatchFiller):
        return filler.fill_many(crops, masks, requests)
    return [filler(crop, mask, request) for crop, mask, request in zip(crops, masks, requests)]


def draw_seed() -> int:
    """A fresh random seed in [0, 2**32)."""
    return secrets.randbelow(2**32)


def resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize with exact area averaging when shrinking and bicubic interpolation when enlarging.

    A shrink is one OpenCV ``INTER_AREA`` resize: each output pixel is the mean of the input
    pixels under it, weighted by how much of each it covers (so the model's context is the photo,
    softened only as much as its size requires). (Lanczos is sharper by a hair but costs about
    three times as much.)
    """
    if pixels.shape[1] == width and pixels.shape[0] == height:
        return pixels
    shrinking = width * height < pixels.shape[0] * pixels.shape[1]
    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def shrink_any(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """A ``bool`` mask on a ``width`` x ``height`` grid laid over ``mask``: a cell is True when any
    True pixel of ``mask`` overlaps it (nothing to repaint is lost by shrinking). Only the cells
    over the mask's bounding box are computed, from an integral image.

    Returns:
        ``height`` x ``width`` ``bool``.
    """
    source_height, source_width = mask.shape
    out = np.zeros((height, width), dtype=bool)
    box = bounding_box(mask)
    if box is None:
        return out
    x0, y0, x1, y1 = box
    scale_x, scale_y = source_width / width, source_height / height

    def cells(start: int, stop: int, scale: float, count: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        first = min(count - 1, int(math.floor(start / scale)))
        last = min(count, max(first + 1, int(math.ceil(stop / scale))))
        index = np.arange(first, last)
        low = np.clip(np.floor(index * scale).astype(np.int64), start, stop)
        high = np.clip(np.ceil((index + 1) * scale).astype(np.int64), start, stop)
        return index, low - start, high - start

    rows, top, bottom = cells(y0, y1, scale_y, height, source_height)
    cols, left, right = cells(x0, x1, scale_x, width, source_width)
    total = cv2.integral(np.ascontiguousarray(mask[y0:y1, x0:x1]).view(np.uint8), sdepth=cv2.CV_32S)
    sums = (
        total[bottom[:, None], right[None, :]]
        - total[top[:, None], right[None, :]]
        - total[bottom[:, None], left[None, :]]
        + total[top[:, None], left[None, :]]
    )
    out[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = sums > 0
    return out


def generation_size(width: int, height: int, native: int, multiple: int) -> tuple[int, int]:
    """The (width, height) a model paints a ``width`` x ``height`` crop at.

    A crop already on the ``multiple`` grid whose area is between half and all of ``native**2``
    is painted as it is (no resampling); any other is scaled to about ``native**2`` pixels.
    """
    area = width * height
    if width % multiple == 0 and height % multiple == 0 and native**2 / 2 <= area <= native**2:
        return width, height
    scale = native / math.sqrt(area)
    return (
        max(multiple, round(width * scale / multiple) * multiple),
        max(multiple, round(height * scale / multiple) * multiple),
    )


def crop_window(box: tuple[int, int, int, int], width: int, height: int, native: int) -> tuple[int, int, int, int]:
    """The ``(x0, y0, x1, y1)`` window (exclusive ends) cut out around ``box`` for the filler.

    The window holds ``box`` plus context, is at least ``native`` px a side and no thinner than
    1:2 where the image allows, sits on an 8-px grid where it can, and never leaves the image.
    """
    x0, y0, x1, y1 = box
    context = max(_MIN_CONTEXT, round(_CONTEXT_FRACTION * max(x1 - x0, y1 - y0)))
    w, h = max(x1 - x0 + 2 * context, native), max(y1 - y0 + 2 * context, native)
    w, h = max(w, math.ceil(h / _MAX_ASPECT)), max(h, math.ceil(w / _MAX_ASPECT))
    w, h = min(width, math.ceil(w / 8) * 8), min(height, math.ceil(h / 8) * 8)
    left = min(max(0, (x0 + x1 - w) // 2), width - w)
    top = min(max(0, (y0 + y1 - h) // 2), height - h)
    left, top = max(min(left, x0), x1 - w), max(min(top, y0), y1 - h)
    return left, top, left + w, top + h


@dataclass(frozen=True)
class Painted:
    """The result of :func:`paint`: the new pixels, where they may differ, and how.

    The new image is ``base`` with ``patch`` at ``box``; it is put together only when asked for
    (:attr:`rgb`), so an edit going straight to its output image never copies the whole picture.
    """

    base: np.ndarray  # HxWx3 uint8, the input
    changed: np.ndarray  # HxW bool: where the blend alpha is above 0
    window: tuple[int, int, int, int] | None  # the crop handed to the filler, xyxy (exclusive ends)
    dilation: int
    feathering: int
    patch: np.ndarray | None = None  # the blended pixels of ``box``
    box: tuple[int, int, int, int] | None = None  # xyxy, exclusive ends

    @functools.cached_property
    def rgb(self) -> np.ndarray:
        """HxWx3 ``uint8``: the whole new image."""
        if self.patch is None or self.box is None:
            return self.base
        x0, y0, x1, y1 = self.box
        out = self.base.copy()
        out[y0:y1, x0:x1] = self.patch
        return out


@dataclass(frozen=True)
class PaintJob:
    """One image to repaint: ``rgb`` HxWx3 ``uint8``, ``mask`` HxW ``bool`` (not empty), and how."""

    rgb: np.ndarray
    mask: np.ndarray
    request: FillRequest
    dilation: int
    feathering: int


def paint(
    rgb: np.ndarray,
    mask: np.ndarray,
    filler: Filler,
    request: FillRequest,
    *,
    dilation: int,
    feathering: int,
) -> Painted:
    """Repaint ``mask`` in ``rgb`` with ``filler`` and blend the result back.

    Args:
        rgb: HxWx3 ``uint8`` image.
        mask: HxW ``bool``, the pixels to repaint (before dilation); at least one must be True.
        filler: what paints the crop.
        request: prompt and settings.
        dilation: grow the mask by this many pixels first.
        feathering: width in pixels of the soft band outside the dilated mask.

    Returns:
        The new image; pixels outside ``changed`` are bit-identical to ``rgb``.
    """
    return paint_many([PaintJob(rgb, mask, request, dilation, feathering)], filler)[0]


def paint_many(jobs: list[PaintJob], filler: Filler) -> list[Painted]:
    """:func:`paint` for several images; a :class:`BatchFiller` paints their crops together."""
    prepared = [_prepare(job, filler.native_size) for job in jobs]
    crops = [job.rgb[y0:y1, x0:x1] for job, (_, (x0, y0, x1, y1), *_) in zip(jobs, prepared)]
    masks = [grown for _, _, _, grown, _ in prepared]
    requests = [job.request for job in jobs]
    filled = fill_all(filler, crops, masks, requests)
    return [_blend(job, plan, crop, fill) for job, plan, crop, fill in zip(jobs, prepared, crops, filled)]


def _prepare(job: PaintJob, native: int) -> tuple:
    """The support box, window, inner slices, grown window mask and blend weights of one job."""
    mask, dilation, feathering = job.mask, job.dilation, job.feathering
    height, width = mask.shape
    box = bounding_box(mask)
    if box is None:
        raise InvalidInputError("mask is empty: there is nothing to repaint")
    reach = dilation + feathering
    support = (max(0, box[0] - reach), max(0, box[1] - reach), min(width, box[2] + reach), min(height, box[3] + reach))
    x0, y0, x1, y1 = crop_window(support, width, height, native)
    sx0, sy0, sx1, sy1 = support
    # Exact distances over the support box (it holds the whole mask, and every pixel with a weight
    # above 0), measured part by part where the mask's parts lie far apart: the grown mask and
    # the blend weights both come from them (the weights computed in the distances' place).
    distance = distance_near(mask[sy0:sy1, sx0:sx1], reach + 1)
    grown = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    inner = (slice(sy0 - y0, sy1 - y0), slice(sx0 - x0, sx1 - x0))
    grown[inner] = distance <= dilation
    alpha = blend_weights(distance, dilation, feathering, out=distance)
    if support == (0, 0, width, height) and grown.all():
        logger.warning("the mask covers the whole image: the result is text-to-image, nothing of the input is kept")
    return support, (x0, y0, x1, y1), inner, grown, alpha


def _blend(job: PaintJob, prepared: tuple, crop: np.ndarray, filled: np.ndarray) -> Painted:
    (sx0, sy0, sx1, sy1), window, inner, _, alpha = prepared
    if filled.shape != crop.shape or filled.dtype != np.uint8:
        raise InvalidInputError(
            f"the filler returned {filled.dtype} {filled.shape}; expected uint8 {crop.shape}, the crop's shape"
        )
    patch = cv2.blendLinear(filled[inner], job.rgb[sy0:sy1, sx0:sx1], alpha, 1.0 - alpha)
    changed = np.zeros_like(job.mask)
    changed[sy0:sy1, sx0:sx1] = alpha > 0
    return Painted(job.rgb, changed, window, job.dilation, job.feathering, patch, (sx0, sy0, sx1, sy1))
