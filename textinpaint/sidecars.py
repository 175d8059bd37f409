"""Make an edit again from its sidecar (a JSON file, a PNG written by textinpaint, or the dict).

Example:
    >>> from textinpaint import replay
    >>> edit = replay("edited/photo.json")  # doctest: +SKIP
    >>> edit.image.save("again.png")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ImageLoadError, InvalidInputError
from .images import ImageInput
from .results import SIDECAR_VERSION, decode_mask, file_digest

if TYPE_CHECKING:
    from .pipeline import Pipeline

WORKFLOWS = ("replace", "remove", "replace_background", "inpaint", "generate", "segment", "detect")


def read_sidecar(sidecar: str | Path | dict[str, Any]) -> dict[str, Any]:
    """The sidecar document: from a dict, a ``.json`` file, or a PNG's ``textinpaint`` text chunk.

    Raises:
        InvalidInputError: not a textinpaint sidecar, or of a version this release cannot read.
        ImageLoadError: the file is missing or unreadable.
    """
    if isinstance(sidecar, dict):
        document = sidecar
    else:
        path = Path(sidecar)
        if not path.is_file():
            raise ImageLoadError(f"sidecar: no file at {str(path)!r}")
        try:
            if path.suffix.lower() == ".png":
                from .outputs import read_png_sidecar

                found = read_png_sidecar(path)
                if found is None:
                    raise InvalidInputError(f"sidecar: {str(path)!r} is a PNG without a textinpaint text chunk")
                document = found
            else:
                document = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            if isinstance(error, InvalidInputError):
                raise
            raise InvalidInputError(f"sidecar: {str(path)!r} is not readable JSON ({error})") from error
    if not isinstance(document, dict) or document.get("workflow") not in WORKFLOWS:
        raise InvalidInputError(f"sidecar must hold a textinpaint record with a workflow among {list(WORKFLOWS)}")
    if document.get("version") != SIDECAR_VERSION:
        raise InvalidInputError(
            f"sidecar has version {document.get('version')!r}; this textinpaint replays "
            f"version {SIDECAR_VERSION} (make the edit again to get one)"
        )
    return document


def replay(
    sidecar: str | Path | dict[str, Any],
    *,
    image: ImageInput | None = None,
    pipeline: Pipeline | None = None,
    device: str | None = None,
) -> Any:
    """Make the edit a sidecar describes again, with the same models, options and seed.

    Args:
        sidecar: a sidecar file (``.json``), a PNG textinpaint wrote, or the dict (``Edit.to_dict()``).
        image: the input, when the sidecar's path is not there (an edit made in memory or in the
            app); its hash is checked against the recorded one.
        pipeline: the pipeline to use (needed when the sidecar's models were given as objects);
            default: one built from the sidecar's model sources, device and dtype.
        device: run on this device instead of the recorded one (results may then differ in the
            last bits: kernels differ between devices).

    Returns:
        An :class:`~textinpaint.Edit` (``.image`` is the result; for ``segment`` the mask
        picture), or ``supervision.Detections`` for a ``detect`` sidecar.

    Raises:
        InvalidInputError: the input is missing or differs from the recorded one, or a model
            was given as an object and no ``pipeline`` was passed.
    """
    from .pipeline import Pipeline
    from .runtime import choosing

    doc = read_sidecar(sidecar)
    workflow, parameters = doc["workflow"], dict(doc["parameters"])
    if pipeline is None:
        sources = {stage: entry["source"] for stage, entry in doc["models"].items()}
        objects = [stage for stage, source in sources.items() if source == "(object)"]
        if objects:
            raise InvalidInputError(
                f"the sidecar's {', '.join(objects)} was given as an object; pass pipeline= "
                "holding the same model to replay it"
            )
        pipeline = Pipeline(**sources, device=device or doc["device"], dtype=doc["dtype"])
    if workflow == "generate":
        size = parameters.pop("size")
        return pipeline.generate(size=None if size is None else tuple(size), **parameters).info["edit"]
    source = _input(doc["input"], image)
    mask = None if doc.get("mask") is None else decode_mask(doc["mask"])
    batch = doc.get("batch")
    # A best-of-N edit keeps its recorded candidate: the same batched run, no search.
    chosen = {} if doc.get("chosen") is None else {batch["index"] if batch else 0: int(doc["chosen"])}
    with choosing(chosen) if chosen else nullcontext():
        if workflow in ("replace", "remove") and batch:
            inputs = [
                source if i == batch["index"] else _input({"path": path}, None)
                for i, path in enumerate(batch["inputs"])
            ]
            run = pipeline.replace if workflow == "replace" else pipeline.remove
            return run(inputs, **{**parameters, "seed": batch["seeds"]})[batch["index"]]
        if workflow == "replace":
            return pipeline.replace(source, **parameters)
        if workflow == "remove":
            if mask is not None:
                parameters.update(mask=mask)
            return pipeline.remove(source, **parameters)
        if workflow == "replace_background":
            if mask is not None:
                parameters.update(keep=None, mask=mask)
            return pipeline.replace_background(source, **parameters)
    if workflow == "inpaint":
        return pipeline.inpaint(source, mask, **parameters).info["edit"]
    from .workflows.find import find_boxes, find_masks

    if workflow == "segment":
        return find_masks(pipeline, source, **parameters)
    return find_boxes(pipeline, source, **parameters).detections


def _input(entry: dict[str, Any] | None, image: ImageInput | None) -> ImageInput:
    """The recorded input (or ``image``), checked against the recorded hash."""
    if entry is None:
        raise InvalidInputError("the sidecar records no input image")
    if image is None:
        path = entry.get("path")
        if path is None or not Path(path).is_file():
            raise InvalidInputError(f"the sidecar's input {path!r} is not there; pass image= (the original input)")
        image = path
    if entry.get("sha256") is None:
        return image
    if entry.get("hash_of") == "file" and isinstance(image, (str, Path)):
        if file_digest(image) != entry["sha256"]:
            raise InvalidInputError(
                f"the input {str(image)!r} differs from the one the sidecar records "
                "(sha256 of the file); the edit would not be the same"
            )
        return image
    from .images import load_image
    from .results import describe_input

    picture = load_image(image)
    if entry.get("hash_of") == "pixels" and describe_input(None, picture.to_pil())["sha256"] != entry["sha256"]:
        raise InvalidInputError("image differs from the input the sidecar records (sha256 of the pixels)")
    return image
