"""Video workflows: follow what the text (a click, a box) names through a clip, and remove it,
repaint it or paint a new background behind it.

``track`` finds the objects on one frame (the detector, as the image workflows do, or the
clicks or box given) and follows each through the clip with the tracker stage (SAM 2.1 video),
streamed, forward from that frame and backward to the start; a tracker that finds text itself
(SAM 3 video) is given the text instead and finds every instance on every frame. It returns
:class:`~textinpaint.videomasks.VideoMasks`. ``remove``, ``replace`` and ``replace_background``
do the same (or take your own masks) and repaint with the video painter (Wan 2.1 VACE) in
windows of frames, consistent over time, each window resumable after an interruption;
``remove(per_frame=True)`` fills frame by frame with the remover (LaMa) instead. Each writes a
new clip with :func:`textinpaint.videos.transcode` (timestamps and audio kept; with
``codec="ffv1"`` or a PNG folder every pixel outside the grown masks is bit-identical to the
decoded input) and its sidecar beside it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack, cast

import cv2
import numpy as np

from ..backends.detection import parse_phrases
from ..backends.tracking import Sam2Tracker, TrackPrompt, TrackSession
from ..backends.vace import WanVace
from ..errors import InvalidInputError, OutputRefusedError
from ..images import Picture
from ..inpainting import FillRequest, crop_window, draw_seed, paint
from ..masks import auto_dilation, auto_feather, blend_weights, bounding_box, distance_near, distance_outside
from ..options import (
    BackgroundOptions,
    FindOptions,
    PaintOptions,
    SampleArgs,
    TrackArgs,
    VideoBackgroundArgs,
    VideoRemoveArgs,
    VideoReplaceArgs,
    check_text,
    keywords,
    recorded,
    resolve,
    split,
)
from ..outputs import WINDOWS_FORMAT, Writer, owned, read_arrays, to_json
from ..results import SIDECAR_VERSION, file_digest
from ..videomasks import VideoMasks, VideoMasksBuilder, load_video_masks
from ..videos import Frame, VideoInfo, probe, read_frames, transcode
from .steps import find_regions, salient_regions

if TYPE_CHECKING:
    from ..container import Models

logger = logging.getLogger(__name__)


# A window of frames painted in one pass (Wan paints 4k+1 frames; 33 is about a second and a
# half at 24 fps and fits a 24 GB card at 480p with the 1.3B model), and how many of its last
# frames the next window takes over as known context, so the seam between windows does not jump.
WINDOW = 33
OVERLAP = 4
# What a removed object's region shows when no prompt is given (the video painter's prompt).
EMPTY_SCENE = "the empty background behind it, continuing the surrounding scene seamlessly, nothing in the way"


@dataclass
class VideoEdit:
    """The result of a video edit.

    Attributes:
        output: the written clip (or PNG folder).
        masks: what was tracked (frames x instances).
        found: whether anything was found on the prompt frame.
        timings: seconds per part (``track``, ``paint``, ``total``).
        record: how it was made (workflow, the options, the models' sources): the sidecar.
        seed: the painter's seed (drawn when none was given); None for removal (LaMa draws none).
    """

    output: Path | None
    masks: VideoMasks
    found: bool
    timings: dict[str, float] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None


@dataclass
class _Plan:
    """One checked request: the clip's facts, what is followed from which frame (or the caller's
    own masks), the mask's growth, and what is collected as the frames go by."""

    video: str | Path
    info: VideoInfo
    frame: int
    prompts: list[TrackPrompt]
    phrases: list[str]
    own: VideoMasks | None
    grow: int
    soft: int
    timings: dict[str, float] = field(default_factory=dict)
    builder: list[VideoMasksBuilder] = field(default_factory=list)
    began: float = field(default_factory=time.perf_counter)
    asked: dict[str, Any] = field(default_factory=dict)  # every argument, as the sidecar records it
    sha256: str = ""  # the clip file's, once computed (see digest)
    finders: tuple[str, ...] = ()  # the stages that found what is followed (the detector, the subject)
    given: bool = False  # the masks are the caller's own: nothing found or tracked

    def digest(self) -> str:
        """The sha256 of the clip's file (read once)."""
        if not self.sha256:
            self.sha256 = file_digest(self.video)
        return self.sha256

    @property
    def found(self) -> bool:
        return bool(self.own.ids if self.own is not None else self.prompts)

    def masks(self) -> VideoMasks:
        """What was tracked (or given) over the frames that went by."""
        if self.builder:
            return self.builder[0].build()
        return VideoMasksBuilder(height=self.info.height, width=self.info.width, ids=[]).build()


def _plan(
    pipeline: Models,
    video: str | Path,
    find: str | Sequence[str] | None,
    points: Sequence[Sequence[float]] | None,
    labels: Sequence[int] | None,
    box: Sequence[float] | None,
    masks: VideoMasks | str | Path | None,
    frame: int,
    finding: FindOptions,
    painting: PaintOptions | None,
    *,
    start: int = 0,
    end: int | None = None,
    salient: bool = False,
) -> _Plan:
    """Check everything before any frame is painted: the prompt frame, the masks or the prompt
    (found on the prompt frame now, so that text found nowhere writes nothing)."""
    if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
        raise InvalidInputError(f"frame must be a frame index, 0 or more; got {frame!r}")
    if frame < start or (end is not None and frame >= end):
        raise InvalidInputError(
            f"frame (the prompt's, {frame}) must lie in the frames written, start={start} to end={end}"
        )
    own = _masks_given(masks, find, points, box)
    info = probe(video)
    grow = soft = 0
    if painting is not None:
        grow = auto_dilation(info.width, info.height) if painting.dilate is None else int(painting.dilate)
        soft = auto_feather(grow) if painting.feather is None else int(painting.feather)
    plan = _Plan(video, info, frame, [], [], own, grow, soft, given=own is not None)
    if own is not None:
        return plan
    if follows_text(pipeline):
        # A tracker that finds the text itself on every frame (SAM 3 video): it runs first, over
        # the frames written, and its masks are painted as given ones are.
        if find is None or points is not None or box is not None:
            raise InvalidInputError(
                f"the tracker {pipeline.source('tracker')!r} follows text only: give find (and no points or box), "
                "or choose a SAM 2.1 tracker (sam2.1-tiny...) for clicks, a box or the salient subject"
            )
        plan.finders, plan.own = ("tracker",), _followed(pipeline, plan, find, start, end)
        return plan
    first = next(read_frames(video, start=frame, end=frame + 1), None)
    if first is None:
        raise InvalidInputError(f"the clip has no frame {frame}")
    plan.prompts, plan.phrases, plan.finders = _prompts(
        pipeline, first, find, points, labels, box, finding, plan.timings, salient=salient
    )
    return plan


def follows_text(pipeline: Models) -> bool:
    """Whether the pipeline's tracker finds text itself (declared ``follows_text``, as SAM 3 video
    does; then text needs no detector): read off the stage table, or off a tracker given as an
    object (loads nothing)."""
    backend = pipeline.backend("tracker")
    owner = pipeline.model("tracker") if backend is None else backend.owner()
    return bool(getattr(owner, "follows_text", False))


def _followed(pipeline: Models, plan: _Plan, find: str | Sequence[str], start: int, end: int | None) -> VideoMasks:
    """Every instance of ``find``'s phrases on frames ``start`` to ``end``, found and followed by
    the tracker itself (new instances join as they appear), collected as masks."""
    phrases = parse_phrases(find, argument="find")
    tracker = pipeline.model("tracker")
    builder = VideoMasksBuilder(height=plan.info.height, width=plan.info.width, ids=[])
    session = tracker.follow(phrases)
    began = time.perf_counter()
    for current in read_frames(plan.video, start=start, end=end):
        ids, masks, scores, named = session.step(current.rgb)
        builder.add(current.index, masks, scores, ids=ids, phrases=named)
    plan.timings["track"] = plan.timings.get("track", 0.0) + time.perf_counter() - began
    return builder.build()


def _prompts(
    pipeline: Models,
    first: Frame,
    find: str | Sequence[str] | None,
    points: Sequence[Sequence[float]] | None,
    labels: Sequence[int] | None,
    box: Sequence[float] | None,
    finding: FindOptions,
    timings: dict[str, float],
    *,
    salient: bool = False,
) -> tuple[list[TrackPrompt], list[str], tuple[str, ...]]:
    """The objects to follow, marked on ``first``: a box, clicks, what the detector finds, or
    (``salient``, when none is given) the salient subject's box, named ``"subject"``; their
    phrases; and the stages that found them."""
    height, width = first.rgb.shape[:2]
    given = sum(x is not None for x in (find, points, box))
    if given == 0 and salient:
        (subject,) = salient_regions(pipeline, [Picture(first.rgb)], finding, timings)
        if subject.region is None:
            return [], [], ("subject",)
        x0, y0, x1, y1 = bounding_box(subject.region)  # type: ignore[misc]  # a found region is not empty
        return [TrackPrompt(1, box=(float(x0), float(y0), float(x1), float(y1)))], ["subject"], ("subject",)
    if given != 1:
        raise InvalidInputError(f"give one of find (text), points (clicks) or box; got {given} of them")
    if box is not None:
        values = [float(v) for v in box]
        if len(values) != 4 or not (0 <= values[0] < values[2] <= width and 0 <= values[1] < values[3] <= height):
            raise InvalidInputError(f"box must be x0, y0, x1, y1 inside the {width}x{height} frame; got {list(box)}")
        return [TrackPrompt(1, box=(values[0], values[1], values[2], values[3]))], ["box"], ()
    if points is not None:
        clicks = np.asarray(points, dtype=float)
        marks = [1] * len(clicks) if labels is None else [int(v) for v in labels]
        if clicks.ndim != 2 or clicks.shape[1] != 2 or len(clicks) == 0 or len(marks) != len(clicks):
            raise InvalidInputError(f"points must be N (x, y) pairs with N labels; got {np.asarray(points).tolist()}")
        if not ((0 <= clicks[:, 0]) & (clicks[:, 0] < width) & (0 <= clicks[:, 1]) & (clicks[:, 1] < height)).all():
            raise InvalidInputError(f"points must lie inside the {width}x{height} frame; got {clicks.tolist()}")
        if 1 not in marks:
            raise InvalidInputError("points need at least one click on the object (label 1)")
        pairs = tuple((float(x), float(y)) for x, y in clicks)
        return [TrackPrompt(1, points=pairs, labels=tuple(marks))], ["click"], ()
    picture = Picture(first.rgb)
    (found,) = find_regions(pipeline, [picture], find, dataclasses.replace(finding, mask_mode="box"), timings)
    boxes = found.detections.xyxy[found.selected]
    phrases = [str(found.detections.data["phrase"][i]) for i in found.selected]
    prompts = [
        TrackPrompt(k + 1, box=(float(x0), float(y0), float(x1), float(y1))) for k, (x0, y0, x1, y1) in enumerate(boxes)
    ]
    return prompts, phrases, ("detector",)


def _tracked(pipeline: Models, frames: Iterator[Frame], plan: _Plan) -> Iterator[tuple[Frame, np.ndarray | None]]:
    """Each frame with its masks (objects, H, W) ``bool`` (None on frames the caller's own masks
    do not cover). The tracker follows the prompts forward from the prompt frame; frames before it
    are tracked backward from it first (their frames held meanwhile), as SAM 2 propagates both
    ways. The masks are collected into ``plan.builder`` as they come."""
    if plan.own is not None:
        yield from _from_given(frames, plan.own, plan.builder)
        return
    builder = VideoMasksBuilder(
        height=plan.info.height, width=plan.info.width, ids=[p.id for p in plan.prompts], phrases=plan.phrases
    )
    plan.builder.append(builder)
    session: TrackSession | None = None
    earlier: dict[int, tuple[np.ndarray, np.ndarray]] | None = None
    for current in frames:
        if not plan.prompts:
            masks, scores = np.zeros((0, *current.rgb.shape[:2]), bool), np.zeros(0, np.float32)
        elif current.index < plan.frame:
            if earlier is None:
                earlier = _backward(pipeline, plan, current.index)
            masks, scores = earlier.pop(current.index)
        else:
            if session is None:
                session = cast(Sam2Tracker, pipeline.model("tracker")).start(plan.prompts)
            began = time.perf_counter()
            masks, scores = session.step(current.rgb)
            plan.timings["track"] = plan.timings.get("track", 0.0) + time.perf_counter() - began
        builder.add(current.index, masks, scores)
        yield current, masks


def _backward(pipeline: Models, plan: _Plan, first: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The masks of frames ``first`` to the prompt frame (excluded), tracked from the prompt frame
    backward: a session of its own fed the frames in reverse (they are held for it: memory grows
    with how far into the clip the prompt is)."""
    began = time.perf_counter()
    frames = list(read_frames(plan.video, start=first, end=plan.frame + 1))
    session = cast(Sam2Tracker, pipeline.model("tracker")).start(plan.prompts)
    found = {}
    for frame in reversed(frames):
        masks, scores = session.step(frame.rgb)
        if frame.index < plan.frame:
            found[frame.index] = (masks, scores)
    plan.timings["track"] = plan.timings.get("track", 0.0) + time.perf_counter() - began
    return found


def _union(stack: np.ndarray | None, *_: int) -> np.ndarray | None:
    """One frame's objects as one region (None when there is nothing to paint); as a region to
    paint, it takes the frame's height and width and needs neither."""
    if stack is None or not len(stack):
        return None
    region = np.asarray(stack.any(axis=0))
    return region if region.any() else None


def _from_given(
    frames: Iterator[Frame], given: VideoMasks, builder: list[VideoMasksBuilder]
) -> Iterator[tuple[Frame, np.ndarray | None]]:
    """Each frame with the caller's masks for it (None where they have none)."""
    held = set(given.frames)
    builder.append(VideoMasksBuilder(height=given.height, width=given.width, ids=given.ids, phrases=given.phrases))
    for current in frames:
        if current.rgb.shape[:2] != (given.height, given.width):
            raise InvalidInputError(
                f"masks are {given.width}x{given.height} but the clip's frames are "
                f"{current.rgb.shape[1]}x{current.rgb.shape[0]}; they must be the same size"
            )
        if current.index not in held:
            yield current, None
            continue
        stack = np.stack([given.mask(current.index, i) for i in given.ids]) if given.ids else None
        if stack is not None:
            builder[0].add(current.index, stack)
        yield current, stack


def _masks_given(masks: VideoMasks | str | Path | None, *marks: object) -> VideoMasks | None:
    """The caller's own masks (a VideoMasks, a masks JSON or a folder of PNGs), checked to come alone."""
    if masks is None:
        return None
    if any(mark is not None for mark in marks):
        raise InvalidInputError("give masks, or what to find (find, points or box), not both")
    return masks if isinstance(masks, VideoMasks) else load_video_masks(masks)


def _asked(
    find: object,
    points: Sequence[Sequence[float]] | None,
    labels: Sequence[int] | None,
    box: Sequence[float] | None,
    masks: VideoMasks | str | Path | None,
    frame: int,
    codec: str | None,
    start: int,
    end: int | None,
    *,
    named: str = "find",
) -> dict[str, Any]:
    """The request's inputs as a sidecar records them, what to find under ``named`` (masks given
    in memory cannot be: None, and such a sidecar does not replay)."""
    return {
        named: find,
        "points": None if points is None else [[float(v) for v in p] for p in points],
        "labels": None if labels is None else [int(v) for v in labels],
        "box": None if box is None else [float(v) for v in box],
        "masks": str(Path(masks).resolve()) if isinstance(masks, (str, Path)) else None,
        "masks_in_memory": isinstance(masks, VideoMasks),
        "frame": frame,
        "codec": codec,
        "start": start,
        "end": end,
    }


def _sidecar_path(target: Path) -> Path:
    return target.with_suffix(".json") if target.suffix else target.parent / f"{target.name}.json"


def _nothing(pipeline: Models, workflow: str, plan: _Plan, find: object) -> VideoEdit:
    """Text found nowhere on the prompt frame: a defined result, and no file written (its record
    is a whole sidecar, ``output`` None, which a folder run keeps so that a rerun skips the clip)."""
    note = _record(workflow, plan, find) | {
        "output": None,
        "models": pipeline.model_sources(*plan.finders),
        "device": str(pipeline.device),
        "dtype": str(pipeline.dtype).replace("torch.", ""),
        "found": False,
        "timings": {name: round(seconds, 4) for name, seconds in plan.timings.items()},
    }
    return VideoEdit(None, plan.masks(), False, plan.timings, note)


def _write(
    pipeline: Models,
    workflow: str,
    plan: _Plan,
    output: str | Path,
    transform: Any,
    painter: str,
    *,
    find: object,
    parameters: dict[str, Any],
    codec: str | None,
    start: int,
    end: int | None,
    every: int = 1,
    drawn: int | None = None,
) -> VideoEdit:
    """Write the clip through ``transform`` and its sidecar beside it (checked before any work);
    ``drawn`` is the painter's seed as used, for the result."""
    target = Path(output)
    beside = _sidecar_path(target)
    writer = Writer([Path(plan.video)])
    writer.check(beside, "sidecar")  # a stranger's file there stops the run before any work
    written = transcode(plan.video, target, transform, codec=codec, start=start, end=end, every=every)
    plan.timings["total"] = time.perf_counter() - plan.began
    tracked = plan.masks()
    used = _stages(plan, painter)
    note = _record(workflow, plan, find)
    note["parameters"] |= parameters
    note |= {
        "output": str(written),
        "models": pipeline.model_sources(*used),
        "device": str(pipeline.device),
        "dtype": str(pipeline.dtype).replace("torch.", ""),
        "range": {"start": start, "end": end, "every": every},
        "codec": codec,
        "found": bool(tracked.ids),
        "ids": list(tracked.ids),
        "phrases": list(tracked.phrases),
        "frames": len(tracked),
        "timings": {name: round(seconds, 4) for name, seconds in plan.timings.items()},
    }
    writer.json(beside, note)  # the sidecar: how it was made, and what makes the output textinpaint's own
    return VideoEdit(written, tracked, bool(tracked.ids), plan.timings, note, drawn)


def _stages(plan: _Plan, painter: str) -> tuple[str, ...]:
    """The stages an edit used: what found the objects, the tracker (unless the masks were the
    caller's own), and ``painter``."""
    return tuple(dict.fromkeys((*plan.finders, *(() if plan.given else ("tracker",)), painter)))


def _record(workflow: str, plan: _Plan, find: object) -> dict[str, Any]:
    """The sidecar's request part: the input (path and the sha256 of its file) and every argument."""
    source = Path(plan.video).resolve()
    return {
        "version": SIDECAR_VERSION,
        "workflow": f"video {workflow}",
        "input": {"path": str(source), "sha256": plan.digest()},
        "parameters": dict(plan.asked),
    }


def track(
    pipeline: Models,
    video: str | Path,
    find: str | Sequence[str] | None = None,
    *,
    points: Sequence[Sequence[float]] | None = None,
    labels: Sequence[int] | None = None,
    box: Sequence[float] | None = None,
    frame: int = 0,
    start: int = 0,
    end: int | None = None,
    **options: Unpack[TrackArgs],
) -> VideoMasks:
    """Follow what ``find`` names (or the clicks, or the box) through a clip, from frame ``frame`` on.

    Args:
        video: the clip (any file FFmpeg reads).
        find: what to look for on frame ``frame`` (each match the selection keeps becomes one
            tracked instance, ids 1, 2, ...).
        points: clicks on frame ``frame`` (x, y pixels, upright) marking one object.
        labels: 1 (on it) or 0 (not on it) per click; default all 1.
        box: x0, y0, x1, y1 pixels on frame ``frame`` marking one object.
        frame: the frame the prompt is given on; tracking runs forward from it, and backward
            from it to ``start``.
        start: the first frame tracked.
        end: one past the last frame to track (None: to the end).
        **options: the detector's thresholds (``box_threshold``, ``text_threshold``, ``nms_iou``)
            and ``select`` (which matches to follow: ``"all"``, ``"best"``, ``"largest"``, indices).

    Returns:
        :class:`~textinpaint.videomasks.VideoMasks` for frames ``start`` to ``end``; no ids when
        the text matched nothing.

    Example:
        >>> from textinpaint import video
        >>> masks = video.track("street.mp4", "the red car")  # doctest: +SKIP
        >>> masks.save("car-masks.json")  # doctest: +SKIP
    """
    finding = split(dict(options), TrackArgs, "track")[FindOptions]
    plan = _plan(pipeline, video, find, points, labels, box, None, frame, finding, None, start=start, end=end)
    for _ in _tracked(pipeline, read_frames(video, start=start, end=end), plan):
        pass
    return plan.masks()


def remove(
    pipeline: Models,
    video: str | Path,
    find: str | Sequence[str] | None = None,
    *,
    output: str | Path,
    with_: str | None = None,
    per_frame: bool = False,
    points: Sequence[Sequence[float]] | None = None,
    labels: Sequence[int] | None = None,
    box: Sequence[float] | None = None,
    masks: VideoMasks | str | Path | None = None,
    frame: int = 0,
    codec: str | None = None,
    start: int = 0,
    end: int | None = None,
    every: int = 1,
    window: int = WINDOW,
    overlap: int = OVERLAP,
    **options: Unpack[VideoRemoveArgs],
) -> VideoEdit:
    """Erase what ``find`` names (or the clicks, or the box) from a clip and write ``output``.

    By default the video painter (Wan 2.1 VACE) fills the tracked region with the scene behind it
    (the prompt ``with_``, by default :data:`EMPTY_SCENE`), in windows of frames, consistent over
    time, as :func:`replace` paints. ``per_frame=True`` fills each frame on its own with the
    remover (LaMa): light, and no GPU needed, but the fill flickers from frame to frame.

    Each frame's tracked masks are grown by ``dilate`` and blended over ``feather`` pixels (the
    image defaults, from the frame size); every pixel farther from them is the decoded input's,
    bit for bit, in a lossless output (``codec="ffv1"`` / ``.mkv``, or a PNG folder). The audio
    is copied. Frames before ``frame`` are tracked backward from it.

    Args:
        video: the clip.
        find: what to remove, found on frame ``frame`` (see :func:`track`).
        output: the new clip: ``.mp4`` (H.264), ``.mkv`` (FFV1, lossless) or a folder (PNG frames).
        with_: what the emptied region shows (the video painter's prompt; None: :data:`EMPTY_SCENE`).
        per_frame: fill frame by frame with the remover (LaMa) instead of the video painter.
        points: clicks on it on frame ``frame`` (x, y pixels).
        labels: 1 (on it) or 0 (not on it) per click; default all 1.
        box: x0, y0, x1, y1 pixels around it on frame ``frame``.
        masks: your own masks instead (a :class:`~textinpaint.videomasks.VideoMasks`, a masks
            JSON, or a folder of PNGs named by frame index): nothing is found or tracked.
        frame: the frame the prompt is given on; frames before it are tracked backward from it.
        codec: ``"h264"``, ``"ffv1"`` or ``"png"`` (default: from ``output``).
        start: the first frame written.
        end: one past the last frame written (None: to the end).
        every: write one frame in this many (a quick preview: ``every=10``; no audio then).
        window: frames painted together (see :func:`replace`).
        overlap: frames each window takes over from the last as context.
        **options: the detector's thresholds (``box_threshold``, ``text_threshold``, ``nms_iou``)
            and ``select``, the mask's growth and soft band in pixels (``dilate``, ``feather``;
            None: the image defaults from the frame size), and the video painter's ``steps``,
            ``guidance``, ``negative_prompt`` and ``seed`` (not with ``per_frame``).

    Returns:
        A :class:`VideoEdit` (``found`` False, and no file written, when the text matched nothing).

    Example:
        >>> from textinpaint import video
        >>> video.remove("beach.mp4", "the person", output="empty-beach.mp4")  # doctest: +SKIP
        >>> video.remove("beach.mp4", "the person", output="quick.mp4", per_frame=True)  # doctest: +SKIP
    """
    groups = split(dict(options), VideoRemoveArgs, "remove")
    if not isinstance(per_frame, bool):
        raise InvalidInputError(f"per_frame must be True or False; got {per_frame!r}")
    painting = groups[PaintOptions]
    sampling = None
    if per_frame:
        sampled = [k for k in keywords(SampleArgs) if options.get(k) is not None and options.get(k) is not False]
        if with_ is not None or sampled:
            named = ", ".join(["with_", *sampled] if with_ is not None else sampled)
            raise InvalidInputError(
                f"per_frame removal fills with the remover (LaMa), which takes no prompt or sampler options; got {named}"
            )
    else:
        check_text("with_", EMPTY_SCENE if with_ is None else with_)
        sampling = _sampling(painting, EMPTY_SCENE if with_ is None else with_, window, overlap)
    plan = _plan(
        pipeline, video, find, points, labels, box, masks, frame, groups[FindOptions], painting, start=start, end=end
    )
    plan.asked = _asked(find, points, labels, box, masks, frame, codec, start, end)
    plan.asked |= {"every": every, "per_frame": per_frame, **recorded(VideoRemoveArgs, groups[FindOptions])}
    plan.asked |= {"dilate": plan.grow, "feather": plan.soft}
    if not plan.found:
        return _nothing(pipeline, "remove", plan, find)
    if sampling is not None:
        return _paint_clip(
            pipeline,
            "remove",
            plan,
            output,
            sampling,
            groups[PaintOptions].seed is None,
            (window, overlap),
            _union,
            find=find,
            codec=codec,
            start=start,
            end=end,
            every=every,
        )
    remover, blank = pipeline.remover, FillRequest("")

    def erase(frames: Iterator[Frame]) -> Iterator[np.ndarray]:
        for current, stack in _tracked(pipeline, frames, plan):
            region = _union(stack)
            if region is None:
                yield current.rgb
                continue
            began = time.perf_counter()
            painted = paint(current.rgb, region, remover, blank, dilation=plan.grow, feathering=plan.soft)
            plan.timings["paint"] = plan.timings.get("paint", 0.0) + time.perf_counter() - began
            yield painted.rgb

    return _write(
        pipeline,
        "remove",
        plan,
        output,
        erase,
        "remover",
        find=find,
        parameters={},
        codec=codec,
        start=start,
        end=end,
        every=every,
    )


def replace(
    pipeline: Models,
    video: str | Path,
    find: str | Sequence[str] | None = None,
    with_: str = "",
    *,
    output: str | Path,
    points: Sequence[Sequence[float]] | None = None,
    labels: Sequence[int] | None = None,
    box: Sequence[float] | None = None,
    masks: VideoMasks | str | Path | None = None,
    frame: int = 0,
    codec: str | None = None,
    start: int = 0,
    end: int | None = None,
    every: int = 1,
    window: int = WINDOW,
    overlap: int = OVERLAP,
    **options: Unpack[VideoReplaceArgs],
) -> VideoEdit:
    """Repaint what ``find`` names (or the clicks, or the box) in every frame from ``with_``,
    consistently over time, with the video painter (Wan 2.1 VACE), and write ``output``.

    The frames go in windows of ``window``; each window's crop (the box around its frames'
    masks, with context, brought to the model's size) is repainted in one pass, and the last
    ``overlap`` painted frames of a window are handed to the next one as known frames, so the
    seam does not jump. Each frame is blended back under its own grown, feathered mask: every
    pixel farther from the masks is the decoded input's, bit for bit, in a lossless output.

    Args:
        video: the clip.
        find: what to repaint, found on frame ``frame`` (see :func:`track`).
        with_: what to paint instead.
        output: the new clip, as for :func:`remove`.
        points: clicks on it on frame ``frame`` (x, y pixels).
        labels: 1 (on it) or 0 (not on it) per click; default all 1.
        box: x0, y0, x1, y1 pixels around it on frame ``frame``.
        masks: your own masks instead, as for :func:`remove`.
        frame: the frame the prompt is given on; frames before it are tracked backward from it.
        codec: ``"h264"``, ``"ffv1"`` or ``"png"`` (default: from ``output``).
        start: the first frame written.
        end: one past the last frame written (None: to the end).
        every: paint and write one frame in this many (a quick preview; no audio then).
        window: frames painted together (at least ``overlap + 1``).
        overlap: frames each window takes over from the last as context (0: none).
        **options: the detector's thresholds, ``dilate``/``feather``, and the painter's
            ``steps``, ``guidance``, ``negative_prompt`` and ``seed`` (None: Wan's defaults; the
            seed drawn and recorded).

    Returns:
        A :class:`VideoEdit` (``found`` False, and no file written, when the text matched nothing).

    Example:
        >>> from textinpaint import video
        >>> video.replace("street.mp4", "the red car", "a blue pickup truck", output="out.mp4")  # doctest: +SKIP
    """
    check_text("with_", with_)
    groups = split(dict(options), VideoReplaceArgs, "replace")
    sampling = _sampling(groups[PaintOptions], with_, window, overlap)
    plan = _plan(
        pipeline,
        video,
        find,
        points,
        labels,
        box,
        masks,
        frame,
        groups[FindOptions],
        groups[PaintOptions],
        start=start,
        end=end,
    )
    plan.asked = _asked(find, points, labels, box, masks, frame, codec, start, end)
    plan.asked |= {"every": every, **recorded(VideoReplaceArgs, groups[FindOptions])}
    plan.asked |= {"dilate": plan.grow, "feather": plan.soft}
    if not plan.found:
        return _nothing(pipeline, "replace", plan, find)
    return _paint_clip(
        pipeline,
        "replace",
        plan,
        output,
        sampling,
        groups[PaintOptions].seed is None,
        (window, overlap),
        _union,
        find=find,
        codec=codec,
        start=start,
        end=end,
        every=every,
    )


def replace_background(
    pipeline: Models,
    video: str | Path,
    keep: str | Sequence[str] | None = None,
    with_: str = "",
    *,
    output: str | Path,
    points: Sequence[Sequence[float]] | None = None,
    labels: Sequence[int] | None = None,
    box: Sequence[float] | None = None,
    masks: VideoMasks | str | Path | None = None,
    frame: int = 0,
    codec: str | None = None,
    start: int = 0,
    end: int | None = None,
    every: int = 1,
    window: int = WINDOW,
    overlap: int = OVERLAP,
    **options: Unpack[VideoBackgroundArgs],
) -> VideoEdit:
    """Keep the subject of a clip and repaint everything else from ``with_``, consistently over
    time, with the video painter (Wan 2.1 VACE), and write ``output``.

    The subject is what ``keep`` names, the clicks or the box on frame ``frame``, your own
    ``masks``, or with none of them the salient subject of frame ``frame`` (the ``subject``
    stage, as :func:`textinpaint.replace_background` finds it without a prompt), tracked through
    the clip. Every pixel farther than ``seam`` from it is repainted in windows of frames (as
    :func:`replace` paints), and the new background is blended in over the ``seam`` band: the
    subject's own pixels stay bit-identical in a lossless output. A frame where the subject is
    lost is repainted whole.

    Args:
        video: the clip.
        keep: what to keep, found on frame ``frame`` (see :func:`track`); None: the clicks, the
            box, the masks, or else the salient subject.
        with_: the prompt for the new background.
        output: the new clip, as for :func:`remove`.
        points: clicks on the subject on frame ``frame`` (x, y pixels).
        labels: 1 (on it) or 0 (not on it) per click; default all 1.
        box: x0, y0, x1, y1 pixels around the subject on frame ``frame``.
        masks: the subject's masks, your own (as for :func:`remove`): nothing is found or tracked.
        frame: the frame the prompt is given on; frames before it are tracked backward from it.
        codec: ``"h264"``, ``"ffv1"`` or ``"png"`` (default: from ``output``).
        start: the first frame written.
        end: one past the last frame written (None: to the end).
        every: paint and write one frame in this many (a quick preview; no audio then).
        window: frames painted together (see :func:`replace`).
        overlap: frames each window takes over from the last as context.
        **options: the detector's thresholds, ``seam`` (px; None: the image default from the
            frame size), and the painter's ``steps``, ``guidance``, ``negative_prompt`` and ``seed``.

    Returns:
        A :class:`VideoEdit` whose ``masks`` are the subject's (``found`` False, and no file
        written, when nothing was found to keep).

    Example:
        >>> from textinpaint import video
        >>> video.replace_background("talk.mp4", "the person", "a quiet library", output="out.mp4")  # doctest: +SKIP
    """
    check_text("with_", with_)
    groups = split(dict(options), VideoBackgroundArgs, "replace_background")
    painting = groups[PaintOptions]
    sampling = _sampling(painting, with_, window, overlap)
    plan = _plan(
        pipeline,
        video,
        keep,
        points,
        labels,
        box,
        masks,
        frame,
        groups[FindOptions],
        None,
        start=start,
        end=end,
        salient=True,
    )
    seam = groups[BackgroundOptions].seam
    band = auto_feather(auto_dilation(plan.info.width, plan.info.height)) if seam is None else int(seam)
    plan.grow, plan.soft = 0, band - 1  # as the image workflow: the subject is never grown into
    plan.asked = _asked(keep, points, labels, box, masks, frame, codec, start, end, named="keep")
    plan.asked |= {"every": every, **recorded(VideoBackgroundArgs, groups[FindOptions], groups[BackgroundOptions])}
    plan.asked["seam"] = band
    if not plan.found:
        return _nothing(pipeline, "replace_background", plan, keep)

    def behind(stack: np.ndarray | None, height: int, width: int) -> np.ndarray:
        subject = _union(stack)
        return np.ones((height, width), bool) if subject is None else distance_outside(subject) > band

    return _paint_clip(
        pipeline,
        "replace_background",
        plan,
        output,
        sampling,
        painting.seed is None,
        (window, overlap),
        behind,
        find=None,
        codec=codec,
        start=start,
        end=end,
        every=every,
    )


def _paint_clip(
    pipeline: Models,
    workflow: str,
    plan: _Plan,
    output: str | Path,
    sampling: tuple[FillRequest, dict[str, Any]],
    drawn: bool,
    windows: tuple[int, int],
    region_of: Regions,
    *,
    find: object,
    codec: str | None,
    start: int,
    end: int | None,
    every: int,
) -> VideoEdit:
    """Paint ``region_of`` each frame's masks with the video painter in windows and write the clip
    and its sidecar; painted windows are kept beside the output until it is written, and an
    interrupted run of the same request (the same seed, or a drawn one) resumes from them."""
    request, parameters = sampling
    target = Path(output)
    asked = {k: v for k, v in {**plan.asked, **parameters}.items() if not (drawn and k == "seed")}
    key = hashlib.sha256(
        to_json(
            {
                "workflow": workflow,
                "input": plan.digest(),
                "parameters": asked,
                "models": pipeline.model_sources(*_stages(plan, "video_painter")),
                "device": str(pipeline.device),
                "dtype": str(pipeline.dtype),
            }
        ).encode()
    ).hexdigest()
    progress = _Progress.beside(target, key, Writer([Path(plan.video), target]))
    kept = progress.seed() if drawn else None
    if kept is not None:  # resuming a run whose seed was drawn: the same seed again
        request = dataclasses.replace(request, seed=kept)
        parameters = {**parameters, "seed": kept}
    progress.seed_used = int(request.seed)
    window, overlap = windows
    transform = _in_windows(pipeline, request, plan, window, overlap, region_of, progress)
    edit = _write(
        pipeline,
        workflow,
        plan,
        output,
        transform,
        "video_painter",
        find=find,
        parameters=parameters,
        codec=codec,
        start=start,
        end=end,
        every=every,
        drawn=request.seed,
    )
    progress.clear()
    return edit


def _sampling(painting: PaintOptions, prompt: str, window: int, overlap: int) -> tuple[FillRequest, dict[str, Any]]:
    """The video painter's request (Wan's defaults where None, the seed drawn when none was given)
    and the sidecar's record of it, after checking the windows."""
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        raise InvalidInputError(f"overlap must be 0 or more frames; got {overlap!r}")
    if isinstance(window, bool) or not isinstance(window, int) or window < overlap + 1:
        raise InvalidInputError(f"window must be more frames than overlap ({overlap}); got {window!r}")
    resolved = resolve(painting, WanVace.abilities)
    seed = draw_seed() if resolved.seed is None else int(cast(int, resolved.seed))
    request = FillRequest(
        prompt,
        cast(str, resolved.negative_prompt),
        int(cast(int, resolved.steps)),
        float(cast(float, resolved.guidance)),
        seed=seed,
    )
    parameters = {
        "with_": prompt,
        "negative_prompt": request.negative_prompt,
        "steps": request.steps,
        "guidance": request.guidance,
        "seed": seed,
        "window": window,
        "overlap": overlap,
    }
    return request, parameters


Regions = Callable[[np.ndarray | None, int, int], np.ndarray | None]


def _in_windows(
    pipeline: Models,
    request: FillRequest,
    plan: _Plan,
    window: int,
    overlap: int,
    region_of: Regions,
    progress: _Progress | None = None,
) -> Callable[[Iterator[Frame]], Iterator[np.ndarray]]:
    """The transform that tracks the frames and paints ``region_of(masks, height, width)`` of
    each (None: nothing) with the video painter, ``window`` frames at a time, the last
    ``overlap`` painted frames of each window handed to the next as known context. Each painted
    window is kept in ``progress`` as it is done, and a window kept there by an interrupted run
    of the same request is taken from it instead of painted again."""

    def repaint(frames: Iterator[Frame]) -> Iterator[np.ndarray]:
        held: list[tuple[Frame, np.ndarray | None]] = []
        context: list[Frame] = []  # the last window's final frames the next one starts from
        count = 0

        def finish() -> list[np.ndarray]:
            painted = None if progress is None else progress.load(count, [f for f, _ in held])
            if painted is None:
                painter = cast(WanVace, pipeline.model("video_painter"))
                painted, box = _paint_window(painter, request, plan, context, held)
                if progress is not None:
                    progress.save(count, painted, [f for f, _ in held], box)
            return painted

        for current, stack in _tracked(pipeline, frames, plan):
            held.append((current, region_of(stack, *current.rgb.shape[:2])))
            if len(context) + len(held) < window:
                continue
            painted = finish()
            yield from painted
            finished = [*context, *(Frame(f.index, rgb, f.pts, f.time) for (f, _), rgb in zip(held, painted))]
            context, held, count = (finished[-overlap:] if overlap else []), [], count + 1
        if held:
            yield from finish()

    return repaint


@dataclass
class _Progress:
    """The painted windows of one clip, kept beside its output (``OUT.windows/``, one ``.npz`` a
    window: the frames' indices, the crop's box and each painted frame's crop) until the clip is
    written, so that running the same request again after an interruption starts at the first
    window not yet painted. Each file carries the request's key; one of another request is
    painted again (and replaced), and anything in that folder textinpaint did not write stops
    the run before any work."""

    folder: Path
    key: str
    writer: Writer
    seed_used: int = 0

    @classmethod
    def beside(cls, output: Path, key: str, writer: Writer) -> _Progress:
        progress = cls(output.with_name(output.name + ".windows"), key, writer)
        if progress.folder.exists() and not progress.folder.is_dir():
            raise OutputRefusedError(
                f"{str(progress.folder)!r} is in the way of the painted windows kept for resuming; move it away"
            )
        for kept in sorted(progress.folder.glob("window-*.npz")) if progress.folder.is_dir() else []:
            writer.check(kept, "windows")  # a file of that name textinpaint did not write stops the run now
        return progress

    def _path(self, count: int) -> Path:
        return self.folder / f"window-{count:06d}.npz"

    def seed(self) -> int | None:
        """The seed the kept windows were painted with (for a request whose seed is drawn)."""
        first = read_arrays(self._path(0))
        if first.get("key") != self.key or "seed" not in first:
            return None
        return int(first["seed"])

    def load(self, count: int, frames: list[Frame]) -> list[np.ndarray] | None:
        """Window ``count``'s painted frames as a run of this request kept them, else None."""
        kept = read_arrays(self._path(count))
        if kept.get("key") != self.key:
            return None
        try:
            indices, box, which, crops = kept["frames"], kept["box"], kept["painted"], kept["crops"]
            if indices.tolist() != [f.index for f in frames] or which.shape != (len(frames),) or which.dtype != bool:
                return None
            x0, y0, x1, y1 = (int(v) for v in box)
            height, width = frames[0].rgb.shape[:2]
            if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
                return None
            if crops.dtype != np.uint8 or crops.shape != (int(which.sum()), y1 - y0, x1 - x0, 3):
                return None
        except (KeyError, AttributeError, TypeError, ValueError):
            return None
        out, used = [], iter(crops)
        for frame, painted in zip(frames, which):
            if not painted:
                out.append(frame.rgb)
                continue
            result = frame.rgb.copy()
            result[y0:y1, x0:x1] = next(used)
            out.append(result)
        logger.info("window %d (frames %d-%d) taken from %s", count, indices[0], indices[-1], self.folder)
        return out

    def save(
        self,
        count: int,
        painted: list[np.ndarray],
        frames: list[Frame],
        box: tuple[int, int, int, int] | None,
    ) -> None:
        x0, y0, x1, y1 = box or (0, 0, 1, 1)
        which = np.array([box is not None and rgb is not frame.rgb for rgb, frame in zip(painted, frames)])
        crops = [rgb[y0:y1, x0:x1] for rgb, keep in zip(painted, which) if keep]
        self.writer.arrays(
            self._path(count),
            {
                "format": np.array(WINDOWS_FORMAT),
                "key": np.array(self.key),
                "seed": np.array(self.seed_used, np.int64),
                "frames": np.array([f.index for f in frames], np.int64),
                "box": np.array([x0, y0, x1, y1], np.int64),
                "painted": which,
                "crops": np.stack(crops) if crops else np.zeros((0, y1 - y0, x1 - x0, 3), np.uint8),
            },
        )

    def clear(self) -> None:
        """Remove the kept windows (the clip is written): the files of that name textinpaint wrote,
        never another; and the folder when nothing else is in it."""
        for kept in self.folder.glob("window-*.npz"):
            if owned(kept, "windows"):
                kept.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.folder.rmdir()


def _paint_window(
    painter: WanVace,
    request: FillRequest,
    plan: _Plan,
    context: list[Frame],
    held: list[tuple[Frame, np.ndarray | None]],
) -> tuple[list[np.ndarray], tuple[int, int, int, int] | None]:
    """The ``held`` frames painted in one pass after the ``context`` frames (known, kept as
    they are): the window's crop around its masks at the model's size, each frame blended back
    under its own grown, feathered mask; and that crop's box (xyxy; None: nothing to paint)."""
    frames = [*context, *(f for f, _ in held)]
    regions = [None] * len(context) + [r for _, r in held]
    wanted = [r for r in regions if r is not None]
    if not wanted:
        return [f.rgb for f, _ in held], None
    info, grow, reach = plan.info, plan.grow, plan.grow + plan.soft
    x0, y0, x1, y1 = bounding_box(np.logical_or.reduce(wanted))  # type: ignore[misc]  # not empty: checked above
    support = (max(0, x0 - reach), max(0, y0 - reach), min(info.width, x1 + reach), min(info.height, y1 + reach))
    wx0, wy0, wx1, wy1 = crop_window(support, info.width, info.height, painter.native_size)
    crops = [f.rgb[wy0:wy1, wx0:wx1] for f in frames]
    # One exact distance map per frame (exact out to the blend's reach, which holds the growth):
    # the painter's hole and the blend weights both come from it.
    distances = [None if r is None else distance_near(r[wy0:wy1, wx0:wx1], reach + 1) for r in regions]
    holes = [np.zeros((wy1 - wy0, wx1 - wx0), bool) if d is None else d <= grow for d in distances]
    began = time.perf_counter()
    painted = painter.paint(crops, holes, request)
    plan.timings["paint"] = plan.timings.get("paint", 0.0) + time.perf_counter() - began
    out = []
    for k in range(len(context), len(frames)):
        distance, current = distances[k], frames[k]
        if distance is None:
            out.append(current.rgb)
            continue
        alpha = blend_weights(distance, grow, plan.soft)
        result = current.rgb.copy()  # the image path's blend: a weight of 0 keeps the input exactly
        result[wy0:wy1, wx0:wx1] = cv2.blendLinear(painted[k], crops[k], alpha, 1.0 - alpha)
        out.append(result)
    return out, (wx0, wy0, wx1, wy1)
