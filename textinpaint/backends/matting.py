"""Soft edges: ViTMatte (through transformers) turns a trimap into an alpha matte.

``VitMatteImageProcessor`` + ``VitMatteForImageMatting``, exactly as the transformers docs run
them: the picture and its trimap (0 background, 128 unknown, 255 foreground) go in together, the
processor pads them to a multiple of 32, and the model's alpha is cropped back. A crop larger
than :data:`MAX_SIDE` on a side is matted in overlapping tiles (ViTMatte's global attention
grows with the square of the pixel count), each tile's centre kept, so every pixel is still
matted at full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import torch

# One pass up to this side; above it, tiles of TILE px overlapping by 2 x MARGIN.
MAX_SIDE = 1536
TILE = 1024
MARGIN = 128


@dataclass(frozen=True)
class ViTMatte:
    """A loaded ViTMatte: ``matte(rgb, trimap)`` is the HxW ``float32`` alpha in [0, 1]."""

    processor: Any  # a transformers VitMatteImageProcessor
    model: torch.nn.Module
    device: torch.device
    dtype: torch.dtype

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype) -> ViTMatte:
        from transformers import VitMatteForImageMatting, VitMatteImageProcessor

        processor = VitMatteImageProcessor.from_pretrained(source)
        model: torch.nn.Module = VitMatteForImageMatting.from_pretrained(source, dtype=dtype)
        return cls(processor, model.to(device).eval(), device, dtype)

    @torch.inference_mode()
    def __call__(self, rgb: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        """The alpha of an HxWx3 ``uint8`` picture under an HxW ``uint8`` trimap.

        Returns:
            HxW ``float32`` in [0, 1] (the model's answer everywhere; the caller keeps the trimap's
            sure pixels).
        """
        height, width = trimap.shape
        if max(height, width) <= MAX_SIDE:
            return self._one(rgb, trimap)
        alpha = np.zeros((height, width), dtype=np.float32)
        step = TILE - 2 * MARGIN
        for top in range(0, height, step):
            for left in range(0, width, step):
                y0, x0 = max(0, top - MARGIN), max(0, left - MARGIN)
                y1, x1 = min(height, top + step + MARGIN), min(width, left + step + MARGIN)
                core = (slice(top, min(height, top + step)), slice(left, min(width, left + step)))
                if not (trimap[core] == 128).any():
                    alpha[core] = trimap[core] / 255.0
                    continue
                tile = self._one(rgb[y0:y1, x0:x1], trimap[y0:y1, x0:x1])
                alpha[core] = tile[top - y0 : core[0].stop - y0, left - x0 : core[1].stop - x0]
        return alpha

    def _one(self, rgb: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        height, width = trimap.shape
        inputs = self.processor(
            images=PIL.Image.fromarray(np.ascontiguousarray(rgb[..., :3])),
            trimaps=PIL.Image.fromarray(np.ascontiguousarray(trimap)),
            return_tensors="pt",
        )
        pixels = inputs["pixel_values"].to(self.device, self.dtype)
        alphas = self.model(pixel_values=pixels).alphas
        return alphas[0, 0, :height, :width].float().clamp(0, 1).cpu().numpy()


def write_tiny(folder: Path, *, seed: int) -> Path:
    """A tiny random-weight ViTMatte (a 2-layer VitDet of width 32, one windowed and one residual
    block, relative positions as in the real checkpoints) and its processor, saved by transformers."""
    from transformers import VitDetConfig, VitMatteConfig, VitMatteForImageMatting, VitMatteImageProcessor

    backbone = VitDetConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        mlp_ratio=2,
        num_channels=4,
        image_size=64,
        pretrain_image_size=32,
        patch_size=16,
        window_block_indices=[0],
        residual_block_indices=[1],
        window_size=2,
        use_absolute_position_embeddings=True,
        use_relative_position_embeddings=True,
        out_features=["stage2"],  # type: ignore[call-arg]  # the backbone mixin takes it; the signature lists _out_features
    )
    config = VitMatteConfig(
        backbone_config=backbone,
        hidden_size=32,
        convstream_hidden_sizes=[8, 16, 32],
        fusion_hidden_sizes=[32, 16, 8, 4],
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = VitMatteForImageMatting(config).eval()
    model.save_pretrained(folder)
    VitMatteImageProcessor().save_pretrained(folder)
    return folder
