"""SAM-HQ (through transformers): SAM with a high-quality output token for fine edges.

SAM-HQ (Ke et al., 2023) adds a token that reads SAM's early ViT features, so thin structures
(hair, fur, fences, bicycle spokes) come out sharper than with SAM; use it when an edit's edge
matters. It is box-prompted exactly like SAM: the image is encoded once and all boxes are decoded
from that embedding, and masks come back at the input's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .segmentation import Sam


@dataclass(frozen=True)
class SamHQ(Sam):
    """A loaded transformers SAM-HQ: its processor and model (same contract as :class:`Sam`)."""

    @classmethod
    def _classes(cls) -> tuple[Any, Any]:
        from transformers import SamHQModel, SamHQProcessor

        return SamHQProcessor, SamHQModel

    def _encode(self, pixel_values: torch.Tensor) -> Any:
        return self.model.get_image_embeddings(pixel_values)  # (embeddings, the ViT's intermediate features)

    def _decode_prompt(
        self, embeddings: Any, row: int, multimask: bool, **prompt: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        image, intermediate = embeddings
        outputs = self.model(
            image_embeddings=image[row : row + 1],
            intermediate_embeddings=[layer[row : row + 1] for layer in intermediate],
            multimask_output=multimask,
            **prompt,
        )
        return outputs.pred_masks, outputs.iou_scores
