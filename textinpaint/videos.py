"""Video files in and out, streamed, with PyAV (FFmpeg inside its wheel): the ``video`` extra.

A clip is read one frame at a time (:func:`read_frames`), upright (a rotation in the file's
display matrix is applied), RGB ``uint8``, with each frame's presentation timestamp; memory does
not grow with the clip's length. :func:`transcode` writes a new clip from a transform of those
frames: the frame rate (variable too) and every timestamp are kept, the audio streams are copied
packet for packet (never re-encoded), and the output is written under a temporary name and
renamed when complete, so an interrupted run never leaves a file that looks finished.

Codecs (:data:`CODECS`): ``h264`` (the default: libx264, yuv420p, CRF 18, in MP4), ``ffv1``
(lossless RGB in Matroska: every pixel the transform did not change is bit-identical to the
decoded input) and ``png`` (a folder of numbered PNG frames, also lossless, no audio).

Example:
    >>> from textinpaint.videos import probe, transcode
    >>> probe("clip.mp4").frames  # doctest: +SKIP
    240
    >>> transcode("clip.mp4", "grey.mkv", lambda frames: (f.rgb // 2 for f in frames), codec="ffv1")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ImageLoadError, InvalidInputError, MissingDependencyError, OutputError, OutputRefusedError
from .events import report_frame

# The biggest frame accepted (a DCI 8K frame is 8192x4320): above it, decoding alone would need
# gigabytes per window of frames.
MAX_FRAME_PIXELS = 8192 * 4320

CODECS = {
    # name: (FFmpeg encoder, pixel format, container format, suffixes it writes)
    "h264": ("libx264", "yuv420p", "mp4", (".mp4", ".mov", ".m4v")),
    "ffv1": ("ffv1", "bgr0", "matroska", (".mkv",)),
    "png": ("png", "rgb24", None, ("",)),
}


class VideoLoadError(ImageLoadError):
    """A video file that cannot be read: missing, not a video, no video stream, no frames, or cut
    short (the message names the last frame that decoded)."""


@dataclass(frozen=True)
class VideoInfo:
    """What a clip holds, read from its headers (nothing decoded).

    Attributes:
        path: the file.
        width: the upright frame width in pixels (after the display rotation).
        height: the upright frame height.
        frames: the frame count the container states (None when it states none).
        fps: the average frame rate (None when unknown); timestamps may vary around it.
        time_base: the video stream's time base (timestamps are in these units).
        rotation: the display rotation in degrees that frames are turned by when read.
        audio: how many audio streams the file has (copied as they are when writing).
        codec: the video codec's name.
    """

    path: str
    width: int
    height: int
    frames: int | None
    fps: Fraction | None
    time_base: Fraction
    rotation: int
    audio: int
    codec: str


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``index`` (from 0, in the whole clip), ``rgb`` (HxWx3 ``uint8``,
    upright), ``pts`` (its presentation timestamp in the stream's ``time_base``; None when the
    file has none) and ``time`` (seconds)."""

    index: int
    rgb: np.ndarray
    pts: int | None
    time: float | None


def _av() -> Any:
    try:
        import av
    except ImportError as error:  # pragma: no cover - the extra is in dev
        raise MissingDependencyError(
            "reading and writing video needs PyAV: pip install 'textinpaint[video]'"
        ) from error
    return av


def _open(path: str | os.PathLike[str], argument: str) -> Any:  # av.container.InputContainer (PyAV is optional)
    av = _av()
    source = Path(path)
    if not source.is_file():
        raise VideoLoadError(f"{argument}: no video file at {str(source)!r}")
    try:
        container = av.open(str(source), "r")
    except (av.FFmpegError, OSError, ValueError) as error:
        raise VideoLoadError(f"{argument}: {str(source)!r} is not a readable video ({error})") from error
    if not container.streams.video:
        container.close()
        raise VideoLoadError(f"{argument}: {str(source)!r} has no video stream")
    return container


def probe(path: str | os.PathLike[str], *, argument: str = "video") -> VideoInfo:
    """Read a clip's headers: size, frame count, rate, time base, rotation, audio streams.

    Raises:
        VideoLoadError: missing, not a video, or no video stream.
        InvalidInputError: a frame above :data:`MAX_FRAME_PIXELS`.
    """
    with _open(path, argument) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        rotation = _first_rotation(container, stream)
        if rotation in (90, 270):
            width, height = height, width
        _check_size(width, height, argument)
        return VideoInfo(
            str(path),
            int(width),
            int(height),
            int(stream.frames) if stream.frames else None,
            Fraction(stream.average_rate) if stream.average_rate else None,
            Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000),
            rotation,
            len(container.streams.audio),
            stream.codec_context.name,
        )


def _first_rotation(container: Any, stream: Any) -> int:
    """The rotation of the first frame (PyAV reads the display matrix per frame)."""
    try:
        for frame in container.decode(stream):
            return int(round(getattr(frame, "rotation", 0) or 0)) % 360
    except Exception:  # a file that decodes no frame: probe still answers; reading says why
        return 0
    return 0


def _check_size(width: int, height: int, argument: str) -> None:
    if width < 1 or height < 1:
        raise VideoLoadError(f"{argument}: the video's frames are {width}x{height}")
    if width * height > MAX_FRAME_PIXELS:
        raise InvalidInputError(
            f"{argument}: frames of {width}x{height} are larger than {MAX_FRAME_PIXELS:,} pixels (8K); "
            "downscale the clip first"
        )


_UPRIGHT = {90: lambda a: np.rot90(a, 1), 180: lambda a: np.rot90(a, 2), 270: lambda a: np.rot90(a, -1)}


def read_frames(
    path: str | os.PathLike[str],
    *,
    start: int = 0,
    end: int | None = None,
    every: int = 1,
    argument: str = "video",
    audio: Callable[[Any], None] | None = None,
) -> Iterator[Frame]:
    """Decode frames ``start`` to ``end`` (exclusive; None: to the last), every ``every``-th,
    one at a time.

    Args:
        path: the clip.
        start: the first frame's index (from 0).
        end: one past the last frame's index; None reads to the end.
        every: keep one frame in this many (a quick preview: 10 keeps frames 0, 10, 20...).
        argument: the caller's argument name, for errors.
        audio: called with each audio packet as the demuxer meets it (how :func:`transcode`
            copies audio in step with the video, without holding it).

    Yields:
        :class:`Frame` objects, upright RGB.

    Raises:
        VideoLoadError: not a video, no video stream, no frame at all, or a file cut short (the
            frames before the damage are yielded first; the error names the last good one).
    """
    _check_range(start, end, every)
    av = _av()  # here, not in the except clause: a generator closed at exit must not import
    with _open(path, argument) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        streams = [stream, *(container.streams.audio if audio is not None else [])]
        index, last = -1, None
        try:
            for packet in container.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None and audio is not None:
                        audio(packet)
                    continue
                for decoded in packet.decode():
                    index += 1
                    if end is not None and index >= end:
                        return
                    if index < start or (index - start) % every:
                        continue
                    rgb = decoded.to_ndarray(format="rgb24")
                    turn = int(round(getattr(decoded, "rotation", 0) or 0)) % 360
                    if turn in _UPRIGHT:
                        rgb = np.ascontiguousarray(_UPRIGHT[turn](rgb))
                    if index == 0 or last is None:
                        _check_size(rgb.shape[1], rgb.shape[0], argument)
                    last = index
                    seconds = float(decoded.pts * decoded.time_base) if decoded.pts is not None else None
                    yield Frame(index, rgb, decoded.pts, seconds)
        except av.FFmpegError as error:
            where = "before any frame" if last is None else f"after frame {last}"
            raise VideoLoadError(f"{argument}: {str(path)!r} is damaged {where} ({error})") from error
        if index < 0:
            raise VideoLoadError(f"{argument}: {str(path)!r} holds no video frames")


def _check_range(start: int, end: int | None, every: int) -> None:
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise InvalidInputError(f"start must be a frame index, 0 or more; got {start!r}")
    if end is not None and (isinstance(end, bool) or not isinstance(end, int) or end <= start):
        raise InvalidInputError(f"end must be a frame index after start ({start}) or None; got {end!r}")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise InvalidInputError(f"every must be 1 or more (1 keeps every frame); got {every!r}")


def codec_for(target: str | os.PathLike[str], codec: str | None) -> str:
    """The codec to write ``target`` with: ``codec`` when given (checked against the suffix), else
    ``ffv1`` for ``.mkv``, ``png`` for a path without a suffix (a folder), else ``h264``."""
    suffix = Path(target).suffix.lower()
    if codec is None:
        return "ffv1" if suffix == ".mkv" else "png" if suffix == "" else "h264"
    if codec not in CODECS:
        raise InvalidInputError(f"codec must be one of {', '.join(CODECS)}; got {codec!r}")
    if suffix not in CODECS[codec][3]:
        wanted = " or ".join(s or "a folder (no suffix)" for s in CODECS[codec][3])
        raise InvalidInputError(f"codec {codec!r} writes {wanted}; the output is {str(target)!r}")
    return codec


def transcode(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    transform: Callable[[Iterator[Frame]], Iterable[np.ndarray]],
    *,
    codec: str | None = None,
    crf: int = 18,
    start: int = 0,
    end: int | None = None,
    every: int = 1,
) -> Path:
    """Write ``target``: the frames of ``source`` passed through ``transform``, streamed.

    ``transform`` gets an iterator of :class:`Frame` and yields one HxWx3 ``uint8`` picture per
    frame, in order, the frame's size (it may hold a window of frames before it yields, as a
    video painter does). Timestamps are the source's; the audio is copied packet for packet
    (whole clips only: a range or a preview is written without audio).

    Args:
        source: the input clip.
        target: the output: ``.mp4`` (H.264), ``.mkv`` (FFV1, lossless) or a folder (PNG frames).
        transform: what to do with the frames.
        codec: ``h264``, ``ffv1`` or ``png`` (default: from ``target``'s suffix, see :func:`codec_for`).
        crf: H.264's constant rate factor (0-51; 18 is visually lossless for most footage).
        start: the first frame taken (see :func:`read_frames`).
        end: one past the last frame taken (None: to the end).
        every: take one frame in this many.

    Returns:
        ``target`` as a Path, complete.

    Raises:
        VideoLoadError: see :func:`read_frames`.
        OutputRefusedError: ``target`` is ``source``, or a file textinpaint did not write (one is
            textinpaint's when its sidecar, ``NAME.json`` beside it, names it).
        OutputError: the output cannot be written.
    """
    av = _av()
    chosen = codec_for(target, codec)
    out = Path(target)
    if chosen != "png":  # the one writer's rules: never over the input, never over a file textinpaint did not make
        from .outputs import Writer

        Writer([Path(source)]).check(out, "image")
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 51:
        raise InvalidInputError(f"crf must be an integer from 0 to 51; got {crf!r}")
    info = probe(source)
    whole = start == 0 and end is None and every == 1
    expected = _frames_to_write(info.frames, start, end, every)
    if chosen == "png":
        return _png_folder(source, out, transform, start=start, end=end, every=every, expected=expected)
    encoder, pixel_format, container_format, _ = CODECS[chosen]
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(handle)
    try:
        with av.open(temporary, "w", format=container_format) as muxer:
            video = muxer.add_stream(encoder, rate=info.fps or Fraction(25))
            if chosen == "h264" and (info.width % 2 or info.height % 2):
                pixel_format = "yuv444p"  # 4:2:0 needs even sides; 4:4:4 takes any (High 4:4:4 profile)
            video.width, video.height, video.pix_fmt = info.width, info.height, pixel_format
            video.time_base = info.time_base
            video.codec_context.time_base = info.time_base
            if chosen == "h264":
                video.options = {"crf": str(crf), "preset": "medium"}
            copies: dict[int, Any] = {}
            if whole and info.audio:
                with _open(source, "video") as probe_container:
                    for stream in probe_container.streams.audio:
                        copies[stream.index] = muxer.add_stream_from_template(stream)

            def copy_audio(packet: Any) -> None:
                packet.stream = copies[packet.stream.index]
                muxer.mux(packet)

            frames = read_frames(source, start=start, end=end, every=every, audio=copy_audio if copies else None)
            timed = _Timed(frames)
            for count, (picture, (_, pts, shape)) in enumerate(zip(transform(iter(timed)), timed.stamps()), 1):
                _check_picture(picture, shape)
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
                frame.pts, frame.time_base = pts, info.time_base
                for packet in video.encode(frame):
                    muxer.mux(packet)
                report_frame(count, expected)
            if timed.queue:
                raise InvalidInputError(
                    f"the transform yielded fewer pictures than it was given frames ({len(timed.queue)} short)"
                )
            for packet in video.encode():
                muxer.mux(packet)
        os.replace(temporary, out)
    except av.FFmpegError as error:
        Path(temporary).unlink(missing_ok=True)
        raise OutputError(f"could not write {str(out)!r}: {error}") from error
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return out


def _frames_to_write(frames: int | None, start: int, end: int | None, every: int) -> int | None:
    """How many frames a range and a stride keep of a clip of ``frames`` (None when unknown)."""
    if frames is None:
        return None
    stop = frames if end is None else min(end, frames)
    return max(0, (stop - start + every - 1) // every)


class _Timed:
    """The frames handed to a transform, remembering each one's index, timestamp and shape in
    order, so the pictures it yields get the index and timestamp of the frames they came from."""

    def __init__(self, frames: Iterator[Frame]) -> None:
        self.frames = frames
        self.queue: deque[tuple[int, int | None, tuple[int, ...]]] = deque()  # frames not yet matched

    def __iter__(self) -> Iterator[Frame]:
        for frame in self.frames:
            self.queue.append((frame.index, frame.pts, frame.rgb.shape))
            yield frame

    def stamps(self) -> Iterator[tuple[int, int | None, tuple[int, ...]]]:
        while self.queue:
            yield self.queue.popleft()


def _check_picture(picture: np.ndarray, shape: tuple[int, ...]) -> None:
    if not isinstance(picture, np.ndarray) or picture.dtype != np.uint8 or picture.shape != shape:
        got = f"{getattr(picture, 'dtype', type(picture).__name__)} {getattr(picture, 'shape', '')}"
        raise InvalidInputError(f"the transform must yield uint8 pictures of the frame's shape {shape}; got {got}")


def _png_folder(
    source: str | os.PathLike[str],
    folder: Path,
    transform: Callable[[Iterator[Frame]], Iterable[np.ndarray]],
    *,
    start: int,
    end: int | None,
    every: int,
    expected: int | None,
) -> Path:
    """Frames as ``folder/000000.png``... (numbered by the source frame's index), each written
    atomically; ``expected`` frames are reported as the total."""
    from .outputs import Writer

    if folder.exists() and not folder.is_dir():
        raise OutputRefusedError(f"the PNG frames go into a folder; {str(folder)!r} is a file")
    import PIL.Image

    writer = Writer([Path(source)])
    timed = _Timed(read_frames(source, start=start, end=end, every=every))
    for count, (picture, (index, _, shape)) in enumerate(zip(transform(iter(timed)), timed.stamps()), 1):
        _check_picture(picture, shape)
        writer.image(PIL.Image.fromarray(picture), folder / f"{index:06d}.png", made="video frame")
        report_frame(count, expected)
    return folder
