"""Where models come from: short names, devices, dtypes, and a load-once cache.

A model is loaded the first time a stage needs it and kept in a process-wide cache keyed by
(stage, source, device, dtype), so every :class:`~textinpaint.Pipeline` asking for the same model
shares one copy. Loaded models are never mutated per call.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

from .errors import InvalidInputError, ModelKindError, WeightsNotFoundError

logger = logging.getLogger(__name__)

T = TypeVar("T")

DETECTORS = {
    "tiny": "IDEA-Research/grounding-dino-tiny",
    "base": "IDEA-Research/grounding-dino-base",
}
SEGMENTERS = {
    "base": "facebook/sam-vit-base",
    "large": "facebook/sam-vit-large",
    "huge": "facebook/sam-vit-huge",
}
INPAINTERS = {
    "sd15": "stable-diffusion-v1-5/stable-diffusion-inpainting",
    "sd2": "stabilityai/stable-diffusion-2-inpainting",
    "sdxl": "diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
}
CONTROLNETS = {
    "sd15-depth": "lllyasviel/control_v11f1p_sd15_depth",
    "sdxl-depth": "diffusers/controlnet-depth-sdxl-1.0",
}
DEPTH_MODELS = {
    "depth-anything-small": "depth-anything/Depth-Anything-V2-Small-hf",
    "depth-anything-base": "depth-anything/Depth-Anything-V2-Base-hf",
    "dpt-large": "Intel/dpt-large",
    "dpt-hybrid": "Intel/dpt-hybrid-midas",
}
REMOVERS = {"big-lama": "JosephCatrambone/big-lama-torchscript"}
UPSCALERS = {"x4": "stabilityai/stable-diffusion-x4-upscaler"}
SHORT_NAMES = {
    "detector": DETECTORS, "segmenter": SEGMENTERS, "inpainter": INPAINTERS, "controlnet": CONTROLNETS,
    "depth": DEPTH_MODELS, "remover": REMOVERS, "upscaler": UPSCALERS,
}
DEFAULTS = {
    "detector": "tiny", "segmenter": "huge", "inpainter": "sd15", "controlnet": "sd15-depth",
    "depth": "depth-anything-small", "remover": "big-lama", "upscaler": "x4",
}
STAGES = tuple(DEFAULTS)

# What each stage accepts, so a wrong folder fails with a clear message: transformers
# `model_type`s, or the diffusers `_class_name`s (for folders holding one diffusers model).
_MODEL_TYPES = {
    "detector": {"grounding-dino", "mm-grounding-dino"},
    "segmenter": {"sam"},
    "depth": {"dpt", "depth_anything", "glpn", "zoedepth", "depth_pro", "prompt_depth_anything"},
}
_DIFFUSERS_CLASSES = {"controlnet": {"ControlNetModel"}}
_PIPELINE_STAGES = {"inpainter": "a Stable Diffusion inpainting model", "upscaler": "a diffusers upscaler pipeline"}

_DTYPES = {
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
}

_cache: dict[tuple[str, str, str, str, str], object] = {}
_cache_lock = threading.Lock()


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The device to run on: the one given, else CUDA, then Apple MPS, then CPU."""
    if device is not None:
        try:
            return torch.device(device)
        except (RuntimeError, TypeError) as error:
            raise InvalidInputError(f"device must be like 'cuda', 'cuda:1', 'mps' or 'cpu'; got {device!r}") from error
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """The compute dtype: the one given, else float16 on CUDA and float32 elsewhere."""
    if dtype is None:
        return torch.float16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype.lower() in _DTYPES:
        return _DTYPES[dtype.lower()]
    raise InvalidInputError(f"dtype must be one of float16, bfloat16, float32 (or a torch dtype); got {dtype!r}")


def resolve_source(stage: str, name: str | Path | None, models: str | Path | None) -> str:
    """Turn a stage's model argument into a Hub repo id or a local folder path.

    ``None`` means ``models/<stage>`` when a models folder is given, else the stage's default.
    A short name (``"tiny"``, ``"huge"``, ``"sd15"``, ...) maps to its Hub id; anything else is
    taken as a Hub repo id or a local path as it is.
    """
    if name is None:
        if models is not None:
            folder = Path(models) / stage
            if not folder.is_dir():
                raise WeightsNotFoundError(stage, str(folder), f"models={str(models)!r} has no {stage}/ subfolder")
            return str(folder)
        name = DEFAULTS[stage]
    name = str(name)
    return SHORT_NAMES[stage].get(name, name)


def check_kind(stage: str, source: str) -> None:
    """Raise :class:`ModelKindError` when a local folder holds a model meant for another stage."""
    folder = Path(source)
    if not folder.is_dir():
        return  # a Hub id: from_pretrained checks the class
    config, index = folder / "config.json", folder / "model_index.json"
    if stage in _PIPELINE_STAGES:
        if not index.exists():
            raise ModelKindError(
                f"{stage}={source!r} is not a diffusers pipeline folder (no model_index.json); "
                f"give {_PIPELINE_STAGES[stage]}"
            )
        return
    if stage not in _MODEL_TYPES and stage not in _DIFFUSERS_CLASSES or not config.exists():
        return  # let the loader report what is missing
    settings = json.loads(config.read_text())
    if stage in _DIFFUSERS_CLASSES:
        found = settings.get("_class_name")
        if found not in _DIFFUSERS_CLASSES[stage]:
            raise ModelKindError(
                f"{stage}={source!r} holds a {found or settings.get('model_type')!r}; the {stage} needs one of "
                f"{sorted(_DIFFUSERS_CLASSES[stage])}"
            )
        return
    model_type = settings.get("model_type")
    if model_type not in _MODEL_TYPES[stage]:
        raise ModelKindError(
            f"{stage}={source!r} holds a {model_type!r} model; the {stage} needs one of "
            f"{sorted(_MODEL_TYPES[stage])}"
        )


def cached(
    stage: str, source: str, device: torch.device, dtype: torch.dtype, load: Callable[[], T], variant: str = ""
) -> T:
    """Return the model for this key, calling ``load`` only the first time.

    ``variant`` tells apart copies loaded with different options (speed modes, say).
    Errors from the loader that mean "files not there" become :class:`WeightsNotFoundError`.
    """
    key = (stage, source, str(device), str(dtype), variant)
    with _cache_lock:
        if key not in _cache:
            check_kind(stage, source)
            logger.info("loading %s %s on %s as %s", stage, source, device, dtype)
            try:
                _cache[key] = load()
            except OSError as error:
                reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise WeightsNotFoundError(stage, source, reason) from error
        return _cache[key]  # type: ignore[return-value]


def clear_cache() -> None:
    """Forget every loaded model (frees their memory once no pipeline holds them)."""
    with _cache_lock:
        _cache.clear()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# The file whose presence says a Hub repository is in the local cache, per stage.
_MARKER_FILES = {"inpainter": "model_index.json", "upscaler": "model_index.json", "remover": "lama.pt"}
# What `download` fetches: the files from_pretrained reads (no duplicate fp16/ckpt/bin weights).
_PIPELINE_FILES = ["model_index.json", "*/*.json", "*/*.txt", "*/*.model", "*/diffusion_pytorch_model.safetensors",
                   "*/model.safetensors"]
_DOWNLOAD_PATTERNS = {"inpainter": _PIPELINE_FILES, "upscaler": _PIPELINE_FILES, "remover": ["*.pt"]}


def present(stage: str, source: str) -> bool:
    """Whether ``source`` for ``stage`` can be loaded without the network (a local path, or cached)."""
    if Path(source).exists():
        return True
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(source, _MARKER_FILES.get(stage, "config.json")), str)


def download(stage: str, repo: str, target: Path | None = None) -> str:
    """Fetch ``repo`` for ``stage`` into the Hugging Face cache, or into the folder ``target``.

    Returns:
        Where the files are.
    """
    if Path(repo).exists():
        return repo
    from huggingface_hub import snapshot_download

    patterns = _DOWNLOAD_PATTERNS.get(stage, ["*.json", "*.txt", "*.model", "*.safetensors"])
    return snapshot_download(repo, local_dir=target, allow_patterns=patterns)


_per_thread = threading.local()


def thread_copy(shared: T) -> T:
    """This thread's own copy of ``shared``, made on first use.

    Hugging Face fast tokenizers keep each call's padding and truncation settings on one shared
    Rust object, so two threads tokenizing with different settings corrupt each other's output
    (sequences of the wrong length). Tokenizers and processors are small; each thread gets one.
    """
    copies = getattr(_per_thread, "copies", None)
    if copies is None:
        copies = _per_thread.copies = {}
    entry = copies.get(id(shared))
    if entry is None or entry[0] is not shared:
        import copy

        entry = copies[id(shared)] = (shared, copy.deepcopy(shared))
    return entry[1]
