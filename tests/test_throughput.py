"""Throughput without surprises: a local folder run works on several pictures at once (--workers),
with the outputs, order, resume, Ctrl+C and memory bound of a one-at-a-time run; list calls decode
in parallel; an Edit made lazily never changes when the caller reuses its input."""

from __future__ import annotations

import _thread
import json
import threading
import time

import numpy as np
import PIL.Image
import pytest

from textinpaint import Pipeline
from textinpaint.interfaces.cli import main


class Recording:
    """A painter that inverts the crop after ``seconds`` and records how many calls overlapped."""

    native_size = 16

    def __init__(self, seconds: float = 0.0, interrupt_on: int | None = None) -> None:
        self.seconds, self.interrupt_on = seconds, interrupt_on
        self.lock, self.inside, self.most, self.calls = threading.Lock(), 0, 0, 0

    def __call__(self, crop, mask, request):
        with self.lock:
            self.calls += 1
            self.inside += 1
            self.most = max(self.most, self.inside)
            call = self.calls
        if call == self.interrupt_on:
            _thread.interrupt_main()  # Ctrl+C, delivered to the main thread as the terminal does
        time.sleep(self.seconds)
        with self.lock:
            self.inside -= 1
        return 255 - crop


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    photos = tmp_path / "in"
    photos.mkdir()
    for i in range(6):
        PIL.Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(photos / f"{i}.png")
    mask = np.zeros((40, 56), np.uint8)
    mask[10:30, 12:40] = 255
    PIL.Image.fromarray(mask).save(tmp_path / "mask.png")
    return tmp_path


def cli(folder, out, painter, *extra):
    argv = ["inpaint", str(folder / "in"), "--mask", str(folder / "mask.png"), "--prompt", "x", "--seed", "1"]
    return main([*argv, "-o", str(out), "--device", "cpu", *extra], pipeline=Pipeline(inpainter=painter, device="cpu"))


def pixels(path):
    with PIL.Image.open(path) as image:
        return np.asarray(image)


def test_several_workers_overlap_and_write_what_one_worker_writes_in_the_same_order(folder, capsys):
    one, three = Recording(0.05), Recording(0.05)
    assert cli(folder, folder / "one", one, "--workers", "1") == 0
    lines_one = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[")]
    assert cli(folder, folder / "three", three, "--workers", "3") == 0
    lines_three = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[")]
    assert one.most == 1 and 2 <= three.most <= 3, "three pictures at most are painted at once, and they overlap"
    assert [line.split(": ")[0] for line in lines_three] == [line.split(": ")[0] for line in lines_one]
    assert [f"[{i + 1}/6]" for i in range(6)] == [line.split(" ")[0] for line in lines_three], "reported in order"
    for i in range(6):
        np.testing.assert_array_equal(pixels(folder / "three" / f"{i}.png"), pixels(folder / "one" / f"{i}.png"))
        first = json.loads((folder / "one" / f"{i}.json").read_text())
        second = json.loads((folder / "three" / f"{i}.json").read_text())
        assert first["parameters"] == second["parameters"] and first["seed"] == second["seed"] == 1


def test_a_bad_file_fails_alone_and_a_rerun_skips_what_was_done(folder, capsys):
    (folder / "in" / "2.png").write_bytes(b"not a picture")
    assert cli(folder, folder / "out", Recording(), "--workers", "2") == 1
    err = capsys.readouterr().err
    assert "5 done" in err and "1 failed" in err and "2.png" in err
    assert sorted(p.name for p in (folder / "out").glob("*.png")) == [f"{i}.png" for i in (0, 1, 3, 4, 5)]
    again = Recording()
    assert cli(folder, folder / "out", again, "--workers", "2") == 1
    assert again.calls == 0 and "5 skipped" in capsys.readouterr().err


def test_ctrl_c_with_several_workers_writes_nothing_new_and_leaves_only_whole_pairs(folder, capsys):
    painter = Recording(0.2, interrupt_on=3)
    assert cli(folder, folder / "out", painter, "--workers", "2") == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
    written = sorted(p.name for p in (folder / "out").iterdir())
    images = [name for name in written if name.endswith(".png")]
    assert not any(name.endswith(".part") or name.startswith(".") for name in written), "no half-written file"
    assert written == sorted(images + [name.replace(".png", ".json") for name in images]), "every image has its sidecar"
    assert len(images) <= 2 and painter.calls <= 4, "nothing new starts after Ctrl+C"


def test_workers_must_be_positive(folder, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli(folder, folder / "out", Recording(), "--workers", "0")
    assert stopped.value.code == 2 and "--workers must be 1 or more; got 0" in capsys.readouterr().err


def test_a_list_call_decodes_its_files_in_order_and_raises_the_first_bad_one(folder):
    from textinpaint import ImageLoadError

    pipe = Pipeline(remover=Recording(), device="cpu")
    mask = pixels(folder / "mask.png") > 0
    files = [str(folder / "in" / f"{i}.png") for i in range(4)]
    edits = pipe.remove(files, mask=mask)
    for path, edit in zip(files, edits):
        assert edit.record.input_path == path
        np.testing.assert_array_equal(np.asarray(edit.source), pixels(path))
        assert not np.array_equal(np.asarray(edit.image), pixels(path))
    (folder / "in" / "1.png").write_bytes(b"broken")
    (folder / "in" / "3.png").write_bytes(b"broken too")
    with pytest.raises(ImageLoadError, match="1.png"):
        pipe.remove(files, mask=mask)


@pytest.mark.parametrize("kind", ["numpy", "PIL"])
def test_an_edit_keeps_its_pictures_when_the_caller_reuses_the_input(kind):
    """The Edit makes its PIL images when they are first read: reusing the input buffer after the
    call (a video frame, a scratch array) must not change them."""
    rng = np.random.default_rng(3)
    original = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    given = original.copy() if kind == "numpy" else PIL.Image.fromarray(original.copy())
    mask = np.zeros((40, 56), bool)
    mask[10:20, 10:30] = True
    edit = Pipeline(inpainter=Recording(), device="cpu").inpaint(given, mask, "x", seed=0)
    if kind == "numpy":
        given[:] = 0
    else:
        given.paste((0, 0, 0), (0, 0, 56, 40))
    np.testing.assert_array_equal(np.asarray(edit.source), original)
    result = np.asarray(edit.image)
    np.testing.assert_array_equal(result[~edit.mask], original[~edit.mask])
    assert (result[mask] != original[mask]).any()
