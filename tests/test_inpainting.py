"""Full-resolution inpainting: geometry, bit-identity outside the edit, seeds, any image size."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch
from conftest import ConstantFiller, FailingFiller, IdentityFiller, noise

from textinpaint import InvalidInputError, Pipeline
from textinpaint.inpainting import FillRequest, crop_window, generation_size, paint, resize
from textinpaint.masks import auto_dilation, auto_feather, dilate, distance_outside

# (width, height) of images, with odd sides, portrait, panorama and tiny ones.
SIZES = [(1, 1), (7, 13), (13, 7), (64, 64), (517, 389), (389, 517), (2000, 5), (5, 2000), (1000, 61)]


def centre_mask(width, height):
    mask = np.zeros((height, width), bool)
    mask[height // 3 : max(height // 3 + 1, 2 * height // 3), width // 3 : max(width // 3 + 1, 2 * width // 3)] = True
    return mask


@pytest.mark.parametrize("width,height", SIZES)
def test_identity_filler_gives_back_the_input_exactly(width, height):
    image = noise(height, width)
    painted = paint(image, centre_mask(width, height), IdentityFiller(), FillRequest("x"), dilation=3, feathering=2)
    assert painted.rgb.dtype == np.uint8 and painted.rgb.shape == image.shape
    np.testing.assert_array_equal(painted.rgb, image)


@pytest.mark.parametrize("width,height", SIZES)
def test_pixels_outside_the_changed_region_are_bit_identical(width, height):
    image = noise(height, width)
    mask = centre_mask(width, height)
    painted = paint(image, mask, ConstantFiller(), FillRequest("x"), dilation=2, feathering=3)
    np.testing.assert_array_equal(painted.rgb[~painted.changed], image[~painted.changed])
    grown = dilate(mask, 2)
    assert (painted.rgb[grown] == [255, 0, 255]).all(), "the dilated mask is fully repainted"
    assert painted.changed[grown].all()


def test_changed_region_is_the_dilated_mask_plus_the_feather_band():
    mask = np.zeros((100, 120), bool)
    mask[40:60, 50:70] = True
    painted = paint(noise(100, 120), mask, ConstantFiller(), FillRequest("x"), dilation=4, feathering=5)
    np.testing.assert_array_equal(painted.changed, distance_outside(mask) < 4 + 5 + 1)
    assert painted.changed[40 - 4 - 5, 60] and not painted.changed[40 - 4 - 6, 60]
    assert painted.changed[60 + 4 + 5 - 1, 70 + 4 + 5 - 1 - 6] and not painted.changed[70, 80]


def test_feather_blends_between_paint_and_original():
    mask = np.zeros((50, 50), bool)
    mask[20:30, 20:30] = True
    image = np.zeros((50, 50, 3), np.uint8)
    painted = paint(image, mask, ConstantFiller((200, 200, 200)), FillRequest("x"), dilation=0, feathering=4)
    row = painted.rgb[25, 30:36, 0].astype(int)  # walking right, out of the mask
    assert list(row) == sorted(row, reverse=True) and row[0] > 0 and row[-1] == 0


def test_filler_gets_the_full_resolution_crop_around_the_mask():
    filler = IdentityFiller(native_size=64)
    mask = np.zeros((3000, 4000), bool)
    mask[1000:1010, 2000:2030] = True
    painted = paint(noise(3000, 4000), mask, filler, FillRequest("x"), dilation=0, feathering=0)
    ((crop_shape, masked, _),) = filler.calls
    x0, y0, x1, y1 = painted.window
    assert crop_shape == (y1 - y0, x1 - x0, 3) and masked == 300
    assert x0 <= 2000 and x1 >= 2030 and y0 <= 1000 and y1 >= 1010
    assert (x1 - x0, y1 - y0) == (64, 64), "a small region gets a native-size window, not the whole photo"


@pytest.mark.parametrize(
    "box,width,height,native",
    [
        ((10, 10, 20, 20), 1000, 800, 512),
        ((0, 0, 5, 5), 1000, 800, 512),
        ((990, 790, 1000, 800), 1000, 800, 512),
        ((0, 0, 1000, 800), 1000, 800, 512),
        ((100, 3, 3900, 6), 4000, 9, 512),
        ((3, 100, 6, 3900), 9, 4000, 512),
        ((5, 5, 6, 6), 7, 13, 512),
        ((300, 200, 333, 555), 1001, 997, 64),
    ],
)
def test_crop_window_holds_the_box_and_stays_inside_the_image(box, width, height, native):
    x0, y0, x1, y1 = crop_window(box, width, height, native)
    assert 0 <= x0 <= box[0] and box[2] <= x1 <= width
    assert 0 <= y0 <= box[1] and box[3] <= y1 <= height
    assert (x1 - x0) >= min(width, native) and (y1 - y0) >= min(height, native)


@pytest.mark.parametrize(
    "size,native,expected",
    [
        ((512, 512), 512, (512, 512)),  # already the model's size: painted as it is
        ((512, 384), 512, (512, 384)),  # on the grid, area in range: no resampling
        ((1024, 1024), 512, (512, 512)),
        ((64, 48), 512, (592, 440)),  # small crops are enlarged to the native area
        ((3000, 30), 512, (5120, 48)),
    ],
)
def test_generation_size(size, native, expected):
    assert generation_size(*size, native, 8) == expected


def test_diffusers_adapter_resizes_without_shifting_content(pipe, monkeypatch):
    from diffusers import StableDiffusionInpaintPipeline

    seen = []
    original = StableDiffusionInpaintPipeline.__call__

    def spy(self, **kwargs):
        seen.append((kwargs["width"], kwargs["height"], kwargs["image"][0].size, kwargs["mask_image"][0].size))
        return original(self, **kwargs)

    monkeypatch.setattr(StableDiffusionInpaintPipeline, "__call__", spy)
    height, width = 301, 777
    yy, xx = np.mgrid[0:height, 0:width]
    blob = np.exp(-((xx - 400.3) ** 2 + (yy - 150.7) ** 2) / (2 * 30.0**2))
    crop = np.repeat((blob * 255).round().astype(np.uint8)[..., None], 3, axis=2)
    out = pipe.inpainter(crop, np.ones((height, width), bool), FillRequest("x", steps=1))
    ((gen_width, gen_height, image_size, mask_size),) = seen
    assert image_size == mask_size == (gen_width, gen_height) and gen_width % 8 == gen_height % 8 == 0
    assert out.shape == crop.shape and out.dtype == np.uint8
    # The adapter's way there and back (the painted picture comes back through the same resize).
    there_and_back = resize(resize(crop, gen_width, gen_height), width, height)
    weights = there_and_back[..., 0].astype(np.float64)
    cx, cy = (weights * xx).sum() / weights.sum(), (weights * yy).sum() / weights.sum()
    step = max(width / gen_width, height / gen_height)  # one pixel of the painted size, in crop pixels
    assert abs(cx - 400.3) < 0.25 * step and abs(cy - 150.7) < 0.25 * step


@pytest.mark.parametrize("width,height", [(1, 1), (37, 23), (64, 64), (96, 200), (300, 41), (4000, 3000)])
def test_real_tiny_model_keeps_size_and_untouched_pixels(pipe, width, height):
    image = noise(height, width)
    mask = centre_mask(width, height)
    out = pipe.inpaint(image, mask, "a blue car", steps=2, seed=0).image
    assert isinstance(out, PIL.Image.Image) and out.mode == "RGB" and out.size == (width, height)
    result = np.asarray(out)
    dilation = auto_dilation(width, height)
    outside = ~dilate(mask, dilation + auto_feather(dilation) + 1)
    np.testing.assert_array_equal(result[outside], image[outside])
    assert (result[mask] != image[mask]).any(), "the masked region was repainted"


def test_same_seed_same_image_and_other_seed_other_image(pipe):
    image, mask = noise(80, 120), centre_mask(120, 80)
    first = np.asarray(pipe.inpaint(image, mask, "a red car", steps=2, seed=7).image)
    again = np.asarray(pipe.inpaint(image, mask, "a red car", steps=2, seed=7).image)
    other = np.asarray(pipe.inpaint(image, mask, "a red car", steps=2, seed=8).image)
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()


def test_seed_is_drawn_when_none_and_reported(pipe):
    image, mask = noise(40, 40), centre_mask(40, 40)
    edit = pipe.inpaint(image, mask, "a red car", steps=2)
    out, seed = edit.image, edit.seed
    assert isinstance(seed, int) and 0 <= seed < 2**32
    np.testing.assert_array_equal(
        np.asarray(pipe.inpaint(image, mask, "a red car", steps=2, seed=seed).image), np.asarray(out)
    )


def test_empty_mask_returns_input_unchanged_without_running_the_model():
    image = noise(30, 50)
    out = Pipeline(inpainter=FailingFiller(), device="cpu").inpaint(image, np.zeros((30, 50), bool), "x").image
    np.testing.assert_array_equal(np.asarray(out), image)


def test_mask_of_the_wrong_size_names_both_sizes():
    with pytest.raises(InvalidInputError, match=r"mask is 40x30 .* image is 50x30"):
        Pipeline(inpainter=IdentityFiller(), device="cpu").inpaint(noise(30, 50), np.ones((30, 40), bool), "x").image


def test_mask_may_be_a_pil_image():
    mask = PIL.Image.fromarray((centre_mask(50, 30) * 255).astype(np.uint8))
    filler = ConstantFiller()
    out = np.asarray(
        Pipeline(inpainter=filler, device="cpu").inpaint(noise(30, 50), mask, "x", dilate=0, feather=0).image
    )
    assert filler.calls == 1 and (out[15, 25] == [255, 0, 255]).all()


def test_filler_returning_a_wrong_shape_is_reported():
    class Bad(IdentityFiller):
        def __call__(self, crop, mask, request):
            return crop[:-1]

    with pytest.raises(InvalidInputError, match="filler returned"):
        paint(noise(20, 20), centre_mask(20, 20), Bad(), FillRequest("x"), dilation=1, feathering=1)


@pytest.mark.parametrize(
    "option,value",
    [
        ("steps", 0),
        ("steps", 2.5),
        ("guidance", -1),
        ("strength", 0),
        ("strength", 1.5),
        ("seed", -1),
        ("seed", "1"),
        ("dilate", -2),
        ("feather", 1.5),
    ],
)
def test_bad_options_are_named(option, value):
    with pytest.raises(InvalidInputError, match=option):
        Pipeline(inpainter=IdentityFiller(), device="cpu").inpaint(
            noise(8, 8), centre_mask(8, 8), "x", **{option: value}
        ).image


def test_a_vae_overflow_is_decoded_again_in_float32(pipe, monkeypatch, caplog):
    image, mask = noise(48, 64), centre_mask(64, 48)
    clean = np.asarray(pipe.inpaint(image, mask, "a red car", steps=2, seed=3).image)
    inpainter = pipe.inpainter
    rescue = inpainter._fp32_vae()  # made before the shared VAE is broken below
    overflowing = []

    def overflow(latents, return_dict=False):
        overflowing.append(latents.dtype)
        return (torch.full((latents.shape[0], 3, latents.shape[2] * 2, latents.shape[3] * 2), float("nan")),)

    monkeypatch.setattr(inpainter.pipe.vae, "decode", overflow)
    with caplog.at_level("WARNING", logger="textinpaint.inpainting"):
        rescued = np.asarray(pipe.inpaint(image, mask, "a red car", steps=2, seed=3).image)
    assert overflowing and "decoding again in float32" in caplog.text
    assert rescue is inpainter._fp32_vae() and rescue is not inpainter.pipe.vae
    np.testing.assert_array_equal(rescued, clean)


@pytest.mark.parametrize("dilate,feather", [(0, 0), (3, 2), (5, 0), (0, 4)])
def test_the_documented_reach_of_the_blend_is_exact(dilate, feather):
    from conftest import ConstantFiller

    from textinpaint import Pipeline

    pipeline = Pipeline(inpainter=ConstantFiller(), device="cpu")
    image = np.zeros((61, 61, 3), np.uint8)
    mask = np.zeros((61, 61), bool)
    mask[30, 30] = True
    edit = pipeline.inpaint(image, mask, "x", dilate=dilate, feather=feather)
    out = edit.image
    changed = (np.asarray(out) != 0).any(axis=2)
    yy, xx = np.mgrid[:61, :61]
    distance = np.hypot(yy - 30, xx - 30)
    assert not changed[distance >= dilate + feather + 1].any(), "bit-identical from dilate + feather + 1 on"
    assert changed[distance <= dilate].all(), "painted whole within dilate"
    np.testing.assert_array_equal(edit.mask, distance < dilate + feather + 1)
