"""The command line, end to end on the tiny models, in a separate process as users run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import PIL.Image
import pytest
from conftest import noise

from textinpaint.interfaces.cli import main


@pytest.fixture
def run(capsys):
    """Run the CLI in this process (models stay cached); returns (exit status, stdout, stderr)."""

    def invoke(*args):
        status = main([str(a) for a in args])
        captured = capsys.readouterr()
        return SimpleNamespace(returncode=status, stdout=captured.out, stderr=captured.err)

    return invoke


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("photos") / "street.png"
    PIL.Image.fromarray(noise(75, 101)).save(path)
    return path


def test_replace_writes_the_edit_the_mask_and_the_overlay(run, tiny_models, photo, tmp_path):
    out, mask, overlay = (
        tmp_path / "out" / "edit.png",
        tmp_path / "out" / "edit.mask.png",
        tmp_path / "out" / "edit.overlay.png",
    )
    result = run(
        "replace",
        photo,
        "--find",
        "the red car",
        "--with",
        "a vintage blue pickup truck",
        "-o",
        out,
        "--models",
        tiny_models,
        "--device",
        "cpu",
        "--seed",
        "0",
        "--steps",
        "2",
        "--box-threshold",
        "0",
        "--text-threshold",
        "0",
        "--save-mask",
        "--save-overlay",
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {out} (seed 0; used" in result.stdout
    edited, source = np.asarray(PIL.Image.open(out)), np.asarray(PIL.Image.open(photo))
    assert edited.shape == source.shape
    region = np.asarray(PIL.Image.open(mask)) > 0
    assert region.any()
    np.testing.assert_array_equal(edited[~region], source[~region])
    assert PIL.Image.open(overlay).size == (101, 75)


def test_cli_and_api_give_the_same_image_for_the_same_seed(run, tiny_models, photo, tmp_path, pipe):
    out = tmp_path / "edit.png"
    run(
        "replace",
        photo,
        "--find",
        "a dog",
        "--with",
        "a cat",
        "-o",
        out,
        "--models",
        tiny_models,
        "--device",
        "cpu",
        "--seed",
        "4",
        "--steps",
        "2",
        "--box-threshold",
        "0",
        "--text-threshold",
        "0",
        "--select",
        "best",
    )
    edit = pipe.replace(photo, "a dog", "a cat", seed=4, steps=2, box_threshold=0, text_threshold=0, select="best")
    np.testing.assert_array_equal(np.asarray(PIL.Image.open(out)), np.asarray(edit.image))


def test_nothing_found_exits_3_and_writes_nothing(run, tiny_models, photo, tmp_path):
    out = tmp_path / "edit.png"
    result = run(
        "replace",
        photo,
        "--find",
        "a dog",
        "--with",
        "a cat",
        "-o",
        out,
        "--models",
        tiny_models,
        "--device",
        "cpu",
        "--box-threshold",
        "1",
    )
    assert result.returncode == 3 and "nothing matching the query was found" in result.stderr
    assert not out.exists()


def test_the_input_is_never_overwritten(run, tiny_models, photo):
    before = photo.read_bytes()
    result = run("replace", photo, "--find", "a dog", "--with", "a cat", "-o", photo, "--models", tiny_models)
    assert result.returncode == 1 and "the output would overwrite an input" in result.stderr
    assert photo.read_bytes() == before


def test_errors_are_one_clear_line_not_a_traceback(run, tiny_models, tmp_path):
    result = run(
        "replace",
        tmp_path / "missing.jpg",
        "--find",
        "a dog",
        "--with",
        "a cat",
        "-o",
        tmp_path / "o.png",
        "--models",
        tiny_models,
    )
    assert result.returncode == 1
    assert "ImageLoadError: image: no file at" in result.stderr and "Traceback" not in result.stderr


def test_detect_prints_json(run, tiny_models, photo):
    result = run(
        "detect",
        photo,
        "--find",
        "a dog. the red car",
        "--models",
        tiny_models,
        "--device",
        "cpu",
        "--box-threshold",
        "0",
        "--text-threshold",
        "0",
    )
    assert result.returncode == 0
    rows = json.loads(result.stdout)
    assert rows and {row["phrase"] for row in rows} <= {"a dog", "the red car"}
    assert all(len(row["xyxy"]) == 4 for row in rows)


@pytest.mark.heavy  # a fresh interpreter runs it (seconds)
def test_tiny_models_helper_writes_loadable_folders(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "textinpaint.testing", "tiny-models", tmp_path / "m"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "tiny models written" in result.stdout
    from textinpaint.stages import STAGES
    from textinpaint.testing import zoo_name

    assert {p.name for p in (tmp_path / "m").iterdir()} == {*STAGES, "zoo"}, "one folder per stage, and the zoo"
    assert (tmp_path / "m" / "inpainter" / "model_index.json").exists()
    assert (tmp_path / "m" / "fast" / "pytorch_lora_weights.safetensors").exists()
    expected = {zoo_name(stage.name, model.name) for stage in STAGES.values() for model in stage.models}
    assert {p.name for p in (tmp_path / "m" / "zoo").iterdir()} == expected
    assert "--detector" in result.stdout and "sam3" in result.stdout


@pytest.mark.heavy  # a fresh interpreter runs it (seconds)
def test_installed_console_script_runs_replace(tiny_models, photo, tmp_path):
    script = shutil.which("textinpaint", path=os.path.dirname(sys.executable)) or shutil.which("textinpaint")
    command = [script] if script else [sys.executable, "-m", "textinpaint"]
    out = tmp_path / "edit.png"
    result = subprocess.run(
        [
            *command,
            "replace",
            str(photo),
            "--find",
            "the red car",
            "--with",
            "a blue truck",
            "-o",
            str(out),
            "--models",
            str(tiny_models),
            "--device",
            "cpu",
            "--seed",
            "0",
            "--steps",
            "1",
            "--box-threshold",
            "0",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert PIL.Image.open(out).size == (101, 75)


def test_remove_subcommand(run, tiny_models, photo, tmp_path):
    out = tmp_path / "removed.png"
    result = run(
        "remove",
        photo,
        "--find",
        "a dog",
        "-o",
        out,
        "--models",
        tiny_models,
        "--device",
        "cpu",
        "--box-threshold",
        "0",
        "--text-threshold",
        "0",
        "--select",
        "best",
        "--mask-mode",
        "box",
    )
    assert result.returncode == 0, result.stderr
    assert PIL.Image.open(out).size == (101, 75)


def test_background_subcommand_with_a_mask_file(run, tiny_models, photo, tmp_path):
    mask = np.zeros((75, 101), np.uint8)
    mask[20:50, 30:70] = 255
    PIL.Image.fromarray(mask).save(tmp_path / "subject.png")
    out = tmp_path / "background.png"
    result = run(
        "background",
        photo,
        "--keep-mask",
        tmp_path / "subject.png",
        "--with",
        "a mountain road",
        "-o",
        out,
        "--models",
        tiny_models,
        "--device",
        "cpu",
        "--steps",
        "2",
        "--seed",
        "1",
        "--controlnet-scale",
        "0.5",
        "--no-matte",
    )
    assert result.returncode == 0, result.stderr
    edited, source = np.asarray(PIL.Image.open(out)), np.asarray(PIL.Image.open(photo))
    np.testing.assert_array_equal(edited[mask > 0], source[mask > 0])


def test_generate_subcommand(run, tiny_models, tmp_path):
    out = tmp_path / "gen.png"
    result = run(
        "generate",
        "a woman in a park",
        "-o",
        out,
        "--models",
        tiny_models,
        "--device",
        "cpu",
        "--size",
        "72x40",
        "--steps",
        "2",
        "--seed",
        "9",
        "--scheduler",
        "euler a",
    )
    assert result.returncode == 0, result.stderr
    assert "(seed 9)" in result.stdout
    assert PIL.Image.open(out).size == (72, 40)


def test_replace_with_refine_upscale_and_scheduler(run, tiny_models, photo, tmp_path):
    out = tmp_path / "fine.png"
    result = run(
        "replace",
        photo,
        "--find",
        "a dog",
        "--with",
        "a cat",
        "-o",
        out,
        "--models",
        tiny_models,
        "--device",
        "cpu",
        "--steps",
        "2",
        "--seed",
        "0",
        "--box-threshold",
        "0",
        "--select",
        "best",
        "--refine",
        "--upscale",
        "2",
        "--scheduler",
        "dpm++ 2m",
    )
    assert result.returncode == 0, result.stderr
    assert PIL.Image.open(out).size == (101, 75)


@pytest.mark.parametrize(
    "option",
    [
        ["--scheduler", "fastest"],
        ["--box-threshold", "35"],
        ["--text-threshold", "nan"],
        ["--steps", "0"],
        ["--guidance", "inf"],
        ["--strength", "1.5"],
        ["--select", "-1"],
        ["--dilate", "-3"],
        ["--batch-size", "0"],
    ],
)
def test_bad_option_values_stop_before_any_work_as_usage_errors(option, tiny_models, photo, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(
            [
                str(a)
                for a in [
                    "replace",
                    photo,
                    "--find",
                    "a dog",
                    "--with",
                    "a cat",
                    "-o",
                    tmp_path / "x.png",
                    "--models",
                    tiny_models,
                    "--device",
                    "cpu",
                    *option,
                ]
            ]
        )
    stderr = capsys.readouterr().err
    assert stopped.value.code == 2 and "textinpaint replace: error:" in stderr and "Traceback" not in stderr
    name = option[0].lstrip("-")
    assert name in stderr or name.replace("-", "_") in stderr
    assert not (tmp_path / "x.png").exists()


def test_a_missing_model_stops_the_whole_batch_once(tiny_models, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        PIL.Image.fromarray(noise(30, 30, seed=i)).save(folder / f"{i}.png")
    status = main(
        [
            "replace",
            str(folder),
            "--find",
            "a dog",
            "--with",
            "a cat",
            "-o",
            str(tmp_path / "out"),
            "--models",
            str(tiny_models),
            "--inpainter",
            str(tmp_path / "nowhere"),
            "--device",
            "cpu",
            "--box-threshold",
            "0",
        ]
    )
    stderr = capsys.readouterr().err
    assert status == 1 and stderr.count("could not be loaded") == 1 and "3 inputs" not in stderr


def test_a_gpu_device_without_a_gpu_is_a_typed_error(run, tiny_models, photo, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = run("detect", photo, "--find", "a dog", "--models", tiny_models, "--device", "cuda")
    assert result.returncode == 1 and "device='cuda' but this machine has no usable CUDA GPU" in result.stderr


def test_help_and_version_load_no_model_library():
    code = (
        "import sys\n"
        "from textinpaint.interfaces.cli import main\n"
        "for args in (['--help'], ['--version'], ['replace', '--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as stop:\n"
        "        assert stop.code == 0\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'supervision', 'cv2') if m in sys.modules]\n"
        "print('heavy:', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "heavy: []" in result.stdout and "textinpaint 0.1.0" in result.stdout
    assert "exit status: 0 done, 1 an error, 2 a usage error" in result.stdout
