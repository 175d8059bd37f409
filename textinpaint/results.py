"""What the workflows return: :class:`Edit` with its :class:`Record`, and drawing detections.

Every edit knows how it was made (:class:`Record`), and :meth:`Edit.to_dict` writes that down as
one versioned sidecar (the schema is in ``docs/sidecar.md``), which :func:`textinpaint.replay`
turns back into the same image.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import PIL.Image

from .images import ImageInput, Picture, load_image
from .verify import Candidate, Verification

if TYPE_CHECKING:  # supervision loads when something is drawn: reading a sidecar stays fast
    import supervision as sv

SIDECAR_VERSION = 3


@dataclass(frozen=True)
class Record:
    """How an edit was made: everything a sidecar needs to make it again.

    Attributes:
        workflow: ``"replace"``, ``"remove"``, ``"replace_background"``, ``"inpaint"``,
            ``"generate"``, ``"detect"`` or ``"segment"``.
        parameters: every option by its keyword name (the seed as used), JSON-able.
        models: where each model the workflow used came from: stage -> Hub id or path.
        device: the device it ran on.
        dtype: the compute dtype.
        input_path: the input file, when it was given as a path.
        mask: the HxW ``bool`` mask the user gave (inpaint, background with ``mask=``), else None.
        batch: for an edit made as part of a list: the index, every input's path and every seed,
            since a batched run can differ from a single one in the last bits.
        candidate: for a best-of-N edit (``tries`` > 1), the index of the candidate kept (its
            seed is ``seed + candidate``), so replay makes it again without the search.
    """

    workflow: str
    parameters: dict[str, Any]
    models: dict[str, str]
    device: str
    dtype: str
    input_path: str | None = None
    mask: np.ndarray | None = None
    batch: dict[str, Any] | None = None
    candidate: int | None = None


class _Later:
    """A zero-argument callable standing in for an image until it is first read (see :func:`later`),
    with the :class:`Picture` it shows when that is all it shows (the sidecar hashes its pixels)."""

    def __init__(self, make: Callable[[], PIL.Image.Image], picture: Picture | None = None) -> None:
        self.make = make
        self.picture = picture


def later(make: Callable[[], PIL.Image.Image]) -> PIL.Image.Image:
    """An :class:`Edit` image that ``make()`` builds when the image is first read, then kept.

    The workflows hand ``Edit`` its PIL images this way, so a caller who reads only the mask, the
    sidecar or the written file never pays for a full-size PIL image (about 30 ms at 12
    megapixels), and one who never reads ``source`` never makes it.
    """
    return cast("PIL.Image.Image", _Later(make))  # an image to every reader: Edit makes it on first read


def later_picture(picture: Picture) -> PIL.Image.Image:
    """``later(picture.to_pil)``: the picture as an :class:`Edit` image made on first read. The
    sidecar of an edit whose ``source`` is given this way hashes the picture's own pixels, so
    :meth:`Edit.to_dict` never makes the image either."""
    return cast("PIL.Image.Image", _Later(picture.to_pil, picture))


class _OnFirstUse:
    """The field of :class:`Edit` behind ``image`` and ``source``: a :func:`later` value is made on
    first read and kept; anything else is kept as given."""

    def __init__(self, *, optional: bool) -> None:
        self.optional = optional
        self.slot = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, instance: object | None, owner: type) -> Any:
        if instance is None:
            if self.optional:  # the dataclass default: None
                return None
            raise AttributeError(self.slot)  # no default: a required field
        value = instance.__dict__[self.slot]
        if isinstance(value, _Later):
            value = instance.__dict__[self.slot] = value.make()
        return value

    def __set__(self, instance: object, value: Any) -> None:
        instance.__dict__[self.slot] = value


_NOTEBOOK = """<div style="display:flex;gap:8px;align-items:flex-start">
{% for caption, uri in pictures %}<figure style="margin:0"><img src="{{ uri }}" style="max-width:360px">
<figcaption style="font:12px sans-serif">{{ caption }}</figcaption></figure>{% endfor %}
</div><div style="font:12px monospace">{{ summary }}</div>"""


@dataclass(repr=False)
class Edit:
    """The result of :func:`replace`, :func:`remove` and :func:`replace_background`.

    Attributes:
        image: the edited image, the input's exact size; RGB, or RGBA when the input had alpha
            (the alpha is the input's, unchanged). The input unchanged when nothing was found.
        mask: HxW ``bool``, every pixel that may differ from the input (the repainted region
            plus its feathered band). Pixels outside it are bit-identical to the input.
        detections: every match, sorted by score: ``xyxy`` (float32 pixels), ``confidence``,
            ``class_id`` (index of the phrase in the query), ``data["phrase"]``, and ``mask``
            (NxHxW bool) when SAM ran.
        selected: indices into ``detections`` of the matches that were used.
        seed: the seed the painter used (drawn at random when none was given); None for a
            workflow that draws no random numbers (removal with LaMa).
        found: whether anything matched the query (always True when a mask was given).
        timings: seconds spent per stage (``load``, ``detect``, ``segment``, ``inpaint``, ...).
        source: the input, upright, as loaded.
        record: how it was made (see :meth:`to_dict`).
        verification: the detector's check of the edit (``verify=True``, ``tries`` or
            ``min_score``; see :mod:`textinpaint.verify`), else None.
        candidates: for ``tries`` > 1, the candidates not kept: their seeds and scores.
        flagged: the edit scored below ``min_score`` (it is still the best candidate, and written).
        alpha: HxW ``uint8``, the subject's alpha for a cutout (soft along the edge when matted;
            the input's size, before ``crop_to_subject``), else None.
    """

    if TYPE_CHECKING:  # made on first read when a workflow gave it as `later(...)`
        image: PIL.Image.Image
    else:
        image: PIL.Image.Image = _OnFirstUse(optional=False)
    mask: np.ndarray
    detections: sv.Detections
    selected: list[int]
    seed: int | None
    found: bool
    timings: dict[str, float] = field(default_factory=dict)
    if TYPE_CHECKING:
        source: PIL.Image.Image | None = None
    else:
        source: PIL.Image.Image | None = _OnFirstUse(optional=True)
    record: Record | None = None
    verification: Verification | None = None
    candidates: list[Candidate] = field(default_factory=list)
    flagged: bool = False
    alpha: np.ndarray | None = None

    def __repr__(self) -> str:
        """A short line: workflow, size, what was found, seed, score (never the arrays)."""
        workflow = self.record.workflow if self.record is not None else "edit"
        width, height = self.image.size
        found = "found nothing"
        if self.found and len(self.detections):
            phrases = self.detections.data.get("phrase", [])
            used = ", ".join(f"{phrases[i]} {self.detections.confidence[i]:.2f}" for i in self.selected[:3])
            more = ", ..." if len(self.selected) > 3 else ""
            found = f"used {len(self.selected)} of {len(self.detections)}: {used}{more}"
        elif self.found:
            found = "changed" if self.mask.any() else "unchanged"
        score = ""
        if self.verification is not None and self.verification.score is not None:
            score = f", score {self.verification.score:.2f}{' FLAGGED' if self.flagged else ''}"
        return f"Edit({workflow}, {width}x{height}, {found}, seed {self.seed}{score})"

    def _repr_png_(self) -> bytes:
        """The edited image, for notebooks."""
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG")
        return buffer.getvalue()

    def _repr_html_(self) -> str:
        """Before | after, side by side, for notebooks (rendered with autoescape)."""
        import jinja2

        def uri(picture: PIL.Image.Image) -> str:
            small = picture.copy()
            small.thumbnail((720, 720))
            buffer = io.BytesIO()
            small.save(buffer, format="PNG")
            return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

        pictures = ([("before", uri(self.source))] if self.source is not None else []) + [("after", uri(self.image))]
        page = jinja2.Environment(autoescape=True).from_string(_NOTEBOOK)
        return page.render(pictures=pictures, summary=repr(self))

    def save(self, path: str | Path) -> Path:
        """Write the image to ``path`` with its sidecar, so ``textinpaint replay path`` makes it again.

        The sidecar goes inside a PNG (a ``textinpaint`` text chunk) and beside the image as
        ``NAME.json``. Both are written atomically, under the rules every textinpaint command
        follows: never over the edit's input, never over a file textinpaint did not write.

        Args:
            path: the image file; its suffix picks the format (``.png`` keeps untouched pixels exact).

        Returns:
            ``path`` as a Path.

        Raises:
            OutputRefusedError: ``path`` (or its ``.json``) is the input or a file textinpaint did not write.
            OutputError: the folder cannot be written.

        Example:
            >>> edit = replace("street.jpg", "car", "a bus", seed=1)  # doctest: +SKIP
            >>> edit.save("out.png")  # doctest: +SKIP
            PosixPath('out.png')
        """
        from .errors import InvalidInputError
        from .outputs import IMAGE_FORMATS, Writer

        target = Path(path)
        if target.suffix.lower() not in IMAGE_FORMATS:
            raise InvalidInputError(
                f"path must name an image file ({', '.join(sorted(IMAGE_FORMATS))}); got {str(path)!r}"
            )
        writer = Writer([] if self.record is None or self.record.input_path is None else [self.record.input_path])
        document = None if self.record is None else {**self.to_dict(), "output": str(target)}
        writer.check(target, "image")
        if document is not None:
            writer.check(target.with_suffix(".json"), "sidecar")
        writer.image(self.image, target, document)
        if document is not None:
            writer.json(target.with_suffix(".json"), document)
        return target

    def annotate(self, *, on: Literal["source", "image"] = "source") -> PIL.Image.Image:
        """Draw the detections (masks, boxes, "phrase score" labels) with supervision's annotators.

        Args:
            on: draw over the input (``"source"``) or over the edited image (``"image"``).

        Returns:
            A new RGB image; this edit is not changed.
        """
        scene = self.source if on == "source" and self.source is not None else self.image
        return annotate(scene, self.detections)

    def to_dict(self) -> dict[str, Any]:
        """The sidecar: a strict-JSON-able dict holding everything needed to make this edit again.

        Keys: ``version``, ``workflow``, ``input`` (path, sha256 of the file or of the pixels,
        size), ``parameters`` (every option, the seed included), ``mask`` (a given mask as
        base64 PNG, else None), ``batch``, ``models`` (stage -> source and revision), ``device``,
        ``dtype``, ``versions``, and the outcome: ``found``, ``seed``, ``selected``,
        ``detections``, ``timings``, ``verification``, ``flagged``, ``chosen`` and
        ``candidates`` (best of N). :func:`textinpaint.replay` reads it back.

        Example:
            >>> import json
            >>> edit = replace("street.jpg", "car", "a bus", seed=1)  # doctest: +SKIP
            >>> json.dumps(edit.to_dict(), allow_nan=False)  # doctest: +SKIP
        """
        if self.record is None:
            raise ValueError("this Edit was built by hand and has no record to write")
        held = self.__dict__.get("_source")
        document = sidecar(
            self.record,
            held.picture if isinstance(held, _Later) and held.picture is not None else self.source,
            self.detections,
            found=self.found,
            seed=self.seed,
            selected=self.selected,
            timings=self.timings,
        )
        document.update(
            verification=None if self.verification is None else self.verification.to_dict(),
            flagged=self.flagged,
            chosen=self.record.candidate,
            candidates=[{"seed": c.seed, "score": c.score} for c in self.candidates],
        )
        return document


def sidecar(
    record: Record,
    source: PIL.Image.Image | Picture | None,
    detections: sv.Detections | None,
    *,
    found: bool = True,
    seed: int | None = None,
    selected: list[int] | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The versioned sidecar of ``record`` and an outcome (see :meth:`Edit.to_dict`)."""
    from .models import revision

    return {
        "version": SIDECAR_VERSION,
        "workflow": record.workflow,
        "input": None if source is None else describe_input(record.input_path, source),
        "parameters": _plain(record.parameters),
        "mask": None if record.mask is None else encode_mask(record.mask),
        "batch": _plain(record.batch),
        "models": {stage: {"source": src, "revision": revision(src)} for stage, src in record.models.items()},
        "device": record.device,
        "dtype": record.dtype,
        "versions": versions(),
        "found": found,
        "seed": seed,
        "selected": list(selected or []),
        "detections": detection_rows(detections),
        "timings": {name: round(seconds, 4) for name, seconds in (timings or {}).items()},
    }


def describe_input(path: str | None, source: PIL.Image.Image | Picture | np.ndarray) -> dict[str, Any]:
    """An input as the sidecar holds it: its path (absolute) and the sha256 of its file, or of its
    pixels when it was given in memory (or its file is gone).

    The pixels hashed are the image's RGB, or RGBA when it has alpha, row by row (``source`` as a
    PIL image, as the :class:`Picture` it shows, or as its HxWx3/HxWx4 ``uint8`` array: the same
    digest)."""
    width, height = (
        (source.width, source.height) if isinstance(source, (PIL.Image.Image, Picture)) else source.shape[1::-1]
    )
    if path is not None and Path(path).is_file():
        digest, of = file_digest(path), "file"
    else:
        digest, of = hashlib.sha256(_rows(source)).hexdigest(), "pixels"
    return {
        "path": None if path is None else str(Path(path).resolve()),
        "sha256": digest,
        "hash_of": of,
        "width": int(width),
        "height": int(height),
    }


def _rows(source: PIL.Image.Image | Picture | np.ndarray) -> memoryview:
    """The pixels :func:`describe_input` hashes, without a copy where they lie in one block."""
    if isinstance(source, Picture):
        pixels = source.rgb if source.alpha is None else np.dstack([source.rgb, source.alpha])
    else:
        pixels = np.asarray(source)
    return np.ascontiguousarray(pixels).data


def file_digest(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """A ``bool`` mask as a base64 PNG (1 bit per pixel), for a sidecar."""
    buffer = io.BytesIO()
    PIL.Image.fromarray(mask.astype(bool)).save(buffer, format="PNG", optimize=True)
    return {
        "png_base64": base64.b64encode(buffer.getvalue()).decode("ascii"),
        "width": int(mask.shape[1]),
        "height": int(mask.shape[0]),
    }


def decode_mask(entry: dict[str, Any]) -> np.ndarray:
    """The ``bool`` mask of :func:`encode_mask`."""
    with PIL.Image.open(io.BytesIO(base64.b64decode(entry["png_base64"]))) as image:
        return np.asarray(image.convert("1"), dtype=bool)


def versions() -> dict[str, str | None]:
    """The versions of textinpaint and the libraries that decide its pixels."""
    found: dict[str, str | None] = {}
    for package in (
        "textinpaint",
        "torch",
        "diffusers",
        "transformers",
        "supervision",
        "opencv-python-headless",
        "numpy",
        "pillow",
        "simplejpeg",
    ):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def detection_rows(detections: sv.Detections | None) -> list[dict[str, Any]]:
    """Detections as JSON rows: phrase, confidence, xyxy (pixels)."""
    if detections is None or len(detections) == 0:
        return []
    confidence = detections.confidence if detections.confidence is not None else np.ones(len(detections))
    return [
        {"phrase": str(p), "confidence": round(float(c), 4), "xyxy": [round(float(v), 2) for v in box]}
        for p, c, box in zip(detections.data["phrase"], confidence, detections.xyxy)
    ]


def _plain(value: Any) -> Any:
    """JSON-able: numpy scalars to Python, tuples to lists, paths to strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def annotate(image: ImageInput, detections: sv.Detections) -> PIL.Image.Image:
    """Draw detections (masks when present, boxes, "phrase score" labels) with supervision's annotators.

    Args:
        image: the image the detections were made on (path, PIL or numpy).
        detections: e.g. from :func:`detect` or :func:`segment`.

    Returns:
        A new RGB PIL image of the input's size.

    Example:
        >>> from textinpaint import annotate, detect
        >>> annotate("street.jpg", detect("street.jpg", "car")).save("found.png")  # doctest: +SKIP
    """
    import supervision as sv

    scene = load_image(image).to_pil().convert("RGB")
    if len(detections) == 0:
        return scene
    labels = [f"{p} {c:.2f}" for p, c in zip(detections.data["phrase"], detections.confidence)]
    if detections.mask is not None:
        scene = sv.MaskAnnotator().annotate(scene, detections)
    scene = sv.BoxAnnotator().annotate(scene, detections)
    return sv.LabelAnnotator().annotate(scene, detections, labels=labels)
