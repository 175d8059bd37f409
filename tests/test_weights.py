"""Real-model plumbing offline: a Hugging Face cache laid out exactly as `hf download` leaves it.

Tiny weights sit under the real repo ids and the real file names (the fp16-variant names the
weights guide's recipe fetches included), and every stage loads from it with no network, through
the default short names, as a user's first run after the recipe does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from textinpaint.models import variant_options, weights_status
from textinpaint.stages import STAGES

COMMIT = "0123456789abcdef0123456789abcdef01234567"
FP16 = {
    "diffusion_pytorch_model.safetensors": "diffusion_pytorch_model.fp16.safetensors",
    "model.safetensors": "model.fp16.safetensors",
}


def cache_repo(hub: Path, repo: str, source: Path, *, fp16: str = "no") -> Path:
    """Put ``source``'s files into ``hub`` as the Hub cache does: blobs, a snapshot of symlinks, refs/main.

    ``fp16``: "no" keeps the file names; "only" renames the weights to their fp16-variant names
    (what `--include "*fp16.safetensors"` fetches); "both" keeps both names.
    """
    root = hub / f"models--{repo.replace('/', '--')}"
    snapshot = root / "snapshots" / COMMIT
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = file.relative_to(source)
        names = [relative]
        if relative.name in FP16 and fp16 != "no":
            variant = relative.with_name(FP16[relative.name])
            names = [variant] if fp16 == "only" else [relative, variant]
        data = file.read_bytes()
        blob = root / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        for name in names:
            link = snapshot / name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(blob, link.parent))
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(COMMIT)
    return snapshot


@pytest.fixture(scope="module")
def hub(tiny_models, tmp_path_factory):
    hub = tmp_path_factory.mktemp("hf") / "hub"
    layout = {"inpainter": "only", "upscaler": "only", "controlnet": "both"}
    for stage in STAGES.values():
        scheme, colon, name = stage.default_repo.partition(":")
        if colon:  # a model kept outside the Hub, where its own library keeps it (rembg's folder)
            target = hub.parent / scheme / "models" / name / f"{name}.onnx"
            target.parent.mkdir(parents=True)
            shutil.copy(next((tiny_models / stage.name).glob("*.onnx")), target)
            continue
        cache_repo(hub, stage.default_repo, tiny_models / stage.name, fp16=layout.get(stage.name, "no"))
    return hub


def offline_env(hub: Path) -> dict[str, str]:
    """The test cache as the only place models are: the Hub cache and rembg's folder beside it."""
    return {**os.environ, "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1", "REMBG_HOME": str(hub.parent / "rembg")}


def run_offline(hub: Path, code: str) -> subprocess.CompletedProcess:
    env = {**offline_env(hub), "HF_HOME": str(hub.parent)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)


def test_info_finds_every_default_model_in_the_cache(hub):
    script = shutil.which("textinpaint", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "textinpaint"]
    env = offline_env(hub)
    result = subprocess.run([*command, "info", "--json", "--device", "cpu"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["models"]
    assert {stage: row["present"] for stage, row in report.items()} == dict.fromkeys(STAGES, True), report


@pytest.mark.heavy  # 16 s: every stage, in a subprocess
def test_every_stage_loads_and_runs_offline_from_the_recipe_cache(hub):
    code = """
import numpy as np
from textinpaint import Pipeline
pipe = Pipeline(device="cpu")
image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
loose = dict(box_threshold=0.0, text_threshold=0.0)
edit = pipe.replace(image, "a dog", "a cat", steps=2, seed=1, upscale=2, **loose)
removed = pipe.remove(image, "a dog", **loose)
subject = np.zeros((48, 64), bool)
subject[10:30, 20:40] = True
scene = pipe.replace_background(image, None, "a beach", mask=subject, steps=2, seed=1)
cut = pipe.cutout(image)
assert scene.mask.any() and cut.found and cut.record.models["subject"] == "rembg:birefnet-general"
assert edit.found and removed.found and scene.found
print(sorted(pipe.loaded()))
print(edit.to_dict()["models"]["inpainter"])
"""
    result = run_offline(hub, code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "['controlnet', 'depth', 'detector', 'inpainter', 'matte', 'remover', 'segmenter', 'subject', 'upscaler']"
        in result.stdout
    )
    assert f"'revision': '{COMMIT}'" in result.stdout, "the sidecar names the cached snapshot's commit"


def test_fp16_variant_files_are_picked_when_they_are_what_is_there(hub):
    import huggingface_hub.constants
    import torch

    folder = next((hub / "models--stable-diffusion-v1-5--stable-diffusion-inpainting" / "snapshots").iterdir())
    assert variant_options("inpainter", str(folder), torch.float32) == {"variant": "fp16"}
    both = next((hub / "models--lllyasviel--control_v11f1p_sd15_depth" / "snapshots").iterdir())
    assert variant_options("controlnet", str(both), torch.float32) == {}
    assert variant_options("controlnet", str(both), torch.float16) == {"variant": "fp16"}
    assert huggingface_hub.constants.HF_HUB_CACHE != str(hub)  # this process never reads the test cache


def test_info_names_missing_and_damaged_weight_files(tiny_models, tmp_path):
    folder = tmp_path / "inpainter"
    shutil.copytree(tiny_models / "inpainter", folder)
    assert weights_status("inpainter", str(folder)) == (True, "")
    (folder / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    assert weights_status("inpainter", str(folder)) == (False, "no weights in unet")
    (folder / "unet" / "diffusion_pytorch_model.fp16.safetensors").write_bytes(b"garbage" * 10)
    ok, problem = weights_status("inpainter", str(folder))
    assert not ok and "diffusion_pytorch_model.fp16.safetensors' is damaged" in problem


def test_models_lists_every_short_name_and_which_are_cached(hub):
    script = shutil.which("textinpaint", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "textinpaint"]
    env = offline_env(hub)
    result = subprocess.run([*command, "models", "--json"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    expected = [(stage.name, model.name) for stage in STAGES.values() for model in stage.models]
    assert [(row["stage"], row["name"]) for row in rows] == expected
    defaults = {stage.default_repo for stage in STAGES.values()}
    for row in rows:
        stage = STAGES[row["stage"]]
        default = row["name"] == stage.default
        cached = row["repo"] in defaults  # the hub holds the defaults (a repo may serve two stages)
        assert row["default"] is default and row["cached"] is cached, row
        assert row["repo"] and "GB" in row["size"] and row["licence"]
        assert (row["bytes_on_disk"] or 0) > 0 if cached else row["bytes_on_disk"] is None
    text = subprocess.run([*command, "models"], capture_output=True, text=True, env=env)
    assert text.returncode == 0 and "(default)" in text.stdout and "GB on disk" in text.stdout
