"""OWLv2 (through transformers) as the detector: open-vocabulary boxes, one text query per phrase.

OWLv2 (Minderer et al., 2023) scores every predicted box against every query with a sigmoid.
Each phrase is its own query, so a box's phrase is the query that scores it highest and is
always exactly one of the user's phrases, as with GroundingDINO; the same NMS follows.

Thresholds: ``box_threshold`` applies to that sigmoid score. OWLv2 has no per-token scores, so
``text_threshold`` does not apply. OWLv2's scores run lower than GroundingDINO's (its own
examples threshold at 0.1 to 0.3), so lower ``box_threshold`` when it finds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import supervision as sv
import torch

from ..images import Picture, writable
from ..store import thread_copy
from .detection import empty_detections, refuse_long_phrases


@dataclass(frozen=True)
class Owl:
    """A loaded OWLv2: its processor (tokenizer + image processor) and model."""

    processor: Any  # Owlv2Processor
    model: Any  # Owlv2ForObjectDetection
    device: torch.device
    dtype: torch.dtype

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype) -> Owl:
        from transformers import Owlv2ForObjectDetection, Owlv2Processor

        processor = Owlv2Processor.from_pretrained(source)
        model: Any = Owlv2ForObjectDetection.from_pretrained(source, dtype=dtype)
        return cls(processor, model.to(device).eval(), device, dtype)

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
        """Detect ``phrases`` in each picture (see :meth:`textinpaint.Pipeline.detect`), in one forward pass."""
        self.check_phrases(phrases)
        processor = thread_copy(self.processor)  # its tokenizer keeps per-call state
        inputs = processor(
            text=[phrases] * len(pictures),
            images=[writable(p.rgb) for p in pictures],
            return_tensors="pt",
            input_data_format="channels_last",
        )
        inputs = {
            key: value.to(self.device, self.dtype if value.is_floating_point() else None)
            for key, value in inputs.items()
        }
        outputs = self.model(**inputs)
        logits = outputs.logits.float().cpu().numpy()  # pictures x boxes x phrases
        boxes = outputs.pred_boxes.float().cpu().numpy()  # cx, cy, w, h of the padded square
        return [
            self._decode(logits[i], boxes[i], phrases, picture, box_threshold, nms_iou)
            for i, picture in enumerate(pictures)
        ]

    def check_phrases(self, phrases: list[str], argument: str = "find") -> None:
        """Refuse a phrase longer than OWLv2's text window (16 tokens), naming ``argument``."""
        tokenizer = thread_copy(self.processor).tokenizer
        config = getattr(getattr(self.model, "config", None), "text_config", None)
        window = int(getattr(config, "max_position_embeddings", 0) or tokenizer.model_max_length)
        refuse_long_phrases(phrases, lambda phrase: len(tokenizer(phrase)["input_ids"]), window, "OWLv2", argument)

    @staticmethod
    def _decode(
        logits: np.ndarray,
        boxes: np.ndarray,
        phrases: list[str],
        picture: Picture,
        box_threshold: float,
        nms_iou: float,
    ) -> sv.Detections:
        # The phrase is the argmax of the logits, as transformers' post-processing takes it: the
        # sigmoid saturates at 1.0 in float32, where several phrases would tie.
        choice = logits.argmax(axis=1)
        # The score as reported (float32), so a box is kept exactly when its reported score >= the threshold.
        confidence = (1.0 / (1.0 + np.exp(-logits[np.arange(len(logits)), choice].astype(np.float64)))).astype(
            np.float32
        )
        keep = confidence >= box_threshold
        # OWLv2 pads the image to a square at the bottom and right: boxes are fractions of its side.
        side = max(picture.width, picture.height)
        cx, cy, w, h = (boxes[keep].astype(np.float64) * side).T
        xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).reshape(-1, 4)
        limits = [picture.width, picture.height] * 2
        xyxy = np.clip(xyxy, 0, limits).astype(np.float32)
        names = np.array([phrases[i] for i in choice[keep]], dtype=object)
        found = sv.Detections(
            xyxy=xyxy,
            confidence=confidence[keep].astype(np.float32),
            class_id=choice[keep].astype(int),
            data={"phrase": names, "class_name": names.copy()},
        )
        found = found[found.box_area > 0]
        if len(found) == 0:
            nothing = empty_detections()
            nothing.metadata["best_score"] = float(confidence.max()) if len(confidence) else None
            return nothing
        if len(found) > 1:
            found = found.with_nms(threshold=nms_iou, class_agnostic=True)
        return found[np.argsort(-found.confidence, kind="stable")]
