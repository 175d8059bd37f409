"""Where models run: the device and the compute dtype, resolved once from what the user asked."""

from __future__ import annotations

import torch

from .errors import InvalidInputError

_DTYPES = {
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float32": torch.float32,
    "fp32": torch.float32,
    "float": torch.float32,
}


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The device to run on: the one given, else CUDA, then Apple MPS, then CPU."""
    if device is not None:
        try:
            chosen = torch.device(device)
        except (RuntimeError, TypeError) as error:
            raise InvalidInputError(f"device must be like 'cuda', 'cuda:1', 'mps' or 'cpu'; got {device!r}") from error
        if chosen.type == "cuda" and not torch.cuda.is_available():
            raise InvalidInputError(
                f"device={str(device)!r} but this machine has no usable CUDA GPU (torch {torch.__version__}, "
                f"CUDA build {torch.version.cuda}); use device='cpu'"
            )
        if chosen.type == "cuda" and chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise InvalidInputError(
                f"device={str(device)!r} but this machine has {torch.cuda.device_count()} CUDA GPU(s)"
            )
        if chosen.type == "mps" and not torch.backends.mps.is_available():
            raise InvalidInputError(f"device={str(device)!r} but Apple MPS is not available here; use device='cpu'")
        return chosen
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
