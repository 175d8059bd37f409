"""The first hour: saving with the record, a short repr and notebook display, a default pipeline
set from code or the environment, short-name typos caught before any network."""

from __future__ import annotations

import io

import numpy as np
import PIL.Image
import pytest
from conftest import noise

import textinpaint
from textinpaint import OutputRefusedError, Pipeline
from textinpaint.interfaces.cli import main


@pytest.fixture(scope="module")
def edited(tiny_models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("first-hour")
    source = folder / "street.png"
    PIL.Image.fromarray(noise(40, 56, seed=5)).save(source)
    pipeline = Pipeline(models=tiny_models, device="cpu")
    edit = pipeline.replace(str(source), "a dog", "a cat", seed=2, steps=1, box_threshold=0.0, text_threshold=0.0)
    return folder, source, edit


def test_edit_save_then_cli_replay_is_bit_exact(edited, capsys):
    folder, _, edit = edited
    out = edit.save(folder / "out.png")
    assert (folder / "out.json").is_file()
    assert main(["replay", str(out), "-o", str(folder / "again.png"), "--device", "cpu"]) == 0
    np.testing.assert_array_equal(np.asarray(PIL.Image.open(folder / "again.png")), np.asarray(edit.image))


def test_edit_save_never_writes_over_the_input_or_a_stranger_file(edited):
    folder, source, edit = edited
    with pytest.raises(OutputRefusedError, match="would overwrite an input"):
        edit.save(source)
    mine = folder / "mine.png"
    PIL.Image.fromarray(noise(4, 4)).save(mine)
    with pytest.raises(OutputRefusedError, match="not an image textinpaint wrote"):
        edit.save(mine)
    with pytest.raises(textinpaint.InvalidInputError, match="path must name an image file"):
        edit.save(folder / "out.txt")


def test_an_edit_shows_as_one_short_line_and_as_a_picture_in_a_notebook(edited):
    _, _, edit = edited
    text = repr(edit)
    assert text.startswith("Edit(replace, 56x40, ") and "seed 2" in text and len(text) < 200
    shown = PIL.Image.open(io.BytesIO(edit._repr_png_()))
    np.testing.assert_array_equal(np.asarray(shown), np.asarray(edit.image))
    page = edit._repr_html_()
    assert page.count("<img") == 2 and "before" in page and "after" in page


def test_the_default_pipeline_is_set_from_code_or_the_environment(tiny_models, monkeypatch):
    monkeypatch.setenv("TEXTINPAINT_MODELS", str(tiny_models))
    monkeypatch.setenv("TEXTINPAINT_DEVICE", "cpu")
    try:
        assert textinpaint.configure().models == str(tiny_models)
        assert str(textinpaint.default_pipeline().device) == "cpu"
        chosen = Pipeline(device="cpu")
        assert textinpaint.configure(chosen) is chosen and textinpaint.default_pipeline() is chosen
    finally:
        monkeypatch.delenv("TEXTINPAINT_MODELS")
        monkeypatch.delenv("TEXTINPAINT_DEVICE")
        textinpaint.configure()


def test_a_mistyped_short_name_is_caught_before_any_network_with_did_you_mean(tmp_path, capsys):
    picture = tmp_path / "a.png"
    PIL.Image.fromarray(noise(8, 8)).save(picture)
    with pytest.raises(SystemExit) as stop:
        main(
            [
                "replace",
                str(picture),
                "--find",
                "car",
                "--with",
                "truck",
                "-o",
                str(tmp_path / "o.png"),
                "--detector",
                "bse",
            ]
        )
    assert stop.value.code == 2
    assert "did you mean 'base'" in capsys.readouterr().err


def _offline(tmp_path, *args):
    import os
    import subprocess
    import sys

    picture = tmp_path / "photo.jpg"
    PIL.Image.fromarray(noise(16, 16)).save(picture)
    env = {**os.environ, "HF_HOME": str(tmp_path / "empty-cache"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "textinpaint", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.heavy  # a fresh interpreter runs it (seconds)
def test_offline_without_weights_one_message_names_every_missing_model_and_three_ways_forward(tmp_path):
    result = _offline(tmp_path, "replace", "photo.jpg", "--find", "car", "--with", "truck", "-o", "out.png")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    message = result.stderr
    for repo in ("IDEA-Research/grounding-dino-tiny", "facebook/sam-vit-huge", "stable-diffusion-inpainting"):
        assert repo in message
    assert "textinpaint download" in message and "--models DIR" in message and "tiny-models" in message
    assert message.count("textinpaint: error") == 1


@pytest.mark.heavy  # a fresh interpreter runs it (seconds)
def test_offline_download_says_one_line_per_model(tmp_path):
    result = _offline(tmp_path, "download", "--stages", "detector,segmenter")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("textinpaint: error")]
    assert len(lines) == 2 and "cannot be reached" in lines[0]


@pytest.mark.parametrize(
    "argv,suggestion",
    [
        (["replce"], "did you mean replace?"),
        (["replace", "a.png", "--with", "x", "-o", "o.png", "--fnd", "car"], "did you mean --find?"),
    ],
)
def test_a_mistyped_flag_or_subcommand_gets_did_you_mean(argv, suggestion, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and suggestion in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", ["replace", "remove", "background", "inpaint", "generate", "segment", "detect", "replay", "report"]
)
def test_every_subcommand_shows_an_example_in_its_help(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and f"textinpaint {command}" in text


@pytest.mark.parametrize("inputs", [["empty/"], ["nothing-*.png"], ["notes/"]])
def test_inputs_that_match_no_picture_are_an_error_not_a_silent_success(inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no pictures here")
    status = main(["replace", *inputs, "--find", "car", "--with", "truck", "-o", "out/"])
    assert status == 1 and "no pictures matched the inputs" in capsys.readouterr().err


def test_a_transparent_picture_written_as_jpeg_says_it_is_flattened(tmp_path, caplog):
    from textinpaint.outputs import save_image

    save_image(PIL.Image.new("RGBA", (4, 4), (255, 0, 0, 128)), tmp_path / "a.jpg")
    assert "flattened onto white" in caplog.text


def test_models_prints_an_aligned_table_with_a_header(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["stage", "name", "Hub"]
    starts = {line.index("Apache-2.0") for line in lines if "Apache-2.0" in line}
    assert len(starts) == 1, "the licence column is aligned"


def _pictures_and_masks(tmp_path, names=("a", "b")):
    pictures, masks = tmp_path / "pictures", tmp_path / "masks"
    pictures.mkdir()
    masks.mkdir()
    for i, name in enumerate(names):
        PIL.Image.fromarray(noise(32, 40, seed=i)).save(pictures / f"{name}.jpg", quality=95)
        region = np.zeros((32, 40), np.uint8)
        region[4 + 4 * i : 20, 6:26] = 255
        PIL.Image.fromarray(region).save(masks / f"{name}.png")
    return pictures, masks


@pytest.mark.parametrize("command", ["inpaint", "remove", "replace"])
def test_your_own_masks_from_a_folder_with_resume_sidecars_and_replay(command, tiny_models, tmp_path, capsys):
    pictures, masks = _pictures_and_masks(tmp_path)
    out = tmp_path / "out"
    words = {
        "inpaint": ["--prompt", "a red door", "--steps", "1", "--seed", "2"],
        "remove": [],
        "replace": ["--with", "a red door", "--steps", "1", "--seed", "2"],
    }[command]
    args = [
        command,
        str(pictures),
        "--mask-dir",
        str(masks),
        "-o",
        str(out),
        "--models",
        str(tiny_models),
        "--device",
        "cpu",
        *words,
    ]
    assert main(args) == 0
    for name in ("a", "b"):
        written = np.asarray(PIL.Image.open(out / f"{name}.png"))
        source = np.asarray(PIL.Image.open(pictures / f"{name}.jpg"))
        region = np.asarray(PIL.Image.open(masks / f"{name}.png")) > 0
        sidecar = textinpaint.read_sidecar(out / f"{name}.json")
        assert sidecar["mask"] is not None and sidecar["workflow"] == command
        grown = np.zeros_like(region)  # the mask's box grown past its blend band: outside it, the input
        ys, xs = np.nonzero(region)
        grown[max(0, ys.min() - 12) : ys.max() + 13, max(0, xs.min() - 12) : xs.max() + 13] = True
        np.testing.assert_array_equal(written[~grown], source[~grown])
    capsys.readouterr()
    assert main(args) == 0 and "2 skipped" in capsys.readouterr().err  # resume: done before, same request
    again = tmp_path / "again.png"
    assert main(["replay", str(out / "b.json"), "-o", str(again), "--device", "cpu"]) == 0
    np.testing.assert_array_equal(np.asarray(PIL.Image.open(again)), np.asarray(PIL.Image.open(out / "b.png")))


def test_a_picture_without_its_mask_fails_alone_and_the_batch_goes_on(tiny_models, tmp_path, capsys):
    pictures, masks = _pictures_and_masks(tmp_path)
    (masks / "b.png").unlink()
    status = main(
        [
            "inpaint",
            str(pictures),
            "--mask-dir",
            str(masks),
            "--prompt",
            "x",
            "--steps",
            "1",
            "-o",
            str(tmp_path / "out"),
            "--models",
            str(tiny_models),
            "--device",
            "cpu",
        ]
    )
    err = capsys.readouterr().err
    assert status == 1 and "no mask for b.jpg" in err and (tmp_path / "out" / "a.png").is_file()


def test_inpaint_needs_a_mask(tmp_path, capsys):
    PIL.Image.fromarray(noise(8, 8)).save(tmp_path / "a.png")
    with pytest.raises(SystemExit) as stop:
        main(["inpaint", str(tmp_path / "a.png"), "--prompt", "x", "-o", str(tmp_path / "o.png")])
    assert stop.value.code == 2 and "--mask FILE or --mask-dir DIR" in capsys.readouterr().err


def test_the_app_offers_installed_models_and_switches_to_the_one_chosen(tiny_models, tmp_path):
    pytest.importorskip("gradio")
    from textinpaint.interfaces.app import _installed, _switched
    from textinpaint.testing import write_inpainter

    pipe = Pipeline(models=tiny_models, device="cpu")
    assert _installed(pipe, "inpainter")[0] == pipe.source("inpainter")
    other = write_inpainter(tmp_path / "another-inpainter")
    switched = _switched(pipe, "inpainter", str(other))
    assert switched.source("inpainter") == str(other)
    assert switched.source("detector") == pipe.source("detector") and switched.device == pipe.device
    edit = switched.inpaint(noise(32, 32), np.ones((32, 32), bool), "a cat", steps=1, seed=0)
    assert edit.record.models["inpainter"] == str(other.resolve())
