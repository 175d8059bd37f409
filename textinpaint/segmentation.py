"""Stage 2: box-prompted segmentation with SAM (through transformers).

The image is encoded once (the expensive step) and every box is decoded from that one embedding,
in batches, so N boxes cost one encoder pass. Masks come back at the input image's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from .images import Picture

if TYPE_CHECKING:
    from transformers import SamModel, SamProcessor

# Boxes decoded per mask-decoder call: bounds memory when a query matches hundreds of objects.
_DECODE_BATCH = 64


@dataclass(frozen=True)
class Sam:
    """A loaded transformers SAM: its processor and model."""

    processor: SamProcessor
    model: SamModel
    device: torch.device
    dtype: torch.dtype

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype) -> Sam:
        from transformers import SamModel, SamProcessor

        processor = SamProcessor.from_pretrained(source)
        model = SamModel.from_pretrained(source, dtype=dtype).to(device).eval()
        return cls(processor, model, device, dtype)

    @torch.inference_mode()
    def masks(self, picture: Picture, xyxy: np.ndarray) -> np.ndarray:
        """Masks for boxes.

        Args:
            picture: the image.
            xyxy: Nx4 float array of boxes in input-image pixels.

        Returns:
            NxHxW ``bool`` masks at the input's resolution, one per box, in box order.
        """
        height, width = picture.height, picture.width
        if len(xyxy) == 0:
            return np.zeros((0, height, width), dtype=bool)
        inputs = self.processor(images=picture.rgb, return_tensors="pt")
        embeddings = self.model.get_image_embeddings(inputs["pixel_values"].to(self.device, self.dtype))
        resized_height, resized_width = inputs["reshaped_input_sizes"][0].tolist()
        scale = np.array([resized_width / width, resized_height / height] * 2)
        chunks = []
        for start in range(0, len(xyxy), _DECODE_BATCH):
            boxes = torch.as_tensor(xyxy[start : start + _DECODE_BATCH] * scale)[None]
            outputs = self.model(
                image_embeddings=embeddings,
                input_boxes=boxes.to(self.device, self.dtype),
                multimask_output=False,
            )
            masks = self.processor.image_processor.post_process_masks(
                outputs.pred_masks.float().cpu(), inputs["original_sizes"], inputs["reshaped_input_sizes"]
            )[0]
            chunks.append(masks[:, 0].numpy())
        return np.concatenate(chunks).astype(bool)
