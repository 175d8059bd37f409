"""The batch CLI over a folder with good, corrupt and non-image files: nothing lost, resumable, reproducible."""

from __future__ import annotations

import json
import os

import numpy as np
import PIL.Image
import pytest
from conftest import noise

from textinpaint import Pipeline
from textinpaint.interfaces.batch import collect, plan
from textinpaint.interfaces.cli import main


@pytest.fixture
def album(tmp_path):
    root = tmp_path / "album"
    (root / "trip").mkdir(parents=True)
    PIL.Image.fromarray(noise(60, 80, seed=1)).save(root / "a.png")
    PIL.Image.fromarray(noise(50, 70, seed=2)).save(root / "trip" / "b.jpg")
    PIL.Image.fromarray(noise(40, 40, seed=3)).save(root / "trip" / "c.png")
    good = (root / "trip" / "c.png").read_bytes()
    (root / "trip" / "broken.png").write_bytes(good[: len(good) // 3])  # truncated
    (root / "notes.jpg").write_text("not a picture")
    (root / "readme.txt").write_text("ignored: not an image name")
    return root


def cli(capsys, *args):
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


REPLACE = [
    "replace",
    "--find",
    "a dog",
    "--with",
    "a cat",
    "--steps",
    "2",
    "--seed",
    "5",
    "--box-threshold",
    "0",
    "--text-threshold",
    "0",
    "--device",
    "cpu",
]


def test_a_folder_batch_reports_bad_files_and_keeps_going(album, tmp_path, tiny_models, capsys):
    out = tmp_path / "out"
    status, stdout, stderr = cli(capsys, *REPLACE, album, "-o", out, "--models", tiny_models)
    assert status == 1, "something failed, so the exit status says so"
    assert (out / "a.png").exists() and (out / "trip" / "b.png").exists() and (out / "trip" / "c.png").exists()
    assert not (out / "readme.png").exists()
    assert "5 inputs: 3 done, 0 skipped, 0 nothing, 2 failed" in stderr
    assert "broken.png: ImageLoadError" in stderr and "notes.jpg: ImageLoadError" in stderr
    assert "[5/5]" in stderr, "plain progress lines when not on a terminal"
    edited = np.asarray(PIL.Image.open(out / "trip" / "b.png"))
    assert edited.shape == (50, 70, 3)


def test_sidecars_hold_everything_to_reproduce_the_image(album, tmp_path, tiny_models, capsys):
    out = tmp_path / "out"
    cli(capsys, *REPLACE, album / "trip" / "c.png", album / "a.png", "-o", out, "--models", tiny_models)
    sidecar = json.loads((out / "c.json").read_text())
    assert sidecar["workflow"] == "replace" and sidecar["input"]["path"].endswith("c.png")
    assert sidecar["version"] == 3 and sidecar["input"]["hash_of"] == "file" and len(sidecar["input"]["sha256"]) == 64
    assert sidecar["parameters"]["seed"] == 5 and sidecar["parameters"]["find"] == "a dog"
    assert sidecar["parameters"]["steps"] == 2 and "guidance" in sidecar["parameters"]
    assert set(sidecar["models"]) == {"detector", "segmenter", "inpainter"}
    assert sidecar["detections"] and {"phrase", "confidence", "xyxy"} <= set(sidecar["detections"][0])
    assert {"detect", "segment", "inpaint"} <= set(sidecar["timings"])
    again = getattr(Pipeline(models=tiny_models, device="cpu"), sidecar["workflow"])(
        sidecar["input"]["path"], **sidecar["parameters"]
    )
    np.testing.assert_array_equal(np.asarray(again.image), np.asarray(PIL.Image.open(out / "c.png")))


def test_a_rerun_skips_done_work_and_overwrite_redoes_it(album, tmp_path, tiny_models, capsys):
    out = tmp_path / "out"
    inputs = [album / "a.png", album / "trip" / "c.png"]
    cli(capsys, *REPLACE, *inputs, "-o", out, "--models", tiny_models)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    status, _, stderr = cli(capsys, *REPLACE, *inputs, "-o", out, "--models", tiny_models)
    assert status == 0 and "2 inputs: 0 done, 2 skipped" in stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == stamps
    (out / "c.json").unlink()  # a half-finished job is redone
    status, _, stderr = cli(capsys, *REPLACE, *inputs, "-o", out, "--models", tiny_models)
    assert "1 done, 1 skipped" in stderr
    status, _, stderr = cli(capsys, *REPLACE, *inputs, "-o", out, "--models", tiny_models, "--overwrite", "--quiet")
    assert status == 0 and "2 done" in stderr and "[1/2]" not in stderr


def test_globs_and_quiet(album, tmp_path, tiny_models, capsys):
    out = tmp_path / "out"
    status, stdout, stderr = cli(
        capsys, *REPLACE, str(album / "**" / "*.png"), "-o", out, "--models", tiny_models, "--quiet"
    )
    assert status == 1  # broken.png matches the glob
    assert sorted(p.name for p in out.glob("*.png")) == ["a.png", "c.png"]
    assert stdout == "" and "[" not in stderr


def test_nothing_found_in_a_batch_is_counted_not_failed(album, tmp_path, tiny_models, capsys):
    status, _, stderr = cli(
        capsys,
        "replace",
        album / "a.png",
        album / "trip" / "c.png",
        "--find",
        "a dog",
        "--with",
        "a cat",
        "-o",
        tmp_path / "out",
        "--models",
        tiny_models,
        "--box-threshold",
        "1",
        "--device",
        "cpu",
    )
    assert status == 3 and "2 nothing" in stderr


def test_segment_writes_mask_pngs(album, tmp_path, tiny_models, capsys):
    out = tmp_path / "masks"
    status, _, _ = cli(
        capsys,
        "segment",
        album / "a.png",
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
        "--select",
        "best",
    )
    mask = np.asarray(PIL.Image.open(out / "a.png"))
    assert status == 0 and mask.shape == (60, 80) and mask.dtype == bool
    assert json.loads((out / "a.json").read_text())["selected"] == [0]


def test_collect_and_plan(album, tmp_path):
    files = dict(collect([album]))
    assert {str(r) for r in files.values()} == {"a.png", "notes.jpg", "trip/b.jpg", "trip/c.png", "trip/broken.png"}
    assert collect([tmp_path / "missing.png"]) == [
        (tmp_path / "missing.png", tmp_path.joinpath("missing.png").relative_to(tmp_path))
    ]
    (job,) = plan([album / "a.png"], tmp_path / "edit.jpg")
    assert job.output == tmp_path / "edit.jpg" and job.sidecar == tmp_path / "edit.json"
    jobs = plan([album], tmp_path / "o", suffix=".webp")
    assert tmp_path / "o" / "trip" / "b.webp" in [j.output for j in jobs]


def test_info_reports_versions_device_and_present_weights(tiny_models, capsys):
    status, stdout, _ = cli(capsys, "info", "--models", tiny_models, "--device", "cpu", "--json")
    report = json.loads(stdout)
    assert status == 0 and report["device"] == "cpu" and report["versions"]["torch"]
    assert all(row["present"] for row in report["models"].values())
    status, stdout, _ = cli(capsys, "info", "--device", "cpu")
    assert "detector:" in stdout and "IDEA-Research/grounding-dino-tiny" in stdout


def test_download_fetches_each_stage_with_the_libraries_helpers(monkeypatch, tmp_path, capsys):
    import diffusers
    import huggingface_hub

    calls = []

    def snapshot(repo, allow_patterns=None):
        calls.append((repo, allow_patterns))
        folder = tmp_path / "cache" / repo.replace("/", "--")
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        return str(folder)

    def pipeline_download(repo, variant=None, use_safetensors=None):
        calls.append((repo, variant))
        folder = tmp_path / "cache" / repo.replace("/", "--")
        folder.mkdir(parents=True)
        (folder / "model_index.json").write_text("{}")
        return str(folder)

    import textinpaint.models

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot)
    monkeypatch.setattr(diffusers.DiffusionPipeline, "download", pipeline_download)
    monkeypatch.setattr(textinpaint.models, "hub_reachable", lambda *a, **k: True)  # the tests run offline
    status, stdout, _ = cli(
        capsys, "download", "--models", tmp_path / "models", "--stages", "detector,inpainter,remover"
    )
    assert status == 0
    assert [c[0] for c in calls] == [
        "IDEA-Research/grounding-dino-tiny",
        "stable-diffusion-v1-5/stable-diffusion-inpainting",
        "JosephCatrambone/big-lama-torchscript",
    ]
    assert calls[1][1] == "fp16" and calls[2][1] == ["*.pt"] and "*.safetensors" in calls[0][1]
    assert (tmp_path / "models" / "detector" / "config.json").exists()
    assert (tmp_path / "models" / "inpainter" / "model_index.json").exists()
    status, _, stderr = cli(capsys, "download", "--stages", "detector,wizard")
    assert status == 1 and "wizard" in stderr


def test_files_are_never_written_next_to_inputs_by_default(album, tmp_path, tiny_models, capsys):
    before = sorted(os.listdir(album))
    cli(capsys, *REPLACE, album / "a.png", "-o", tmp_path / "elsewhere", "--models", tiny_models)
    assert sorted(os.listdir(album)) == before


def test_a_terminal_gets_a_progress_bar_showing_each_stage(album, tmp_path, tiny_models, monkeypatch):
    import io

    from textinpaint.interfaces import batch

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    pipe = Pipeline(models=tiny_models, device="cpu")
    stages = []

    def work(job):
        from textinpaint.events import stage_listener as _stage_listener

        listener = _stage_listener.get()
        edit = pipe.replace(job.source, "a dog", "a cat", steps=1, seed=0, box_threshold=0.0)
        assert listener is not None
        job.output.parent.mkdir(parents=True, exist_ok=True)
        edit.image.save(job.output)
        return {"ok": True}

    monkeypatch.setattr("tqdm.auto.tqdm.set_postfix_str", lambda self, text: stages.append(text))
    terminal = Terminal()
    summary = batch.run(batch.plan([album / "a.png"], tmp_path / "o"), work, stream=terminal)
    assert summary.count("done") == 1 and "100%" in terminal.getvalue()
    assert "a.png: detect" in stages and "a.png: inpaint" in stages and "a.png: done" in stages


def test_stage_listener_is_per_thread_and_removed_after(tiny_models):
    from textinpaint.events import listening
    from textinpaint.events import stage_listener as _stage_listener

    seen = []
    with listening(seen.append):
        Pipeline(models=tiny_models, device="cpu").detect(noise(20, 20), "a dog")
    assert seen == ["detect"] and _stage_listener.get() is None


def test_denoising_steps_are_reported_for_the_nested_bar(pipe):
    from textinpaint.events import listening, step_listener

    stages, steps = [], []
    with listening(stages.append, lambda done, total: steps.append((done, total))):
        pipe.inpaint(noise(30, 30), np.ones((30, 30), bool), "a cat", steps=3, seed=0).image
    assert steps == [(1, 3), (2, 3), (3, 3)] and "inpaint" in stages
    assert step_listener.get() is None


def test_a_terminal_shows_a_nested_denoising_bar(album, tmp_path, tiny_models, monkeypatch):
    import io

    from textinpaint.interfaces import batch

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    pipe = Pipeline(models=tiny_models, device="cpu")

    def work(job):
        edit = pipe.replace(job.source, "a dog", "a cat", steps=2, seed=0, box_threshold=0.0)
        job.output.parent.mkdir(parents=True, exist_ok=True)
        edit.image.save(job.output)
        return {"found": True}

    terminal = Terminal()
    batch.run(batch.plan([album / "a.png"], tmp_path / "o"), work, stream=terminal)
    assert "denoising" in terminal.getvalue() and "2/2" in terminal.getvalue()
