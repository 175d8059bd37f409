"""The Ray engine: the same outputs as the local CLI, nothing lost when a worker dies, failures
reported; manifests and URIs as inputs. Local Ray on 2 CPUs, tiny models."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from conftest import noise

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

from textinpaint import InvalidInputError, MissingDependencyError  # noqa: E402
from textinpaint.interfaces.cli import main  # noqa: E402
from textinpaint.interfaces.distributed import Task, build_dataset, plan_tasks, run  # noqa: E402

pytestmark = pytest.mark.heavy
EDIT = ["--find", "thing", "--with", "a fox", "--box-threshold", "0", "--text-threshold", "0", "--steps", "2"]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


@pytest.fixture
def one_thread():
    """The local CLI with one torch thread, as each 1-CPU Ray actor has: the same arithmetic."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def photos(folder: Path, count: int, start: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        (folder / ("sub" if i % 3 == 0 else "")).mkdir(exist_ok=True)
        target = folder / ("sub" if i % 3 == 0 else "") / f"p{i:02d}.png"
        PIL.Image.fromarray(noise(40 + (i % 2) * 8, 56, seed=i)).save(target)
    return folder


def pixels(path: Path) -> np.ndarray:
    with PIL.Image.open(path) as image:
        return np.asarray(image).copy()


def comparable(sidecar: Path) -> dict:
    document = json.loads(sidecar.read_text())
    document.pop("timings")
    document["output"] = Path(document["output"]).name if document.get("output") else None
    return document


def test_24_images_on_ray_equal_the_local_cli(tiny_models, tmp_path, capsys, one_thread):
    inputs = photos(tmp_path / "in", 24)
    common = [str(inputs), *EDIT, "--models", str(tiny_models), "--device", "cpu", "--seed", "5"]
    assert main(["replace", *common, "-o", str(tmp_path / "local"), "--quiet"]) == 0
    assert main(["replace", *common, "-o", str(tmp_path / "ray"), "--engine", "ray", "--concurrency", "2"]) == 0
    assert "24 inputs: 24 done" in capsys.readouterr().err
    local = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*.png"))
    assert len(local) == 24 and any(p.parts[0] == "sub" for p in local), "the relative layout is kept"
    assert local == sorted(p.relative_to(tmp_path / "ray") for p in (tmp_path / "ray").rglob("*.png"))
    for relative in local:
        np.testing.assert_array_equal(pixels(tmp_path / "ray" / relative), pixels(tmp_path / "local" / relative))
        sidecar = relative.with_suffix(".json")
        assert comparable(tmp_path / "ray" / sidecar) == comparable(tmp_path / "local" / sidecar)
    # Local and Ray runs resume each other: the same key.
    assert main(["replace", *common, "-o", str(tmp_path / "ray"), "--quiet"]) == 0
    assert "24 inputs: 0 done, 24 skipped" in capsys.readouterr().err


def actor_pids() -> list[int]:
    """The processes of Ray Data's actors (Ray titles them ray::MapWorker...)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if command.startswith("ray::MapWorker"):
                found.append(int(entry.name))
    return found


def test_a_worker_killed_mid_run_loses_nothing(tiny_models, tmp_path, capsys):
    inputs = photos(tmp_path / "in", 24)
    out = tmp_path / "out"
    killed = []

    def kill_one_actor_after_some_outputs():
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len(list(out.rglob("*.json"))) < 4:
            time.sleep(0.05)
        for pid in actor_pids()[:1]:
            os.kill(pid, signal.SIGKILL)  # what ray.kill does to an actor: its process ends at once
            killed.append(pid)

    watcher = threading.Thread(target=kill_one_actor_after_some_outputs)
    watcher.start()
    args = ["replace", str(inputs), "-o", str(out), *EDIT, "--models", str(tiny_models), "--device", "cpu"]
    status = main([*args, "--seed", "1", "--engine", "ray", "--concurrency", "2", "--quiet"])
    watcher.join()
    assert killed, "an actor was killed while the run went on"
    assert status == 0, capsys.readouterr().err
    outputs = sorted(out.rglob("*.png"))
    assert len(outputs) == 24 and len(list(out.rglob("*.json"))) == 24
    assert not [p for p in out.rglob("*") if p.name.endswith(".part") or p.name.startswith(".")], "no temporary left"
    for image in outputs:
        with PIL.Image.open(image) as opened:
            opened.load()  # a truncated PNG would raise here
    capsys.readouterr()
    assert main([*args, "--seed", "1", "--engine", "ray", "--concurrency", "2"]) == 0
    assert "24 inputs: 0 done, 24 skipped" in capsys.readouterr().err


def test_corrupt_inputs_become_failure_rows_and_the_exit_status_says_so(tiny_models, tmp_path, capsys):
    inputs = photos(tmp_path / "in", 3, start=1)
    (inputs / "broken.png").write_bytes(b"\x89PNG not really")
    (inputs / "text.jpg").write_text("hello")
    out = tmp_path / "out"
    args = ["replace", str(inputs), "-o", str(out), *EDIT, "--models", str(tiny_models), "--device", "cpu"]
    assert main([*args, "--engine", "ray"]) == 1
    err = capsys.readouterr().err
    assert "5 inputs: 3 done" in err and "2 failed" in err and "broken.png" in err and "text.jpg" in err
    rows = json.loads((out / "failures.json").read_text())["failures"]
    assert sorted(Path(r["input"]).name for r in rows) == ["broken.png", "text.jpg"]
    assert all(r["error"] == "ImageLoadError" and r["message"] for r in rows)


def test_a_manifest_gives_each_row_its_own_find_with_and_seed(tiny_models, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    inputs = photos(tmp_path / "in", 3, start=1)
    files = sorted(str(p) for p in inputs.rglob("*.png"))
    table = pa.table({"path": files, "with": ["a fox", "a cat", None], "seed": [7, None, 9]})
    manifest = tmp_path / "jobs.parquet"
    pq.write_table(table, manifest)
    options = {"find": "thing", "with_": "a dog", "box_threshold": 0.0, "text_threshold": 0.0, "steps": 2, "seed": 3}
    summary = run(
        [manifest], "replace", options, tmp_path / "out", pipeline={"models": str(tiny_models), "device": "cpu"}
    )
    assert summary.count("done") == 3 and summary.exit_code == 0
    documents = [json.loads((tmp_path / "out" / Path(f).with_suffix(".json").name).read_text()) for f in files]
    assert [d["parameters"]["with_"] for d in documents] == ["a fox", "a cat", "a dog"]
    assert [d["seed"] for d in documents] == [7, 3, 9]


def test_file_uris_and_a_csv_manifest_are_inputs(tiny_models, tmp_path):
    inputs = photos(tmp_path / "in", 2, start=1)
    uri = inputs.resolve().as_uri()
    tasks = plan_tasks([uri], tmp_path / "out")
    assert sorted(t.job.output.name for t in tasks) == ["p01.png", "p02.png"] and all(
        t.source.startswith("file://") for t in tasks
    )
    (tmp_path / "m.csv").write_text("path,find\n" + str(inputs / "p01.png") + ",a dog\n")
    options = {"find": "thing", "with_": "a fox", "box_threshold": 0.0, "text_threshold": 0.0, "steps": 2, "seed": 1}
    summary = run(
        [uri],
        "remove",
        {k: options[k] for k in ("find", "box_threshold", "text_threshold")},
        tmp_path / "out",
        pipeline={"models": str(tiny_models), "device": "cpu"},
    )
    assert summary.count("done") == 2
    csv = plan_tasks([tmp_path / "m.csv"], tmp_path / "out2")
    assert [t.overrides for t in csv] == [{"find": "a dog"}]


def test_with_gpus_decoding_stays_in_cpu_tasks(tmp_path, capsys):
    task = Task(
        "x.png", __import__("textinpaint.interfaces.batch", fromlist=["Job"]).Job(Path("x.png"), tmp_path / "x.png")
    )
    stage = {"pipeline": {}, "workflow": "replace", "options": {}, "emit": {}, "key": "k", "overwrite": False}
    build_dataset([task], stage, num_gpus=0.5, batch_size=4).explain()
    plan = capsys.readouterr().out.split("Physical Plan (Optimized)")[1]
    assert "TaskPoolMapOperator[Map(decode_row)]" in plan and "ActorPoolMapOperator[MapBatches(EditStage)]" in plan


@pytest.mark.parametrize(
    "keyword,value,argument",
    [
        ("concurrency", 0, "concurrency"),
        ("batch_size", 0, "batch_size"),
        ("num_gpus", -1, "num_gpus"),
        ("num_cpus", 0, "num_cpus"),
    ],
)
def test_bad_run_options_are_typed_errors(tmp_path, keyword, value, argument):
    with pytest.raises(InvalidInputError, match=argument):
        run([tmp_path], "replace", {}, tmp_path / "out", **{keyword: value})
    with pytest.raises(InvalidInputError, match="workflow"):
        run([tmp_path], "inpaint", {}, tmp_path / "out")


def test_a_manifest_without_paths_or_with_unknown_columns_is_refused(tmp_path):
    (tmp_path / "bad.csv").write_text("file,find\na.png,dog\n")
    with pytest.raises(InvalidInputError, match="'path' column"):
        plan_tasks([tmp_path / "bad.csv"], tmp_path / "out")
    (tmp_path / "odd.csv").write_text("path,colour\na.png,red\n")
    with pytest.raises(InvalidInputError, match="colour"):
        plan_tasks([tmp_path / "odd.csv"], tmp_path / "out")


def test_missing_weights_stop_the_run_with_the_library_error(tmp_path):
    from textinpaint import WeightsNotFoundError

    inputs = photos(tmp_path / "in", 1, start=1)
    with pytest.raises(WeightsNotFoundError):
        run(
            [inputs],
            "replace",
            {"find": "a", "with_": "b"},
            tmp_path / "out",
            pipeline={"models": str(tmp_path / "empty"), "device": "cpu"},
        )


def test_without_ray_the_error_says_how_to_install_it(monkeypatch, tmp_path):
    import builtins

    real = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("no ray here")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(MissingDependencyError, match=r"textinpaint\[ray\]"):
        run([tmp_path], "replace", {}, tmp_path / "out")


def test_batches_go_through_the_batched_replace_and_replay_exactly(tiny_models, tmp_path, capsys, one_thread):
    inputs = photos(tmp_path / "in", 6, start=1)
    out = tmp_path / "out"
    args = ["replace", str(inputs), "-o", str(out), *EDIT, "--models", str(tiny_models), "--device", "cpu"]
    assert main([*args, "--seed", "2", "--engine", "ray", "--batch-size", "3"]) == 0
    documents = {p: json.loads(p.read_text()) for p in sorted(out.rglob("*.json"))}
    assert len(documents) == 6
    batched = [d for d in documents.values() if d["batch"] is not None]
    assert batched and all(2 <= len(d["batch"]["inputs"]) <= 3 for d in batched)
    capsys.readouterr()
    for sidecar in list(documents)[:2]:
        again = tmp_path / f"again-{sidecar.stem}.png"
        assert main(["replay", str(sidecar), "-o", str(again)]) == 0
        np.testing.assert_array_equal(pixels(again), pixels(sidecar.with_suffix(".png")))


def test_segment_and_background_run_on_ray(tiny_models, tmp_path, capsys):
    inputs = photos(tmp_path / "in", 2, start=1)
    common = [
        str(inputs),
        "--box-threshold",
        "0",
        "--text-threshold",
        "0",
        "--models",
        str(tiny_models),
        "--device",
        "cpu",
    ]
    assert main(["segment", *common, "--find", "thing", "-o", str(tmp_path / "masks"), "--engine", "ray"]) == 0
    masks = sorted((tmp_path / "masks").rglob("*.png"))
    assert len(masks) == 2 and json.loads(masks[0].with_suffix(".json").read_text())["workflow"] == "segment"
    background = ["background", *common, "--keep", "thing", "--with", "a beach", "--steps", "2", "--no-depth"]
    assert main([*background, "-o", str(tmp_path / "bg"), "--engine", "ray"]) == 0
    documents = [json.loads(p.read_text()) for p in sorted((tmp_path / "bg").rglob("*.json"))]
    assert [d["workflow"] for d in documents] == ["replace_background"] * 2


def test_one_input_to_one_output_file(tiny_models, tmp_path, capsys):
    photos(tmp_path / "in", 1, start=1)
    target = tmp_path / "edited.png"
    args = ["replace", str(tmp_path / "in" / "p01.png"), "-o", str(target), *EDIT, "--models", str(tiny_models)]
    assert main([*args, "--device", "cpu", "--engine", "ray"]) == 0
    assert target.is_file() and target.with_suffix(".json").is_file()
    assert not (target / "failures.json").exists()


def test_cutout_on_ray_equals_the_local_cli(tiny_models, tmp_path, capsys, one_thread):
    inputs = photos(tmp_path / "in", 3)
    common = ["cutout", str(inputs), "--models", str(tiny_models), "--device", "cpu"]
    assert main([*common, "-o", str(tmp_path / "local")]) == 0
    assert main([*common, "-o", str(tmp_path / "ray"), "--engine", "ray"]) == 0
    local = sorted((tmp_path / "local").rglob("*.png"))
    assert len(local) == 3
    for path in local:
        twin = tmp_path / "ray" / path.relative_to(tmp_path / "local")
        assert pixels(path).shape[-1] == 4 and (pixels(path) == pixels(twin)).all()
        assert comparable(path.with_suffix(".json")) == comparable(twin.with_suffix(".json"))


def test_clips_run_one_per_task_on_ray_equal_the_local_cli_and_resume_each_other(
    tiny_models, tmp_path, capsys, one_thread
):
    pytest.importorskip("av")
    from textinpaint.testing import write_clip
    from textinpaint.videos import read_frames

    clips = tmp_path / "clips"
    write_clip(clips / "a.mp4", frames=5)
    write_clip(clips / "day" / "b.mkv", frames=5, codec="ffv1", audio=False)
    (clips / "broken.mp4").write_bytes(b"not a clip")
    common = ["--models", str(tiny_models), "--device", "cpu", "--quiet"]
    argv = ["video", "remove", str(clips), "--box", "8,14,30,34", "--per-frame", "--lossless", *common]
    assert main([*argv, "-o", str(tmp_path / "ray"), "--engine", "ray", "--concurrency", "2"]) == 1
    err = capsys.readouterr().err
    assert "2 done" in err and "1 failed" in err and "broken.mp4" in err
    assert main([*argv, "-o", str(tmp_path / "local")]) == 1
    capsys.readouterr()
    for name in ("a.mkv", "day/b.mkv"):
        ours = list(read_frames(tmp_path / "ray" / name))
        theirs = list(read_frames(tmp_path / "local" / name))
        assert len(ours) == len(theirs) == 5
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a.rgb, b.rgb)
    assert json.loads((tmp_path / "ray" / "failures.json").read_text())["failures"][0]["input"].endswith("broken.mp4")
    assert main([*argv, "-o", str(tmp_path / "ray")]) == 1, "the local CLI resumes the Ray run: the broken clip again"
    assert "2 skipped" in capsys.readouterr().err
    from textinpaint.interfaces.distributed import run_clips

    with pytest.raises(InvalidInputError, match="workflow must be one of"):
        run_clips([clips], "video explode", {}, tmp_path / "x")
    with pytest.raises(InvalidInputError, match="no clips matched"):
        (tmp_path / "empty").mkdir()
        run_clips([tmp_path / "empty"], "video remove", {}, tmp_path / "x")
