"""Video files in and out (textinpaint.videos, PyAV): streamed, timestamps and audio kept, lossless
where asked, and every bad file a typed error."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import PIL.Image
import pytest

av = pytest.importorskip("av")

from textinpaint import InvalidInputError, OutputRefusedError  # noqa: E402
from textinpaint.testing import write_clip  # noqa: E402
from textinpaint.videos import VideoLoadError, codec_for, probe, read_frames, transcode  # noqa: E402


def audio_packets(path):
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.dts is not None]


def decoded(path):
    return [(frame.index, frame.pts, frame.rgb) for frame in read_frames(path)]


def same(frames):
    for frame in frames:
        yield frame.rgb


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=17)


def test_probe_and_read_say_what_the_clip_holds(clip):
    info = probe(clip)
    assert (info.width, info.height, info.frames, info.fps, info.audio, info.codec) == (64, 48, 17, 12, 1, "h264")
    frames = list(read_frames(clip))
    assert [f.index for f in frames] == list(range(17))
    assert all(f.rgb.shape == (48, 64, 3) and f.rgb.dtype == np.uint8 for f in frames)
    assert [f.pts for f in frames] == sorted(f.pts for f in frames) and frames[1].time == pytest.approx(1 / 12)
    assert [f.index for f in read_frames(clip, start=3, end=12, every=4)] == [3, 7, 11]


@pytest.mark.parametrize("codec, name", [("ffv1", "out.mkv"), ("h264", "out.mp4")])
def test_a_copy_keeps_the_frame_count_timestamps_and_audio_bytes(clip, tmp_path, codec, name):
    out = transcode(clip, tmp_path / name, same, codec=codec)
    source, written = decoded(clip), decoded(out)
    assert len(written) == len(source) == 17
    # Times as the clip's own (a container that stores no negative time shifts the whole clip by
    # the audio's priming, here 64 ms, keeping the sync: the frames' spacing is what must hold).
    before, after = [f.time for f in read_frames(clip)], [f.time for f in read_frames(out)]
    assert np.diff(after) == pytest.approx(np.diff(before), abs=1e-3) and abs(after[0] - before[0]) <= 0.07
    assert audio_packets(out) == audio_packets(clip), "the audio is copied packet for packet"
    if codec == "ffv1":
        for (_, _, a), (_, _, b) in zip(source, written):
            np.testing.assert_array_equal(a, b)
    assert not list(tmp_path.glob(".*part")), "no temporary file is left"


def test_lossless_output_changes_no_pixel_outside_the_edit(clip, tmp_path):
    def paint(frames):
        for frame in frames:
            out = frame.rgb.copy()
            out[10:20, 5 + frame.index : 25 + frame.index] = 255 - out[10:20, 5 + frame.index : 25 + frame.index]
            yield out

    written = decoded(transcode(clip, tmp_path / "out.mkv", paint))
    for (index, _, original), (_, _, result) in zip(decoded(clip), written):
        outside = np.ones(original.shape[:2], bool)
        outside[10:20, 5 + index : 25 + index] = False
        np.testing.assert_array_equal(result[outside], original[outside])
        assert (result[~outside] != original[~outside]).any()


def test_a_variable_frame_rate_keeps_every_timestamp(tmp_path):
    stamps = [0, 100, 150, 400, 420, 900, 1000, 1300, 1310]
    clip = write_clip(tmp_path / "vfr.mkv", frames=9, codec="ffv1", timestamps=stamps, audio=False)
    out = transcode(clip, tmp_path / "out.mkv", same)
    assert [f.time for f in read_frames(out)] == pytest.approx([f.time for f in read_frames(clip)])
    assert [f.time for f in read_frames(out)] == pytest.approx([s / 1200 for s in stamps], abs=1e-3)  # ms in Matroska


def test_png_frames_are_numbered_by_the_source_frame_and_exact(tmp_path):
    clip = write_clip(tmp_path / "clip.mkv", frames=9, codec="ffv1", audio=False)
    folder = transcode(clip, tmp_path / "frames", same, start=2, every=3)
    assert sorted(p.name for p in folder.iterdir()) == ["000002.png", "000005.png", "000008.png"]
    for frame in read_frames(clip, start=2, every=3):
        with PIL.Image.open(folder / f"{frame.index:06d}.png") as image:
            np.testing.assert_array_equal(np.asarray(image), frame.rgb)


def test_a_range_is_written_without_audio(clip, tmp_path):
    out = transcode(clip, tmp_path / "part.mkv", same, start=4, end=10)
    assert probe(out).audio == 0 and len(decoded(out)) == 6


def test_bad_files_are_typed_errors(tmp_path, clip):
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(VideoLoadError, match="not a readable video"):
        probe(tmp_path / "notes.mp4")
    with pytest.raises(VideoLoadError, match="no video file"):
        list(read_frames(tmp_path / "missing.mp4"))
    with av.open(str(tmp_path / "tone.mka"), "w") as muxer:  # audio only
        stream = muxer.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        for packet in [*stream.encode(frame), *stream.encode()]:
            muxer.mux(packet)
    with pytest.raises(VideoLoadError, match="no video stream"):
        probe(tmp_path / "tone.mka")
    cut = tmp_path / "cut.mkv"
    whole = write_clip(tmp_path / "whole.mkv", frames=17, codec="ffv1", audio=False).read_bytes()
    cut.write_bytes(whole[: len(whole) // 2])
    kept = []
    try:
        for frame in read_frames(cut):
            kept.append(frame.index)
    except VideoLoadError as error:
        assert f"after frame {kept[-1]}" in str(error) if kept else "before any frame" in str(error)
    assert 0 < len(kept) < 17, "what decoded before the damage is kept"


def test_bad_requests_are_typed_errors_and_leave_no_file(clip, tmp_path):
    with pytest.raises(OutputRefusedError, match="overwrite an input"):
        transcode(clip, clip, same)
    (tmp_path / "theirs.mp4").write_bytes(b"somebody's film")
    with pytest.raises(OutputRefusedError, match="textinpaint does not write over files it did not make"):
        transcode(clip, tmp_path / "theirs.mp4", same)
    assert (tmp_path / "theirs.mp4").read_bytes() == b"somebody's film"
    (tmp_path / "theirs.mp4").unlink()
    with pytest.raises(InvalidInputError, match="codec 'ffv1' writes .mkv"):
        transcode(clip, tmp_path / "out.mp4", same, codec="ffv1")
    with pytest.raises(InvalidInputError, match="every must be 1 or more"):
        list(read_frames(clip, every=0))
    with pytest.raises(InvalidInputError, match="end must be a frame index after start"):
        list(read_frames(clip, start=5, end=5))
    with pytest.raises(InvalidInputError, match="uint8 pictures of the frame's shape"):
        transcode(clip, tmp_path / "bad.mkv", lambda frames: (f.rgb[:, :10] for f in frames))
    with pytest.raises(InvalidInputError, match="fewer pictures"):
        transcode(clip, tmp_path / "short.mkv", lambda frames: (f.rgb for f in frames if f.index < 5))
    assert list(tmp_path.iterdir()) == [], "a failed write leaves nothing behind"
    assert (
        codec_for("a.mkv", None) == "ffv1" and codec_for("frames", None) == "png" and codec_for("a.mp4", None) == "h264"
    )


MEMORY = """
import resource, sys
from textinpaint.videos import transcode
transcode(sys.argv[1], sys.argv[1] + ".out.mkv", lambda frames: (255 - f.rgb for f in frames))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_memory_does_not_grow_with_the_clip(tmp_path):
    peaks = []
    for frames in (30, 300):
        clip = write_clip(tmp_path / f"c{frames}.mp4", frames=frames, width=320, height=240)
        done = subprocess.run([sys.executable, "-c", MEMORY, str(clip)], capture_output=True, text=True, check=True)
        peaks.append(int(done.stdout.split()[-1]))
    # 300 frames of 320x240 held at once would be 69 MB more (the interpreter, numpy and PyAV: about 60 MB).
    assert peaks[1] <= peaks[0] * 1.2, f"peak RSS {peaks[0]} kB for 30 frames, {peaks[1]} kB for 300"


@pytest.mark.parametrize("size", [(63, 47), (1, 1), (2, 1)])
def test_odd_and_tiny_frames_are_written_by_every_codec(tmp_path, size):
    width, height = size
    clip = write_clip(tmp_path / "odd.mkv", frames=5, width=width, height=height, codec="ffv1", audio=False)
    for name in ("out.mp4", "out.mkv"):
        frames = list(read_frames(transcode(clip, tmp_path / name, same)))
        assert len(frames) == 5 and frames[0].rgb.shape == (height, width, 3)
    pngs = sorted(transcode(clip, tmp_path / "frames", same).iterdir())
    assert len(pngs) == 5 and PIL.Image.open(pngs[0]).size == (width, height)
    for a, b in zip(read_frames(clip), read_frames(tmp_path / "out.mkv")):
        np.testing.assert_array_equal(a.rgb, b.rgb)


def test_a_clip_with_no_frames_is_a_typed_error(tmp_path):
    with av.open(str(tmp_path / "empty.mkv"), "w") as muxer:  # a header and nothing after it
        stream = muxer.add_stream("ffv1", rate=12)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "bgr0"
        muxer.start_encoding()
    with pytest.raises(VideoLoadError, match="is not a readable video"):
        list(read_frames(tmp_path / "empty.mkv"))
    with av.open(str(tmp_path / "silent.mkv"), "w") as muxer:  # a video stream with no frame, and sound
        stream = muxer.add_stream("ffv1", rate=12)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "bgr0"
        tone = muxer.add_stream("aac", rate=16000)
        tone.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        for packet in [*tone.encode(frame), *tone.encode()]:
            muxer.mux(packet)
    with pytest.raises(VideoLoadError, match="holds no video frames"):
        list(read_frames(tmp_path / "silent.mkv"))
    for empty in ("empty.mkv", "silent.mkv"):
        with pytest.raises(VideoLoadError):
            transcode(tmp_path / empty, tmp_path / "out.mkv", same)
    assert not (tmp_path / "out.mkv").exists() and not list(tmp_path.glob(".out*"))


def test_each_written_frame_is_reported_to_the_frame_listener(clip, tmp_path):
    from textinpaint.events import listening

    seen = []
    with listening(lambda stage: None, frames=lambda done, total: seen.append((done, total))):
        transcode(clip, tmp_path / "out.mkv", same, start=2, every=3)
        transcode(clip, tmp_path / "frames", same, end=4)
    assert seen == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5), (1, 4), (2, 4), (3, 4), (4, 4)]


def with_display_rotation(source, target, matrix):
    """``source`` (an MP4) with its track header's display matrix set to ``matrix`` (a, b, c, d
    in the ISO 14496-12 'tkhd' box), as a phone writes a portrait clip: the pixels stay as they
    were shot and the player turns them."""
    import struct

    data = bytearray(source.read_bytes())
    at = data.find(b"tkhd")
    assert at > 0 and data[at + 4] == 0, "a version-0 track header"
    offset = at + 4 + 4 + 5 * 4 + 8 + 4 * 2  # type; version+flags; times, id, reserved, duration; reserved; layer...
    one = 1 << 16
    a, b, c, d = (v * one for v in matrix)
    struct.pack_into(">9i", data, offset, a, b, 0, c, d, 0, 0, 0, 1 << 30)
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize(
    "matrix,turn",
    [((0, 1, -1, 0), -1), ((0, -1, 1, 0), 1), ((-1, 0, 0, -1), 2)],
    ids=["90-clockwise", "90-counter-clockwise", "180"],
)
def test_a_clip_with_a_display_rotation_is_read_and_written_upright(tmp_path, matrix, turn):
    shot = write_clip(tmp_path / "shot.mp4", frames=5, width=64, height=48)
    turned = with_display_rotation(shot, tmp_path / "turned.mp4", matrix)
    stored = [frame.rgb for frame in read_frames(shot)]
    info = probe(turned)
    assert info.rotation != 0 and (info.width, info.height) == ((48, 64) if turn != 2 else (64, 48))
    upright = [frame.rgb for frame in read_frames(turned)]
    for raw, seen in zip(stored, upright, strict=True):
        np.testing.assert_array_equal(seen, np.rot90(raw, turn))
    written = transcode(turned, tmp_path / "upright.mkv", same)
    assert probe(written).rotation == 0 and audio_packets(written) == audio_packets(turned)
    for seen, again in zip(upright, (frame.rgb for frame in read_frames(written)), strict=True):
        np.testing.assert_array_equal(again, seen)  # written upright, with no rotation left to apply
