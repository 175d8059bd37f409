"""Video workflows on tiny models: tracking equals the transformers video session's own propagation,
and removal leaves every pixel outside the grown masks exact in a lossless output, with the audio,
frame count and timestamps kept."""

from __future__ import annotations

import numpy as np
import pytest
import torch

av = pytest.importorskip("av")

from textinpaint import InvalidInputError  # noqa: E402
from textinpaint.masks import auto_dilation, auto_feather, dilate  # noqa: E402
from textinpaint.testing import write_clip  # noqa: E402
from textinpaint.videos import probe, read_frames  # noqa: E402
from textinpaint.workflows import video  # noqa: E402


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=11)


def reference_masks(tracker_folder, frames, box, frame=0, reverse=False):
    """The transformers docs' own way: the whole video in a session, a box on ``frame``,
    propagate (backward with ``reverse``): frame index -> (objects, H, W) bool."""
    from transformers import Sam2VideoModel, Sam2VideoProcessor

    model = Sam2VideoModel.from_pretrained(tracker_folder).eval()
    processor = Sam2VideoProcessor.from_pretrained(tracker_folder)
    height, width = frames[0].shape[:2]
    with torch.inference_mode():
        session = processor.init_video_session(video=frames, inference_device="cpu", dtype=torch.float32)
        processor.add_inputs_to_inference_session(
            inference_session=session, frame_idx=frame, obj_ids=[1], input_boxes=[[list(box)]]
        )
        model(inference_session=session, frame_idx=frame)
        out = {}
        for step in model.propagate_in_video_iterator(session, start_frame_idx=frame, reverse=reverse):
            masks = processor.post_process_masks([step.pred_masks], original_sizes=[[height, width]], binarize=False)
            out[step.frame_idx] = (masks[0][:, 0] > 0).numpy()
    return out


def test_tracking_a_box_equals_the_transformers_video_session(pipe, tiny_models, clip):
    box = (8.0, 14.0, 30.0, 34.0)
    masks = video.track(pipe, clip, box=box)
    frames = [frame.rgb for frame in read_frames(clip)]
    expected = reference_masks(tiny_models / "tracker", frames, box)
    assert masks.ids == (1,) and masks.frames == tuple(range(11)) and masks.phrases == ("box",)
    assert sorted(expected) == list(range(11))
    for index, reference in expected.items():
        np.testing.assert_array_equal(masks.mask(index, 1), reference[0])
    assert masks.present().any(), "the tiny tracker marks something, so the equality means something"


def test_tracking_from_a_later_frame_and_text(pipe, clip):
    masks = video.track(pipe, clip, points=[[20, 20], [40, 30]], labels=[1, 0], frame=4, start=2, end=9)
    assert masks.frames == (2, 3, 4, 5, 6, 7, 8) and masks.phrases == ("click",)
    found = video.track(pipe, clip, "a dog", box_threshold=0.0)
    assert len(found.ids) >= 1 and set(found.phrases) <= {"a dog"} and len(found) == 11
    nothing = video.track(pipe, clip, "a dog", box_threshold=1.0)
    assert nothing.ids == () and len(nothing) == 11


def test_removal_keeps_every_pixel_outside_the_grown_masks_and_the_audio(pipe, clip, tmp_path):
    edit = video.remove(pipe, clip, box=(8, 14, 30, 34), output=tmp_path / "out.mkv", per_frame=True)
    assert edit.found and edit.output == tmp_path / "out.mkv" and edit.seed is None
    before, after = list(read_frames(clip)), list(read_frames(edit.output))
    assert len(after) == len(before) == 11 and probe(edit.output).audio == 1
    assert np.diff([f.time for f in after]) == pytest.approx(np.diff([f.time for f in before]), abs=1e-3)
    reach = auto_dilation(64, 48) + auto_feather(auto_dilation(64, 48))
    changed_somewhere = False
    for original, result in zip(before, after):
        region = edit.masks.mask(original.index)
        outside = ~dilate(region, reach + 1) if region.any() else np.ones(region.shape, bool)
        np.testing.assert_array_equal(result.rgb[outside], original.rgb[outside])
        changed_somewhere |= bool((result.rgb != original.rgb).any())
    assert changed_somewhere


def test_removal_of_text_found_nowhere_writes_nothing(pipe, clip, tmp_path):
    edit = video.remove(pipe, clip, "a dog", box_threshold=1.0, output=tmp_path / "out.mkv", per_frame=True)
    assert not edit.found and edit.output is None and not (tmp_path / "out.mkv").exists()


def test_bad_prompts_are_typed_errors(pipe, clip, tmp_path):
    with pytest.raises(InvalidInputError, match="give one of find"):
        video.track(pipe, clip)
    with pytest.raises(InvalidInputError, match="give one of find"):
        video.track(pipe, clip, "a dog", box=(0, 0, 5, 5))
    with pytest.raises(InvalidInputError, match="box must be x0, y0, x1, y1 inside the 64x48 frame"):
        video.track(pipe, clip, box=(0, 0, 100, 5))
    with pytest.raises(InvalidInputError, match="points must lie inside"):
        video.track(pipe, clip, points=[[70, 5]])
    with pytest.raises(InvalidInputError, match="at least one click on the object"):
        video.track(pipe, clip, points=[[7, 5]], labels=[0])
    with pytest.raises(InvalidInputError, match="no frame 40"):
        video.track(pipe, clip, box=(0, 0, 5, 5), frame=40)
    with pytest.raises(InvalidInputError, match="must lie in the frames written"):
        video.remove(pipe, clip, box=(0, 0, 5, 5), frame=2, start=3, output=tmp_path / "o.mkv")


def test_removal_options_are_the_image_options(pipe, clip, tmp_path):
    with pytest.raises(InvalidInputError, match="dilate"):
        video.remove(pipe, clip, box=(8, 14, 30, 34), dilate=-1, output=tmp_path / "o.mkv")
    for sampled in ({"steps": 3}, {"seed": 0}, {"negative_prompt": "blur"}, {"with_": "grass"}):
        with pytest.raises(InvalidInputError, match=f"takes no prompt or sampler options; got {next(iter(sampled))}"):
            video.remove(pipe, clip, box=(8, 14, 30, 34), per_frame=True, output=tmp_path / "o.mkv", **sampled)
    with pytest.raises(InvalidInputError, match="per_frame must be True or False"):
        video.remove(pipe, clip, box=(8, 14, 30, 34), per_frame="yes", output=tmp_path / "o.mkv")
    assert not (tmp_path / "o.mkv").exists()
    edit = video.remove(pipe, clip, box=(8, 14, 30, 34), dilate=0, feather=0, output=tmp_path / "tight", per_frame=True)
    for original in read_frames(clip):
        import PIL.Image

        with PIL.Image.open(tmp_path / "tight" / f"{original.index:06d}.png") as image:
            result = np.asarray(image)
        outside = ~edit.masks.mask(original.index)
        np.testing.assert_array_equal(result[outside], original.rgb[outside])
    assert edit.record["parameters"]["dilate"] == 0


def test_removal_writes_its_sidecar_runs_again_over_its_own_output_and_never_over_a_strangers(pipe, clip, tmp_path):
    import json

    from textinpaint import OutputRefusedError

    first = video.remove(pipe, clip, box=(8, 14, 30, 34), output=tmp_path / "out.mp4", per_frame=True)
    sidecar = json.loads((tmp_path / "out.json").read_text())
    assert sidecar["workflow"] == "video remove" and sidecar["output"] == str(tmp_path / "out.mp4")
    assert set(sidecar["models"]) == {"tracker", "remover"} and sidecar["frames"] == 11 and sidecar["found"]
    assert sidecar["parameters"]["per_frame"] is True
    again = video.remove(pipe, clip, box=(8, 14, 30, 34), output=tmp_path / "out.mp4", per_frame=True)
    assert again.output == first.output
    (tmp_path / "film.mp4").write_bytes(b"a stranger's film")
    with pytest.raises(OutputRefusedError):
        video.remove(pipe, clip, box=(8, 14, 30, 34), output=tmp_path / "film.mp4", per_frame=True)
    assert (tmp_path / "film.mp4").read_bytes() == b"a stranger's film" and not (tmp_path / "film.json").exists()


def test_the_video_command_removes_tracks_and_says_when_nothing_matched(tiny_models, clip, tmp_path, capsys):
    from textinpaint.interfaces.cli import main
    from textinpaint.videomasks import load_video_masks

    common = ["--models", str(tiny_models), "--device", "cpu"]
    out = tmp_path / "out.mp4"
    assert main(["video", "remove", str(clip), "--box", "8,14,30,34", "--per-frame", "-o", str(out), *common]) == 0
    assert "wrote" in capsys.readouterr().out
    assert len(list(read_frames(out))) == 11 and probe(out).audio == 1 and (tmp_path / "out.json").exists()
    lossless = tmp_path / "exact.mkv"
    argv = ["video", "remove", str(clip), "--point", "20,24", "--lossless", "--steps", "1", "--seed", "4"]
    assert main([*argv, "-o", str(lossless), *common]) == 0
    assert "removed (seed 4)" in capsys.readouterr().out, "the video painter by default"
    assert probe(lossless).codec == "ffv1"
    assert (
        main(["video", "track", str(clip), "--point", "20,24", "--frame", "3", "-o", str(tmp_path / "m.json"), *common])
        == 0
    )
    assert load_video_masks(tmp_path / "m.json").frames == tuple(range(11)), "tracked backward from frame 3 too"
    nothing = ["video", "remove", str(clip), "--find", "a dog", "--box-threshold", "1.0", "-o", str(tmp_path / "n.mp4")]
    assert main([*nothing, *common]) == 3
    assert "nothing matching 'a dog'" in capsys.readouterr().err and not (tmp_path / "n.mp4").exists()
    assert (
        main(
            ["video", "remove", str(clip), "--box", "8,14,30,34", "--lossless", "-o", str(tmp_path / "x.mp4"), *common]
        )
        == 1
    )
    assert "--lossless writes FFV1 into a .mkv file or PNG frames into a folder" in capsys.readouterr().err
    assert (
        main(["video", "remove", str(tmp_path / "m.json"), "--box", "1,1,5,5", "-o", str(tmp_path / "y.mp4"), *common])
        == 1
    )
    assert "not a readable video" in capsys.readouterr().err


def test_replacing_paints_a_window_as_wan_vace_does_and_keeps_the_rest_exact(pipe, tiny_models, clip, tmp_path):
    import PIL.Image
    from diffusers import WanVACEPipeline

    from textinpaint.inpainting import crop_window, generation_size, resize, shrink_any
    from textinpaint.masks import bounding_box, distance_near

    edit = video.replace(
        pipe,
        clip,
        box=(8, 14, 30, 34),
        with_="a cat",
        output=tmp_path / "out.mkv",
        steps=2,
        seed=5,
        window=13,
        overlap=0,
    )
    assert edit.found and edit.seed == 5 and edit.record["parameters"]["seed"] == 5
    before, after = list(read_frames(clip)), list(read_frames(edit.output))
    assert len(after) == 11 and probe(edit.output).audio == 1
    # The reference: diffusers' pipeline on the same window crop, masks and seed.
    grow = auto_dilation(64, 48)
    reach = grow + auto_feather(grow)
    regions = [edit.masks.mask(f.index) for f in before]
    x0, y0, x1, y1 = bounding_box(np.logical_or.reduce([r for r in regions if r.any()]))
    support = (max(0, x0 - reach), max(0, y0 - reach), min(64, x1 + reach), min(48, y1 + reach))
    native = pipe.model("video_painter").native_size
    wx0, wy0, wx1, wy1 = crop_window(support, 64, 48, native)
    gen_w, gen_h = generation_size(wx1 - wx0, wy1 - wy0, native, 16)
    holes = [distance_near(r[wy0:wy1, wx0:wx1], grow + 1) <= grow for r in regions]
    frames = [PIL.Image.fromarray(resize(f.rgb[wy0:wy1, wx0:wx1], gen_w, gen_h)) for f in before]
    masks = [PIL.Image.fromarray(shrink_any(h, gen_w, gen_h).astype(np.uint8) * 255) for h in holes]
    frames += [frames[-1]] * 2
    masks += [masks[-1]] * 2  # 11 frames are painted as 13 (4k+1), the last repeated
    reference = WanVACEPipeline.from_pretrained(tiny_models / "video_painter")(
        prompt="a cat",
        negative_prompt=edit.record["parameters"]["negative_prompt"],
        video=frames,
        mask=masks,
        height=gen_h,
        width=gen_w,
        num_frames=13,
        num_inference_steps=2,
        guidance_scale=edit.record["parameters"]["guidance"],
        generator=torch.Generator().manual_seed(5),
        output_type="np",
    ).frames[0]
    for k, (original, result) in enumerate(zip(before, after)):
        expected = resize((np.clip(reference[k], 0, 1) * 255).round().astype(np.uint8), wx1 - wx0, wy1 - wy0)
        inner = distance_near(regions[k][wy0:wy1, wx0:wx1], reach + 1) <= grow  # blend weight 1: the painter's pixels
        np.testing.assert_array_equal(result.rgb[wy0:wy1, wx0:wx1][inner], expected[inner])
        outside = ~dilate(regions[k], reach + 1) if regions[k].any() else np.ones((48, 64), bool)
        np.testing.assert_array_equal(result.rgb[outside], original.rgb[outside])


def test_replacing_in_overlapping_windows_and_its_options(pipe, clip, tmp_path):
    edit = video.replace(
        pipe, clip, box=(8, 14, 30, 34), with_="a cat", output=tmp_path / "w.mkv", steps=1, window=5, overlap=2
    )
    assert len(list(read_frames(edit.output))) == 11 and isinstance(edit.seed, int)
    with pytest.raises(InvalidInputError, match="Wan VACE samples with its own scheduler only"):
        video.replace(pipe, clip, box=(8, 14, 30, 34), with_="x", output=tmp_path / "s.mkv", scheduler="ddim")
    with pytest.raises(InvalidInputError, match="window must be more frames than overlap"):
        video.replace(pipe, clip, box=(8, 14, 30, 34), with_="x", output=tmp_path / "s.mkv", window=2, overlap=2)
    nothing = video.replace(pipe, clip, "a dog", "a cat", box_threshold=1.0, output=tmp_path / "n.mkv")
    assert not nothing.found and not (tmp_path / "n.mkv").exists()


def test_the_video_command_replaces_and_its_defaults_are_the_workflows(tiny_models, clip, tmp_path, capsys):
    from textinpaint.interfaces import cli
    from textinpaint.workflows.video import OVERLAP, WINDOW

    assert (cli.WINDOW, cli.OVERLAP) == (WINDOW, OVERLAP)
    common = ["--models", str(tiny_models), "--device", "cpu"]
    out = tmp_path / "new.mp4"
    argv = ["video", "replace", str(clip), "--box", "8,14,30,34", "--with", "a cat", "--steps", "1", "--seed", "3"]
    assert cli.main([*argv, "-o", str(out), *common]) == 0
    assert "repainted (seed 3)" in capsys.readouterr().out
    assert len(list(read_frames(out))) == 11 and probe(out).audio == 1
    assert cli.main(["video", "replace", str(clip), "--box", "8,14,30,34", "-o", str(tmp_path / "x.mp4"), *common]) == 1
    assert "video replace needs --with" in capsys.readouterr().err


def test_your_own_masks_are_removed_exactly_where_they_are(pipe, tmp_path, capsys):
    import PIL.Image

    from textinpaint.interfaces.cli import main

    clip = write_clip(tmp_path / "square.mkv", frames=9, codec="ffv1", audio=False)
    own = tmp_path / "masks"
    own.mkdir()
    for frame in read_frames(clip):  # the red square, found by colour: a mask made elsewhere
        red = (frame.rgb[..., 0] > 150) & (frame.rgb[..., 1] < 100)
        if frame.index % 2 == 0:
            PIL.Image.fromarray(red).save(own / f"{frame.index:06d}.png")
    edit = video.remove(pipe, clip, masks=own, output=tmp_path / "out.mkv", dilate=0, feather=0, per_frame=True)
    assert edit.found and edit.masks.frames == (0, 2, 4, 6, 8)
    for original, result in zip(read_frames(clip), read_frames(edit.output)):
        if original.index % 2:
            np.testing.assert_array_equal(result.rgb, original.rgb)
            continue
        inside = edit.masks.mask(original.index)
        np.testing.assert_array_equal(result.rgb[~inside], original.rgb[~inside])
        assert (result.rgb[inside] != original.rgb[inside]).any()
    with pytest.raises(InvalidInputError, match="give masks, or what to find"):
        video.remove(pipe, clip, "a dog", masks=own, output=tmp_path / "x.mkv")
    PIL.Image.fromarray(np.zeros((10, 10), bool)).save(own / "000001.png")
    with pytest.raises(InvalidInputError, match="must be the same size"):
        video.remove(pipe, clip, masks=own, output=tmp_path / "y.mkv")
    (own / "notes.png").write_bytes(b"")
    common = ["--models", str(pipe.models), "--device", "cpu"]
    assert main(["video", "remove", str(clip), "--masks", str(own), "-o", str(tmp_path / "z.mkv"), *common]) == 1
    assert "PNGs named by frame index" in capsys.readouterr().err


def test_a_terminal_sees_a_bar_of_frames(tiny_models, clip, tmp_path, monkeypatch):
    import io
    import sys

    from textinpaint.interfaces.cli import main

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    argv = ["video", "remove", str(clip), "--box", "8,14,30,34", "--per-frame", "-o", str(tmp_path / "o.mkv")]
    assert main([*argv, "--models", str(tiny_models), "--device", "cpu"]) == 0
    assert "11/11" in terminal.getvalue() and "frame" in terminal.getvalue()
    quiet = Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main([*argv[:-1], str(tmp_path / "q.mkv"), "--quiet", "--models", str(tiny_models), "--device", "cpu"]) == 0
    assert "11/11" not in quiet.getvalue()


@pytest.mark.parametrize(
    "argv",
    [
        ["remove", "--point", "20,24", "--per-frame"],
        pytest.param(
            ["remove", "--point", "20,24", "--steps", "1", "--window", "5", "--overlap", "2"], marks=pytest.mark.heavy
        ),
        pytest.param(
            ["replace", "--point", "20,24", "--with", "a cat", "--steps", "1", "--window", "5", "--overlap", "2"],
            marks=pytest.mark.heavy,
        ),
        ["background", "--box", "8,14,30,34", "--with", "a beach", "--steps", "1", "--window", "6", "--seam", "3"],
    ],
    ids=["remove-per-frame", "remove", "replace", "background"],
)
def test_replay_of_a_video_sidecar_writes_the_same_frames(tiny_models, clip, tmp_path, argv, capsys):
    from textinpaint.interfaces.cli import main

    common = ["--models", str(tiny_models), "--device", "cpu"]
    first = tmp_path / "first.mkv"
    assert main(["video", argv[0], str(clip), *argv[1:], "-o", str(first), *common]) == 0
    again = tmp_path / "again.mkv"
    assert main(["replay", str(tmp_path / "first.json"), "-o", str(again), "--device", "cpu"]) == 0
    assert f"wrote {again}" in capsys.readouterr().out
    for a, b in zip(read_frames(first), read_frames(again), strict=True):
        np.testing.assert_array_equal(a.rgb, b.rgb)
    assert (tmp_path / "again.json").exists()


def test_a_video_sidecar_is_read_as_strangers_input(pipe, clip, tmp_path):
    import json
    import shutil

    from textinpaint.interfaces.sidecars import read_sidecar, replay_video
    from textinpaint.videomasks import VideoMasksBuilder

    edit = video.remove(pipe, clip, box=(8, 14, 30, 34), output=tmp_path / "out.mkv", per_frame=True)
    document = json.loads((tmp_path / "out.json").read_text())
    assert document["parameters"]["box"] == [8.0, 14.0, 30.0, 34.0] and document["input"]["sha256"]
    assert read_sidecar(tmp_path / "out.json")["workflow"] == "video remove"
    for field, value, says in (
        ("parameters", {**document["parameters"], "points": "x"}, "field parameters.points"),
        ("parameters", {**document["parameters"], "rm_rf": 1}, "takes no rm_rf"),
        ("input", {"path": str(clip), "sha256": "0" * 63}, "field input.sha256"),
        ("workflow", "video explode", "is none of"),
    ):
        with pytest.raises(InvalidInputError, match=says):
            read_sidecar({**document, field: value})
    moved = tmp_path / "moved.mp4"
    shutil.copy(clip, moved)
    with open(moved, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(InvalidInputError, match="differs from the one the sidecar records"):
        replay_video(document, tmp_path / "x.mkv", video=moved, pipeline=pipe)
    given = VideoMasksBuilder(height=48, width=64, ids=[1])
    given.add(0, np.ones((1, 48, 64), bool))
    video.remove(pipe, clip, masks=given.build(), output=tmp_path / "mem.mkv", per_frame=True)
    with pytest.raises(InvalidInputError, match="given in memory"):
        replay_video(tmp_path / "mem.json", tmp_path / "y.mkv", pipeline=pipe)
    from textinpaint import replay, write_report

    with pytest.raises(InvalidInputError, match="replay_video"):
        replay(tmp_path / "out.json", pipeline=pipe)
    page = write_report(tmp_path).read_text()
    assert edit.found and "video remove" in page  # a video sidecar is listed (its workflow shown), without thumbnails


def test_a_folder_of_clips_goes_on_past_a_bad_one_and_a_rerun_skips_what_was_done(tiny_models, tmp_path, capsys):
    from textinpaint.interfaces.cli import main

    clips = tmp_path / "clips"
    write_clip(clips / "a.mp4", frames=5)
    write_clip(clips / "day" / "b.mkv", frames=5, codec="ffv1", audio=False)
    (clips / "broken.mp4").write_bytes(b"not a clip")
    common = ["--models", str(tiny_models), "--device", "cpu", "--quiet"]
    out = tmp_path / "out"
    argv = ["video", "remove", str(clips), "--box", "8,14,30,34", "--per-frame", "--lossless", "-o", str(out), *common]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "2 done" in err and "1 failed" in err and "broken.mp4" in err
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.mkv")) == ["a.mkv", "day/b.mkv"]
    assert (out / "failures.json").exists() and (out / "day" / "b.json").exists()
    for original, result in zip(read_frames(clips / "day" / "b.mkv"), read_frames(out / "day" / "b.mkv"), strict=True):
        assert original.rgb.shape == result.rgb.shape
    assert main(argv) == 1
    assert "2 skipped" in capsys.readouterr().err
    nothing = ["video", "remove", str(clips / "a.mp4"), str(clips / "day"), "--find", "a dog", "--box-threshold", "1"]
    assert main([*nothing, "-o", str(tmp_path / "none"), *common]) == 3
    assert "2 nothing" in capsys.readouterr().err and not list((tmp_path / "none").rglob("*.mp4"))
    assert main([*nothing, "-o", str(tmp_path / "none"), *common]) == 0
    assert "2 skipped" in capsys.readouterr().err


def test_tracking_backward_from_a_later_frame_equals_the_sessions_reverse_propagation(pipe, tiny_models, clip):
    box = (20.0, 14.0, 44.0, 34.0)
    masks = video.track(pipe, clip, box=box, frame=6)
    frames = [f.rgb for f in read_frames(clip)]
    backward = reference_masks(tiny_models / "tracker", frames, box, frame=6, reverse=True)
    assert masks.frames == tuple(range(11))
    for index in range(6):
        np.testing.assert_array_equal(masks.mask(index, 1), backward[index][0])


def test_the_public_video_module_runs_on_the_default_pipeline(pipe, clip):
    import inspect

    import textinpaint
    from textinpaint import video as public

    assert "pipeline" not in inspect.signature(public.remove).parameters
    textinpaint.configure(pipe)
    try:
        masks = public.track(clip, box=(8, 14, 30, 34), end=3)
    finally:
        textinpaint.configure()  # the default again
    assert masks.frames == (0, 1, 2) and masks.ids == (1,)


def test_removal_paints_with_the_video_painter_as_replace_does_with_the_empty_scene(pipe, clip, tmp_path):
    from textinpaint.workflows.video import EMPTY_SCENE

    options = {"box": (8, 14, 30, 34), "steps": 1, "seed": 2, "window": 6, "overlap": 2}
    removed = video.remove(pipe, clip, output=tmp_path / "removed.mkv", **options)
    replaced = video.replace(pipe, clip, with_=EMPTY_SCENE, output=tmp_path / "replaced.mkv", **options)
    assert removed.seed == 2 and removed.record["parameters"]["with_"] == EMPTY_SCENE
    assert set(removed.record["models"]) == {"tracker", "video_painter"}
    assert probe(removed.output).audio == 1
    changed = False
    for original, a, b in zip(
        read_frames(clip), read_frames(removed.output), read_frames(replaced.output), strict=True
    ):
        np.testing.assert_array_equal(a.rgb, b.rgb)
        changed |= bool((a.rgb != original.rgb).any())
    assert changed
    told = video.remove(pipe, clip, with_="wet sand", output=tmp_path / "sand.mkv", **options)
    assert told.record["parameters"]["with_"] == "wet sand"
    with pytest.raises(InvalidInputError, match="window must be more frames than overlap"):
        video.remove(pipe, clip, box=(8, 14, 30, 34), window=2, overlap=2, output=tmp_path / "w.mkv")


def test_a_new_background_keeps_the_subjects_pixels_and_repaints_the_rest(pipe, clip, tmp_path):
    from textinpaint.masks import distance_outside

    edit = video.replace_background(
        pipe, clip, box=(8, 14, 30, 34), with_="a beach", output=tmp_path / "b.mkv", steps=1, seed=3, seam=3, window=6
    )
    assert edit.found and edit.seed == 3 and edit.record["workflow"] == "video replace_background"
    assert edit.record["parameters"]["seam"] == 3 and edit.record["parameters"]["keep"] is None
    assert probe(edit.output).audio == 1
    for original, result in zip(read_frames(clip), read_frames(edit.output), strict=True):
        subject = edit.masks.mask(original.index)
        np.testing.assert_array_equal(result.rgb[subject], original.rgb[subject])  # the subject: bit for bit
        far = distance_outside(subject) > 3 if subject.any() else np.ones(subject.shape, bool)
        assert (result.rgb[far] != original.rgb[far]).any(), "the background is repainted"


def test_a_new_background_is_the_repainting_of_everything_beyond_the_seam(pipe, clip, tmp_path):
    # The same painting as replace() given the background (farther than the seam) as its masks,
    # grown by nothing and feathered over the seam: only the region differs between the two.
    from textinpaint.masks import distance_outside
    from textinpaint.videomasks import VideoMasksBuilder

    subject, background = (
        VideoMasksBuilder(height=48, width=64, ids=[1]),
        VideoMasksBuilder(height=48, width=64, ids=[1]),
    )
    for frame in read_frames(clip):
        red = (frame.rgb[..., 0] > 150) & (frame.rgb[..., 1] < 100)
        subject.add(frame.index, red[None])
        background.add(frame.index, (distance_outside(red) > 4)[None])
    common = {"steps": 1, "seed": 7, "window": 6, "overlap": 1}
    kept = video.replace_background(
        pipe, clip, with_="a beach", masks=subject.build(), seam=4, output=tmp_path / "k.mkv", **common
    )
    painted = video.replace(
        pipe, clip, with_="a beach", masks=background.build(), dilate=0, feather=3, output=tmp_path / "p.mkv", **common
    )
    assert set(kept.record["models"]) == {"video_painter"}
    for a, b in zip(read_frames(kept.output), read_frames(painted.output), strict=True):
        np.testing.assert_array_equal(a.rgb, b.rgb)


def test_a_new_background_from_text_or_the_salient_subject_and_its_command(tiny_models, pipe, clip, tmp_path, capsys):
    from textinpaint.interfaces.cli import main

    nothing = video.replace_background(pipe, clip, "a dog", "a beach", box_threshold=1.0, output=tmp_path / "n.mkv")
    assert not nothing.found and not (tmp_path / "n.mkv").exists()
    from textinpaint.videos import transcode

    def discs(frames):  # a light disc drifting over a dark ground: what the tiny subject model singles out
        for frame in frames:
            yy, xx = np.mgrid[:48, :64]
            picture = np.full((48, 64, 3), 30, np.uint8)
            picture[(yy - 24) ** 2 + (xx - 20 - 2 * frame.index) ** 2 < 12**2] = (220, 200, 180)
            yield picture

    disc = transcode(clip, tmp_path / "disc.mkv", discs, end=4)
    salient = video.replace_background(pipe, disc, with_="a beach", steps=1, output=tmp_path / "s.mkv")
    assert salient.found and salient.masks.phrases == ("subject",) and len(salient.masks) == 4
    assert set(salient.record["models"]) == {"subject", "tracker", "video_painter"}
    with pytest.raises(InvalidInputError, match="seam must be None .automatic. or an integer >= 1 pixels; got 0"):
        video.replace_background(pipe, clip, with_="a beach", box=(8, 14, 30, 34), seam=0, output=tmp_path / "z.mkv")
    common = ["--models", str(tiny_models), "--device", "cpu"]
    argv = ["video", "background", str(clip), "--keep", "a dog", "--box-threshold", "1", "--with", "a beach"]
    assert main([*argv, "-o", str(tmp_path / "c.mkv"), *common]) == 3
    assert "nothing matching 'a dog'" in capsys.readouterr().err
    argv = ["video", "background", str(clip), "--find", "a dog", "--with", "a beach", "-o", str(tmp_path / "d.mkv")]
    assert main([*argv, *common]) == 1
    assert "video background takes --keep, not --find" in capsys.readouterr().err
    argv = ["video", "background", str(clip), "--box", "8,14,30,34", "-o", str(tmp_path / "e.mkv")]
    assert main([*argv, *common]) == 1
    assert "video background needs --with" in capsys.readouterr().err
    assert main([*argv, "--with", "a beach", "--per-frame", *common]) == 1
    assert "video background takes no --per-frame" in capsys.readouterr().err
    argv = ["video", "track", str(clip), "--box", "8,14,30,34", "--with", "a cat", "-o", str(tmp_path / "m.json")]
    assert main([*argv, *common]) == 1
    assert "video track takes no --with" in capsys.readouterr().err
    argv = ["video", "background", str(clip), "--box", "8,14,30,34", "--with", "a beach", "--steps", "1", "--end", "4"]
    assert main([*argv, "-o", str(tmp_path / "f.mkv"), *common]) == 0
    assert "kept, the background repainted" in capsys.readouterr().out
    assert len(list(read_frames(tmp_path / "f.mkv"))) == 4


def test_the_video_sidecar_schema_names_every_video_workflow_and_every_parameter_they_record():
    from textinpaint.interfaces.sidecars import schema
    from textinpaint.options import keywords
    from textinpaint.workflows import VIDEO_WORKFLOWS

    shipped = schema("video_sidecar")
    assert shipped["properties"]["workflow"]["enum"] == list(VIDEO_WORKFLOWS)
    described = set(shipped["properties"]["parameters"]["properties"])
    for flow in VIDEO_WORKFLOWS.values():
        taken = keywords(flow.args) | set(flow.inputs)
        assert taken - {"scheduler", "upscale", "fast"} <= described, flow.name


class CountingPainter:
    """The tiny video painter, counting its windows, interrupted (as by Ctrl+C) at window ``stop``."""

    def __init__(self, painter, stop=None):
        self.painter, self.native_size, self.stop, self.calls = painter, painter.native_size, stop, 0

    def paint(self, crops, holes, request):
        if self.stop is not None and self.calls == self.stop:
            raise KeyboardInterrupt
        self.calls += 1
        return self.painter.paint(crops, holes, request)


def square_masks(frames=11):
    """A square drifting right, one instance on every frame: every window has something to paint."""
    from textinpaint.videomasks import VideoMasksBuilder

    builder = VideoMasksBuilder(height=48, width=64, ids=[1])
    for index in range(frames):
        square = np.zeros((1, 48, 64), bool)
        square[0, 14:30, 8 + 2 * index : 24 + 2 * index] = True
        builder.add(index, square)
    return builder.build()


def test_an_interrupted_clip_resumes_at_the_first_window_not_painted(pipe, tiny_models, clip, tmp_path):
    from textinpaint import Pipeline

    request = {"masks": square_masks(), "with_": "a cat", "steps": 1, "window": 5, "overlap": 1}  # 3 windows
    out = tmp_path / "out.mkv"
    stopped = CountingPainter(pipe.model("video_painter"), stop=1)
    with pytest.raises(KeyboardInterrupt):
        video.replace(Pipeline(models=tiny_models, device="cpu", video_painter=stopped), clip, output=out, **request)
    assert not out.exists() and not (tmp_path / "out.json").exists()
    assert [p.name for p in (tmp_path / "out.mkv.windows").iterdir()] == ["window-000000.npz"]
    again = CountingPainter(pipe.model("video_painter"))
    resumed = video.replace(
        Pipeline(models=tiny_models, device="cpu", video_painter=again), clip, output=out, **request
    )
    assert again.calls == 2, "the first window was taken from the interrupted run"
    assert not (tmp_path / "out.mkv.windows").exists(), "the kept windows go once the clip is written"
    # The drawn seed was the interrupted run's; painted whole with it, the clip is the same.
    whole = video.replace(pipe, clip, output=tmp_path / "whole.mkv", **{**request, "seed": resumed.seed})
    for a, b in zip(read_frames(resumed.output), read_frames(whole.output), strict=True):
        np.testing.assert_array_equal(a.rgb, b.rgb)


def test_kept_windows_of_another_request_are_painted_again_and_a_strangers_file_stops_the_run(
    pipe, tiny_models, clip, tmp_path
):
    from textinpaint import OutputRefusedError, Pipeline

    request = {"masks": square_masks(), "steps": 1, "window": 5, "overlap": 1, "seed": 1}
    out = tmp_path / "out.mkv"
    stopped = CountingPainter(pipe.model("video_painter"), stop=2)
    with pytest.raises(KeyboardInterrupt):
        video.replace(
            Pipeline(models=tiny_models, device="cpu", video_painter=stopped),
            clip,
            None,
            "a cat",
            output=out,
            **request,
        )
    again = CountingPainter(pipe.model("video_painter"))
    dog = video.replace(
        Pipeline(models=tiny_models, device="cpu", video_painter=again), clip, None, "a dog", output=out, **request
    )
    assert again.calls == 3, "windows painted for another prompt are not this request's"
    fresh = video.replace(pipe, clip, None, "a dog", output=tmp_path / "fresh.mkv", **request)
    for a, b in zip(read_frames(dog.output), read_frames(fresh.output), strict=True):
        np.testing.assert_array_equal(a.rgb, b.rgb)
    kept = tmp_path / "film.mkv.windows"
    kept.mkdir()
    (kept / "window-000000.npz").write_bytes(b"somebody's file")
    with pytest.raises(OutputRefusedError, match="is not a painted window textinpaint wrote"):
        video.replace(pipe, clip, None, "a dog", output=tmp_path / "film.mkv", **request)
    assert (kept / "window-000000.npz").read_bytes() == b"somebody's file" and not (tmp_path / "film.mkv").exists()


# ---- SAM 3 video: the tracker that finds the text itself ------------------------------------------


@pytest.fixture(scope="module")
def sam3_tracker(tmp_path_factory):
    from textinpaint.backends.sam3_video import write_tiny

    return write_tiny(tmp_path_factory.mktemp("sam3-video"), seed=0)


def test_sam3_video_finds_the_text_itself_and_equals_the_transformers_streaming_session(sam3_tracker, clip):
    from transformers import Sam3VideoModel, Sam3VideoProcessor

    from textinpaint import Pipeline

    masks = video.track(Pipeline(tracker=sam3_tracker, device="cpu"), clip, "thing")
    # The reference: transformers' documented streaming inference, frame by frame, on the same weights.
    processor = Sam3VideoProcessor.from_pretrained(sam3_tracker)
    model = Sam3VideoModel.from_pretrained(sam3_tracker).eval()
    session = processor.add_text_prompt(inference_session=processor.init_video_session(), text=["thing"])
    assert masks.frames == tuple(range(11)) and masks.ids and set(masks.phrases) == {"thing"}
    for frame in read_frames(clip):
        inputs = processor(images=frame.rgb, return_tensors="pt")
        with torch.inference_mode():
            outputs = model(inference_session=session, frame=inputs.pixel_values[0], reverse=False)
        found = processor.postprocess_outputs(session, outputs, original_sizes=inputs.original_sizes)
        ids = found["object_ids"].tolist()
        for instance in masks.ids:
            expected = found["masks"][ids.index(instance)].numpy() if instance in ids else np.zeros((48, 64), bool)
            np.testing.assert_array_equal(masks.mask(frame.index, instance), expected)


def test_removal_with_sam3_video_paints_its_masks_and_records_no_detector(tiny_models, sam3_tracker, clip, tmp_path):
    import json

    from textinpaint import Pipeline

    pipe = Pipeline(models=tiny_models, tracker=sam3_tracker, device="cpu")
    edit = video.remove(pipe, clip, "thing", output=tmp_path / "out.mkv", per_frame=True, dilate=0, feather=0)
    assert edit.found and set(edit.record["models"]) == {"tracker", "remover"}
    changed = False
    for original, result in zip(read_frames(clip), read_frames(edit.output), strict=True):
        outside = ~edit.masks.mask(original.index)
        np.testing.assert_array_equal(result.rgb[outside], original.rgb[outside])
        changed |= bool((result.rgb != original.rgb).any())
    assert changed
    import shutil

    from textinpaint.interfaces.cli import main

    shutil.copytree(tiny_models / "tracker", tmp_path / "models" / "tracker")  # no detector/ in it
    missing = ["--models", str(tmp_path / "models"), "--device", "cpu", "-o", str(tmp_path / "m.json")]
    argv = ["video", "track", str(clip), "--find", "thing", "--tracker", str(sam3_tracker)]
    assert main([*argv, *missing]) == 0, "SAM 3 video finds the text itself: no detector weights are asked for"
    argv[-1] = str(tmp_path / "models" / "tracker")
    assert main([*argv, *missing]) == 1, "SAM 2.1 needs the detector for text"
    with pytest.raises(InvalidInputError, match="follows text only"):
        video.remove(pipe, clip, box=(8, 14, 30, 34), output=tmp_path / "box.mkv", per_frame=True)
    with pytest.raises(InvalidInputError, match="follows text only"):
        video.replace_background(pipe, clip, with_="a beach", output=tmp_path / "salient.mkv", steps=1)
    # A model whose detections never pass its threshold finds the text on no frame: nothing written.
    strict = tmp_path / "strict"
    import shutil

    shutil.copytree(sam3_tracker, strict)
    config = json.loads((strict / "config.json").read_text())
    config |= {"score_threshold_detection": 1.5, "new_det_thresh": 1.5}
    (strict / "config.json").write_text(json.dumps(config))
    picky = Pipeline(models=tiny_models, tracker=strict, device="cpu")
    nothing = video.remove(picky, clip, "thing", output=tmp_path / "none.mkv", per_frame=True)
    assert not nothing.found and not (tmp_path / "none.mkv").exists()
    assert set(nothing.record["models"]) == {"tracker"}


def test_select_chooses_which_matches_to_follow(pipe, tiny_models, clip, tmp_path, capsys):
    import json

    from textinpaint.interfaces.cli import main

    every = video.track(pipe, clip, "a dog", box_threshold=0.0, end=2)
    best = video.track(pipe, clip, "a dog", box_threshold=0.0, end=2, select="best")
    assert len(every.ids) > 1 and best.ids == (1,)
    np.testing.assert_array_equal(best.mask(0, 1), every.mask(0, 1))  # the best match: the first in score order
    with pytest.raises(InvalidInputError, match="select"):
        video.track(pipe, clip, "a dog", box_threshold=0.0, select="most")
    argv = ["video", "remove", str(clip), "--find", "a dog", "--box-threshold", "0", "--select", "best", "--per-frame"]
    common = ["--models", str(tiny_models), "--device", "cpu", "--end", "3"]
    assert main([*argv, "-o", str(tmp_path / "out.mkv"), *common]) == 0
    assert "wrote" in capsys.readouterr().out
    assert json.loads((tmp_path / "out.json").read_text())["parameters"]["select"] == "best"
    assert main(["replay", str(tmp_path / "out.json"), "-o", str(tmp_path / "again.mkv"), "--device", "cpu"]) == 0


def test_a_kept_window_is_read_as_a_strangers_file(tmp_path):
    import io
    import zipfile

    from textinpaint.outputs import WINDOWS_FORMAT, read_arrays

    fine = tmp_path / "fine.npz"
    np.savez_compressed(fine, format=np.array(WINDOWS_FORMAT), crops=np.zeros((2, 3, 4, 3), np.uint8))
    assert read_arrays(fine)["format"] == WINDOWS_FORMAT and read_arrays(fine)["crops"].shape == (2, 3, 4, 3)
    header = io.BytesIO()  # a header promising a terabyte the file does not hold
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (10**12,)})
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w") as archive:
        archive.writestr("format.npy", header.getvalue() + b"\0" * 16)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, format=np.array([object()], dtype=object))
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not a zip")
    for stranger in (bomb, pickled, tmp_path / "junk.npz", tmp_path / "missing.npz"):
        assert read_arrays(stranger) == {}, stranger.name


def test_a_one_pixel_clip_is_tracked_and_painted(pipe, tmp_path):
    # The trackers' processors are told the frames are channels-last: a 1x1x3 frame would be read
    # as channels-first otherwise.
    tiny = write_clip(tmp_path / "dot.mkv", frames=3, width=1, height=1, codec="ffv1", audio=False)
    for options in ({"per_frame": True}, {"steps": 1, "window": 3, "overlap": 0}):
        edit = video.remove(pipe, tiny, box=(0, 0, 1, 1), output=tmp_path / f"{len(options)}.mkv", **options)
        assert edit.found and [f.rgb.shape for f in read_frames(edit.output)] == [(1, 1, 3)] * 3
