"""The one sidecar reader, and replay: make an edit again from its sidecar.

A sidecar may come from anyone (a PNG's text chunk, a shared folder), so :func:`read_sidecar` is
the only way in: it parses, migrates an older version, and validates the document against the
shipped JSON Schema (``sidecar.schema.json``) before any field is used, with a typed error that
names the field and the file. Replay, the report, resume and the Ray engine all read through it.

Example:
    >>> from textinpaint import replay
    >>> edit = replay("edited/photo.json")  # doctest: +SKIP
    >>> edit.image.save("again.png")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import json
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ImageLoadError, InvalidInputError
from ..images import ImageInput
from ..results import SIDECAR_VERSION, decode_mask, file_digest

if TYPE_CHECKING:
    from ..container import Models
    from ..results import Edit

# Version 2 recorded FLUX.1 Fill's guidance and negative prompt as given (7.5 and the SD default
# negative prompt), not as used (30 and none); version 3 records what was used.
_V2_SD_GUIDANCE = 7.5
_V2_SD_NEGATIVE = "blurry, low quality, deformed, distorted, watermark, text, seam, border"
# Deeper JSON than this is no sidecar (and would exhaust the parser's recursion).
_MAX_DEPTH = 32


@functools.cache
def schema(name: str = "sidecar") -> dict[str, Any]:
    """The shipped JSON Schema of the current sidecar version (``"video_sidecar"``: a video edit's)."""
    return json.loads((Path(__file__).parent.parent / f"{name}.schema.json").read_text())


def _depth(value: Any, limit: int) -> bool:
    """Whether ``value`` nests deeper than ``limit``."""
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return False


def read_sidecar(sidecar: str | Path | dict[str, Any]) -> dict[str, Any]:
    """The sidecar document, migrated to the current version and checked against the schema.

    Args:
        sidecar: a dict, a ``.json`` file, or a PNG textinpaint wrote (its ``textinpaint`` text chunk).

    Raises:
        InvalidInputError: not a textinpaint sidecar, of a version this release cannot read, or
            a field that breaks the schema (the message names the field and the file).
        ImageLoadError: the file is missing or unreadable.
    """
    where = "sidecar" if isinstance(sidecar, dict) else f"sidecar {str(sidecar)!r}"
    if isinstance(sidecar, dict):
        document: Any = sidecar
    else:
        path = Path(sidecar)
        if not path.is_file():
            raise ImageLoadError(f"sidecar: no file at {str(path)!r}")
        try:
            if path.suffix.lower() == ".png":
                from ..outputs import read_png_sidecar

                found = read_png_sidecar(path)
                if found is None:
                    raise InvalidInputError(f"sidecar: {str(path)!r} is a PNG without a textinpaint text chunk")
                document = found
            else:
                document = json.loads(path.read_text())
        except InvalidInputError:
            raise
        except (OSError, ValueError, RecursionError) as error:
            raise InvalidInputError(f"{where} is not readable JSON ({type(error).__name__}: {error})") from error
    if not isinstance(document, dict) or "workflow" not in document:
        raise InvalidInputError(f"{where} is not a textinpaint sidecar (a JSON object with a workflow)")
    if _depth(document, _MAX_DEPTH):
        raise InvalidInputError(f"{where} nests deeper than {_MAX_DEPTH} levels; no sidecar does")
    from ..workflows import VIDEO_WORKFLOWS, WORKFLOWS

    named = document["workflow"]
    if not isinstance(named, str) or named not in {**WORKFLOWS, **VIDEO_WORKFLOWS}:
        raise InvalidInputError(f"{where}: field workflow: {named!r} is none of {[*WORKFLOWS, *VIDEO_WORKFLOWS]}")
    video = named in VIDEO_WORKFLOWS
    if not video:
        document = migrate(document, where)
    import jsonschema

    checker = jsonschema.Draft202012Validator(schema("video_sidecar" if video else "sidecar"))
    errors = sorted(checker.iter_errors(document), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        field = ".".join(str(part) for part in first.absolute_path) or "(the document)"
        raise InvalidInputError(f"{where}: field {field}: {first.message[:300]}")

    flow = VIDEO_WORKFLOWS[named] if video else WORKFLOWS[named]
    unknown = set(document["parameters"]) - _taken(flow)
    if unknown:
        raise InvalidInputError(
            f"{where}: field parameters: {document['workflow']} takes no {', '.join(sorted(unknown))}"
        )
    return document


def _taken(flow: Any) -> set[str]:
    """The parameters a sidecar of ``flow`` may hold: its options and inputs, never ``mask`` (a
    given mask is the document's own ``mask`` field, decoded from the sidecar, never a path to read)."""
    from ..options import keywords

    return (set(keywords(flow.args)) | set(flow.inputs) | ({"size"} if not flow.image else set())) - {"mask"}


def migrate(document: dict[str, Any], where: str = "sidecar") -> dict[str, Any]:
    """``document`` in the current version: a version-2 sidecar gains the values its painter used.

    Raises:
        InvalidInputError: a version this release does not know.
    """
    version = document.get("version")
    if version == SIDECAR_VERSION:
        return document
    if version != 2:
        raise InvalidInputError(
            f"{where} has version {version!r}; this textinpaint replays versions 2 and {SIDECAR_VERSION} "
            "(make the edit again to get one)"
        )
    upgraded = {**document, "version": SIDECAR_VERSION}
    parameters = document.get("parameters")
    source = ((document.get("models") or {}).get("inpainter") or {}).get("source")
    if isinstance(parameters, dict) and isinstance(source, str) and _family(source) == "flux":
        fixed = dict(parameters)
        if fixed.get("guidance") == _V2_SD_GUIDANCE:
            from ..backends.flux import FLUX_GUIDANCE

            fixed["guidance"] = FLUX_GUIDANCE
        if fixed.get("negative_prompt") == _V2_SD_NEGATIVE:
            fixed["negative_prompt"] = ""
        upgraded["parameters"] = fixed
    return upgraded


def _family(source: str) -> str | None:
    from ..errors import TextInpaintError
    from ..models import family_of

    try:
        return family_of("inpainter", source)
    except TextInpaintError:
        return None


def replay(
    sidecar: str | Path | dict[str, Any],
    *,
    image: ImageInput | None = None,
    pipeline: Models | None = None,
    device: str | None = None,
) -> Edit:
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
        picture; for ``detect`` the input, with the boxes in ``.detections``).

    Raises:
        InvalidInputError: the sidecar is malformed, the input is missing or differs from the
            recorded one, or a model was given as an object and no ``pipeline`` was passed.
    """
    from ..container import Models
    from ..workflows import WORKFLOWS
    from ..workflows.steps import choosing

    doc = read_sidecar(sidecar)
    if doc["workflow"] not in WORKFLOWS:
        raise InvalidInputError(
            f"the sidecar records a {doc['workflow']}: a clip, made again with replay_video "
            "(textinpaint replay SIDECAR -o OUT.mp4)"
        )
    flow = WORKFLOWS[doc["workflow"]]
    parameters = dict(doc["parameters"])
    if pipeline is None:
        sources = {stage: entry["source"] for stage, entry in doc["models"].items()}
        objects = [stage for stage, source in sources.items() if source == "(object)"]
        if objects:
            raise InvalidInputError(
                f"the sidecar's {', '.join(objects)} was given as an object; pass pipeline= "
                "holding the same model to replay it"
            )
        from ..stages import STAGES

        unknown = sorted(set(sources) - set(STAGES))
        if unknown:
            raise InvalidInputError(f"sidecar: field models: no stage named {', '.join(unknown)}")
        pipeline = Models(**sources, device=device or doc["device"], dtype=doc["dtype"])
    if not flow.image:
        if parameters.get("size") is not None:
            parameters["size"] = tuple(parameters["size"])
        return flow.function(pipeline, **parameters)
    source = _input(doc["input"], image)
    if flow.mask and doc.get("mask") is not None:
        parameters["mask"] = decode_mask(doc["mask"])
        if "keep" in flow.inputs:
            parameters["keep"] = None
    batch = doc.get("batch")
    # A best-of-N edit keeps its recorded candidate: the same batched run, no search.
    chosen = {} if doc.get("chosen") is None else {batch["index"] if batch else 0: int(doc["chosen"])}
    with choosing(chosen) if chosen else nullcontext():
        if batch and flow.batchable:
            if len(batch["seeds"]) != len(batch["inputs"]) or batch["index"] >= len(batch["inputs"]):
                raise InvalidInputError("sidecar: field batch: index, inputs and seeds do not agree")
            inputs = [
                source if i == batch["index"] else _input({"path": path}, None)
                for i, path in enumerate(batch["inputs"])
            ]
            return flow.function(pipeline, inputs, **{**parameters, "seed": batch["seeds"]})[batch["index"]]
        return flow.function(pipeline, source, **parameters)


def replay_video(
    sidecar: str | Path | dict[str, Any],
    output: str | Path,
    *,
    video: str | Path | None = None,
    pipeline: Models | None = None,
    device: str | None = None,
) -> Any:
    """Make a video edit again from its sidecar (``video remove``, ``replace`` or ``replace_background``), with the
    same models, options, prompt and seed, into ``output``; with ``codec="ffv1"`` (or on the same
    device, lossy or not) the frames are the same.

    Args:
        sidecar: the sidecar written beside the edit's output.
        output: where to write the clip again (and its sidecar beside it).
        video: the input clip, when the recorded path is not there (its sha256 is checked).
        pipeline: the pipeline to use (default: one from the sidecar's models, device and dtype).
        device: run on this device instead of the recorded one.

    Returns:
        The :class:`~textinpaint.workflows.video.VideoEdit`.

    Raises:
        InvalidInputError: not a video sidecar, the input is missing or differs, or the masks
            were given in memory (nothing to replay them from).
    """
    from ..container import Models
    from ..workflows import VIDEO_WORKFLOWS

    doc = read_sidecar(sidecar)
    if doc["workflow"] not in VIDEO_WORKFLOWS:
        raise InvalidInputError(f"sidecar: {doc['workflow']!r} is not a video edit; use replay()")
    flow = VIDEO_WORKFLOWS[doc["workflow"]]
    parameters = dict(doc["parameters"])
    if parameters.pop("masks_in_memory", False):
        raise InvalidInputError(
            "the sidecar's masks were given in memory, not as a file: there is nothing to replay them from"
        )
    source = Path(video) if video is not None else Path(doc["input"]["path"])
    if not source.is_file():
        raise InvalidInputError(f"the sidecar's input {str(source)!r} is not there; pass video= (the original clip)")
    if file_digest(source) != doc["input"]["sha256"]:
        raise InvalidInputError(
            f"the clip {str(source)!r} differs from the one the sidecar records (sha256 of the file)"
        )
    if pipeline is None:
        from ..stages import STAGES

        unknown = sorted(set(doc["models"]) - set(STAGES))
        if unknown:
            raise InvalidInputError(f"sidecar: field models: no stage named {', '.join(unknown)}")
        if "(object)" in doc["models"].values():
            raise InvalidInputError("a model of this edit was given as an object; pass pipeline= holding it")
        pipeline = Models(**doc["models"], device=device or doc["device"], dtype=doc["dtype"])
    if "per_frame" in flow.inputs and "per_frame" not in parameters:  # written before removal took per_frame:
        parameters["per_frame"] = "remover" in doc["models"]  # it filled frame by frame with the remover then
    return flow.function(pipeline, source, output=output, **parameters)


def _input(entry: dict[str, Any] | None, image: ImageInput | None) -> ImageInput:
    """The recorded input (or ``image``), checked against the recorded hash."""
    if entry is None:
        raise InvalidInputError("the sidecar records no input image")
    if image is None:
        path = entry.get("path")
        if path is None or not Path(path).is_file():
            raise InvalidInputError(f"the sidecar's input {path!r} is not there; pass image= (the original input)")
        image = path
    if "sha256" not in entry:  # another input of a recorded batch: the batch's own record holds no hash
        return image
    if entry["hash_of"] == "file":
        if not isinstance(image, (str, Path)):
            raise InvalidInputError(
                "the sidecar records the sha256 of the input's file; pass image= as the path of that file"
            )
        if file_digest(image) != entry["sha256"]:
            raise InvalidInputError(
                f"the input {str(image)!r} differs from the one the sidecar records "
                "(sha256 of the file); the edit would not be the same"
            )
        return image
    from ..images import load_image
    from ..results import describe_input

    picture = load_image(image)
    if describe_input(None, picture)["sha256"] != entry["sha256"]:
        raise InvalidInputError("image differs from the input the sidecar records (sha256 of the pixels)")
    return image
