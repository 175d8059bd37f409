"""What the workflows return: :class:`Edit`, and drawing detections with supervision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import PIL.Image
import supervision as sv

from .images import ImageInput, load_image


@dataclass
class Edit:
    """The result of :func:`replace`, :func:`remove` and :func:`replace_background`.

    Attributes:
        image: the edited image, the input's exact size; RGB, or RGBA when the input had alpha
            (the alpha is the input's, unchanged). The input unchanged when nothing was found.
        mask: HxW ``bool``, every pixel that may differ from the input (the repainted region
            plus its feathered band). Pixels outside it are bit-identical to the input.
        detections: every match, sorted by score: ``xyxy`` (float32 pixels), ``confidence``,
            ``class_id`` (index of the phrase in the query), ``data["phrase"]``, and ``mask``
            (NxHxW bool) when SAM ran.
        selected: indices into ``detections`` of the matches that were used.
        seed: the seed the painter used (drawn at random when none was given).
        found: whether anything matched the query (always True when a mask was given).
        timings: seconds spent per stage (``load``, ``detect``, ``segment``, ``inpaint``, ...).
        source: the input, upright, as loaded.
    """

    image: PIL.Image.Image
    mask: np.ndarray
    detections: sv.Detections
    selected: list[int]
    seed: int
    found: bool
    timings: dict[str, float] = field(default_factory=dict)
    source: PIL.Image.Image | None = None

    def annotate(self, *, on: Literal["source", "image"] = "source") -> PIL.Image.Image:
        """Draw the detections (masks, boxes, "phrase score" labels) with supervision's annotators.

        Args:
            on: draw over the input (``"source"``) or over the edited image (``"image"``).

        Returns:
            A new RGB image; this edit is not changed.
        """
        scene = self.source if on == "source" and self.source is not None else self.image
        return annotate(scene, self.detections)


def annotate(image: ImageInput, detections: sv.Detections) -> PIL.Image.Image:
    """Draw detections (masks when present, boxes, "phrase score" labels) with supervision's annotators.

    Args:
        image: the image the detections were made on (path, PIL or numpy).
        detections: e.g. from :func:`detect` or :func:`segment`.

    Returns:
        A new RGB PIL image of the input's size.

    Example:
        >>> from textinpaint import annotate, detect
        >>> annotate("street.jpg", detect("street.jpg", "car")).save("found.png")  # doctest: +SKIP
    """
    scene = load_image(image).to_pil().convert("RGB")
    if len(detections) == 0:
        return scene
    labels = [f"{p} {c:.2f}" for p, c in zip(detections.data["phrase"], detections.confidence)]
    if detections.mask is not None:
        scene = sv.MaskAnnotator().annotate(scene, detections)
    scene = sv.BoxAnnotator().annotate(scene, detections)
    return sv.LabelAnnotator().annotate(scene, detections, labels=labels)
