"""Background replacement, removal, generate-then-edit, refine/upscale and schedulers on tiny models."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch
from conftest import ConstantFiller, FailingFiller, noise, scripted_detector

from textinpaint import InvalidInputError, ModelKindError, Pipeline
from textinpaint.backends.removal import Lama
from textinpaint.masks import distance_outside


def subject_mask(height=96, width=128):
    mask = np.zeros((height, width), bool)
    mask[30:70, 40:90] = True
    return mask


# ---- background replacement ---------------------------------------------------------------------


def test_background_keeps_the_subject_bit_identical_and_repaints_the_rest(pipe):
    image, subject = noise(96, 128), subject_mask()
    edit = pipe.replace_background(
        image, None, "a mountain road at sunset", mask=subject, steps=2, seed=0, seam=3, matte=False
    )
    result = np.asarray(edit.image)
    np.testing.assert_array_equal(result[subject], image[subject])
    assert not edit.mask[subject].any(), "the subject is never in the repainted region"
    far = distance_outside(subject) > 3
    assert edit.mask[far].all() and (result[far] != image[far]).mean() > 0.9
    assert edit.image.size == (128, 96) and edit.found


def test_the_seam_band_lies_just_outside_the_subject():
    image, subject = noise(96, 128), subject_mask()
    edit = Pipeline(inpainter=ConstantFiller(), device="cpu").replace_background(
        image, None, "a beach", mask=subject, depth=False, seam=4, matte=False
    )
    result = np.asarray(edit.image).astype(int)
    distance = distance_outside(subject)
    band = (distance > 0) & (distance <= 4)
    blended = (result[band] != image[band]) & (result[band] != [255, 0, 255])
    assert blended.any(), "the seam mixes old and new pixels"
    assert (result[distance > 4] == [255, 0, 255]).all()
    np.testing.assert_array_equal(result[subject], image[subject])


def test_background_subject_found_by_keep(tiny_models):
    entries = [(0, 0.9, (0.5, 0.5, 0.4, 0.4))]
    pipeline = Pipeline(
        detector=scripted_detector(tiny_models, ["car"], entries),
        inpainter=ConstantFiller(),
        models=tiny_models,
        device="cpu",
    )
    image = noise(100, 100)
    edit = pipeline.replace_background(image, "car", "a road", depth=False, matte=False)
    subject = edit.detections.mask.any(axis=0)
    assert edit.found and subject.any()
    np.testing.assert_array_equal(np.asarray(edit.image)[subject], image[subject])
    assert not (edit.mask & subject).any()


def test_depth_map_reaches_the_controlnet(tiny_models, monkeypatch):
    pipeline = Pipeline(models=tiny_models, device="cpu")
    seen = []
    original = pipeline.controlnet.forward

    def spy(*args, **kwargs):
        seen.append(kwargs["controlnet_cond"].detach().clone())
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline.controlnet, "forward", spy)
    edit = pipeline.replace_background(
        noise(96, 128), None, "a forest", mask=subject_mask(), steps=2, seed=1, controlnet_scale=0.5
    )
    assert seen, "the ControlNet ran"
    condition = seen[0]
    window = edit.image.size  # the background spans the image, so the window is the whole image
    assert condition.shape[:2] == (2, 3)  # classifier-free guidance doubles the batch
    assert condition.shape[2] % 2 == 0 and condition.shape[3] % 2 == 0
    assert abs(condition.shape[3] / condition.shape[2] - window[0] / window[1]) < 0.1
    assert condition.min() >= 0.0 and condition.max() <= 1.0 and condition.max() - condition.min() > 0.5
    assert torch.equal(condition[0, 0], condition[0, 1]), "a depth map is grey: three equal channels"


def test_without_depth_no_controlnet_or_depth_model_loads(tiny_models):
    pipeline = Pipeline(models=tiny_models, device="cpu")
    pipeline.replace_background(noise(40, 40), None, "a sky", mask=subject_mask(40, 40)[:40, :40], depth=False, steps=1)
    assert "controlnet" not in pipeline.loaded() and "depth" not in pipeline.loaded()


@pytest.mark.parametrize(
    "arguments,message",
    [
        ({"keep": "car", "mask": np.ones((8, 8), bool)}, "give the subject as keep .* or as mask"),
        ({"keep": None, "points": [(2, 2)], "mask": np.ones((8, 8), bool)}, "give the subject as keep .* or as mask"),
        ({"keep": None, "mask": np.ones((8, 8), bool), "controlnet_scale": -1}, "controlnet_scale must be"),
        ({"keep": None, "mask": np.ones((8, 8), bool), "seam": 0}, "seam must be"),
    ],
)
def test_background_arguments_are_checked(arguments, message):
    keep = arguments.pop("keep")
    with pytest.raises(InvalidInputError, match=message):
        Pipeline(inpainter=FailingFiller(), device="cpu").replace_background(noise(8, 8), keep, "x", **arguments)


# ---- removal ------------------------------------------------------------------------------------


def test_remove_fills_with_lama_and_never_runs_the_diffusion_model(tiny_models):
    entries = [(0, 0.9, (0.5, 0.5, 0.3, 0.3))]
    pipeline = Pipeline(
        detector=scripted_detector(tiny_models, ["dog"], entries),
        inpainter=FailingFiller(),
        models=tiny_models,
        device="cpu",
    )
    image = noise(90, 130)
    edit = pipeline.remove(image, "dog", mask_mode="box")
    assert isinstance(pipeline.remover, Lama)
    result = np.asarray(edit.image)
    np.testing.assert_array_equal(result[~edit.mask], image[~edit.mask])
    assert (result[45, 65] != image[45, 65]).any()
    assert edit.found and "remove" in edit.timings


@pytest.mark.parametrize("width,height", [(1, 1), (9, 5), (131, 77), (3000, 40)])
def test_lama_handles_any_crop_size(tiny_models, width, height):
    lama = Lama.load(str(tiny_models / "remover"), torch.device("cpu"), torch.float32)
    out = (
        Pipeline(inpainter=lama, device="cpu").inpaint(noise(height, width), np.ones((height, width), bool), "x").image
    )
    assert out.size == (width, height)


def test_a_file_that_is_not_torchscript_is_refused(tmp_path):
    (tmp_path / "big-lama.pt").write_bytes(b"not a model")
    with pytest.raises(ModelKindError, match="not a TorchScript LaMa file"):
        Pipeline(remover=tmp_path, device="cpu").remover


# ---- generate, then edit ------------------------------------------------------------------------


def test_generate_shares_weights_with_the_inpainter(pipe, monkeypatch):
    shared = pipe.inpainter.pipe
    ran = []
    for name in ("unet", "vae", "text_encoder"):
        module = getattr(shared, name)
        original = module.forward
        monkeypatch.setattr(module, "forward", lambda *a, _n=name, _o=original, **k: ran.append(_n) or _o(*a, **k))
    made = pipe.generate("a woman in a park", size=(70, 45), steps=2, seed=4)
    assert made.image.size == (70, 45) and made.seed == 4
    assert {"unet", "text_encoder"} <= set(ran), "the inpainter's own UNet and text encoder drew the picture"


def test_generate_then_edit_in_one_process(pipe):
    image = pipe.generate("a woman in a park", steps=2, seed=4).image
    again = pipe.generate("a woman in a park", steps=2, seed=4).image
    np.testing.assert_array_equal(np.asarray(image), np.asarray(again))
    edit = pipe.replace(image, "hair", "short pink hair", steps=2, seed=0, box_threshold=0.0, text_threshold=0.0)
    assert edit.found and edit.image.size == image.size


@pytest.mark.parametrize("size", [(0, 10), (10,), "64x64", (10.5, 10)])
def test_generate_size_is_checked(pipe, size):
    with pytest.raises(InvalidInputError, match="size must be"):
        pipe.generate("x", size=size).image


# ---- refine and upscale -------------------------------------------------------------------------


def record_passes(monkeypatch):
    """Every denoising run diffusers' inpainting pipeline makes: (width, height, strength)."""
    from diffusers import StableDiffusionInpaintPipeline

    passes = []
    original = StableDiffusionInpaintPipeline.__call__

    def spy(self, *args, **kwargs):
        passes.append((kwargs["width"], kwargs["height"], kwargs["strength"]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StableDiffusionInpaintPipeline, "__call__", spy)
    return passes


def test_refine_repaints_at_a_higher_resolution_with_low_strength(pipe, monkeypatch):
    passes = record_passes(monkeypatch)
    image, mask = noise(300, 400), np.zeros((300, 400), bool)
    mask[100:200, 150:300] = True
    out = np.asarray(pipe.inpaint(image, mask, "a cat", steps=2, seed=0, refine=True, dilate=2, feather=2).image)
    (first_w, first_h, first_s), (fine_w, fine_h, fine_s) = passes
    assert first_s == 1.0 and fine_s == 0.3 and fine_w > first_w and fine_h > first_h
    outside = distance_outside(mask) > 2 + 2 + 1
    np.testing.assert_array_equal(out[outside], image[outside])


def test_upscale_runs_the_upscaler_on_the_painted_crop_only(pipe, monkeypatch):
    calls = []
    upscaler = pipe.upscaler
    original = type(upscaler).__call__

    def spy(self, *args, **kwargs):
        calls.append(kwargs["image"].size)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(upscaler), "__call__", spy)
    image, mask = noise(200, 260), np.zeros((200, 260), bool)
    mask[50:120, 60:200] = True
    for factor in (2, 4):
        out = np.asarray(pipe.inpaint(image, mask, "a cat", steps=2, seed=0, upscale=factor, dilate=2, feather=2).image)
        outside = distance_outside(mask) > 5
        np.testing.assert_array_equal(out[outside], image[outside])
        assert out.shape == image.shape
    (w2, h2), (w4, h4) = calls
    assert (w4, h4) == (2 * w2, 2 * h2), "2x feeds the x4 model a half-size picture"


# ---- schedulers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["DDIM", "pndm", "Euler", "Euler a", "DPM++ 2M", "dpm++ 2m karras", "UniPC", "lms"])
def test_every_scheduler_name_runs(pipe, name):
    out = pipe.inpaint(noise(40, 40), np.ones((40, 40), bool), "a cat", steps=3, seed=0, scheduler=name).image
    assert out.size == (40, 40)


def test_a_scheduler_changes_the_result_and_leaves_the_shared_one_alone(pipe):
    shared = type(pipe.inpainter.pipe.scheduler)
    default = np.asarray(pipe.inpaint(noise(40, 40), np.ones((40, 40), bool), "a cat", steps=3, seed=0).image)
    euler = np.asarray(
        pipe.inpaint(noise(40, 40), np.ones((40, 40), bool), "a cat", steps=3, seed=0, scheduler="euler a").image
    )
    assert (default != euler).any() and type(pipe.inpainter.pipe.scheduler) is shared


def test_unknown_scheduler_is_named():
    with pytest.raises(InvalidInputError, match=r"scheduler must be one of \[.*'ddim'.*\]; got 'karras9'"):
        Pipeline(inpainter=ConstantFiller(), device="cpu").inpaint(
            noise(8, 8), np.ones((8, 8), bool), "x", scheduler="karras9"
        ).image


def test_pil_output_of_generate_is_rgb(pipe):
    assert pipe.generate("x", size=(16, 16), steps=1, seed=0).image.mode == "RGB"
    assert isinstance(pipe.generate("x", size=(16, 16), steps=1, seed=0).image, PIL.Image.Image)
