"""Stage 1: open-vocabulary detection with GroundingDINO (through transformers).

The query is split into phrases; every box is attributed to exactly one of them. GroundingDINO's
own post-processing builds labels from whichever tokens pass a threshold, which yields fragments
("red", "car red") or empty strings. Here each phrase owns its token span, a box's score for a
phrase is the best probability over that span, and the box takes the phrase that scores highest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import supervision as sv
import torch

from ..errors import InvalidInputError
from ..images import Picture, writable
from ..store import thread_copy

# A period splits phrases unless it sits between two digits ("3.5 inch screw" stays one phrase).
_PHRASE_SPLIT = re.compile(r"(?<!\d)\.|\.(?!\d)")


def parse_phrases(find: str | Sequence[str], *, argument: str = "find") -> list[str]:
    """Split a query into distinct, non-empty phrases, in the order given.

    ``"dog. cat."``, ``"dog . cat"`` and ``["dog", "cat"]`` all give ``["dog", "cat"]``.

    Raises:
        InvalidInputError: the query is empty, whitespace only, or not text.
    """
    if isinstance(find, str):
        parts = _PHRASE_SPLIT.split(find)
    elif isinstance(find, Sequence) and all(isinstance(part, str) for part in find):
        parts = list(find)
    else:
        raise InvalidInputError(f"{argument} must be a string or a list of strings; got {type(find).__name__}")
    phrases = list(dict.fromkeys(" ".join(part.split()) for part in parts))
    phrases = [phrase for phrase in phrases if phrase]
    if not phrases:
        raise InvalidInputError(f"{argument} must name at least one thing to find; got {find!r}")
    return phrases


def refuse_long_phrases(
    phrases: list[str], count: Callable[[str], int], window: int, model: str, argument: str
) -> None:
    """Refuse, naming ``argument``, the first phrase whose ``count(phrase)`` tokens exceed the
    ``model``'s text ``window`` (every detector's ``check_phrases``)."""
    for phrase in phrases:
        tokens = count(phrase)
        if tokens > window:
            raise InvalidInputError(
                f"{argument}: the phrase {phrase[:60]!r} is {tokens} tokens, longer than {model}'s text window "
                f"of {window} tokens; shorten it"
            )


def query_positions(find: str | Sequence[str]) -> dict[str, int]:
    """Each distinct phrase of a query -> the index of its first place in the query as written
    (``["dog", "dog", "cat"]``: cat -> 2), which ``class_id`` holds."""
    parts = _PHRASE_SPLIT.split(find) if isinstance(find, str) else list(find)
    positions: dict[str, int] = {}
    for index, part in enumerate(" ".join(p.split()) for p in parts):
        positions.setdefault(part, index)
    return positions


def with_query_ids(detections: sv.Detections, find: str | Sequence[str]) -> sv.Detections:
    """``detections`` with ``class_id`` the index of each phrase in the query as the user wrote it."""
    if len(detections):
        positions = query_positions(find)
        detections.class_id = np.array([positions[p] for p in detections.data["phrase"]], dtype=int)
    return detections


class Detector(Protocol):
    """Anything that finds phrases in pictures: :class:`GroundingDino`, OWLv2 (:mod:`textinpaint.backends.owl`)
    or SAM 3 (:mod:`textinpaint.backends.sam3`).

    ``detect_many`` returns one ``supervision.Detections`` per picture, sorted by score, with
    ``xyxy`` in the picture's pixels, ``class_id`` the phrase's index, and ``data["phrase"]`` /
    ``data["class_name"]`` exactly one of ``phrases``. A box is kept when its score is at least
    ``box_threshold`` (``>=``, the same rule for every detector). A detector whose class sets
    ``gives_masks = True`` (SAM 3) also fills ``mask`` (NxHxW ``bool``), and finding skips the segmenter.
    ``check_phrases`` refuses, before any work, a phrase longer than the model's text window,
    naming the argument it came from.
    """

    def check_phrases(self, phrases: list[str], argument: str = "find") -> None: ...

    def detect_many(
        self,
        pictures: list[Picture],
        phrases: list[str],
        *,
        box_threshold: float,
        text_threshold: float,
        nms_iou: float,
    ) -> list[sv.Detections]: ...


@dataclass(frozen=True)
class GroundingDino:
    """A loaded GroundingDINO: its processor (tokenizer + image processor) and model."""

    processor: Any  # a transformers processor (tokenizer + image processor)
    model: Any  # GroundingDinoForObjectDetection, or any module with its forward
    device: torch.device
    dtype: torch.dtype

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype) -> GroundingDino:
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        processor = AutoProcessor.from_pretrained(source)
        model = AutoModelForZeroShotObjectDetection.from_pretrained(source, dtype=dtype).to(device).eval()
        return cls(processor, model, device, dtype)

    @property
    def max_text_tokens(self) -> int:
        return int(self.model.config.max_text_len)

    def detect_many(
        self,
        pictures: list[Picture],
        phrases: list[str],
        *,
        box_threshold: float,
        text_threshold: float,
        nms_iou: float,
    ) -> list[sv.Detections]:
        """Detect ``phrases`` in each picture (see :meth:`textinpaint.Pipeline.detect`): one forward pass per group of same-size pictures."""
        results: list[list[tuple[sv.Detections, float | None]]] = [[] for _ in pictures]
        groups: dict[tuple[int, int], list[int]] = {}
        for index, picture in enumerate(pictures):
            groups.setdefault((picture.width, picture.height), []).append(index)
        for window in self._windows(phrases):
            for members in groups.values():
                found = self._detect_window([pictures[i] for i in members], window, box_threshold, text_threshold)
                for index, result in zip(members, found):
                    results[index].append(result)
        return [self._combine(found, phrases, nms_iou) for found in results]

    @staticmethod
    def _combine(found: list[tuple[sv.Detections, float | None]], phrases: list[str], nms_iou: float) -> sv.Detections:
        """Merge one picture's windows: phrase indices over the whole query, NMS, sorted by score."""
        best = max((score for _, score in found if score is not None), default=None)
        detections = sv.Detections.merge([d for d, _ in found])
        detections = _remap_classes(detections, phrases)
        if len(detections) > 1:
            detections = detections.with_nms(threshold=nms_iou, class_agnostic=True)
        detections = detections[np.argsort(-detections.confidence, kind="stable")] if len(detections) else detections
        if len(detections) == 0:  # per call: only on an empty result, so results still merge (sv.Detections.merge)
            detections.metadata["best_score"] = best
        return detections

    def check_phrases(self, phrases: list[str], argument: str = "find") -> None:
        """Refuse a phrase longer than the model's text window, naming ``argument``."""
        tokenizer = thread_copy(self.processor).tokenizer
        refuse_long_phrases(
            phrases, lambda phrase: _token_count(tokenizer, [phrase]), self.max_text_tokens, "the detector", argument
        )

    def _windows(self, phrases: list[str]) -> list[list[str]]:
        """Group phrases into runs whose prompt fits the model's text window (one pass each)."""
        limit = self.max_text_tokens
        tokenizer = thread_copy(self.processor).tokenizer
        self.check_phrases(phrases)
        windows: list[list[str]] = [[]]
        for phrase in phrases:
            if windows[-1] and _token_count(tokenizer, windows[-1] + [phrase]) > limit:
                windows.append([])
            windows[-1].append(phrase)
        return windows

    @torch.inference_mode()
    def _detect_window(
        self, pictures: list[Picture], phrases: list[str], box_threshold: float, text_threshold: float
    ) -> list[tuple[sv.Detections, float | None]]:
        """One forward pass over same-size ``pictures`` for one window of phrases."""
        text, char_spans = _prompt(phrases)
        processor = thread_copy(self.processor)  # its tokenizer keeps per-call state
        images = [_padded(writable(picture.rgb)) for picture in pictures]  # HWC: the processor never guesses the axis
        inputs = processor(
            images=images, text=[text] * len(images), return_tensors="pt", input_data_format="channels_last"
        )
        inputs = {
            key: value.to(self.device, self.dtype if value.is_floating_point() else None)
            for key, value in inputs.items()
        }
        outputs = self.model(**inputs)
        offsets = processor.tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
        spans = _token_spans(offsets, char_spans)
        probs = outputs.logits.float().sigmoid().cpu().numpy()
        boxes = outputs.pred_boxes.float().cpu().numpy()
        results = []
        for i, (picture, image) in enumerate(zip(pictures, images)):
            height, width = image.shape[:2]
            found, best = decode(probs[i], boxes[i], spans, phrases, width, height, box_threshold, text_threshold)
            if (width, height) != (picture.width, picture.height):  # padded: clip back, drop boxes in the padding
                limits = [picture.width, picture.height] * 2
                found.xyxy = np.clip(found.xyxy, 0, limits).astype(np.float32)
                found = found[found.box_area > 0]
            results.append((found, best))
        return results


# GroundingDINO's processor resizes the short side to 800 px with the long side capped at 1333 px,
# so a strip much thinner than that ratio loses its short side to rounding (a 0-px image). Such
# strips are padded with black, at the bottom or right, to at most 1:8 for the detector only;
# boxes are clipped back to the image.
_MAX_DETECT_ASPECT = 8


def _padded(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    pad_height = max(0, -(-width // _MAX_DETECT_ASPECT) - height)
    pad_width = max(0, -(-height // _MAX_DETECT_ASPECT) - width)
    if not pad_height and not pad_width:
        return rgb
    return np.pad(rgb, ((0, pad_height), (0, pad_width), (0, 0)))


def _prompt(phrases: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """GroundingDINO's prompt form, ``"a. b."``, and each phrase's character span in it."""
    spans, start = [], 0
    for phrase in phrases:
        spans.append((start, start + len(phrase)))
        start += len(phrase) + 2  # ". "
    return ". ".join(phrases) + ".", spans


def _token_count(tokenizer: Any, phrases: list[str]) -> int:
    return len(tokenizer(_prompt(phrases)[0])["input_ids"])


def _token_spans(offsets: list[tuple[int, int]], char_spans: list[tuple[int, int]]) -> list[list[int]]:
    """For each phrase, the indices of the tokens that lie inside its character span."""
    return [
        [index for index, (begin, end) in enumerate(offsets) if end > begin and begin >= start and end <= stop]
        for start, stop in char_spans
    ]


def decode(
    probs: np.ndarray,
    boxes: np.ndarray,
    spans: list[list[int]],
    phrases: list[str],
    width: int,
    height: int,
    box_threshold: float,
    text_threshold: float,
) -> tuple[sv.Detections, float | None]:
    """Turn GroundingDINO's raw output into detections, one phrase per box.

    Args:
        probs: QxT float array, sigmoid of the logits (Q queries, T text positions).
        boxes: Qx4 float array, normalised (cx, cy, w, h).
        spans: for each phrase, its token indices into T.
        phrases: the phrases, in the same order as ``spans``.
        width: the input image's width in pixels.
        height: the input image's height in pixels.
        box_threshold: keep a box when its phrase's best token probability reaches this.
        text_threshold: ... and the mean probability over the phrase's tokens reaches this.

    Returns:
        The detections (xyxy pixels clipped to the image, ``class_id`` = phrase index,
        ``data["phrase"]``), and the best box score seen before thresholds (None when Q is 0).
    """
    phrase_best = np.stack([probs[:, span].max(axis=1) if span else np.zeros(len(probs)) for span in spans], 1)
    phrase_mean = np.stack([probs[:, span].mean(axis=1) if span else np.zeros(len(probs)) for span in spans], 1)
    choice = phrase_best.argmax(axis=1)
    rows = np.arange(len(probs))
    confidence = phrase_best[rows, choice]
    keep = (confidence >= box_threshold) & (phrase_mean[rows, choice] >= text_threshold)
    best = float(confidence.max()) if len(confidence) else None
    cx, cy, w, h = (boxes[keep].astype(np.float64) * [width, height, width, height]).T
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).reshape(-1, 4)
    xyxy = np.clip(xyxy, 0, [width, height, width, height]).astype(np.float32)
    names = np.array([phrases[i] for i in choice[keep]], dtype=object)
    detections = sv.Detections(
        xyxy=xyxy,
        confidence=confidence[keep].astype(np.float32),
        class_id=choice[keep].astype(int),
        data={"phrase": names, "class_name": names.copy()},
    )
    return detections, best


def _remap_classes(detections: sv.Detections, phrases: list[str]) -> sv.Detections:
    """After merging windows, make ``class_id`` the phrase's index in the whole query."""
    if len(detections) == 0:
        return empty_detections()
    index = {phrase: i for i, phrase in enumerate(phrases)}
    detections.class_id = np.array([index[p] for p in detections.data["phrase"]], dtype=int)
    return detections


def empty_detections(height: int | None = None, width: int | None = None) -> sv.Detections:
    """No detections, with the same fields a non-empty result has (and an empty mask if sized)."""
    mask = None if height is None or width is None else np.zeros((0, height, width), dtype=bool)
    return sv.Detections(
        xyxy=np.zeros((0, 4), np.float32),
        mask=mask,
        confidence=np.zeros(0, np.float32),
        class_id=np.zeros(0, int),
        data={"phrase": np.array([], dtype=object), "class_name": np.array([], dtype=object)},
    )
