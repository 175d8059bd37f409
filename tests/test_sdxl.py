"""SDXL inpainting in its real layout (two text encoders, the 9-channel UNet), with its depth ControlNet."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import noise

from textinpaint import Pipeline
from textinpaint.testing import write_sdxl_controlnet, write_sdxl_inpainter

LOOSE = dict(box_threshold=0.0, text_threshold=0.0)


@pytest.fixture(scope="module")
def sdxl(tmp_path_factory):
    root = tmp_path_factory.mktemp("sdxl")
    return write_sdxl_inpainter(root / "inpainter"), write_sdxl_controlnet(root / "controlnet")


@pytest.fixture(scope="module")
def pipeline(sdxl, tiny_models):
    inpainter, controlnet = sdxl
    return Pipeline(inpainter=inpainter, controlnet=controlnet, models=tiny_models, device="cpu")


def subject(height=48, width=64):
    mask = np.zeros((height, width), bool)
    mask[10:30, 20:40] = True
    return mask


def test_sdxl_replace_is_reproducible_and_exact_outside_the_mask(pipeline):
    image = noise(48, 64)
    edit = pipeline.replace(image, "a dog", "a cat", steps=2, seed=3, select="best", **LOOSE)
    again = pipeline.replace(image, "a dog", "a cat", steps=2, seed=3, select="best", **LOOSE)
    assert type(pipeline.inpainter.pipe).__name__ == "StableDiffusionXLInpaintPipeline"
    assert edit.found and edit.image.size == (64, 48)
    np.testing.assert_array_equal(np.asarray(edit.image)[~edit.mask], image[~edit.mask])
    np.testing.assert_array_equal(np.asarray(edit.image), np.asarray(again.image))


def test_sdxl_background_runs_under_the_sdxl_depth_controlnet(pipeline, monkeypatch):
    seen = []
    original = pipeline.controlnet.forward
    monkeypatch.setattr(
        pipeline.controlnet, "forward", lambda *a, **k: seen.append(k["controlnet_cond"].shape) or original(*a, **k)
    )
    image = noise(48, 64)
    edit = pipeline.replace_background(image, None, "a beach", mask=subject(), steps=2, seed=1, matte=False)
    assert seen and edit.found
    np.testing.assert_array_equal(np.asarray(edit.image)[subject()], image[subject()])


def test_sdxl_generates_and_batches(pipeline):
    assert pipeline.generate("a lighthouse", size=(40, 24), steps=2, seed=0).image.size == (40, 24)
    images = [noise(48, 64, seed=i) for i in range(2)]
    edits = pipeline.replace(images, "a dog", "a cat", steps=2, seed=[1, 2], select="best", mask_mode="box", **LOOSE)
    (single,) = pipeline.replace(
        [images[0]], "a dog", "a cat", steps=2, seed=1, select="best", mask_mode="box", **LOOSE
    )
    assert [e.seed for e in edits] == [1, 2] and single.image.size == (64, 48)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_sdxl_in_half_precision_on_cpu(sdxl, tiny_models, dtype):
    inpainter, controlnet = sdxl
    pipeline = Pipeline(inpainter=inpainter, controlnet=controlnet, models=tiny_models, device="cpu", dtype=dtype)
    out = pipeline.inpaint(noise(48, 64), subject(), "a cat", steps=2, seed=0).image
    assert out.size == (64, 48)
    assert pipeline.inpainter.pipe.unet.dtype == getattr(torch, dtype)
    assert (pipeline.inpainter._lock is not None) == (dtype == "float16"), "the fp16 VAE upcast takes turns"
