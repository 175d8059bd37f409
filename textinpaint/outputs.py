"""The one writer: every file textinpaint writes goes through :class:`Writer`.

Its rules, the same for the CLI, the batch and Ray engines, replay, the report and the app:

- **atomic**: a temporary file first, renamed into place, so an interrupt, a full disk or a crash
  never leaves a truncated file that looks finished;
- **never over an input**: not the same path, not the same file through a link;
- **never over a file it did not make**: an existing file is replaced only when it is
  textinpaint's own of the same kind (an image carrying or beside its sidecar, a sidecar, a
  failures table, a report);
- **never twice in one run**: two outputs of one name are refused (or, for replay into a folder,
  told apart with ``-2``, ``-3``...);
- **typed errors**: a refusal is :class:`~textinpaint.OutputRefusedError`, a folder that cannot be
  written :class:`~textinpaint.OutputError`; no raw ``PermissionError``.

A PNG also carries its sidecar as a ``textinpaint`` text chunk, so the image alone can be replayed.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import PIL.Image
import PIL.PngImagePlugin

from .errors import OutputError, OutputRefusedError

logger = logging.getLogger(__name__)

# The PNG text chunk holding the sidecar.
PNG_KEY = "textinpaint"
# The PNG text chunk marking a picture textinpaint wrote without a sidecar (a mask, an overlay).
MADE_KEY = "textinpaint-made"
# The report's marker: a page textinpaint wrote (and may write again).
REPORT_MARK = '<meta name="generator" content="textinpaint report">'
# zlib's level for PNG: 1 writes a 12-megapixel photo about 3.8x faster than Pillow's default 6,
# for files about 9 % larger (docs/benchmarks.md, "Writing pictures"); the pixels are the same.
PNG_LEVEL = 1
# The image formats an output may be written in (by its suffix).
IMAGE_FORMATS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"})
# What a file of each kind must look like to be textinpaint's own (see Writer.check).
Kind = Literal["image", "sidecar", "failures", "report", "masks", "windows"]
# The "format" of a video masks document (textinpaint.videomasks), how its JSON is known as ours.
MASKS_FORMAT = "textinpaint-video-masks"
# The "format" array of a clip's painted window kept for resuming (textinpaint.workflows.video).
WINDOWS_FORMAT = "textinpaint-video-window"


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once, at import (os.umask can only be read by setting it, which is not thread-safe later).
_UMASK = _read_umask()


def _atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; a finished file gets the usual mode
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def to_json(document: dict[str, Any]) -> str:
    """Strict JSON (no NaN or infinity), indented."""
    return json.dumps(document, indent=2, allow_nan=False)


def write_json(path: str | Path, document: dict[str, Any]) -> None:
    """Write ``document`` as strict JSON to ``path``, atomically."""
    text = to_json(document).encode()

    def write(stream: IO[bytes]) -> None:
        stream.write(text)

    _atomic(Path(path), write)


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, atomically."""
    data = text.encode()

    def write(stream: IO[bytes]) -> None:
        stream.write(data)

    _atomic(Path(path), write)


def save_image(
    image: PIL.Image.Image, path: str | Path, sidecar: dict[str, Any] | None = None, *, made: str | None = None
) -> None:
    """Save ``image`` to ``path`` (its suffix picks the format), atomically.

    A PNG gets ``sidecar`` as a text chunk. A format without alpha (JPEG) gets the image
    flattened onto white first.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    # The input's colour profile and EXIF (its orientation already applied and removed) are kept.
    options: dict[str, Any] = {key: image.info[key] for key in ("icc_profile", "exif") if image.info.get(key)}
    if suffix == ".png" and (sidecar is not None or made is not None):
        chunk = PIL.PngImagePlugin.PngInfo()
        if sidecar is not None:
            chunk.add_text(PNG_KEY, json.dumps(sidecar, allow_nan=False), zip=True)
        if made is not None:
            chunk.add_text(MADE_KEY, made)
        options["pnginfo"] = chunk
    if suffix in (".jpg", ".jpeg") and image.mode not in ("RGB", "L", "1"):
        logger.warning(
            "%s: JPEG holds no transparency; the picture is flattened onto white (write PNG to keep it)", path
        )
        flat = PIL.Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        image = flat
    if suffix == ".png":
        options["compress_level"] = PNG_LEVEL
    file_format = PIL.Image.registered_extensions().get(suffix, "PNG")
    _atomic(path, lambda stream: image.save(stream, format=file_format, **options))


def read_png_sidecar(path: str | Path) -> dict[str, Any] | None:
    """The sidecar a PNG written by :func:`save_image` carries, or None."""
    with PIL.Image.open(path) as image:
        text = getattr(image, "text", {}).get(PNG_KEY)
    return None if text is None else json.loads(text)


def _png_marks(path: Path) -> set[str]:
    """Which of textinpaint's text chunks a PNG carries (none for anything else, or a broken file)."""
    try:
        with PIL.Image.open(path) as image:
            return set(getattr(image, "text", {})) & {PNG_KEY, MADE_KEY}
    except Exception:  # a stranger's file: whatever it holds, it is not ours
        return set()


def _json_object(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > 64 * 2**20:
            return None
        document = json.loads(path.read_text())
    except Exception:  # a stranger's file: whatever it holds, it is not ours
        return None
    return document if isinstance(document, dict) else None


def read_arrays(path: str | Path, limit: int = 4 << 30) -> dict[str, Any]:
    """The arrays of an ``.npz`` file textinpaint may have written, read as a stranger's file: no
    pickles, at most ``limit`` bytes unpacked; ``{}`` for anything else (missing, not an npz,
    damaged, too large). Strings come back as ``str``."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            declared = 0
            for info in archive.infolist():
                with archive.open(info) as member:  # each array's own header: its shape and dtype
                    version = np.lib.format.read_magic(member)
                    if version not in ((1, 0), (2, 0)):
                        return {}
                    header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = header(member)
                size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                declared += size
                if dtype.hasobject or declared > limit or size > info.file_size:
                    return {}  # pickled objects, too large, or a header promising more than the file holds
        with np.load(path, allow_pickle=False) as loaded:
            return {
                name: loaded[name].item() if loaded[name].dtype.kind == "U" else loaded[name] for name in loaded.files
            }
    except (OSError, ValueError, EOFError, OverflowError, MemoryError, zipfile.BadZipFile):
        return {}


def _is_sidecar(document: dict[str, Any] | None) -> bool:
    return document is not None and "workflow" in document and "version" in document


def owned(path: Path, kind: Kind) -> bool:
    """Whether the existing ``path`` is textinpaint's own file of ``kind`` (see :class:`Writer`)."""
    if kind == "sidecar":
        return _is_sidecar(_json_object(path))
    if kind == "masks":
        return (_json_object(path) or {}).get("format") == MASKS_FORMAT
    if kind == "windows":
        return read_arrays(path).get("format") == WINDOWS_FORMAT
    if kind == "failures":
        document = _json_object(path)
        return document is not None and isinstance(document.get("failures"), list)
    if kind == "report":
        try:
            with open(path, encoding="utf-8", errors="replace") as stream:
                head = stream.read(4096)
            # this release's mark, or the title the report carried before it
            return REPORT_MARK in head or "<title>textinpaint report: " in head
        except OSError:
            return False
    if path.suffix.lower() == ".png" and _png_marks(path):
        return True
    beside = _json_object(path.with_suffix(".json")) or {}
    output = beside.get("output")
    return _is_sidecar(beside) and isinstance(output, str) and Path(output).name == path.name


class Writer:
    """Writes every file of one run under one set of rules (see the module's notes).

    Args:
        inputs: files that must never be written over (the run's inputs; more with :meth:`protect`).

    Example:
        >>> writer = Writer(["photo.jpg"])  # doctest: +SKIP
        >>> writer.image(edit.image, Path("out/photo.png"), edit.to_dict())  # doctest: +SKIP
    """

    def __init__(self, inputs: Iterable[str | Path] = ()) -> None:
        self._inputs: list[Path] = []
        self._written: set[Path] = set()
        self._lock = threading.Lock()
        self.protect(*inputs)

    def protect(self, *paths: str | Path | None) -> None:
        """Never write over these files either."""
        with self._lock:
            self._inputs.extend(Path(p) for p in paths if p is not None)

    def _is_input(self, target: Path) -> Path | None:
        resolved = target.resolve()
        for source in self._inputs:
            try:
                if source.resolve() == resolved or (
                    target.exists() and source.exists() and os.path.samefile(target, source)
                ):
                    return source
            except OSError:
                continue
        return None

    def check(self, target: Path, kind: Kind = "image") -> Path:
        """``target`` if this run may write it as ``kind``; else an :class:`OutputRefusedError`."""
        target = Path(target)
        source = self._is_input(target)
        if source is not None:
            raise OutputRefusedError(
                f"the output would overwrite an input: {str(target)!r} is {str(source)!r}; choose another output"
            )
        with self._lock:
            if target.resolve() in self._written:
                raise OutputRefusedError(
                    f"two outputs of this run are named {str(target)!r}; rename one, or write them to separate folders"
                )
        if target.is_dir():
            raise OutputRefusedError(f"the output {str(target)!r} is a folder; name a file")
        if target.exists() and not owned(target, kind):
            what = {
                "image": "an image",
                "sidecar": "a sidecar",
                "failures": "a failures table",
                "report": "a report",
                "masks": "a masks document",
                "windows": "a painted window",
            }
            raise OutputRefusedError(
                f"{str(target)!r} exists and is not {what[kind]} textinpaint wrote; textinpaint does not write "
                "over files it did not make: choose another output, or move that file away"
            )
        return target

    def fresh(self, target: Path) -> Path:
        """``target``, or the first of ``stem-2``, ``stem-3``... that this run has not written yet."""
        target = Path(target)
        candidate, n = target, 1
        with self._lock:
            while candidate.resolve() in self._written:
                n += 1
                candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
        return candidate

    def _write(self, target: Path, kind: Kind, write: Callable[[Path], None]) -> Path:
        target = self.check(target, kind)
        try:
            write(target)
        except OSError as error:
            raise OutputError(f"could not write {str(target)!r}: {error.strerror or error}") from error
        with self._lock:
            self._written.add(target.resolve())
        return target

    def image(
        self, image: PIL.Image.Image, target: Path, sidecar: dict[str, Any] | None = None, *, made: str | None = None
    ) -> Path:
        """Write a picture (with its sidecar as a PNG text chunk; ``made`` marks one without)."""
        return self._write(target, "image", lambda path: save_image(image, path, sidecar, made=made))

    def json(self, target: Path, document: dict[str, Any], kind: Kind = "sidecar") -> Path:
        """Write a sidecar (or a failures table) as strict JSON."""
        return self._write(target, kind, lambda path: write_json(path, document))

    def arrays(self, target: Path, arrays: dict[str, Any], kind: Kind = "windows") -> Path:
        """Write numpy arrays (``.npz``, compressed, no pickles), e.g. a clip's painted window."""
        return self._write(
            target, kind, lambda path: _atomic(path, lambda stream: np.savez_compressed(stream, **arrays))
        )

    def text(self, target: Path, text: str, kind: Kind = "report") -> Path:
        """Write a report page (it must carry :data:`REPORT_MARK`)."""
        if kind == "report" and REPORT_MARK not in text[:4096]:
            raise ValueError("a report page must carry REPORT_MARK in its head")
        return self._write(target, kind, lambda path: write_text(path, text))
