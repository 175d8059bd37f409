"""Several images per call: one detector pass per size, one SAM encoder pass, one UNet run per group."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
from conftest import noise

from textinpaint import ImageLoadError, Pipeline
from textinpaint.interfaces.cli import main

OPTIONS = dict(steps=2, seed=3, box_threshold=0.0, text_threshold=0.0, select="best")


def count_calls(monkeypatch, module, sizes=None):
    calls = []
    original = module.forward

    def spy(*args, **kwargs):
        first = args[0] if args else next(iter(kwargs.values()))
        calls.append(first.shape[0] if hasattr(first, "shape") else None)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, "forward", spy)
    return calls


def test_a_batch_of_one_equals_the_single_call(pipe):
    image = noise(70, 90)
    single = pipe.replace(image, "a dog", "a cat", **OPTIONS)
    (batched,) = pipe.replace([image], "a dog", "a cat", **OPTIONS)
    np.testing.assert_array_equal(np.asarray(batched.image), np.asarray(single.image))
    np.testing.assert_array_equal(batched.mask, single.mask)
    assert batched.seed == single.seed == 3


def test_same_size_images_share_the_detector_sam_and_unet_passes(tiny_models, monkeypatch):
    pipeline = Pipeline(models=tiny_models, device="cpu")
    detector = count_calls(monkeypatch, pipeline.detector.model)
    encoder = count_calls(monkeypatch, pipeline.segmenter.model.vision_encoder)
    unet = count_calls(monkeypatch, pipeline.inpainter.pipe.unet)
    images = [noise(64, 64, seed=i) for i in range(3)]
    edits = pipeline.replace(images, "a dog", "a cat", mask_mode="box", dilate=0, feather=0, **OPTIONS)
    assert detector == [3] and encoder == []  # box mode: no SAM
    assert unet == [6, 6], "2 steps, the 3 crops together (x2 for classifier-free guidance)"
    for image, edit in zip(images, edits):
        assert edit.found and edit.seed == 3 and edit.image.size == (64, 64)
        np.testing.assert_array_equal(np.asarray(edit.image)[~edit.mask], image[~edit.mask])
    again = pipeline.replace(images, "a dog", "a cat", mask_mode="box", dilate=0, feather=0, **OPTIONS)
    for first, second in zip(edits, again):
        np.testing.assert_array_equal(np.asarray(first.image), np.asarray(second.image))


def test_sam_encodes_all_images_at_once_and_sizes_group_the_detector(tiny_models, monkeypatch):
    pipeline = Pipeline(models=tiny_models, device="cpu")
    detector = count_calls(monkeypatch, pipeline.detector.model)
    encoder = count_calls(monkeypatch, pipeline.segmenter.model.vision_encoder)
    images = [noise(64, 64), noise(50, 80), noise(64, 64, seed=2)]
    edits = pipeline.replace(images, "a dog", "a cat", **OPTIONS)
    assert sorted(detector) == [1, 2] and encoder == [3]
    assert [e.image.size for e in edits] == [(64, 64), (80, 50), (64, 64)]


def test_every_image_is_checked_before_any_model_runs(tiny_models, tmp_path, monkeypatch):
    pipeline = Pipeline(models=tiny_models, device="cpu")
    monkeypatch.setattr(type(pipeline.detector), "detect_many", lambda *a, **k: pytest.fail("the detector ran"))
    with pytest.raises(ImageLoadError, match="missing.png"):
        pipeline.replace([noise(20, 20), tmp_path / "missing.png"], "a dog", "a cat")


def test_cli_batch_size_batches_and_still_reports_a_bad_file(tiny_models, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        PIL.Image.fromarray(noise(48, 64, seed=i)).save(folder / f"{i}.png")
    (folder / "3.png").write_bytes(b"not a png")
    sizes = []
    import textinpaint.workflows.replace as replacing

    original = replacing.replace

    def spy(self, image, *args, **kwargs):
        sizes.append(len(image) if isinstance(image, list) else 1)
        return original(self, image, *args, **kwargs)

    monkeypatch.setattr(replacing, "replace", spy)  # the workflow table's entry
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
            "--device",
            "cpu",
            "--steps",
            "2",
            "--seed",
            "1",
            "--box-threshold",
            "0",
            "--batch-size",
            "2",
        ]
    )
    stderr = capsys.readouterr().err
    assert status == 1 and "4 inputs: 3 done, 0 skipped, 0 nothing, 1 failed" in stderr and "3.png" in stderr
    assert sizes[0] == 2, "the first two images went through together"
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["0.png", "1.png", "2.png"]
