"""Where models come from: sources, backends, families, the local cache, downloads.

A source is a short name (``"tiny"``), a Hub repo id, or a local path; :func:`resolve_source`
turns it into a path or id and :func:`backend_for` picks the :class:`~textinpaint.stages.Backend`
that loads it, refusing a folder that holds another stage's model before anything is read.
Where models run is :mod:`textinpaint.devices`; the models a pipeline holds, :mod:`textinpaint.store`.
"""

from __future__ import annotations

import json
import logging
import warnings
import zipfile
from pathlib import Path
from typing import TypeVar

import torch

from .errors import InvalidInputError, ModelKindError, WeightsNotFoundError
from .stages import STAGES, Backend, Stage

logger = logging.getLogger(__name__)

T = TypeVar("T")


def stage_of(name: str) -> Stage:
    """The :class:`~textinpaint.stages.Stage` called ``name``; a typed error for an unknown one."""
    if name not in STAGES:
        raise InvalidInputError(f"stage must be one of {list(STAGES)}; got {name!r}")
    return STAGES[name]


def resolve_source(stage: str, name: str | Path | None, models: str | Path | None) -> str:
    """Turn a stage's model argument into a Hub repo id or a local path.

    ``None`` means ``models/<stage>`` when a models folder is given, else the stage's default.
    A short name (``"tiny"``, ``"huge"``, ``"sd15"``, ...) maps to its Hub id; anything else is
    taken as a Hub repo id or a local path as it is.
    """
    table = stage_of(stage)
    if name is None:
        if models is not None:
            folder = Path(models) / stage
            if not folder.is_dir():
                raise WeightsNotFoundError(stage, str(folder), f"models={str(models)!r} has no {stage}/ subfolder")
            return str(folder)
        name = table.default
    name = str(name)
    if name in table.names:
        return table.names[name].repo
    if _scheme_backend(table, name) is not None:
        return name  # a model in a backend's own store (rembg:u2net)
    if "/" not in name and "\\" not in name and not Path(name).exists():
        # Not a short name, not a Hub id (owner/name), not a file here: refused before any network.
        import difflib

        close = difflib.get_close_matches(name, list(table.names), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InvalidInputError(
            f"{stage}={name!r} is no short name, Hub id (owner/name) or local path; {hint}"
            f"short names: {', '.join(table.names)}"
        )
    return name


def _scheme_backend(table: Stage, source: str) -> Backend | None:
    """The backend whose own store ``source`` names (``rembg:u2net``), if any."""
    prefix, colon, _ = source.partition(":")
    if not colon or len(prefix) < 2:  # C:\\ is a drive, not a scheme
        return None
    return next((backend for backend in table.backends if backend.scheme == prefix), None)


def outside_hub(stage: str, source: str) -> object | None:
    """The class of the backend that keeps ``source`` in its own store, outside the Hugging Face
    Hub (it declares ``locate``, ``fetch`` and ``host``); None for Hub ids and local paths."""
    backend = _scheme_backend(stage_of(stage), source)
    return None if backend is None else backend.owner()


def _located(owner: object, source: str) -> tuple[Path | None, str]:
    """Where a backend outside the Hub keeps ``source`` on this machine, or why it is not there
    (not downloaded; or the backend's library, an optional extra, is not installed)."""
    from .errors import MissingDependencyError

    try:
        found = owner.locate(source)  # type: ignore[attr-defined]  # declared by every scheme backend
    except MissingDependencyError as error:
        return None, str(error).split(" (")[0]
    return (None, "not downloaded") if found is None else (Path(found), "")


def _describe(folder: Path) -> tuple[str | None, bool]:
    """What a model folder says it holds (``model_type`` or ``_class_name``), and whether it is a pipeline."""
    index, config = folder / "model_index.json", folder / "config.json"
    for file, is_index in ((index, True), (config, False)):
        if file.is_file():
            try:
                settings = json.loads(file.read_text())
            except (OSError, ValueError) as error:
                raise ModelKindError(f"{file} is not readable JSON ({error})") from error
            if not isinstance(settings, dict):
                raise ModelKindError(f"{file} does not hold a model configuration")
            return settings.get("_class_name") or settings.get("model_type"), is_index
    return None, False


def cached_folder(repo: str, stage: Stage) -> Path | None:
    """The local snapshot folder of Hub repo ``repo`` when its config is in the cache (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a dependency
        return None
    for name in ("model_index.json", "config.json", *(f for b in stage.backends for f in b.files)):
        try:
            found = try_to_load_from_cache(repo, name)
        except Exception:
            return None
        if isinstance(found, str):
            return Path(found).parent
    return None


def backend_for(stage: str, source: str, name: str | Path | None = None) -> Backend:
    """The backend that loads ``source`` for ``stage``, read off the name, the file or the folder.

    Raises:
        ModelKindError: a local file or folder holds a model meant for another stage.
        WeightsNotFoundError: a local folder holds no model at all.
    """
    table = stage_of(stage)
    if name is not None and str(name) in table.names:
        return table.backend(table.names[str(name)].backend)
    own = _scheme_backend(table, source)
    if own is not None:
        return own
    path = Path(source)
    if path.is_file():
        for backend in table.backends:
            if path.suffix.lower() in backend.suffixes:
                return backend
        wanted = [s for b in table.backends for s in b.suffixes]
        raise ModelKindError(
            f"{stage}={source!r} is a file; the {stage} takes a model folder"
            + (f" or a {' / '.join(wanted)} file" if wanted else "")
        )
    if not path.exists():
        for backend in table.backends:
            if path.suffix.lower() in backend.suffixes:
                return backend  # a missing file: its loader says so
    folder = path if path.is_dir() else cached_folder(source, table)
    if folder is None:
        return table.backends[0]  # a Hub id not cached yet: from_pretrained reports what is missing
    for backend in table.backends:
        if any((folder / file).is_file() for file in backend.files):
            return backend
    kind, is_index = _describe(folder)
    for backend in table.backends:
        if kind in backend.kinds and backend.index == is_index:
            return backend
    if kind is None:
        other = _other_stage(folder, kind, is_index, table.name)
        if other is not None:
            raise ModelKindError(
                f"{stage}={source!r} holds {other}, not a model for the {stage} (which {table.summary}); "
                f"give it as that stage's model, and a {stage} model here"
            )
        if any(b.files for b in table.backends):
            files = " or ".join(f for b in table.backends for f in b.files)
            raise WeightsNotFoundError(stage, source, f"the folder holds no {files}")
        raise WeightsNotFoundError(stage, source, "the folder holds no config.json or model_index.json")
    if all(b.index for b in table.backends) and not is_index:
        raise ModelKindError(
            f"{stage}={source!r} is not a diffusers pipeline folder (no model_index.json); the {stage} {table.summary}"
        )
    kinds = sorted(k for b in table.backends for k in b.kinds)
    raise ModelKindError(f"{stage}={source!r} holds a {kind!r} model; the {stage} needs one of {kinds}")


def family_of(stage: str, source: str, name: str | Path | None = None) -> str | None:
    """The model family of ``source`` (``"sdxl"``...): a short name's row says it; a local or
    cached folder's config (``model_index.json``'s ``_class_name``) tells it; else None. Loads nothing."""
    table = stage_of(stage)
    if name is not None and str(name) in table.names:
        model = table.names[str(name)]
        return model.family or None
    known = {model.repo: model.family for model in table.models}
    if source in known:
        return known[source] or None
    path = Path(source)
    folder = path if path.is_dir() else cached_folder(source, table)
    if folder is None:
        return None
    kind, _ = _describe(folder)
    for backend in table.backends:
        family = backend.family(kind)
        if family is not None:
            return family
    return None


def _other_stage(folder: Path, kind: str | None, is_index: bool, stage: str) -> str | None:
    """What another stage's backend would read this folder as ("a fast model (lcm-lora)"), or None."""
    for other in STAGES.values():
        if other.name == stage:
            continue
        for backend in other.backends:
            by_files = any((folder / file).is_file() for file in backend.files)
            by_kind = kind is not None and kind in backend.kinds and backend.index == is_index
            if by_files or by_kind:
                return f"a {other.name} model ({backend.name})"
    return None


def revision(source: str) -> str | None:
    """The commit of a cached Hub repository's snapshot (None for a local path or an uncached id)."""
    if Path(source).exists():
        return None
    for stage in STAGES.values():
        folder = cached_folder(source, stage)
        if folder is not None:
            return folder.name if folder.parent.name == "snapshots" else None
    return None


def damaged_weights(folder: Path) -> str | None:
    """The first weight file in ``folder`` that cannot be read, and why (None when all read).

    Safetensors headers are checked against the file's length (a truncated or garbage file fails);
    pickle weights (``.bin``, ``.pt``, ``.pth``, ``.ckpt``) are opened with ``weights_only=True``.
    """
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        suffix = path.suffix.lower()
        try:
            if suffix == ".safetensors":
                from safetensors import safe_open

                with safe_open(str(path), framework="pt") as opened:
                    opened.keys()
            elif suffix in (".bin", ".pth", ".ckpt") or (suffix == ".pt" and not _is_torchscript(path)):
                with warnings.catch_warnings():  # torch warns about old pickle protocols; the error says it all
                    warnings.simplefilter("ignore")
                    torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
        except Exception as error:  # each reader fails in its own way
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return f"the file {str(path)!r} is damaged or not a weight file ({message})"
    return None


def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("constants.pkl") for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


# Weight file names a component folder holds, without and with the fp16 variant infix.
_WEIGHT_SUFFIXES = (".safetensors", ".bin")


def model_folder(stage: str, source: str) -> Path | None:
    """The local folder of ``source``: itself, or its Hub cache snapshot (None when not on this machine)."""
    owner = outside_hub(stage, source)
    if owner is not None:
        found = _located(owner, source)[0]
        return None if found is None else found.parent
    path = Path(source)
    if path.is_dir():
        return path
    if path.exists():
        return path.parent
    return cached_folder(source, stage_of(stage))


def variant_options(stage: str, source: str, dtype: torch.dtype) -> dict[str, str]:
    """``variant="fp16"`` for a diffusers ``from_pretrained`` when the fp16 weight files are what is on
    disk (or both are, and the dtype is 16-bit); nothing otherwise (safetensors are preferred anyway)."""
    folder = model_folder(stage, source)
    if folder is None:
        return {}
    names = [p.name for p in folder.rglob("*") if p.name.endswith(_WEIGHT_SUFFIXES)]
    half = any(".fp16." in name for name in names)
    full = any(".fp16." not in name for name in names)
    if half and (not full or dtype in (torch.float16, torch.bfloat16)):
        return {"variant": "fp16"}
    return {}


_REACHABLE: dict[str, bool] = {}  # the probe's answer per host, once per process


def hub_reachable(timeout: float = 2.0, host: str | None = None) -> bool:
    """Whether the Hugging Face Hub (or ``host``, where a backend outside the Hub downloads from)
    can be reached from here: False at once under ``HF_HUB_OFFLINE=1`` (the switch this library
    reads as "offline" for every download), else one TCP connection attempt (at most ``timeout``
    seconds), asked once per process and host, so an offline machine never waits through the
    download library's retries."""
    import os
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    endpoint = urlparse(f"https://{host}" if host else os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    address = (endpoint.hostname or "huggingface.co", endpoint.port or 443)
    if address[0] not in _REACHABLE:
        try:
            with socket.create_connection(address, timeout):
                _REACHABLE[address[0]] = True
        except Exception:  # DNS failure, refused, timed out, or a sandbox that forbids it: all "no"
            _REACHABLE[address[0]] = False
    return _REACHABLE[address[0]]


def _hub_id(source: str) -> bool:
    """Whether ``source`` reads as a Hub repo id (``owner/name``), not a local path."""
    return source.count("/") == 1 and not source.startswith(("/", ".", "~")) and "\\" not in source


def missing_models(sources: dict[str, str]) -> list[tuple[str, str]]:
    """The (stage, source) pairs of ``sources`` that are Hub ids not in the local cache, when the
    Hub cannot be reached (nothing is missing while it can: they will download). Loads nothing."""
    wanted = [(stage, source) for stage, source in sources.items() if _hub_id(source) and not Path(source).exists()]
    absent = [(stage, source) for stage, source in wanted if not weights_status(stage, source)[0]]
    missing = absent if absent and not hub_reachable() else []
    for stage, source in sources.items():
        owner = outside_hub(stage, source)
        if owner is not None and owner.locate(source) is None and not hub_reachable(host=owner.host):  # type: ignore[attr-defined]  # declared by every scheme backend
            missing.append((stage, source))
    return missing


def weights_status(stage: str, source: str) -> tuple[bool, str]:
    """Whether ``source`` can be loaded here, and what is wrong when not: the weight files
    themselves are looked for (every component of a pipeline) and their headers read."""
    owner = outside_hub(stage, source)
    if owner is not None:
        where, problem = _located(owner, source)
        return where is not None, problem
    folder = model_folder(stage, source)
    if folder is None:
        return False, "not in the Hugging Face cache"
    if Path(source).is_file():
        return True, ""
    table = stage_of(stage)
    files = [name for backend in table.backends for name in backend.files]
    if files:
        ok = any((folder / name).is_file() for name in files)
        return ok, "" if ok else f"no {' or '.join(files)}"
    index = folder / "model_index.json"
    parts = [folder]
    if index.is_file():
        try:
            listed = json.loads(index.read_text())
        except ValueError:
            return False, "model_index.json is not readable JSON"
        parts = [
            folder / name
            for name, value in listed.items()
            if isinstance(value, list) and value[0] is not None and (folder / name / "config.json").is_file()
        ]
    elif not (folder / "config.json").is_file():
        return False, "no config.json"
    missing = [part for part in parts if not any(p.name.endswith(_WEIGHT_SUFFIXES) for p in part.glob("*"))]
    if missing:
        return False, "no weights in " + ", ".join(str(p.relative_to(folder)) or "." for p in missing)
    damaged = damaged_weights(folder)
    return (damaged is None), damaged or ""


def download(stage: str, repo: str, target: Path | None = None) -> str:
    """Fetch ``repo`` for ``stage`` into the Hugging Face cache, and copy it to ``target`` when given.

    A diffusers pipeline goes through diffusers' own ``DiffusionPipeline.download`` with
    ``variant="fp16"``: the files ``from_pretrained`` reads, fp16 where the repository has them
    (half the bytes; widened to float32 on a CPU as they load). Other models fetch the stage's
    file patterns (configs, tokenizers, safetensors).

    Returns:
        Where the files are.

    Raises:
        WeightsNotFoundError: the Hub cannot be reached (said at once, without the download
            library's retries) or the download failed; one message, naming the model.
    """
    if Path(repo).exists():
        return repo
    table = stage_of(stage)
    owner = outside_hub(stage, repo)
    if owner is not None:
        where = owner.locate(repo)  # type: ignore[attr-defined]  # declared by every scheme backend
        if where is None:
            if not hub_reachable(host=owner.host):  # type: ignore[attr-defined]  # as above
                raise WeightsNotFoundError(stage, repo, f"{owner.host} cannot be reached from this machine")  # type: ignore[attr-defined]  # as above
            where = owner.fetch(repo)  # type: ignore[attr-defined]  # as above
        return str(where) if target is None else _copy_file(Path(where), target)
    if not hub_reachable():
        raise WeightsNotFoundError(stage, repo, "the Hugging Face Hub cannot be reached from this machine")
    try:
        if all(backend.index for backend in table.backends):
            from diffusers import DiffusionPipeline

            where = str(DiffusionPipeline.download(repo, variant="fp16", use_safetensors=True))
        else:
            from huggingface_hub import snapshot_download

            where = str(snapshot_download(repo, allow_patterns=list(table.download)))
    except Exception as error:  # the Hub client's own errors (HTTP, connection, missing repo...)
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise WeightsNotFoundError(stage, repo, f"the download failed: {type(error).__name__}: {first}") from None
    if target is None:
        return where
    import shutil

    from .errors import OutputError, OutputRefusedError

    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and _describe(target)[0] is None)):
        raise OutputRefusedError(
            f"{str(target)!r} exists and is not a model folder textinpaint downloaded (no config.json or "
            "model_index.json); textinpaint does not write over files it did not make: choose another --models folder"
        )
    try:
        shutil.copytree(where, target, dirs_exist_ok=True)  # the cache's symlinks become plain files
    except OSError as error:
        raise OutputError(f"could not write {str(target)!r}: {error.strerror or error}") from error
    return str(target)


def _copy_file(file: Path, target: Path) -> str:
    """Copy a downloaded single-file model into the ``--models`` folder ``target`` (never over a
    file of another content that textinpaint did not put there)."""
    import shutil

    from .errors import OutputError, OutputRefusedError

    copy = target / file.name
    if target.exists() and not target.is_dir():
        raise OutputRefusedError(f"{str(target)!r} exists and is not a folder; choose another --models folder")
    if copy.exists() and (not copy.is_file() or copy.stat().st_size != file.stat().st_size):
        raise OutputRefusedError(
            f"{str(copy)!r} exists and is not this model; textinpaint does not write over files it did not make"
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
        partial = copy.with_name(f".{copy.name}.partial")
        shutil.copyfile(file, partial)
        partial.replace(copy)
    except OSError as error:
        raise OutputError(f"could not write {str(copy)!r}: {error.strerror or error}") from error
    return str(copy)
