"""Progress events, at the bottom of the stack: which stage runs, which denoising step is done.

Everything above reports here (workflows call :func:`timed` around each stage; the painters
report each step), and the interfaces listen (:func:`listening`): the CLI's progress bar, the
app's progress, a Ray actor's log. Nothing here imports the rest of the package.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .errors import OutOfMemoryError

# Called with each stage's name as it starts, in this thread or task only (see `listening`).
stage_listener: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "textinpaint_stage_listener", default=None
)

# Called with (step, steps) after each denoising step, in this thread or task only.
step_listener: contextvars.ContextVar[Callable[[int, int], None] | None] = contextvars.ContextVar(
    "textinpaint_step_listener", default=None
)

# Called with (frames written, frames in the clip or None) after each frame of a video is written.
frame_listener: contextvars.ContextVar[Callable[[int, int | None], None] | None] = contextvars.ContextVar(
    "textinpaint_frame_listener", default=None
)


@contextmanager
def listening(
    callback: Callable[[str], None],
    steps: Callable[[int, int], None] | None = None,
    frames: Callable[[int, int | None], None] | None = None,
) -> Iterator[None]:
    """Call ``callback(stage)`` as each stage starts (``"load"``, ``"detect"``, ``"segment"``,
    ``"inpaint"``, ...), ``steps(step, steps)`` after each denoising step, and ``frames(written,
    total)`` after each frame of a video is written (``total`` None when the file does not say),
    in calls made inside this block, in this thread only.

    Example:
        >>> with listening(print):  # doctest: +SKIP
        ...     replace("street.jpg", "car", "a bus")
    """
    token = stage_listener.set(callback)
    step_token = step_listener.set(steps)
    frame_token = frame_listener.set(frames)
    try:
        yield
    finally:
        frame_listener.reset(frame_token)
        step_listener.reset(step_token)
        stage_listener.reset(token)


def report_frame(written: int, total: int | None) -> None:
    """Tell the current frame listener, if any, that ``written`` frames of a clip are written."""
    listener = frame_listener.get()
    if listener is not None:
        listener(written, total)


def report_step(step: int, steps: int) -> None:
    """Tell the current step listener, if any, that denoising step ``step`` of ``steps`` is done."""
    listener = step_listener.get()
    if listener is not None:
        listener(step, steps)


@contextmanager
def timed(name: str, timings: dict[str, float]) -> Iterator[None]:
    """Time a stage into ``timings[name]``; turn CUDA out-of-memory into a typed, helpful error."""
    import torch

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
