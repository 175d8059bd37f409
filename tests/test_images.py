"""Every accepted image form works, every other one gets a typed error naming the path or argument."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import PIL.Image
import pytest
from conftest import ConstantFiller, IdentityFiller, noise

from textinpaint import ImageLoadError, ImageTooLargeError, InvalidInputError, Pipeline, load_image

# How each EXIF orientation stores an upright picture (the inverse of what a viewer applies).
STORED = {
    1: lambda u: u,
    2: lambda u: u[:, ::-1],
    3: lambda u: u[::-1, ::-1],
    4: lambda u: u[::-1],
    5: lambda u: u.transpose(1, 0, 2),
    6: lambda u: np.rot90(u, 1),
    7: lambda u: u[::-1, ::-1].transpose(1, 0, 2),
    8: lambda u: np.rot90(u, -1),
}


def save_with_orientation(pixels, orientation, path):
    image = PIL.Image.fromarray(np.ascontiguousarray(pixels))
    exif = PIL.Image.Exif()
    exif[0x0112] = orientation
    image.save(path, exif=exif)
    return path


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_the_upright_picture(orientation, tmp_path):
    upright = noise(20, 30)
    path = save_with_orientation(STORED[orientation](upright), orientation, tmp_path / "photo.png")
    np.testing.assert_array_equal(load_image(path).rgb, upright)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_edits_happen_in_the_upright_frame(orientation, tmp_path):
    upright = noise(20, 30)
    path = save_with_orientation(STORED[orientation](upright), orientation, tmp_path / "photo.png")
    mask = np.zeros((20, 30), bool)
    mask[2:5, 3:9] = True
    out = Pipeline(inpainter=ConstantFiller(), device="cpu").inpaint(path, mask, "x", dilate=0, feather=0).image
    result = np.asarray(out)
    assert out.size == (30, 20)
    assert (result[mask] == [255, 0, 255]).all()
    np.testing.assert_array_equal(result[~mask], upright[~mask])


def test_rotated_jpeg_comes_out_upright(tmp_path):
    path = save_with_orientation(np.rot90(noise(20, 30), 1), 6, tmp_path / "photo.jpg")
    out = Pipeline(inpainter=IdentityFiller(), device="cpu").inpaint(path, np.ones((20, 30), bool), "x").image
    assert out.size == (30, 20)


def pil(mode, fill, size=(5, 4)):
    return PIL.Image.new(mode, size, fill)


def palette_image(transparent):
    image = PIL.Image.new("P", (5, 4), 3)
    image.putpalette([0, 0, 0] * 3 + [10, 200, 30] + [0, 0, 0] * 252)
    if transparent:
        image.info["transparency"] = 3
    return image


@pytest.mark.parametrize(
    "image,rgb,alpha",
    [
        (pil("1", 1), (255, 255, 255), None),
        (pil("L", 77), (77, 77, 77), None),
        (pil("LA", (77, 128)), (77, 77, 77), 128),
        (palette_image(False), (10, 200, 30), None),
        (palette_image(True), (10, 200, 30), 0),
        (pil("RGB", (1, 2, 3)), (1, 2, 3), None),
        (pil("RGBA", (1, 2, 3, 4)), (1, 2, 3), 4),
        (pil("CMYK", (0, 0, 0, 0)), (255, 255, 255), None),
        (PIL.Image.fromarray(np.full((4, 5), 257 * 100, np.uint16)), (100, 100, 100), None),
        (PIL.Image.fromarray(np.full((4, 5), 65535, np.uint16)), (255, 255, 255), None),
        (PIL.Image.fromarray(np.full((4, 5), 257 * 50, np.int32)), (50, 50, 50), None),
        (PIL.Image.fromarray(np.full((4, 5), 0.5, np.float32)), (128, 128, 128), None),
        (PIL.Image.fromarray(np.full((4, 5), 200.0, np.float32)), (200, 200, 200), None),
    ],
    ids=["1", "L", "LA", "P", "P-transparent", "RGB", "RGBA", "CMYK", "I;16", "I;16-max", "I", "F-unit", "F-255"],
)
def test_colour_modes(image, rgb, alpha):
    picture = load_image(image)
    assert picture.rgb.shape == (4, 5, 3) and picture.rgb.dtype == np.uint8
    assert (picture.rgb == rgb).all()
    if alpha is None:
        assert picture.alpha is None
    else:
        assert picture.alpha.shape == (4, 5) and (picture.alpha == alpha).all()


@pytest.mark.parametrize(
    "array,rgb",
    [
        (np.full((4, 5), 9, np.uint8), 9),
        (np.full((4, 5, 1), 9, np.uint8), 9),
        (np.full((4, 5, 3), 9, np.uint8), 9),
        (np.full((4, 5), 257 * 9, np.uint16), 9),
        (np.full((4, 5, 3), 1.0, np.float32), 255),
        (np.full((4, 5), 0.0, np.float64), 0),
        (np.ones((4, 5), bool), 255),
    ],
)
def test_numpy_inputs(array, rgb):
    picture = load_image(array)
    assert picture.rgb.shape == (4, 5, 3) and (picture.rgb == rgb).all() and picture.alpha is None


@pytest.mark.parametrize("size", [(1, 1), (1, 5000), (3001, 2), (700, 1001), (300001, 1)])
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_pil_pixels_come_out_whole_at_every_size(size, mode):
    # PIL images are copied out in strips of rows (about 1 MB each): at a width of one pixel, a
    # width wider than a strip, and heights that end mid-strip, every row arrives once, in order.
    width, height = size
    pixels = np.random.default_rng(width * height).integers(0, 256, (height, width, len(mode)), dtype=np.uint8)
    picture = load_image(PIL.Image.fromarray(pixels, mode))
    np.testing.assert_array_equal(picture.rgb, pixels[..., :3])
    if mode == "RGBA":
        np.testing.assert_array_equal(picture.alpha, pixels[..., 3])


def test_numpy_rgba_keeps_alpha():
    array = np.dstack([noise(4, 5), np.full((4, 5), 7, np.uint8)])
    picture = load_image(array)
    np.testing.assert_array_equal(picture.rgb, array[..., :3])
    assert (picture.alpha == 7).all()


@pytest.mark.parametrize(
    "value,message",
    [
        (np.zeros((4, 5, 2), np.uint8), r"shape HxW, HxWx1, HxWx3 or HxWx4; got \(4, 5, 2\)"),
        (np.zeros((4,), np.uint8), r"got \(4,\)"),
        (np.zeros((0, 5), np.uint8), "at least 1x1 pixels; got 5x0"),
        (np.full((4, 5), 2.0), r"float array must hold finite values in \[0, 1\]; got values in \[2.0, 2.0\]"),
        (np.full((4, 5), np.nan), "finite values"),
        (np.zeros((4, 5), np.int64), "dtype must be uint8, uint16, bool or float; got int64"),
        ([[0, 1]], "image must be a path, a PIL.Image.Image or a numpy array; got list"),
        (None, "got NoneType"),
    ],
)
def test_unsupported_arrays_and_types(value, message):
    with pytest.raises(InvalidInputError, match=message):
        load_image(value)


def test_rgba_in_gives_rgba_out_with_the_same_alpha():
    rgba = np.dstack([noise(30, 40), np.random.default_rng(1).integers(0, 256, (30, 40), dtype=np.uint8)])
    mask = np.zeros((30, 40), bool)
    mask[10:20, 10:20] = True
    out = Pipeline(inpainter=ConstantFiller(), device="cpu").inpaint(rgba, mask, "x").image
    assert out.mode == "RGBA" and out.size == (40, 30)
    np.testing.assert_array_equal(np.asarray(out)[..., 3], rgba[..., 3])


def test_pixel_limit_is_configurable_and_named():
    with pytest.raises(ImageTooLargeError, match="20x20 = 400 pixels, more than max_pixels=100"):
        Pipeline(inpainter=IdentityFiller(), device="cpu", max_pixels=100).inpaint(
            noise(20, 20), np.ones((20, 20), bool), "x"
        ).image


def png_header(width, height):
    """A PNG whose header claims width x height pixels and that holds almost nothing."""

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("width,height", [(100_000, 100_000), (15_000, 10_000)])
def test_decompression_bombs_are_refused_before_decoding(tmp_path, width, height):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header(width, height))
    with pytest.raises(ImageTooLargeError, match="bomb.png|max_pixels"):
        load_image(path)


def test_missing_path(tmp_path):
    with pytest.raises(ImageLoadError, match=r"image: no file at '.*nope\.jpg'"):
        load_image(tmp_path / "nope.jpg")


def test_a_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageLoadError, match="is a folder, not an image file"):
        load_image(tmp_path)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is text")
    with pytest.raises(ImageLoadError, match=r"'.*notes\.jpg' is not a readable image"):
        load_image(path)


def test_truncated_file(tmp_path):
    path = tmp_path / "cut.png"
    PIL.Image.fromarray(noise(64, 64)).save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ImageLoadError, match=r"'.*cut\.png' is truncated or corrupt"):
        load_image(path)


def test_image_errors_are_also_standard_exceptions(tmp_path):
    with pytest.raises(OSError):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ValueError):
        load_image(np.zeros((2, 2, 2), np.uint8))


# ---- JPEG files are decoded straight into an array (simplejpeg), exactly as PIL decodes them ----


def pil_reference(path):
    """What the PIL route gives for a file: the previous decoder, kept as the reference."""
    from textinpaint.images import _from_pil

    with PIL.Image.open(path) as image:
        image.load()
        return _from_pil(image, 10**9, "image")


def smooth(height, width):
    """A photo-like picture (smooth gradients and some texture): JPEG keeps it close."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], axis=2).astype(np.uint8)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("subsampling", [0, 2])
def test_jpeg_fast_decode_equals_pil_in_every_orientation(orientation, subsampling, tmp_path):
    stored = np.ascontiguousarray(STORED[orientation](smooth(37, 53)))
    exif = PIL.Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "textinpaint-test-camera"  # Make: must survive
    path = tmp_path / "photo.jpg"
    PIL.Image.fromarray(stored).save(path, exif=exif, quality=90, subsampling=subsampling, icc_profile=b"ICC-bytes")
    fast, reference = load_image(path), pil_reference(path)
    assert fast.rgb.shape == (37, 53, 3) and fast.rgb.flags.c_contiguous
    np.testing.assert_array_equal(fast.rgb, reference.rgb)
    assert fast.icc_profile == reference.icc_profile == b"ICC-bytes"
    assert fast.exif == reference.exif
    kept = PIL.Image.Exif()
    kept.load(fast.exif)
    assert kept.get(0x0112, 1) == 1 and kept.get(0x010F) == "textinpaint-test-camera"  # upright now
    assert fast.path == str(path) and fast.alpha is None


def test_jpeg_without_exif_or_profile(tmp_path):
    path = tmp_path / "plain.jpg"
    PIL.Image.fromarray(smooth(16, 24)).save(path, quality=95)
    fast = load_image(path)
    np.testing.assert_array_equal(fast.rgb, pil_reference(path).rgb)
    assert fast.exif is None and fast.icc_profile is None


def test_the_fast_decoder_is_used_for_colour_jpegs_only(tmp_path, monkeypatch):
    import simplejpeg

    calls = []
    original = simplejpeg.decode_jpeg
    monkeypatch.setattr(simplejpeg, "decode_jpeg", lambda *a, **k: calls.append(1) or original(*a, **k))
    PIL.Image.fromarray(smooth(16, 24)).save(tmp_path / "colour.jpg")
    PIL.Image.fromarray(smooth(16, 24)[..., 0]).save(tmp_path / "grey.jpg")
    PIL.Image.fromarray(smooth(16, 24)).convert("CMYK").save(tmp_path / "cmyk.jpg")
    for name in ("grey", "cmyk"):
        np.testing.assert_array_equal(
            load_image(tmp_path / f"{name}.jpg").rgb, pil_reference(tmp_path / f"{name}.jpg").rgb
        )
    assert calls == []
    load_image(tmp_path / "colour.jpg")
    assert calls == [1]


@pytest.mark.parametrize("keep", [200, 600])
def test_a_truncated_jpeg_is_a_typed_error_naming_the_file(tmp_path, keep):
    path = tmp_path / "cut.jpg"
    PIL.Image.fromarray(noise(64, 64)).save(path, quality=90)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(ImageLoadError, match=r"'.*cut\.jpg' is (truncated or corrupt|not a readable image)"):
        load_image(path)


def test_a_jpeg_too_large_is_refused_before_decoding(tmp_path):
    path = tmp_path / "big.jpg"
    PIL.Image.fromarray(smooth(100, 100)).save(path)
    with pytest.raises(ImageTooLargeError, match="max_pixels"):
        load_image(path, max_pixels=9_999)
