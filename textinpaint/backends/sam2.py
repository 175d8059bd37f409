"""SAM 2.1 (through transformers) as the segmenter: a hierarchical (Hiera) image encoder.

SAM 2 (Ravi et al., 2024) encodes the image with Hiera into three feature maps; the mask decoder
reads the coarsest and sharpens with the two finer ones. On still images it is box-prompted
exactly like SAM: the image is encoded once, all boxes are decoded from that embedding, and masks
come back at the input's resolution. Unlike SAM, its processor resizes the whole image to its
square input (1024 x 1024) without padding, so box and point coordinates scale per axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..images import Picture
from .segmentation import Sam


@dataclass(frozen=True)
class Sam2(Sam):
    """A loaded transformers SAM 2 / 2.1: its processor and model (same contract as :class:`Sam`)."""

    @classmethod
    def _classes(cls) -> tuple[Any, Any]:
        from transformers import Sam2Model, Sam2Processor

        return Sam2Processor, Sam2Model

    def _frame(self, inputs: Any, row: int) -> tuple[int, int]:
        size = self.processor.image_processor.size
        return int(size["height"]), int(size["width"])

    def _upscale(self, logits: torch.Tensor, picture: Picture, frame: tuple[int, int]) -> torch.Tensor:
        masks = self.processor.image_processor.post_process_masks(logits.float(), [[picture.height, picture.width]])[0]
        return masks.to(torch.bool)

    def _decode_prompt(
        self, embeddings: Any, row: int, multimask: bool, **prompt: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # embeddings: the three feature maps, finest first, each batch x C x h x w.
        outputs = self.model(
            image_embeddings=[level[row : row + 1] for level in embeddings], multimask_output=multimask, **prompt
        )
        return outputs.pred_masks, outputs.iou_scores
