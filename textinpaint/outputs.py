"""Writing results: images and sidecars go to a temporary file first and are renamed into place.

An interrupt, a full disk or a crash therefore never leaves a truncated file that looks finished.
A PNG also carries its sidecar as a ``textinpaint`` text chunk, so the image alone can be replayed.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import PIL.Image
import PIL.PngImagePlugin

if TYPE_CHECKING:
    from .results import Edit

# The PNG text chunk holding the sidecar.
PNG_KEY = "textinpaint"


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


def save_image(image: PIL.Image.Image, path: str | Path, sidecar: dict[str, Any] | None = None) -> None:
    """Save ``image`` to ``path`` (its suffix picks the format), atomically.

    A PNG gets ``sidecar`` as a text chunk. A format without alpha (JPEG) gets the image
    flattened onto white first.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    # The input's colour profile and EXIF (its orientation already applied and removed) are kept.
    options: dict[str, Any] = {key: image.info[key] for key in ("icc_profile", "exif") if image.info.get(key)}
    if suffix == ".png" and sidecar is not None:
        chunk = PIL.PngImagePlugin.PngInfo()
        chunk.add_text(PNG_KEY, json.dumps(sidecar, allow_nan=False), zip=True)
        options["pnginfo"] = chunk
    if suffix in (".jpg", ".jpeg") and image.mode not in ("RGB", "L", "1"):
        flat = PIL.Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        image = flat
    file_format = PIL.Image.registered_extensions().get(suffix, "PNG")
    _atomic(path, lambda stream: image.save(stream, format=file_format, **options))


def read_png_sidecar(path: str | Path) -> dict[str, Any] | None:
    """The sidecar a PNG written by :func:`save_image` carries, or None."""
    with PIL.Image.open(path) as image:
        text = getattr(image, "text", {}).get(PNG_KEY)
    return None if text is None else json.loads(text)


def _score_text(edit: Edit) -> str:
    """``; score 0.62 (present 0.62, gone 1.00), best of 4; FLAGGED`` for a checked edit, else ``""``."""
    if edit.verification is None:
        return ""
    check = edit.verification
    parts = ", ".join(f"{name} {'unchecked' if v is None else f'{v:.2f}'}" for name, v in check.parts.items())
    score = "unchecked" if check.score is None else f"{check.score:.2f}"
    tries = f", best of {len(edit.candidates) + 1}" if edit.candidates else ""
    return f"; score {score} ({parts}){tries}{'; FLAGGED' if edit.flagged else ''}"


def write_edit(
    job: Any,
    edit: Edit,
    *,
    save_mask: bool = False,
    save_overlay: bool = False,
    quiet: bool = False,
    summary: bool = True,
) -> dict[str, Any]:
    """Write one edit of a run (``job.source`` edited into ``job.output``) and return its sidecar.

    When nothing matched, nothing is written and the sidecar has ``output`` None. The image
    carries its sidecar (a PNG text chunk); ``save_mask`` and ``save_overlay`` also write
    ``NAME.mask.png`` (the changed region) and ``NAME.overlay.png`` (the detections). Unless
    ``quiet``, one line says what was written (with ``summary``, what was used and the score).
    """
    from tqdm.auto import tqdm

    if not edit.found:
        best = edit.detections.metadata.get("best_score")
        shown = "none" if best is None else f"{best:.3g}"
        message = f"{job.source}: nothing matching the query was found (best score {shown}); no output written"
        tqdm.write(message, file=sys.stderr)
        return {**edit.to_dict(), "output": None}
    sidecar = {**edit.to_dict(), "output": str(job.output)}
    save_image(edit.image, job.output, sidecar)
    stem = job.output.with_suffix("")
    if save_mask:
        save_image(PIL.Image.fromarray(edit.mask), Path(f"{stem}.mask.png"))
    if save_overlay:
        save_image(edit.annotate(), Path(f"{stem}.overlay.png"))
    if not quiet and summary:
        used = ", ".join(
            f"{edit.detections.data['phrase'][i]} ({edit.detections.confidence[i]:.2f})" for i in edit.selected
        )
        seed = "" if edit.seed is None else f"seed {edit.seed}; "
        tqdm.write(
            f"wrote {job.output} ({seed}used {len(edit.selected)} of {len(edit.detections)} matches: {used}"
            f"{_score_text(edit)})"
        )
    return sidecar
