"""Stage 2: box-prompted segmentation with SAM (through transformers).

The image is encoded once (the expensive step) and every box is decoded from that one embedding,
in batches, so N boxes cost one encoder pass. Masks come back at the input image's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from .errors import MissingDependencyError, ModelKindError
from .images import Picture, writable
from .options import Speed

# Boxes decoded per mask-decoder call: bounds memory when a query matches hundreds of objects.
_DECODE_BATCH = 64


class Segmenter(Protocol):
    """Anything that turns boxes into masks: :class:`Sam` or :class:`OriginalSam`."""

    def masks(self, picture: Picture, xyxy: np.ndarray) -> np.ndarray: ...

    def masks_many(self, pictures: list[Picture], boxes: list[np.ndarray]) -> list[np.ndarray]: ...


@dataclass(frozen=True)
class Sam:
    """A loaded transformers SAM: its processor and model."""

    processor: Any  # SamProcessor (SamHQProcessor for SAM-HQ)
    model: Any  # SamModel (SamHQModel for SAM-HQ)
    device: torch.device
    dtype: torch.dtype

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype, speed: Speed | None = None) -> Sam:
        from transformers import SamModel, SamProcessor

        processor = SamProcessor.from_pretrained(source)
        model: Any = SamModel.from_pretrained(source, dtype=dtype)
        model = model.to(device).eval()
        if speed is not None and speed.compile_segmenter:
            model.vision_encoder = torch.compile(model.vision_encoder)
        return cls(processor, model, device, dtype)

    def _encode(self, pixel_values: torch.Tensor) -> Any:
        """The image embeddings of a batch (what :meth:`_decode` needs of them)."""
        return self.model.get_image_embeddings(pixel_values)

    def _decode(self, embeddings: Any, row: int, boxes: torch.Tensor) -> torch.Tensor:
        """Low-resolution mask logits of ``boxes`` (1xNx4, in the resized frame) on image ``row``."""
        outputs = self.model(image_embeddings=embeddings[row : row + 1], input_boxes=boxes, multimask_output=False)
        return outputs.pred_masks

    def masks(self, picture: Picture, xyxy: np.ndarray) -> np.ndarray:
        """Masks for boxes.

        Args:
            picture: the image.
            xyxy: Nx4 float array of boxes in input-image pixels.

        Returns:
            NxHxW ``bool`` masks at the input's resolution, one per box, in box order.
        """
        return self.masks_many([picture], [xyxy])[0]

    @torch.inference_mode()
    def masks_many(self, pictures: list[Picture], boxes: list[np.ndarray]) -> list[np.ndarray]:
        """:meth:`masks` for several pictures: one encoder pass for all (SAM pads every image to
        its square), then each picture's boxes decoded from its own embedding."""
        results = [np.zeros((0, p.height, p.width), dtype=bool) for p in pictures]
        todo = [i for i, xyxy in enumerate(boxes) if len(xyxy)]
        if not todo:
            return results
        inputs = self.processor(
            images=[writable(pictures[i].rgb) for i in todo], return_tensors="pt", input_data_format="channels_last"
        )
        embeddings = self._encode(inputs["pixel_values"].to(self.device, self.dtype))
        for row, index in enumerate(todo):
            picture, xyxy = pictures[index], boxes[index]
            resized_height, resized_width = inputs["reshaped_input_sizes"][row].tolist()
            scale = np.array([resized_width / picture.width, resized_height / picture.height] * 2)
            chunks = []
            for start in range(0, len(xyxy), _DECODE_BATCH):
                batch = torch.as_tensor(xyxy[start : start + _DECODE_BATCH] * scale)[None]
                logits = self._decode(embeddings, row, batch.to(self.device, self.dtype))
                # Upscaled and thresholded on the model's device: one transfer, of the final bool masks.
                masks = self.processor.image_processor.post_process_masks(
                    logits.float(),
                    inputs["original_sizes"][row : row + 1],
                    inputs["reshaped_input_sizes"][row : row + 1],
                )[0]
                chunks.append(masks[:, 0].to(torch.bool).cpu().numpy())
            results[index] = np.concatenate(chunks)
        return results


@dataclass(frozen=True)
class OriginalSam:
    """Meta's original SAM from a ``.pth`` checkpoint (the ``sam-original`` extra).

    The checkpoint is read with ``torch.load(weights_only=True)`` (never unpickling code) and the
    architecture is read off the weights, so ViT-B/L/H and fine-tunes of them all load. The steps
    of ``SamPredictor`` are done here without its per-image state, so one model serves any thread.
    """

    model: Any  # segment_anything's Sam (untyped)
    device: torch.device
    dtype: torch.dtype

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype, speed: Speed | None = None) -> OriginalSam:
        try:
            from segment_anything.build_sam import _build_sam
        except ImportError as error:
            raise MissingDependencyError(
                f"segmenter={source!r} is an original SAM .pth checkpoint, which needs Meta's segment-anything: "
                'pip install "textinpaint[sam-original]"'
            ) from error
        try:
            state = torch.load(source, map_location="cpu", weights_only=True)
        except Exception as error:
            if isinstance(error, FileNotFoundError):
                raise
            raise ModelKindError(
                f"segmenter={source!r} is not a plain SAM state dict that loads with weights_only=True ({error})"
            ) from error
        if (
            not isinstance(state, dict)
            or "image_encoder.patch_embed.proj.weight" not in state
            or not all(isinstance(value, torch.Tensor) for value in state.values())
        ):
            raise ModelKindError(f"segmenter={source!r} does not hold SAM weights (no image_encoder.patch_embed)")
        embed_dim = state["image_encoder.patch_embed.proj.weight"].shape[0]
        depth = len({key.split(".")[2] for key in state if key.startswith("image_encoder.blocks.")})
        rel_pos = [state[f"image_encoder.blocks.{i}.attn.rel_pos_h"] for i in range(depth)]
        window = min(r.shape[0] for r in rel_pos)  # windowed blocks have 2 * 14 - 1 positions
        model = _build_sam(
            encoder_embed_dim=embed_dim,
            encoder_depth=depth,
            encoder_num_heads=embed_dim // rel_pos[0].shape[1],
            encoder_global_attn_indexes=[i for i, r in enumerate(rel_pos) if r.shape[0] != window],
        )
        model.load_state_dict(state)
        model = model.to(device, dtype).eval()
        if speed is not None and speed.compile_segmenter:
            model.image_encoder = torch.compile(model.image_encoder)
        return cls(model, device, dtype)

    def masks_many(self, pictures: list[Picture], boxes: list[np.ndarray]) -> list[np.ndarray]:
        """:meth:`masks` for each picture in turn."""
        return [self.masks(picture, xyxy) for picture, xyxy in zip(pictures, boxes)]

    @torch.inference_mode()
    def masks(self, picture: Picture, xyxy: np.ndarray) -> np.ndarray:
        """Masks for boxes; same contract as :meth:`Sam.masks`."""
        from segment_anything.utils.transforms import ResizeLongestSide

        height, width = picture.height, picture.width
        if len(xyxy) == 0:
            return np.zeros((0, height, width), dtype=bool)
        model = self.model
        transform = ResizeLongestSide(model.image_encoder.img_size)
        resized = torch.as_tensor(transform.apply_image(picture.rgb), device=self.device).permute(2, 0, 1)[None]
        input_size = tuple(resized.shape[-2:])
        embeddings = model.image_encoder(model.preprocess(resized.float()).to(self.dtype))
        chunks = []
        for start in range(0, len(xyxy), _DECODE_BATCH):
            boxes = transform.apply_boxes_torch(torch.as_tensor(xyxy[start : start + _DECODE_BATCH]), (height, width))
            sparse, dense = model.prompt_encoder(points=None, boxes=boxes.to(self.device, self.dtype), masks=None)
            low_res, _ = model.mask_decoder(
                image_embeddings=embeddings,
                image_pe=model.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=False,
            )
            masks = model.postprocess_masks(low_res.float(), input_size, (height, width)) > model.mask_threshold
            chunks.append(masks[:, 0].cpu().numpy())
        return np.concatenate(chunks)
