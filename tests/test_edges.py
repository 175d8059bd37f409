"""The edges a real user hits first: any image size, masks, detections that merge, a batch that loses nothing."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageCms
import pytest
import supervision as sv
from conftest import noise

from textinpaint import ImageTooLargeError, InvalidInputError, Pipeline
from textinpaint.interfaces.cli import main
from textinpaint.masks import load_mask

SIZES = [(1, 1), (1, 2), (2, 1), (3, 200), (2, 500), (1, 3000), (3000, 1), (7, 2000), (5, 3)]
LOOSE = dict(box_threshold=0.0, text_threshold=0.0)

# ---- any image size -------------------------------------------------------------------------------


@pytest.mark.parametrize("height,width", SIZES)
def test_detect_and_segment_work_at_any_size_with_masks_of_the_image_shape(pipe, height, width):
    image = noise(height, width)
    found = pipe.detect(image, "a dog. the red car", **LOOSE)
    assert (
        (found.xyxy >= 0).all() and (found.xyxy[:, [0, 2]] <= width).all() and (found.xyxy[:, [1, 3]] <= height).all()
    )
    cut = pipe.segment(image, found)
    assert cut.mask.shape == (len(found), height, width) and cut.mask.dtype == bool


@pytest.mark.parametrize("height,width", SIZES)
def test_every_workflow_keeps_the_size_of_any_image(pipe, height, width):
    image = noise(height, width)
    mask = np.zeros((height, width), bool)
    mask[:, width // 3 : width // 2 + 1] = True
    results = [
        pipe.replace(image, "a dog", "a cat", steps=1, seed=0, **LOOSE).image,
        pipe.replace(image, "a dog", "a cat", steps=1, seed=0, mask_mode="box", **LOOSE).image,
        pipe.remove(image, "a dog", **LOOSE).image,
        pipe.inpaint(image, mask, "a cat", steps=1, seed=0).image,
        pipe.replace_background(image, None, "a beach", mask=mask, steps=1, seed=0).image,
        pipe.generate("a beach", size=(width, height), steps=1, seed=0).image,
    ]
    assert [r.size for r in results] == [(width, height)] * len(results)


def test_generate_honours_max_pixels(tiny_models):
    pipeline = Pipeline(models=tiny_models, device="cpu", max_pixels=10_000)
    with pytest.raises(ImageTooLargeError, match=r"size 200x100 is 20000 pixels, over max_pixels=10000"):
        pipeline.generate("x", size=(200, 100)).image


# ---- masks mean the same as arrays and as images -----------------------------------------------------


def as_png(array):
    buffer = io.BytesIO()
    PIL.Image.fromarray(array).save(buffer, format="PNG")
    buffer.seek(0)
    return PIL.Image.open(buffer)


@pytest.mark.parametrize(
    "values",
    [
        np.array([[0, 1], [1, 0]], np.uint8),
        np.array([[0, 255], [255, 0]], np.uint8),
        np.array([[0.0, 1.0], [1.0, 0.0]], np.float32),
        np.array([[False, True], [True, False]]),
        np.array([[3, 200], [128, 90]], np.uint8) * np.array([[0, 1], [1, 0]], np.uint8),
    ],
    ids=["ones", "255", "float", "bool", "grey"],
)
def test_a_mask_means_the_same_as_an_array_and_as_an_image(values, tmp_path):
    expected = np.array([[False, True], [True, False]])
    np.testing.assert_array_equal(load_mask(values, 2, 2), expected)
    if values.dtype != np.float32:
        np.testing.assert_array_equal(load_mask(as_png(values), 2, 2), expected)
        PIL.Image.fromarray(values).save(tmp_path / "m.png")
        np.testing.assert_array_equal(load_mask(tmp_path / "m.png", 2, 2), expected)


def test_a_mask_with_nan_is_refused():
    with pytest.raises(InvalidInputError, match="mask holds NaN"):
        load_mask(np.full((2, 2), np.nan), 2, 2)


# ---- detections work with supervision ----------------------------------------------------------------


def test_results_of_two_images_and_two_queries_merge(pipe):
    first = pipe.detect(noise(40, 50), "a dog", **LOOSE)
    second = pipe.detect(noise(60, 30, seed=1), "the red car", **LOOSE)
    merged = sv.Detections.merge([first, second])
    assert len(merged) == len(first) + len(second)
    assert set(merged.data["class_name"]) == {"a dog", "the red car"}
    nothing = pipe.detect(noise(40, 50), "a dog", box_threshold=1.0)
    assert "best_score" in nothing.metadata and len(sv.Detections.merge([first, nothing])) == len(first)


def test_supervision_label_annotator_shows_the_phrases_without_arguments(pipe):
    image = noise(80, 80)
    found = pipe.detect(image, "a dog", **LOOSE)[:1]
    labelled = sv.LabelAnnotator().annotate(image.copy(), found)
    assert (labelled != image).any()
    assert list(found.data["class_name"]) == ["a dog"]


# ---- the batch CLI never loses or overwrites work -------------------------------------------------------


def run(*args):
    return main([str(a) for a in args])


@pytest.fixture
def args(tiny_models):
    return [
        "--find",
        "a dog",
        "--with",
        "a cat",
        "--steps",
        "1",
        "--seed",
        "2",
        "--box-threshold",
        "0",
        "--text-threshold",
        "0",
        "--models",
        tiny_models,
        "--device",
        "cpu",
    ]


def picture(path, seed=0, size=(24, 32), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.fromarray(noise(*size, seed=seed)).convert(mode).save(path)
    return path


def test_same_named_files_from_two_folders_are_told_apart(tmp_path, args, capsys):
    picture(tmp_path / "d1" / "x.png", 1)
    picture(tmp_path / "d2" / "x.png", 2)
    assert run("replace", tmp_path / "d1", tmp_path / "d2", "-o", tmp_path / "out", *args) == 0
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png")) == [
        "d1/x.png",
        "d2/x.png",
    ]


def test_two_inputs_that_would_share_an_output_are_refused_before_any_work(tmp_path, args, capsys):
    picture(tmp_path / "in" / "p.png")
    picture(tmp_path / "in" / "p.jpg")
    assert run("replace", tmp_path / "in", "-o", tmp_path / "out", *args) == 1
    assert "would overwrite each other's output" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_output_folder_inside_the_input_folder_is_not_read_back(tmp_path, args, capsys):
    picture(tmp_path / "in" / "a.png")
    assert run("replace", tmp_path / "in", "-o", tmp_path / "in" / "edited", *args) == 0
    assert run("replace", tmp_path / "in", "-o", tmp_path / "in" / "edited", *args) == 0
    assert "1 inputs: 0 done, 1 skipped" in capsys.readouterr().err
    assert not (tmp_path / "in" / "edited" / "edited").exists()


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_an_output_that_is_the_input_by_a_link_is_refused(tmp_path, args, capsys, link):
    source = picture(tmp_path / "a.png")
    before = source.read_bytes()
    target = tmp_path / "out.png"
    (os.link if link == "hard" else os.symlink)(source, target)
    assert run("replace", source, "-o", target, *args) == 1
    assert "the output would overwrite an input" in capsys.readouterr().err
    assert source.read_bytes() == before


def test_a_crash_while_writing_leaves_no_file_that_looks_finished(tmp_path, args, capsys, monkeypatch):
    picture(tmp_path / "in" / "a.png")
    picture(tmp_path / "in" / "b.png", 1)
    original = PIL.Image.Image.save

    def half_then_fail(self, fp, *a, **k):
        name = os.readlink(f"/proc/self/fd/{fp.fileno()}") if isinstance(fp, io.IOBase) else str(fp)
        if ".a.png." in name:  # the temporary file for a.png
            fp.write(b"\x89PNG partial")
            raise OSError("No space left on device")
        return original(self, fp, *a, **k)

    monkeypatch.setattr(PIL.Image.Image, "save", half_then_fail)
    assert run("replace", tmp_path / "in", "-o", tmp_path / "out", *args) == 1
    assert "No space left on device" in capsys.readouterr().err
    left = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert left == ["b.json", "b.png", "failures.json"], "a.png was neither written nor left half-written; b went on"
    (failure,) = json.loads((tmp_path / "out" / "failures.json").read_text())["failures"]
    assert failure["input"].endswith("a.png") and failure["error"] == "OutputError"
    monkeypatch.setattr(PIL.Image.Image, "save", original)
    assert run("replace", tmp_path / "in", "-o", tmp_path / "out", *args) == 0
    assert "2 inputs: 1 done, 1 skipped" in capsys.readouterr().err
    assert not (tmp_path / "out" / "failures.json").exists(), "a clean run clears the failures table"


def test_resume_is_keyed_by_the_parameters(tmp_path, args, capsys):
    picture(tmp_path / "in" / "a.png")
    out = tmp_path / "out"
    assert run("replace", tmp_path / "in", "-o", out, *args) == 0
    first = (out / "a.png").read_bytes()
    capsys.readouterr()
    changed = [("a fox" if a == "a cat" else a) for a in args]
    assert run("replace", tmp_path / "in", "-o", out, *changed) == 0
    assert "redone: the parameters differ" in capsys.readouterr().err
    assert (out / "a.png").read_bytes() != first
    assert json.loads((out / "a.json").read_text())["parameters"]["with_"] == "a fox"
    assert run("replace", tmp_path / "in", "-o", out, *changed) == 0
    assert "1 skipped" in capsys.readouterr().err


def test_nothing_found_is_remembered(tmp_path, args, capsys):
    picture(tmp_path / "in" / "a.png")
    strict = [("1" if a == "0" and i and args[i - 1] == "--box-threshold" else a) for i, a in enumerate(args)]
    assert run("replace", tmp_path / "in", "-o", tmp_path / "out", *strict) == 3
    capsys.readouterr()
    assert run("replace", tmp_path / "in", "-o", tmp_path / "out", *strict) == 0
    err = capsys.readouterr().err
    assert "1 skipped" in err and not (tmp_path / "out" / "a.png").exists()


def test_ctrl_c_stops_cleanly_with_a_summary(tmp_path, args, capsys, monkeypatch):
    for i in range(3):
        picture(tmp_path / "in" / f"{i}.png", i)
    calls = []
    import textinpaint.workflows.replace as replacing

    original = replacing.replace

    def interrupt_second(self, image, *a, **k):
        calls.append(1)
        if Path(image).name == "1.png":  # Ctrl+C while the second picture is worked on
            raise KeyboardInterrupt
        return original(self, image, *a, **k)

    monkeypatch.setattr(replacing, "replace", interrupt_second)  # the workflow table's entry
    assert run("replace", tmp_path / "in", "-o", tmp_path / "out", *args) == 130
    err = capsys.readouterr().err
    assert "interrupted after 1 inputs: 1 done" in err and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.json", "0.png"]


def test_rgba_written_as_jpeg_is_flattened_and_colour_profile_and_exif_are_kept(tmp_path, args, capsys):
    source = tmp_path / "in" / "a.png"
    source.parent.mkdir()
    image = PIL.Image.fromarray(np.dstack([noise(24, 32), np.full((24, 32), 128, np.uint8)]), "RGBA")
    exif = PIL.Image.Exif()
    exif[0x010F] = "TestCamera"  # Make
    exif[0x0112] = 1  # orientation: upright
    profile = PIL.ImageCms.ImageCmsProfile(PIL.ImageCms.createProfile("sRGB")).tobytes()
    image.save(source, exif=exif, icc_profile=profile)
    assert run("replace", source.parent, "-o", tmp_path / "out", "--format", "jpg", *args) == 0
    with PIL.Image.open(tmp_path / "out" / "a.jpg") as written:
        assert written.mode == "RGB"
        assert written.info.get("icc_profile") == profile
        assert written.getexif().get(0x010F) == "TestCamera"
    assert run("replace", source, "-o", tmp_path / "b.png", *args) == 0
    with PIL.Image.open(tmp_path / "b.png") as written:
        assert written.info.get("icc_profile") == profile and written.getexif().get(0x010F) == "TestCamera"


def test_a_file_named_twice_is_one_input(tmp_path, args, capsys):
    source = picture(tmp_path / "in" / "a.png")
    again = tmp_path / "in" / "sub" / ".." / "a.png"
    (tmp_path / "in" / "sub").mkdir()
    assert run("replace", source, again, str(tmp_path / "in" / "*.png"), "-o", tmp_path / "out", *args) == 0
    err = capsys.readouterr().err
    assert "[1/1]" in err and ": done" in err and "[1/2]" not in err


def test_an_exif_rotated_input_keeps_its_other_exif_but_not_the_orientation(tmp_path, args):
    source = tmp_path / "rotated.jpg"
    exif = PIL.Image.Exif()
    exif[0x010F] = "TestCamera"
    exif[0x0112] = 6  # rotated 90 degrees: the edit happens upright
    PIL.Image.fromarray(noise(24, 32)).save(source, exif=exif)
    assert run("replace", source, "-o", tmp_path / "out.png", *args) == 0
    with PIL.Image.open(tmp_path / "out.png") as written:
        assert written.size == (24, 32), "upright"
        kept = written.getexif()
        assert kept.get(0x010F) == "TestCamera" and kept.get(0x0112, 1) == 1


@pytest.mark.parametrize(
    "command,absent",
    [
        ("replay", ["--models", "--dtype", "--detector", "--inpainter"]),
        ("download", ["--device", "--dtype"]),
        ("detect", ["--inpainter", "--segmenter", "--steps"]),
        ("remove", ["--inpainter", "--steps", "--guidance"]),
    ],
)
def test_each_subcommand_lists_only_the_flags_it_uses(command, absent, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    assert not [flag for flag in absent if f"{flag} " in text or f"{flag}\n" in text]
