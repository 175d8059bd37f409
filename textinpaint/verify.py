"""Edits that check themselves: the detector looks at the edited window again.

After painting, the detector that found the object is run on the edited picture, cut to a window
around what was repainted (the whole picture for a new background), with the user's own text:

- ``present`` (replace): is the ``with_`` text found over each repainted instance? For each
  instance, the best ``confidence x coverage`` of a ``with_`` match, where coverage is the share
  of the instance's box that the match's box covers; the lowest over the instances.
- ``gone`` (replace, remove): is the ``find`` text no longer found there? ``1 - `` the highest
  ``confidence x inside`` of a ``find`` match, where inside is the share of the match's box
  that lies in an instance's box.
- ``kept`` (replace_background): is the kept subject still found where it was? For each
  subject instance, the best ``confidence x IoU`` of a ``keep`` match with its box; the lowest.

The **score** is the lowest of the parts that could be checked (an edit is as good as its weakest
check), in [0, 1]; None when no part could be. Matches count down to a confidence of
:data:`VERIFY_THRESHOLD`, so the parts move smoothly instead of jumping at the box threshold.

A part is None, never a made-up number, when the text cannot check it:

- ``present`` when ``with_`` names a style, material or colour rather than a thing (its head
  word, the last word before any preposition, is one of :data:`UNCHECKABLE`, or there is none:
  ``"in the style of Monet"``, ``"gold"``, ``"made of marble"``): a detector finds things, not
  looks.
- ``gone`` when the new text names the old thing again (``find="the red car"``,
  ``with_="a blue car"``): finding a car there proves nothing.
- ``kept`` when the subject was not named (a mask, clicks, or the salient subject): there is no text to look for.

Example:
    >>> from textinpaint.verify import head_word, unchecked_parts
    >>> head_word("the man in the red shirt")
    'man'
    >>> unchecked_parts(["the red car"], "a vintage blue car")
    {'gone': "with_ names the found thing ('car') again: finding it there proves nothing"}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .images import Picture

# Matches down to this confidence count (weighted by it) when an edit is checked.
VERIFY_THRESHOLD = 0.1

_ARTICLES = {"a", "an", "the", "some", "this", "that", "these", "those", "my", "his", "her", "their", "its", "our"}
_PREPOSITIONS = {
    "in", "on", "with", "of", "at", "near", "behind", "under", "over", "from", "by", "for", "wearing",
    "holding", "next", "beside", "inside", "made", "covered", "painted", "like", "as", "to", "and", "or",
}  # fmt: skip
# Head words that describe a look, not a thing the detector can find.
UNCHECKABLE = frozenset(
    {
        # styles
        "style", "styled", "texture", "pattern", "material", "finish", "look", "version", "watercolor",
        "watercolour", "cartoon", "anime", "sketch", "impressionist", "cubist", "pixelated", "sepia",
        "monochrome",
        # materials
        "gold", "golden", "wood", "wooden", "marble", "glass", "metal", "metallic", "silver", "stone",
        "plastic", "leather", "velvet", "chrome", "bronze", "copper", "brick", "concrete", "fabric",
        "steel", "paper", "rubber", "ceramic", "porcelain", "denim", "wool", "silk", "cotton",
        # colours
        "color", "colour", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black",
        "white", "grey", "gray", "beige", "cyan", "magenta", "turquoise", "teal",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Verification:
    """How well an edit did what was asked, as the detector sees it.

    Attributes:
        score: the lowest of the checked parts, in [0, 1]; None when no part could be checked.
        parts: ``present`` / ``gone`` / ``kept`` (those that apply to the workflow), each in
            [0, 1] or None.
        unchecked: why each None part could not be checked.
    """

    score: float | None
    parts: dict[str, float | None]
    unchecked: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "parts": dict(self.parts), "unchecked": dict(self.unchecked)}


@dataclass(frozen=True)
class Candidate:
    """One of the candidates of a best-of-N edit: its seed and its score."""

    seed: int
    score: float | None


def combine(parts: dict[str, float | None], unchecked: dict[str, str] | None = None) -> Verification:
    """The :class:`Verification` of ``parts``: the score is the lowest checked part."""
    checked = [value for value in parts.values() if value is not None]
    rounded = {name: None if value is None else round(float(value), 4) for name, value in parts.items()}
    return Verification(round(float(min(checked)), 4) if checked else None, rounded, dict(unchecked or {}))


def rank(verification: Verification | None) -> float:
    """Sort key of a candidate: its score; an unchecked one ranks below any checked one."""
    return -1.0 if verification is None or verification.score is None else verification.score


# ---- which parts the text can check ---------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("es"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def head_word(phrase: str) -> str | None:
    """The thing a phrase names: its last word before the first preposition (None when it starts with one)."""
    head = []
    for word in _words(phrase):
        if word in _PREPOSITIONS:
            break
        if word not in _ARTICLES:
            head.append(word)
    return head[-1] if head else None


def unchecked_parts(find: Sequence[str] | None, with_: str | None) -> dict[str, str]:
    """The parts the texts cannot check, with why (see the module's docstring)."""
    why: dict[str, str] = {}
    if with_ is not None:
        head = head_word(with_)
        if head is None or head in UNCHECKABLE:
            why["present"] = f"with_ {with_!r} names a look (style, material or colour), not a thing to find"
        if find:
            new_words = {_singular(word) for word in _words(with_)}
            for phrase in find:
                old = head_word(phrase)
                if old is not None and _singular(old) in new_words:
                    why["gone"] = f"with_ names the found thing ({old!r}) again: finding it there proves nothing"
                    break
    return why


# ---- geometry -------------------------------------------------------------------------------


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(boxes[..., 3] - boxes[..., 1], 0, None)


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection areas of every box of ``a`` (N,4) with every box of ``b`` (M,4): (N, M)."""
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    return np.prod(np.clip(high - low, 0, None), axis=2)


def window(targets: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """The window the detector looks at: the targets' union box grown by a quarter of its size
    (16 px at least) on every side, within the picture; xyxy pixels."""
    x0, y0 = targets[:, 0].min(), targets[:, 1].min()
    x1, y1 = targets[:, 2].max(), targets[:, 3].max()
    margin_x, margin_y = max(16.0, 0.25 * (x1 - x0)), max(16.0, 0.25 * (y1 - y0))
    return (
        int(max(0, np.floor(x0 - margin_x))),
        int(max(0, np.floor(y0 - margin_y))),
        int(min(width, np.ceil(x1 + margin_x))),
        int(min(height, np.ceil(y1 + margin_y))),
    )


def present(boxes: np.ndarray, confidence: np.ndarray, targets: np.ndarray) -> float:
    """The lowest over ``targets`` of the best ``confidence x`` share of the target covered."""
    if len(boxes) == 0:
        return 0.0
    covered = _intersection(boxes, targets) / np.maximum(_area(targets)[None, :], 1e-9)
    return float((confidence[:, None] * covered).max(axis=0).min())


def gone(boxes: np.ndarray, confidence: np.ndarray, targets: np.ndarray) -> float:
    """``1 -`` the highest ``confidence x`` share of a match's box inside a target."""
    if len(boxes) == 0:
        return 1.0
    inside = _intersection(boxes, targets) / np.maximum(_area(boxes)[:, None], 1e-9)
    return float(1.0 - (confidence[:, None] * inside).max())


def kept(boxes: np.ndarray, confidence: np.ndarray, targets: np.ndarray) -> float:
    """The lowest over ``targets`` of the best ``confidence x IoU`` with the target."""
    if len(boxes) == 0:
        return 0.0
    overlap = _intersection(boxes, targets)
    union = _area(boxes)[:, None] + _area(targets)[None, :] - overlap
    return float((confidence[:, None] * overlap / np.maximum(union, 1e-9)).max(axis=0).min())


# ---- running the checks ---------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One edited picture to check: its pixels, the boxes (xyxy) it was about, and the window."""

    rgb: np.ndarray
    targets: np.ndarray
    whole: bool = False  # look at the whole picture (a new background), not a window

    def bounds(self) -> tuple[int, int, int, int]:
        height, width = self.rgb.shape[:2]
        return (0, 0, width, height) if self.whole else window(self.targets, width, height)


Detect = Callable[[list[Picture], list[str]], list[Any]]


def _look(detect: Detect, checks: list[Check], phrases: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Boxes (in the whole picture's pixels) and confidences of ``phrases`` in every check's window,
    in one detector call."""
    cut = [check.bounds() for check in checks]
    windows = [Picture(np.ascontiguousarray(c.rgb[y0:y1, x0:x1])) for c, (x0, y0, x1, y1) in zip(checks, cut)]
    found = detect(windows, phrases)
    results = []
    for detections, (x0, y0, _, _) in zip(found, cut):
        boxes = np.asarray(detections.xyxy, dtype=np.float64).reshape(-1, 4) + np.array([x0, y0, x0, y0])
        confidence = np.ones(len(boxes)) if detections.confidence is None else np.asarray(detections.confidence)
        results.append((boxes, confidence.astype(np.float64)))
    return results


def check_edits(
    detect: Detect,
    checks: list[Check],
    *,
    find: list[str] | None = None,
    with_: str | None = None,
    keep: list[str] | None = None,
) -> list[Verification]:
    """Verify edited pictures: ``present`` when ``with_`` is given, ``gone`` when ``find`` is,
    ``kept`` for a kept subject (``keep``, or None for one given as a mask). One detector call
    per text, over every check together.

    Args:
        detect: ``detect(pictures, phrases)`` returning one ``supervision.Detections`` per picture.
        checks: the edited pictures and the boxes each was about.
        find: the phrases that were replaced or removed.
        with_: the replacement prompt, checked as one phrase, as written.
        keep: the kept subject's phrases (replace_background); ``[]`` when it was a mask.
    """
    if not checks:
        return []
    why = unchecked_parts(find, with_)
    if keep is not None and not keep:
        why["kept"] = "the subject was not named (a mask, clicks, or the salient subject): there is no text to look for"
    parts: list[dict[str, float | None]] = [{} for _ in checks]
    if with_ is not None:
        seen = None if "present" in why else _look(detect, checks, [" ".join(with_.split())])
        for i, check in enumerate(checks):
            parts[i]["present"] = None if seen is None else present(*seen[i], check.targets)
    if find:
        seen = None if "gone" in why else _look(detect, checks, list(find))
        for i, check in enumerate(checks):
            parts[i]["gone"] = None if seen is None else gone(*seen[i], check.targets)
    if keep is not None:
        seen = None if "kept" in why else _look(detect, checks, list(keep))
        for i, check in enumerate(checks):
            parts[i]["kept"] = None if seen is None else kept(*seen[i], check.targets)
    return [combine(p, {name: text for name, text in why.items() if name in p}) for p in parts]
