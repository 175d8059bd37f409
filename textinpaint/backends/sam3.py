"""SAM 3 (through transformers) as the detector: text to instance masks in one pass.

SAM 3 (Meta, 2025) finds every instance of a short noun phrase and cuts each one out itself, so
with ``detector="sam3"`` the segmenter stage is skipped: the detections come back with their
masks. The image is encoded once per batch; each phrase then runs SAM 3's light DETR-style
detector and mask head on that encoding. A box's phrase is the phrase whose pass found it, so it
is always exactly one of the user's phrases; overlapping instances of different phrases go
through the same class-agnostic NMS as GroundingDINO's boxes (on the masks' IoU).

Thresholds: ``box_threshold`` applies to SAM 3's instance score (its query score times its
"presence" score, as transformers' post-processing computes it; an instance is kept above it).
SAM 3 has no per-token scores, so ``text_threshold`` does not apply. Masks are SAM 3's own,
binarised at 0.5 and resized to the input's resolution by its processor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import supervision as sv
import torch

from ..images import Picture, writable
from ..store import thread_copy
from .detection import empty_detections, refuse_long_phrases

# SAM 3's processor pads every phrase to this many text tokens (its CLIP text window).
_TEXT_TOKENS = 32


@dataclass(frozen=True)
class Sam3:
    """A loaded SAM 3: its processor (tokenizer + image processor) and model."""

    processor: Any  # Sam3Processor
    model: Any  # Sam3Model
    device: torch.device
    dtype: torch.dtype
    gives_masks: ClassVar[bool] = True  # the pipeline skips the segmenter for this detector

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype) -> Sam3:
        from transformers import Sam3Model, Sam3Processor

        processor = Sam3Processor.from_pretrained(source)
        model: Any = Sam3Model.from_pretrained(source, dtype=dtype)
        return cls(processor, model.to(device).eval(), device, dtype)

    def check_phrases(self, phrases: list[str], argument: str = "find") -> None:
        """Refuse a phrase longer than SAM 3's text window, naming ``argument``."""
        tokenizer = thread_copy(self.processor).tokenizer
        refuse_long_phrases(
            phrases, lambda phrase: len(tokenizer(phrase)["input_ids"]), _TEXT_TOKENS, "SAM 3", argument
        )

    @torch.inference_mode()
    def detect_many(
        self,
        pictures: list[Picture],
        phrases: list[str],
        *,
        box_threshold: float,
        text_threshold: float,
        nms_iou: float,
    ) -> list[sv.Detections]:
        """Detect ``phrases`` in each picture (see :meth:`textinpaint.Pipeline.detect`): one vision-encoder pass for all, then one light
        pass per phrase. Each result has ``mask`` set (NxHxW ``bool`` at the picture's size)."""
        self.check_phrases(phrases)
        processor = thread_copy(self.processor)  # its tokenizer keeps per-call state
        images = processor(
            images=[writable(p.rgb) for p in pictures], return_tensors="pt", input_data_format="channels_last"
        )
        vision = self.model.get_vision_features(images["pixel_values"].to(self.device, self.dtype))
        sizes = [(p.height, p.width) for p in pictures]
        found: list[list[sv.Detections]] = [[] for _ in pictures]
        best: list[float | None] = [None for _ in pictures]
        for index, phrase in enumerate(phrases):
            text = processor(text=[phrase] * len(pictures), return_tensors="pt")
            outputs = self.model(
                vision_embeds=vision,
                input_ids=text["input_ids"].to(self.device),
                attention_mask=text["attention_mask"].to(self.device),
            )
            # The processor keeps score > threshold; every detector here keeps score >= box_threshold,
            # so it is asked for the float32 just below, and the rule applied exactly in _detections.
            below = float(np.nextafter(np.float32(box_threshold), np.float32(-1.0)))
            kept = processor.post_process_instance_segmentation(
                outputs, threshold=below, mask_threshold=0.5, target_sizes=sizes
            )
            scores = outputs.pred_logits.float().sigmoid() * outputs.presence_logits.float().sigmoid()
            for i, result in enumerate(kept):
                if scores.shape[1]:
                    top, seen = float(scores[i].max()), best[i]
                    best[i] = top if seen is None else max(seen, top)
                found[i].append(_detections(result, index, phrase, pictures[i], box_threshold))
        return [_combine(parts, picture, top, nms_iou) for parts, picture, top in zip(found, pictures, best)]


def _detections(
    result: dict[str, torch.Tensor], index: int, phrase: str, picture: Picture, box_threshold: float
) -> sv.Detections:
    """One phrase's instances on one picture scoring at least ``box_threshold``: boxes clipped to
    it, masks as ``bool``, empty ones dropped."""
    masks = result["masks"].to(torch.bool).cpu().numpy().reshape(-1, picture.height, picture.width)
    xyxy = result["boxes"].float().cpu().numpy().reshape(-1, 4)
    xyxy = np.clip(xyxy, 0, [picture.width, picture.height] * 2).astype(np.float32)
    names = np.array([phrase] * len(xyxy), dtype=object)
    detections = sv.Detections(
        xyxy=xyxy,
        mask=masks,
        confidence=result["scores"].float().cpu().numpy().astype(np.float32),
        class_id=np.full(len(xyxy), index, dtype=int),
        data={"phrase": names, "class_name": names.copy()},
    )
    scores = np.asarray(detections.confidence)
    return detections[(detections.box_area > 0) & masks.any(axis=(1, 2)) & (scores >= np.float32(box_threshold))]


def _combine(parts: list[sv.Detections], picture: Picture, best: float | None, nms_iou: float) -> sv.Detections:
    """One picture's phrases together: class-agnostic NMS, sorted by score (the lowest phrase
    index first among equals)."""
    detections = sv.Detections.merge(parts) if parts else empty_detections(picture.height, picture.width)
    if len(detections) == 0:
        nothing = empty_detections(picture.height, picture.width)
        nothing.metadata["best_score"] = best
        return nothing
    if len(detections) > 1:
        detections = detections.with_nms(threshold=nms_iou, class_agnostic=True)
    return detections[np.argsort(-detections.confidence, kind="stable")]
