"""Turn any accepted image into the one canonical form every stage trusts.

Accepted: a path (``str`` or ``os.PathLike``), a ``PIL.Image.Image``, or a numpy array
(HxW, HxWx1, HxWx3 or HxWx4 in RGB(A) order; ``uint8``, ``uint16``, ``bool`` or float in [0, 1]).
The canonical form is a :class:`Picture`: upright (EXIF orientation applied), RGB ``uint8``, and
the alpha channel kept aside when the input had one, so that it can be put back on the output.

PIL modes: ``1``, ``L``, ``P``, ``RGB``, ``CMYK``, ``YCbCr`` become RGB; ``LA``, ``RGBA``, ``PA``
and ``P`` with a transparent colour keep their alpha; 16-bit modes (``I;16*``, and ``I``, which
is how PIL opens 16-bit PNGs) are scaled from 0..65535; ``F`` is scaled from [0, 1] when all its
values lie there, else taken as 0..255 and clipped.

What comes back: every edit returns a ``PIL.Image`` of the input's exact size and upright
orientation, RGB, or RGBA carrying the input's alpha unchanged, whatever form the input had.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import PIL.Image
import PIL.ImageOps

from .errors import ImageLoadError, ImageTooLargeError, InvalidInputError

ImageInput = Union[str, "os.PathLike[str]", PIL.Image.Image, np.ndarray, "Picture"]

# 120 megapixels: above a 100 MP panorama, far below what exhausts 24 GB of RAM in the pipeline.
DEFAULT_MAX_PIXELS = 120_000_000

_ORIENTATION = 0x0112  # the EXIF tag
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}
_STRIP_BYTES = 1 << 20  # how much of a PIL image is copied out at a time (see _array_of)


@dataclass(frozen=True)
class Picture:
    """An upright image in canonical form.

    Attributes:
        rgb: HxWx3 ``uint8`` array in [0, 255], RGB order.
        alpha: HxW ``uint8`` alpha channel when the input had one, else ``None``.
        path: the file it was read from, when it was given as a path.
        icc_profile: the input's ICC colour profile, kept for the output.
        exif: the input's EXIF block without its orientation (already applied), kept for the output.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    path: str | None = None
    icc_profile: bytes | None = None
    exif: bytes | None = None

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    def to_pil(
        self,
        rgb: np.ndarray | None = None,
        *,
        patch: np.ndarray | None = None,
        box: tuple[int, int, int, int] | None = None,
    ) -> PIL.Image.Image:
        """Return ``rgb`` (default: this picture's pixels) as PIL, with this picture's alpha, ICC
        profile and EXIF if any; ``patch`` (``uint8``, the size of ``box``, xyxy) is pasted over it
        at ``box`` (the picture is not copied twice)."""
        pixels = self.rgb if rgb is None else rgb
        if self.alpha is None:
            image = PIL.Image.fromarray(pixels, "RGB")
            if patch is not None and box is not None:
                image.paste(PIL.Image.fromarray(patch, "RGB"), box[:2])
        else:
            if patch is not None and box is not None:
                pixels = pixels.copy()
                pixels[box[1] : box[3], box[0] : box[2]] = patch
            image = PIL.Image.fromarray(np.dstack([pixels, self.alpha]), "RGBA")
        if self.icc_profile:
            image.info["icc_profile"] = self.icc_profile
        if self.exif:
            image.info["exif"] = self.exif
        return image


def load_image(image: ImageInput, *, max_pixels: int = DEFAULT_MAX_PIXELS, argument: str = "image") -> Picture:
    """Normalise any accepted image into a :class:`Picture`.

    Args:
        image: a path, a PIL image, a numpy array (see the module docstring for shapes and dtypes),
            or a :class:`Picture` (already canonical: returned as it is).
        max_pixels: refuse images with more pixels than this (guards against decompression bombs).
        argument: the name of the caller's argument, used in error messages.

    Returns:
        The upright RGB ``uint8`` picture, with its alpha channel if the input had one.

    Raises:
        ImageLoadError: the path is missing, not an image, or truncated.
        ImageTooLargeError: more than ``max_pixels`` pixels.
        InvalidInputError: an unsupported type, shape, dtype or value range.

    Example:
        >>> import numpy as np
        >>> load_image(np.zeros((4, 6), np.uint8)).rgb.shape
        (4, 6, 3)
    """
    if isinstance(image, (str, os.PathLike)):
        opened = _open(Path(image), max_pixels, argument)
        decoded = _decode_jpeg(Path(image), opened, argument)
        if decoded is not None:
            return dataclasses.replace(decoded, path=os.fspath(image))
        _load(opened, Path(image), argument)
        picture = _from_pil(opened, max_pixels, argument)
        return dataclasses.replace(picture, path=os.fspath(image))
    if isinstance(image, Picture):
        rgb = image.rgb
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise InvalidInputError(f"{argument}: a Picture's rgb must be an HxWx3 uint8 array")
        _check_pixels(image.width, image.height, max_pixels, argument)
        return image
    if isinstance(image, PIL.Image.Image):
        return _from_pil(image, max_pixels, argument)
    if isinstance(image, np.ndarray):
        return _from_array(image, max_pixels, argument)
    raise InvalidInputError(
        f"{argument} must be a path, a PIL.Image.Image or a numpy array; got {type(image).__name__}"
    )


def load_grey(image: ImageInput, *, max_pixels: int = DEFAULT_MAX_PIXELS, argument: str = "image") -> np.ndarray:
    """The brightest channel of any accepted image, upright: HxW ``uint8`` (how a mask picture is read).

    A grey or 1-bit picture (what masks usually are) is read as it is, never widened to RGB;
    anything else goes through :func:`load_image` and keeps the largest of R, G and B.

    Raises:
        The errors of :func:`load_image`.

    Example:
        >>> load_grey(np.array([[0, 200]], np.uint8)).tolist()
        [[0, 200]]
    """
    grey = None
    if isinstance(image, (str, os.PathLike)):
        with _open(Path(image), max_pixels, argument) as opened:
            if opened.mode in ("L", "1"):
                _load(opened, Path(image), argument)
                grey = _grey(opened)
    elif isinstance(image, PIL.Image.Image) and image.mode in ("L", "1"):
        _check_pixels(image.width, image.height, max_pixels, argument)
        grey = _grey(image)
    if grey is not None:
        return grey
    rgb = load_image(image, max_pixels=max_pixels, argument=argument).rgb
    return np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])


def _grey(image: PIL.Image.Image) -> np.ndarray:
    if image.getexif().get(_ORIENTATION, 1) != 1:
        image = PIL.ImageOps.exif_transpose(image)
    return np.asarray(image if image.mode == "L" else image.convert("L"))


def _open(path: Path, max_pixels: int, argument: str) -> PIL.Image.Image:
    if not path.exists():
        raise ImageLoadError(f"{argument}: no file at {str(path)!r}")
    if path.is_dir():
        raise ImageLoadError(f"{argument}: {str(path)!r} is a folder, not an image file")
    try:
        with warnings.catch_warnings():
            # max_pixels is the limit here; PIL's warning at 89 MP would only repeat it.
            warnings.simplefilter("ignore", PIL.Image.DecompressionBombWarning)
            opened = PIL.Image.open(path)
    except PIL.Image.DecompressionBombError as error:
        raise ImageTooLargeError(f"{argument}: {str(path)!r} is too large to open safely ({error})") from error
    except (PIL.UnidentifiedImageError, OSError) as error:
        raise ImageLoadError(f"{argument}: {str(path)!r} is not a readable image ({error})") from error
    _check_pixels(opened.width, opened.height, max_pixels, argument)
    return opened


def _load(opened: PIL.Image.Image, path: Path, argument: str) -> None:
    try:
        opened.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageLoadError(f"{argument}: {str(path)!r} is truncated or corrupt ({error})") from error


# EXIF orientation -> the numpy view that makes the pixels upright (as PIL.ImageOps.exif_transpose).
_UPRIGHT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


def _decode_jpeg(path: Path, opened: PIL.Image.Image, argument: str) -> Picture | None:
    """A colour JPEG decoded straight into an upright RGB array by libjpeg-turbo (simplejpeg),
    with no PIL image in between: the same pixels as PIL's decoder, in about half the time on a
    12-megapixel photo. None where this does not apply (another format or colour mode, or
    simplejpeg missing), and the caller decodes with PIL."""
    if opened.format != "JPEG" or opened.mode != "RGB":
        return None
    try:
        import simplejpeg
    except ImportError:  # pragma: no cover - a dependency; kept optional for odd platforms
        return None
    try:
        pixels = simplejpeg.decode_jpeg(path.read_bytes(), colorspace="RGB")
    except (OSError, ValueError) as error:
        raise ImageLoadError(f"{argument}: {str(path)!r} is truncated or corrupt ({error})") from error
    exif = opened.info.get("exif") or None
    orientation = opened.getexif().get(_ORIENTATION, 1)
    if orientation in _UPRIGHT:
        pixels = np.ascontiguousarray(_UPRIGHT[orientation](pixels))
        tags = opened.getexif()
        del tags[_ORIENTATION]
        exif = tags.tobytes() if exif is not None else None
    opened.close()
    return Picture(pixels, None, None, opened.info.get("icc_profile") or None, exif)


def writable(array: np.ndarray) -> np.ndarray:
    """``array``, or a copy when it is read-only (torch warns about read-only arrays)."""
    return array if array.flags.writeable else array.copy()


def _check_pixels(width: int, height: int, max_pixels: int, argument: str) -> None:
    if width < 1 or height < 1:
        raise InvalidInputError(f"{argument} must be at least 1x1 pixels; got {width}x{height}")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{argument} has {width}x{height} = {width * height:,} pixels, more than max_pixels={max_pixels:,}; "
            "downscale it first or raise max_pixels"
        )


def _from_pil(image: PIL.Image.Image, max_pixels: int, argument: str) -> Picture:
    _check_pixels(image.width, image.height, max_pixels, argument)
    if image.getexif().get(_ORIENTATION, 1) != 1:  # exif_transpose copies even when nothing turns
        image = PIL.ImageOps.exif_transpose(image)  # and drops the orientation from its EXIF
    picture = _pixels_of(image, max_pixels, argument)
    icc, exif = image.info.get("icc_profile"), image.info.get("exif")
    if icc or exif:
        picture = dataclasses.replace(picture, icc_profile=icc or None, exif=exif or None)
    return picture


def _pixels_of(image: PIL.Image.Image, max_pixels: int, argument: str) -> Picture:
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        return _from_array(np.asarray(image), max_pixels, argument, sixteen_bit=True)
    if mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float64))
        scale = 255.0 if values.max(initial=0.0) <= 1.0 else 1.0  # [0, 1] floats, else already 0..255
        return _from_array(np.clip(values * scale / 255.0, 0.0, 1.0), max_pixels, argument)
    if mode in _ALPHA_MODES or (mode == "P" and "transparency" in image.info):
        rgba = _array_of(image if mode == "RGBA" else image.convert("RGBA"), 4)
        return Picture(np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3]))
    return Picture(_array_of(image if mode == "RGB" else image.convert("RGB"), 3))


def _array_of(image: PIL.Image.Image, channels: int) -> np.ndarray:
    """An RGB or RGBA PIL image's pixels as a new HxWxC ``uint8`` array, copied out a strip of rows
    at a time.

    ``np.asarray(image)`` gathers PIL's output in small chunks and joins them into one bytes object
    as large as the picture, whose fresh pages the kernel then faults in one by one: about 30 ms at
    12 megapixels here. Strips of about 1 MB come out of memory the allocator reuses, into one
    array numpy allocates (on huge pages where the kernel offers them): about 12 ms, the same bytes.
    """
    width, height = image.size
    out = np.empty((height, width, channels), np.uint8)
    rows = max(1, _STRIP_BYTES // (4 * width))
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        out[top:bottom] = np.asarray(image.crop((0, top, width, bottom)))
    return out


def _from_array(array: np.ndarray, max_pixels: int, argument: str, sixteen_bit: bool = False) -> Picture:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InvalidInputError(f"{argument} must be an array of shape HxW, HxWx1, HxWx3 or HxWx4; got {array.shape}")
    _check_pixels(array.shape[1], array.shape[0], max_pixels, argument)
    pixels = _to_uint8(array, argument, sixteen_bit)
    if pixels.ndim == 2:
        return Picture(np.repeat(pixels[..., None], 3, axis=2))
    if pixels.shape[2] == 4:
        return Picture(np.ascontiguousarray(pixels[..., :3]), np.ascontiguousarray(pixels[..., 3]))
    rgb = np.ascontiguousarray(pixels)
    if np.may_share_memory(rgb, array):
        # The caller's own memory: an Edit makes its images when first read, so the pixels must not
        # change under it if the caller reuses the array (a video frame buffer, say). One memcpy.
        rgb = rgb.copy()
    return Picture(rgb)


def _to_uint8(array: np.ndarray, argument: str, sixteen_bit: bool) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16 or (sixteen_bit and np.issubdtype(array.dtype, np.integer)):
        # 65535 / 257 = 255 exactly, so the full 16-bit range maps onto the full 8-bit range.
        return np.clip(np.rint(array.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array).all()
        low, high = (float(array.min()), float(array.max())) if finite else (np.nan, np.nan)
        if not finite or low < 0.0 or high > 1.0:
            raise InvalidInputError(
                f"{argument}: a float array must hold finite values in [0, 1]; got values in [{low}, {high}]"
            )
        return np.rint(array * 255.0).astype(np.uint8)
    raise InvalidInputError(f"{argument}: array dtype must be uint8, uint16, bool or float; got {array.dtype}")
