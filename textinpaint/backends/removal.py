"""Object removal with LaMa: a fill model that continues the background instead of inventing.

Diffusion inpainting with an empty prompt tends to paint a new object into the hole; LaMa
(Suvorov et al., 2021) is trained to fill holes with plausible surroundings. It is loaded from a
TorchScript file with ``torch.jit.load``: no pickle, no Python code from the file is run.

The TorchScript model takes ``(image, mask)``: image 1x3xHxW float in [0, 1], mask 1x1xHxW float in
{0, 1} (1 = fill), H and W multiples of 8, and returns 1x3xHxW in [0, 1] (the convention of the
published Big-LaMa TorchScript exports).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import ModelKindError
from ..inpainting import FillRequest, resize, shrink_any

# The file names LaMa TorchScript exports go by, looked for in a folder or a Hub repository.
LAMA_FILES = ("big-lama.pt", "lama.pt")
# LaMa works at any size, but its receptive field is tuned for about 512 px; above this side the
# crop is shrunk for the fill and the result enlarged back (it is a background, not detail).
_MAX_SIDE = 1280


@dataclass(frozen=True)
class Lama:
    """A TorchScript LaMa as a :class:`~textinpaint.inpainting.Filler` (the prompt is ignored)."""

    model: torch.jit.ScriptModule
    device: torch.device
    native_size: int = 512

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype) -> Lama:
        path = _lama_file(source)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # deprecated, but TorchScript is how LaMa ships
                model = torch.jit.load(str(path), map_location=device)
        except RuntimeError as error:
            raise ModelKindError(f"remover={source!r} is not a TorchScript LaMa file ({error})") from error
        return cls(model.eval(), device)

    @torch.inference_mode()
    def __call__(self, crop: np.ndarray, mask: np.ndarray, request: FillRequest) -> np.ndarray:
        height, width = mask.shape
        shrink = max(1.0, max(width, height) / _MAX_SIDE)
        work_width, work_height = round(width / shrink), round(height / shrink)
        image = resize(crop, work_width, work_height)
        hole = shrink_any(mask, work_width, work_height)
        pad_height, pad_width = -work_height % 8, -work_width % 8
        image = np.pad(
            image,
            ((0, pad_height), (0, pad_width), (0, 0)),
            mode="reflect" if min(work_height, work_width) > 1 else "edge",
        )
        hole = np.pad(hole, ((0, pad_height), (0, pad_width)), mode="edge")
        pixels = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255.0).to(self.device)
        holes = torch.from_numpy(hole)[None, None].float().to(self.device)
        filled = self.model(pixels, holes)[0, :, :work_height, :work_width]
        filled = filled.clamp(0, 1).mul(255.0).round().byte().permute(1, 2, 0).cpu().numpy()
        return resize(filled, width, height)


def _lama_file(source: str) -> Path:
    """The TorchScript file for ``source``: a file, a folder holding one, or a Hub repo id (cache only)."""
    path = Path(source)
    if path.is_file():
        return path
    if path.is_dir():
        for name in LAMA_FILES:
            if (path / name).is_file():
                return path / name
        raise FileNotFoundError(f"no {' or '.join(LAMA_FILES)} in {source}")
    from huggingface_hub import hf_hub_download

    errors = []
    for name in LAMA_FILES:
        try:
            return Path(hf_hub_download(source, name))
        except Exception as error:
            errors.append(f"{name}: {type(error).__name__}")
    raise FileNotFoundError(f"{source} has none of {LAMA_FILES} ({'; '.join(errors)})")
