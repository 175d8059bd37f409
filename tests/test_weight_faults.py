"""Every weight-file fault in every stage is our typed error, naming the folder and the file."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys

import pytest

from textinpaint import ModelKindError, Pipeline, TextInpaintError, WeightsNotFoundError

WEIGHTS = {
    "detector": "model.safetensors",
    "segmenter": "model.safetensors",
    "inpainter": "unet/diffusion_pytorch_model.safetensors",
    "controlnet": "diffusion_pytorch_model.safetensors",
    "depth": "model.safetensors",
    "upscaler": "unet/diffusion_pytorch_model.safetensors",
    "remover": "big-lama.pt",
}


class Payload:
    """A pickle that would run a command if it were unpickled without weights_only."""

    def __reduce__(self):
        return (os.system, ("echo UNPICKLED",))


def damage(file, fault):
    data = file.read_bytes()
    if fault == "truncated":
        file.write_bytes(data[: len(data) // 2])
    elif fault == "garbage":
        file.write_bytes(b"not weights at all " * 50)
    else:  # a pickle .bin in place of the safetensors
        file.unlink()
        file.with_suffix(".bin").write_bytes(pickle.dumps(Payload()))


@pytest.mark.parametrize("fault", ["truncated", "garbage", "pickle"])
@pytest.mark.parametrize("stage", list(WEIGHTS))
def test_a_damaged_weight_file_is_named(stage, fault, tiny_models, tmp_path, capfd):
    if stage == "remover" and fault == "pickle":
        pytest.skip("the remover is a TorchScript file; a pickle there is the garbage case")
    folder = tmp_path / stage
    shutil.copytree(tiny_models / stage, folder)
    damage(folder / WEIGHTS[stage], fault)
    with pytest.raises((ModelKindError, WeightsNotFoundError)) as raised:
        Pipeline(**{stage: folder}, device="cpu").model(stage)
    assert str(folder) in str(raised.value)
    if stage != "remover":
        assert WEIGHTS[stage].rsplit(".", 1)[0] in str(raised.value), "the file is named"
    assert "UNPICKLED" not in capfd.readouterr().out


@pytest.mark.parametrize(
    "stage,other",
    [
        ("inpainter", "upscaler"),
        ("upscaler", "inpainter"),
        ("detector", "segmenter"),
        ("depth", "detector"),
        ("controlnet", "inpainter"),
        ("remover", "detector"),
    ],
)
def test_a_folder_of_another_stage_is_our_error(stage, other, tiny_models):
    with pytest.raises(TextInpaintError, match=stage):
        Pipeline(**{stage: tiny_models / other}, device="cpu").model(stage)


@pytest.mark.heavy  # a fresh interpreter runs it (seconds)
def test_the_console_script_reports_usage_errors_and_collisions(tiny_models, tmp_path):
    import numpy as np
    import PIL.Image

    script = shutil.which("textinpaint", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "textinpaint"]
    (tmp_path / "in").mkdir()
    for name in ("p.png", "p.jpg"):
        PIL.Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "in" / name)

    def run(*args):
        return subprocess.run([*command, *map(str, args)], capture_output=True, text=True)

    usage = run(
        "replace", tmp_path / "in", "--find", "x", "--with", "y", "-o", tmp_path / "out", "--box-threshold", "35"
    )
    assert usage.returncode == 2 and "box_threshold must be a number in [0, 1]; got 35" in usage.stderr
    missing = run(
        "replace",
        tmp_path / "in",
        "--find",
        "x",
        "--with",
        "y",
        "-o",
        tmp_path / "out",
        "--models",
        tmp_path / "nowhere",
    )
    assert missing.returncode == 2 and "--models must be a folder" in missing.stderr
    clash = run(
        "replace",
        tmp_path / "in",
        "--find",
        "x",
        "--with",
        "y",
        "-o",
        tmp_path / "out",
        "--models",
        tiny_models,
        "--device",
        "cpu",
    )
    assert clash.returncode == 1 and "would overwrite each other's output" in clash.stderr
    assert "Traceback" not in usage.stderr + missing.stderr + clash.stderr
    assert run("--version").stdout.startswith("textinpaint ")
