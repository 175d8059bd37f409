"""Stage 2: box-prompted segmentation with SAM (through transformers).

The image is encoded once (the expensive step) and every box is decoded from that one embedding,
in batches, so N boxes cost one encoder pass. Masks come back at the input image's resolution.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from ..errors import MissingDependencyError, ModelKindError
from ..images import Picture, writable
from ..options import Speed

# Boxes decoded per mask-decoder call: bounds memory when a query matches hundreds of objects.
_DECODE_BATCH = 64


@dataclass(frozen=True)
class Prompt:
    """One object to cut out: a box, clicked points, or both (a box refined by clicks).

    Attributes:
        box: (4,) xyxy in input pixels, or None.
        points: (N, 2) xy in input pixels, or None.
        labels: (N,) 1 for a point on the object, 0 for a point off it (None: all 1).
    """

    box: np.ndarray | None = None
    points: np.ndarray | None = None
    labels: np.ndarray | None = None


class Segmenter(Protocol):
    """Anything that turns boxes into masks: :class:`Sam` or :class:`OriginalSam`."""

    def masks(self, picture: Picture, xyxy: np.ndarray) -> np.ndarray: ...

    def masks_many(self, pictures: list[Picture], boxes: list[np.ndarray]) -> list[np.ndarray]: ...

    def prompted(self, picture: Picture, prompts: list[Prompt]) -> tuple[np.ndarray, np.ndarray]: ...


class EmbeddingCache:
    """The image embeddings of the last few pictures, per model: clicking again on the same
    picture decodes the new prompt without encoding the picture again. Bounded, thread-safe;
    an entry dies with its model."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[int, str], tuple[weakref.ref, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def digest(picture: Picture) -> str:
        """A digest of the picture's pixels and shape (what the embedding depends on)."""
        pixels = np.ascontiguousarray(picture.rgb)
        return hashlib.blake2b(pixels.data, digest_size=16, person=str(pixels.shape).encode()[:16]).hexdigest()

    def get(self, model: Any, picture: Picture, encode: Callable[[], Any]) -> Any:
        key = (id(model), self.digest(picture))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0]() is model:
                self._entries.move_to_end(key)
                return entry[1]
        value = encode()  # outside the lock: other pictures are not held up by this one
        with self._lock:
            self._entries[key] = (weakref.ref(model), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


EMBEDDINGS = EmbeddingCache()


def _prompt_arrays(prompt: Prompt) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    box = None if prompt.box is None else np.asarray(prompt.box, dtype=np.float64).reshape(4)
    points = None if prompt.points is None else np.asarray(prompt.points, dtype=np.float64).reshape(-1, 2)
    labels = None
    if points is not None:
        labels = (
            np.ones(len(points), dtype=np.int64)
            if prompt.labels is None
            else np.asarray(prompt.labels, dtype=np.int64).reshape(-1)
        )
    return box, points, labels


@dataclass(frozen=True)
class Sam:
    """A loaded transformers SAM: its processor and model."""

    processor: Any  # SamProcessor (SamHQProcessor for SAM-HQ)
    model: Any  # SamModel (SamHQModel for SAM-HQ)
    device: torch.device
    dtype: torch.dtype

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype, speed: Speed | None = None) -> Sam:
        processor_class, model_class = cls._classes()
        processor = processor_class.from_pretrained(source)
        model: Any = model_class.from_pretrained(source, dtype=dtype)
        model = model.to(device).eval()
        if speed is not None and speed.compile_segmenter:
            model.vision_encoder = torch.compile(model.vision_encoder)
        return cls(processor, model, device, dtype)

    @classmethod
    def _classes(cls) -> tuple[Any, Any]:
        """The transformers processor and model classes this segmenter loads."""
        from transformers import SamModel, SamProcessor

        return SamProcessor, SamModel

    def _encode(self, pixel_values: torch.Tensor) -> Any:
        """The image embeddings of a batch (what :meth:`_decode` needs of them)."""
        return self.model.get_image_embeddings(pixel_values)

    def _decode(self, embeddings: Any, row: int, boxes: torch.Tensor) -> torch.Tensor:
        """Low-resolution mask logits of ``boxes`` (1xNx4, in the resized frame) on image ``row``."""
        return self._decode_prompt(embeddings, row, False, input_boxes=boxes)[0]

    def _decode_prompt(
        self, embeddings: Any, row: int, multimask: bool, **prompt: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask logits and predicted IoUs of one prompt batch (``input_boxes``, ``input_points``,
        ``input_labels`` in the resized frame) on image ``row``."""
        outputs = self.model(image_embeddings=embeddings[row : row + 1], multimask_output=multimask, **prompt)
        return outputs.pred_masks, outputs.iou_scores

    def _frame(self, inputs: Any, row: int) -> tuple[int, int]:
        """The (height, width) of image ``row`` in the frame SAM works in (its longest side resized)."""
        height, width = inputs["reshaped_input_sizes"][row].tolist()
        return int(height), int(width)

    def _upscale(self, logits: torch.Tensor, picture: Picture, frame: tuple[int, int]) -> torch.Tensor:
        """Low-resolution mask logits (N x C x h x w) to ``bool`` masks at the picture's size, on the
        model's device (one transfer later, of the final masks)."""
        masks = self.processor.image_processor.post_process_masks(
            logits.float(), [[picture.height, picture.width]], [list(frame)]
        )[0]
        return masks.to(torch.bool)

    def _embedding(self, picture: Picture) -> tuple[Any, tuple[int, int]]:
        """The picture's image embeddings (from :data:`EMBEDDINGS` when it was encoded lately)
        and its size in SAM's resized frame."""

        def encode() -> tuple[Any, tuple[int, int]]:
            inputs = self.processor(
                images=[writable(picture.rgb)], return_tensors="pt", input_data_format="channels_last"
            )
            embeddings = self._encode(inputs["pixel_values"].to(self.device, self.dtype))
            return embeddings, self._frame(inputs, 0)

        return EMBEDDINGS.get(self.model, picture, encode)

    @torch.inference_mode()
    def prompted(self, picture: Picture, prompts: list[Prompt]) -> tuple[np.ndarray, np.ndarray]:
        """Masks for prompts: boxes, clicked points, or a box refined by points.

        The picture is encoded once and its embedding kept (:class:`EmbeddingCache`), so the next
        click on the same picture only runs the light mask decoder. A single click without a box
        is ambiguous (a shirt, or the person wearing it): SAM proposes three masks and the one
        with the highest predicted IoU is kept, as Meta's demo does.

        Args:
            picture: the image.
            prompts: one :class:`Prompt` per object, coordinates in input pixels (xyxy / xy).

        Returns:
            NxHxW ``bool`` masks at the input's resolution and (N,) predicted IoUs, in prompt order.
        """
        if not prompts:
            return np.zeros((0, picture.height, picture.width), dtype=bool), np.zeros(0, dtype=np.float32)
        embeddings, (resized_height, resized_width) = self._embedding(picture)
        scale = np.array([resized_width / picture.width, resized_height / picture.height])
        masks, scores = [], []
        for prompt in prompts:
            box, points, labels = _prompt_arrays(prompt)
            inputs: dict[str, torch.Tensor] = {}
            if box is not None:
                inputs["input_boxes"] = torch.as_tensor(box * np.tile(scale, 2))[None, None].to(self.device, self.dtype)
            if points is not None:
                inputs["input_points"] = torch.as_tensor(points * scale)[None, None].to(self.device, self.dtype)
                inputs["input_labels"] = torch.as_tensor(labels)[None, None].to(self.device)
            multimask = box is None and points is not None and len(points) == 1
            logits, iou = self._decode_prompt(embeddings, 0, multimask, **inputs)
            best = int(iou[0, 0].float().argmax()) if multimask else 0
            upscaled = self._upscale(logits[:, :, best : best + 1], picture, (resized_height, resized_width))
            masks.append(upscaled[0, 0].cpu().numpy())
            scores.append(float(iou[0, 0, best]))
        return np.stack(masks), np.asarray(scores, dtype=np.float32)

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
            resized_height, resized_width = self._frame(inputs, row)
            scale = np.array([resized_width / picture.width, resized_height / picture.height] * 2)
            chunks = []
            for start in range(0, len(xyxy), _DECODE_BATCH):
                batch = torch.as_tensor(xyxy[start : start + _DECODE_BATCH] * scale)[None]
                logits = self._decode(embeddings, row, batch.to(self.device, self.dtype))
                # Upscaled and thresholded on the model's device: one transfer, of the final bool masks.
                masks = self._upscale(logits, picture, (resized_height, resized_width))
                chunks.append(masks[:, 0].cpu().numpy())
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

    @torch.inference_mode()
    def prompted(self, picture: Picture, prompts: list[Prompt]) -> tuple[np.ndarray, np.ndarray]:
        """Masks for prompts; same contract as :meth:`Sam.prompted` (the embedding is cached too)."""
        from segment_anything.utils.transforms import ResizeLongestSide

        height, width = picture.height, picture.width
        if not prompts:
            return np.zeros((0, height, width), dtype=bool), np.zeros(0, dtype=np.float32)
        model = self.model
        transform = ResizeLongestSide(model.image_encoder.img_size)

        def encode() -> tuple[Any, tuple[int, int]]:
            resized = torch.as_tensor(transform.apply_image(picture.rgb), device=self.device).permute(2, 0, 1)[None]
            embedded = model.image_encoder(model.preprocess(resized.float()).to(self.dtype))
            return embedded, (int(resized.shape[-2]), int(resized.shape[-1]))

        embeddings, input_size = EMBEDDINGS.get(model, picture, encode)
        masks, scores = [], []
        for prompt in prompts:
            box, points, labels = _prompt_arrays(prompt)
            boxes = None
            if box is not None:
                boxes = transform.apply_boxes_torch(torch.as_tensor(box[None]), (height, width)).to(
                    self.device, self.dtype
                )
            clicks = None
            if points is not None and labels is not None:
                coords = transform.apply_coords_torch(torch.as_tensor(points[None]), (height, width))
                clicks = (coords.to(self.device, self.dtype), torch.as_tensor(labels[None], device=self.device))
            multimask = box is None and points is not None and len(points) == 1
            sparse, dense = model.prompt_encoder(points=clicks, boxes=boxes, masks=None)
            low_res, iou = model.mask_decoder(
                image_embeddings=embeddings,
                image_pe=model.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=multimask,
            )
            best = int(iou[0].float().argmax()) if multimask else 0
            upscaled = model.postprocess_masks(low_res[:, best : best + 1].float(), input_size, (height, width))
            masks.append((upscaled > model.mask_threshold)[0, 0].cpu().numpy())
            scores.append(float(iou[0, best]))
        return np.stack(masks), np.asarray(scores, dtype=np.float32)
