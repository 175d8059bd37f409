"""What every workflow shares: timing stages, validating painting options, assembling edits."""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import supervision as sv
import torch

from .checks import check_painting, check_text
from .errors import InvalidInputError, OutOfMemoryError
from .images import Picture
from .inpainting import FillRequest, Painted, draw_seed
from .results import Edit

logger = logging.getLogger(__name__)


class Found(NamedTuple):
    """What a query matched in one picture, and the region to repaint."""

    detections: sv.Detections
    selected: list[int]
    region: np.ndarray | None  # None when nothing matched


# Called with each stage's name as it starts, in this thread or task only (see `listening`).
stage_listener: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "textinpaint_stage_listener", default=None
)


@contextmanager
def listening(callback: Callable[[str], None]) -> Iterator[None]:
    """Call ``callback(stage)`` as each stage starts (``"load"``, ``"detect"``, ``"segment"``,
    ``"inpaint"``, ...) in calls made inside this block, in this thread only.

    Example:
        >>> with listening(print):  # doctest: +SKIP
        ...     replace("street.jpg", "car", "a bus")
    """
    token = stage_listener.set(callback)
    try:
        yield
    finally:
        stage_listener.reset(token)


def fill_request(
    prompt: str, negative_prompt: str, steps: int, guidance: float, strength: float, seed: int | None,
    scheduler: str | None, refine: bool, upscale: int | None, *, dilate: object = None, feather: object = None,
) -> FillRequest:
    """Validate painting options and fix the seed (drawn when None)."""
    check_text("prompt", prompt)
    if not isinstance(negative_prompt, str):
        raise InvalidInputError(f"negative_prompt must be a string ('' for none); got {negative_prompt!r}")
    check_painting(steps=steps, guidance=guidance, strength=strength, seed=seed, dilate=dilate, feather=feather,
                   scheduler=scheduler, refine=refine, upscale=upscale)
    seed = draw_seed() if seed is None else int(seed)
    return FillRequest(prompt, negative_prompt, steps, guidance, strength, seed, scheduler, refine, upscale)


def unchanged_edit(picture: Picture, found: Found, seed: int, timings: dict[str, float]) -> Edit:
    source = picture.to_pil()
    nothing = np.zeros((picture.height, picture.width), dtype=bool)
    return Edit(source.copy(), nothing, found.detections, [], seed, False, timings, source)


def painted_edit(picture: Picture, found: Found, painted: Painted, seed: int, timings: dict[str, float]) -> Edit:
    return Edit(picture.to_pil(painted.rgb), painted.changed, found.detections, found.selected, seed, True,
                timings, picture.to_pil())


@contextmanager
def timed(name: str, timings: dict[str, float]) -> Iterator[None]:
    """Time a stage into ``timings[name]``; turn CUDA out-of-memory into a typed, helpful error."""
    listener = stage_listener.get()
    if listener is not None:
        listener(name)
    start = time.perf_counter()
    try:
        yield
    except torch.OutOfMemoryError as error:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise OutOfMemoryError(
            f"the device ran out of memory during {name}: use a smaller image or mask region, "
            "dtype='float16', a smaller model (segmenter='base'), or free other GPU work"
        ) from error
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
