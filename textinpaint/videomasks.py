"""Masks over the frames of a clip, one per tracked instance, stored one bit a pixel.

:class:`VideoMasks` is what tracking returns and what the video painters read: frames x
instances, each mask bit-packed (a 1080p frame costs 260 KB per instance, never a float stack),
with each instance's stable id and, per frame, its score. It exports to one PNG per frame or to
COCO run-length JSON (supervision's encoder) for people who paint elsewhere, and reads both back.

Example:
    >>> import numpy as np
    >>> builder = VideoMasksBuilder(height=2, width=3, ids=[7])
    >>> builder.add(0, np.array([[[True, False, False], [False, False, True]]]))
    >>> builder.build().mask(0).astype(int).tolist()
    [[1, 0, 0], [0, 0, 1]]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidInputError
from .outputs import MASKS_FORMAT, Writer
from .videos import MAX_FRAME_PIXELS

# More objects than this on one clip is not a tracking job (and a stranger's document could ask
# for a frame stack of any size).
MAX_INSTANCES = 256


@dataclass(frozen=True)
class VideoMasks:
    """Per-frame masks of tracked instances.

    Attributes:
        height: the frames' height in pixels.
        width: the frames' width.
        ids: each instance's stable id (the same object keeps its id on every frame).
        frames: the source frame index of each stored frame, ascending.
        packed: ``uint8``, shape (frames, instances, bytes): each mask's HxW bits, row-major,
            packed with ``np.packbits``.
        scores: ``float32`` (frames, instances): the tracker's confidence, NaN where the
            instance is not on that frame.
        phrases: what each instance was found as (the text, or ``"click"``), when known.
    """

    height: int
    width: int
    ids: tuple[int, ...]
    frames: tuple[int, ...]
    packed: np.ndarray
    scores: np.ndarray
    phrases: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.frames)

    def position(self, frame: int) -> int:
        """Where source frame ``frame`` is stored; an error naming the frames held when it is not."""
        index = int(np.searchsorted(self.frames, frame))
        if index >= len(self.frames) or self.frames[index] != frame:
            first, last = (self.frames[0], self.frames[-1]) if self.frames else (None, None)
            raise InvalidInputError(f"frame {frame} has no masks here (frames {first} to {last}, {len(self)} held)")
        return index

    def mask(self, frame: int, instance: int | None = None) -> np.ndarray:
        """HxW ``bool``: instance id ``instance`` on source frame ``frame``, or the union of all
        instances when ``instance`` is None."""
        row = self.packed[self.position(frame)]
        if instance is None:
            bits = np.bitwise_or.reduce(row, axis=0) if len(self.ids) else np.zeros(row.shape[-1], np.uint8)
        else:
            if instance not in self.ids:
                raise InvalidInputError(f"instance must be one of the ids {list(self.ids)}; got {instance!r}")
            bits = row[self.ids.index(instance)]
        count = self.height * self.width
        return np.unpackbits(bits, count=count).astype(bool).reshape(self.height, self.width)

    def detections(self, frame: int) -> Any:
        """The instances on source frame ``frame`` as ``supervision.Detections`` (to draw them with
        :func:`textinpaint.annotate`): ``mask`` NxHxW ``bool``, ``xyxy`` each mask's box (float32
        pixels; zeros where the mask is empty), ``class_id`` the ids, ``data["phrase"]``, and the
        frame's scores as ``confidence``."""
        import supervision as sv

        from .masks import bounding_box

        position = self.position(frame)
        stack = (
            np.stack([self.mask(frame, i) for i in self.ids])
            if self.ids
            else np.zeros((0, self.height, self.width), bool)
        )
        boxes = [bounding_box(m) or (0, 0, 0, 0) for m in stack]
        return sv.Detections(
            xyxy=np.array(boxes, dtype=np.float32).reshape(-1, 4),
            mask=stack,
            class_id=np.array(self.ids, dtype=int),
            confidence=np.asarray(self.scores[position], dtype=np.float32).reshape(-1)[: len(self.ids)],
            data={"phrase": np.array(self.phrases if len(self.phrases) == len(self.ids) else [""] * len(self.ids))},
        )

    def present(self) -> np.ndarray:
        """(frames, instances) ``bool``: where each instance has at least one pixel."""
        if not self.packed.size:
            return np.zeros((len(self), len(self.ids)), bool)
        return np.asarray(self.packed.any(axis=2))

    def to_coco(self) -> dict[str, Any]:
        """COCO run-length masks (uncompressed ``counts``, column-major, as pycocotools reads):
        ``{"format", "size": [h, w], "ids", "phrases", "frames": [{"frame", "instances":
        [{"id", "score", "segmentation": {"size", "counts"}}]}]}``; absent instances are left out."""
        import supervision as sv

        rows = []
        present = self.present()
        for position, frame in enumerate(self.frames):
            instances = []
            for k, instance in enumerate(self.ids):
                if not present[position, k]:
                    continue
                counts = sv.mask_to_rle(self.mask(frame, instance))
                score = float(self.scores[position, k])
                instances.append(
                    {
                        "id": int(instance),
                        "score": None if np.isnan(score) else round(score, 4),
                        "segmentation": {"size": [self.height, self.width], "counts": [int(c) for c in counts]},
                    }
                )
            rows.append({"frame": int(frame), "instances": instances})
        return {
            "format": MASKS_FORMAT,
            "size": [self.height, self.width],
            "ids": [int(i) for i in self.ids],
            "phrases": list(self.phrases),
            "frames": rows,
        }

    @classmethod
    def from_coco(cls, document: dict[str, Any]) -> VideoMasks:
        """Read :meth:`to_coco`'s document back (a stranger's file: every field checked)."""
        import supervision as sv

        try:
            if document.get("format") != MASKS_FORMAT:
                raise ValueError(f"format is {document.get('format')!r}, not {MASKS_FORMAT!r}")
            height, width = (int(v) for v in document["size"])
            ids = [int(i) for i in document["ids"]]
            builder = VideoMasksBuilder(height=height, width=width, ids=ids, phrases=document.get("phrases") or ())
            for row in document["frames"]:
                stack = np.zeros((len(ids), height, width), bool)
                scores = np.full(len(ids), np.nan, np.float32)
                for entry in row["instances"]:
                    k = ids.index(int(entry["id"]))
                    counts = np.asarray(entry["segmentation"]["counts"], dtype=np.int64)
                    if counts.ndim != 1 or (counts < 0).any() or counts.sum() != height * width:
                        raise ValueError("run lengths that do not cover the frame")
                    stack[k] = sv.rle_to_mask(counts, (width, height))
                    scores[k] = np.nan if entry.get("score") is None else float(entry["score"])
                builder.add(int(row["frame"]), stack, scores)
            return builder.build()
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise InvalidInputError(f"not a textinpaint video masks document: {error}") from error

    def save(self, path: str | Path) -> Path:
        """Write the masks as COCO run-length JSON (``.json``) or as a folder of PNGs (no suffix:
        ``FOLDER/000012.png`` per frame, white where any instance is), through the one writer."""
        target = Path(path)
        writer = Writer()
        if target.suffix.lower() == ".json":
            writer.json(target, self.to_coco(), kind="masks")
            return target
        if target.suffix:
            raise InvalidInputError(f"masks are saved as .json or into a folder (no suffix); got {str(path)!r}")
        import PIL.Image

        for frame in self.frames:
            writer.image(PIL.Image.fromarray(self.mask(frame)), target / f"{frame:06d}.png", made="video mask")
        return target


class VideoMasksBuilder:
    """Collects one frame's masks at a time into a :class:`VideoMasks` (what a tracker does as it
    goes; only the packed bits are kept)."""

    def __init__(self, *, height: int, width: int, ids: Sequence[int], phrases: Sequence[str] = ()) -> None:
        if height < 1 or width < 1:
            raise InvalidInputError(f"masks must be at least 1x1; got {width}x{height}")
        if height * width > MAX_FRAME_PIXELS:
            raise InvalidInputError(
                f"masks of {width}x{height} are larger than a frame may be ({MAX_FRAME_PIXELS:,} pixels)"
            )
        if len(ids) > MAX_INSTANCES:
            raise InvalidInputError(f"at most {MAX_INSTANCES} instances are tracked at once; got {len(ids)}")
        if len(set(ids)) != len(ids):
            raise InvalidInputError(f"instance ids must differ; got {list(ids)}")
        self.height, self.width, self.ids, self.phrases = height, width, tuple(int(i) for i in ids), tuple(phrases)
        self.rows: list[dict[int, np.ndarray]] = []  # per frame: id -> its packed mask
        self.scores: list[dict[int, float]] = []
        self.frames: list[int] = []

    def add(
        self,
        frame: int,
        masks: np.ndarray,
        scores: np.ndarray | None = None,
        *,
        ids: Sequence[int] | None = None,
        phrases: Sequence[str] = (),
    ) -> None:
        """Frame ``frame``'s masks: (instances, H, W) ``bool`` in the order of ``ids`` (default:
        every id so far). An id not seen before joins here (a tracker that finds new instances as
        they appear), its masks on earlier frames empty, with its phrase from ``phrases``; an id
        absent from a frame has an empty mask there."""
        order = self.ids if ids is None else tuple(int(i) for i in ids)
        stack = np.asarray(masks)
        if stack.shape != (len(order), self.height, self.width):
            raise InvalidInputError(
                f"frame {frame}: masks must be (instances, H, W) = {(len(order), self.height, self.width)}; "
                f"got {stack.shape}"
            )
        if len(set(order)) != len(order):
            raise InvalidInputError(f"frame {frame}: instance ids must differ; got {list(order)}")
        if self.frames and frame <= self.frames[-1]:
            raise InvalidInputError(f"frames must come in order; got {frame} after {self.frames[-1]}")
        new = [i for i in order if i not in self.ids]
        if new:
            if len(self.ids) + len(new) > MAX_INSTANCES:
                raise InvalidInputError(
                    f"at most {MAX_INSTANCES} instances are tracked at once; got {len(self.ids) + len(new)}"
                )
            named = dict(zip(order, phrases))
            self.ids += tuple(new)
            if len(self.phrases) == len(self.ids) - len(new):
                self.phrases += tuple(str(named.get(i, "")) for i in new)
        self.frames.append(int(frame))
        packed = np.packbits(stack.reshape(len(order), self.height * self.width).astype(bool), axis=1)
        given = np.full(len(order), np.nan, np.float32) if scores is None else np.asarray(scores, np.float32)
        self.rows.append(dict(zip(order, packed)))
        self.scores.append(dict(zip(order, given)))

    def build(self) -> VideoMasks:
        count = (self.height * self.width + 7) // 8
        empty = np.zeros(count, np.uint8)
        packed = np.zeros((len(self.rows), len(self.ids), count), np.uint8)
        scores = np.full((len(self.rows), len(self.ids)), np.nan, np.float32)
        for k, (row, score) in enumerate(zip(self.rows, self.scores)):
            for n, instance in enumerate(self.ids):
                packed[k, n] = row.get(instance, empty)
                scores[k, n] = score.get(instance, np.nan)
        return VideoMasks(self.height, self.width, self.ids, tuple(self.frames), packed, scores, self.phrases)


def load_video_masks(path: str | Path) -> VideoMasks:
    """Masks saved by :meth:`VideoMasks.save`: a JSON document, or a folder of PNGs named by
    their frame's index (``000012.png``; white = inside, as :func:`textinpaint.masks.load_mask`
    reads a mask picture), which becomes one instance, id 1. Your own masks, made elsewhere, work
    the same way.

    Raises:
        ImageLoadError: not readable. InvalidInputError: not masks (a field, a size, a name).
    """
    from .errors import ImageLoadError

    source = Path(path)
    if source.is_dir():
        from .masks import load_mask

        files = sorted((f for f in source.iterdir() if f.suffix.lower() == ".png"), key=lambda f: f.stem)
        numbered = [f for f in files if f.stem.isdigit()]
        if not numbered or len(numbered) != len(files):
            raise InvalidInputError(
                f"masks: {str(path)!r} must hold PNGs named by frame index (000012.png), and nothing else of PNG"
            )
        numbered.sort(key=lambda f: int(f.stem))
        first = load_mask(numbered[0], *_size_of(numbered[0]), argument=f"masks {numbered[0].name}")
        builder = VideoMasksBuilder(height=first.shape[0], width=first.shape[1], ids=[1], phrases=["mask"])
        for file in numbered:
            mask = load_mask(file, first.shape[1], first.shape[0], argument=f"masks {file.name}")
            builder.add(int(file.stem), mask[None])
        return builder.build()
    try:
        if source.stat().st_size > 512 * 2**20:
            raise InvalidInputError(f"{str(path)!r} is over 512 MB: not a masks document")
        document = json.loads(source.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ImageLoadError(f"masks: {str(path)!r} is not a readable masks document ({error})") from error
    if not isinstance(document, dict):
        raise InvalidInputError(f"masks: {str(path)!r} does not hold a masks document")
    return VideoMasks.from_coco(document)


def _size_of(path: Path) -> tuple[int, int]:
    import PIL.Image

    from .errors import ImageLoadError

    try:
        with PIL.Image.open(path) as image:
            return image.width, image.height
    except (OSError, ValueError) as error:
        raise ImageLoadError(f"masks: {str(path)!r} is not a readable picture ({error})") from error
