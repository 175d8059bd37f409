"""The pipeline that chains the stages: detect -> segment -> inpaint, and ``replace`` on top.

A :class:`Pipeline` names its three models and loads each one the first time it is needed.
The module-level :func:`detect`, :func:`segment`, :func:`inpaint` and :func:`replace` call the
same methods on one shared default pipeline.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Concatenate, Literal, ParamSpec, TypeVar

import numpy as np
import PIL.Image
import supervision as sv
import torch

from .detection import (
    DEFAULT_BOX_THRESHOLD,
    DEFAULT_NMS_IOU,
    DEFAULT_TEXT_THRESHOLD,
    GroundingDino,
    empty_detections,
    parse_phrases,
)
from .diffusion import DiffusersInpainter
from .errors import InvalidInputError, NothingFoundError, OutOfMemoryError
from .images import DEFAULT_MAX_PIXELS, ImageInput, Picture, load_image
from .inpainting import (
    DEFAULT_GUIDANCE,
    DEFAULT_NEGATIVE_PROMPT,
    DEFAULT_STEPS,
    DEFAULT_STRENGTH,
    FillRequest,
    Filler,
    Painted,
    draw_seed,
    paint,
)
from .models import cached, resolve_device, resolve_dtype, resolve_source
from .masks import auto_dilation, auto_feather, box_mask, load_mask
from .segmentation import OriginalSam, Sam, Segmenter

logger = logging.getLogger(__name__)

Select = Literal["all", "best", "largest"] | int | Sequence[int]
MaskMode = Literal["mask", "box"]


@dataclass
class Edit:
    """The result of :func:`replace`.

    Attributes:
        image: the edited image, the input's exact size; RGB, or RGBA when the input had alpha
            (the alpha is the input's, unchanged). The input unchanged when nothing was found.
        mask: HxW ``bool``, every pixel that may differ from the input (dilated mask plus the
            feathered band). Pixels outside it are bit-identical to the input.
        detections: every match, sorted by score: ``xyxy`` (float32 pixels), ``confidence``,
            ``class_id`` (index of the phrase in the query), ``data["phrase"]``, and ``mask``
            (NxHxW bool) when ``mask_mode="mask"``.
        selected: indices into ``detections`` of the matches that were repainted.
        seed: the seed the inpainter used (drawn at random when none was given).
        found: whether anything matched the query.
        timings: seconds spent per stage (``load``, ``detect``, ``segment``, ``inpaint``).
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


class Pipeline:
    """Detector, segmenter and inpainter, loaded lazily and shared.

    Args:
        detector: GroundingDINO: a short name (``"tiny"``, ``"base"``), a Hub repo id, a local
            folder, or a loaded :class:`~textinpaint.detection.GroundingDino`.
        segmenter: SAM: ``"base"``, ``"large"``, ``"huge"``, a Hub repo id, a local folder, an
            original ``.pth`` checkpoint (``sam-original`` extra), or a loaded segmenter.
        inpainter: ``"sd15"``, ``"sd2"``, ``"sdxl"``, any diffusers inpainting repo id or
            folder, or any :class:`~textinpaint.inpainting.Filler`.
        models: a folder with ``detector/``, ``segmenter/``, ``inpainter/`` in Hub layout, used
            for every stage not named explicitly (offline and air-gapped installs).
        device: ``"cuda"``, ``"mps"``, ``"cpu"``...; default CUDA, then MPS, then CPU.
        dtype: ``"float16"``, ``"bfloat16"`` or ``"float32"``; default float16 on CUDA, else float32.
        max_pixels: refuse larger images (a decompression-bomb guard).

    Example:
        >>> pipe = Pipeline(models="tiny-models", device="cpu")  # doctest: +SKIP
        >>> edit = pipe.replace("street.jpg", find="the red car", with_="a blue truck", seed=0)  # doctest: +SKIP
    """

    def __init__(
        self,
        detector: str | Path | GroundingDino | None = None,
        segmenter: str | Path | Segmenter | None = None,
        inpainter: str | Path | Filler | None = None,
        *,
        models: str | Path | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.max_pixels = max_pixels
        self._detector = detector if isinstance(detector, GroundingDino) else None
        self._segmenter = segmenter if hasattr(segmenter, "masks") else None
        self._inpainter = inpainter if _is_filler(inpainter) else None
        self.sources = {
            "detector": None if self._detector else resolve_source("detector", detector, models),  # type: ignore[arg-type]
            "segmenter": None if self._segmenter else resolve_source("segmenter", segmenter, models),  # type: ignore[arg-type]
            "inpainter": None if self._inpainter else resolve_source("inpainter", inpainter, models),  # type: ignore[arg-type]
        }

    def __repr__(self) -> str:
        return f"Pipeline({self.sources}, device={self.device}, dtype={self.dtype})"

    @property
    def detector(self) -> GroundingDino:
        """The GroundingDINO model, loaded on first use."""
        if self._detector is None:
            self._detector = self._load("detector", GroundingDino.load)
        return self._detector

    @property
    def segmenter(self) -> Segmenter:
        """The SAM model, loaded on first use (an original ``.pth`` checkpoint through segment-anything)."""
        if self._segmenter is None:
            original = str(self.sources["segmenter"]).endswith(".pth")
            self._segmenter = self._load("segmenter", OriginalSam.load if original else Sam.load)
        return self._segmenter

    @property
    def inpainter(self) -> Filler:
        """The inpainting filler, loaded on first use."""
        if self._inpainter is None:
            self._inpainter = self._load("inpainter", DiffusersInpainter.load)
        return self._inpainter

    def _load(self, stage: str, loader: Callable[[str, torch.device, torch.dtype], _T]) -> _T:
        source = self.sources[stage]
        assert source is not None
        return cached(stage, source, self.device, self.dtype, lambda: loader(source, self.device, self.dtype))

    def detect(
        self,
        image: ImageInput,
        find: str | Sequence[str],
        *,
        box_threshold: float = DEFAULT_BOX_THRESHOLD,
        text_threshold: float = DEFAULT_TEXT_THRESHOLD,
        nms_iou: float = DEFAULT_NMS_IOU,
    ) -> sv.Detections:
        """Find every object matching ``find``.

        Args:
            image: a path, PIL image or numpy array (see :func:`textinpaint.images.load_image`).
            find: one phrase, several separated by periods (``"dog. cat"``), or a list of phrases.
            box_threshold: keep a box whose best token probability for its phrase reaches this.
            text_threshold: ... and whose mean token probability over the phrase reaches this.
            nms_iou: boxes overlapping more than this IoU are one object; the best-scored stays.

        Returns:
            ``supervision.Detections`` sorted by confidence: ``xyxy`` float32 Nx4 in input-image
            pixels, ``confidence`` float32, ``class_id`` (index of the phrase), and
            ``data["phrase"]``, always exactly one of the given phrases. ``metadata["best_score"]``
            holds the best score seen before thresholds (None if the model returned no box).

        Example:
            >>> from textinpaint import detect
            >>> found = detect("street.jpg", "car. person")  # doctest: +SKIP
            >>> found.xyxy, found.data["phrase"]  # doctest: +SKIP
        """
        picture = self._picture(image)
        phrases = parse_phrases(find)
        _check_unit("box_threshold", box_threshold)
        _check_unit("text_threshold", text_threshold)
        _check_unit("nms_iou", nms_iou)
        with _stage("detect", {}):
            return self.detector.detect(
                picture, phrases, box_threshold=box_threshold, text_threshold=text_threshold, nms_iou=nms_iou
            )

    def segment(self, image: ImageInput, detections: sv.Detections) -> sv.Detections:
        """Cut out each detected object with SAM.

        The image is encoded once; all boxes are decoded from that one embedding.

        Args:
            image: the image the detections were made on.
            detections: boxes (``xyxy`` in input-image pixels), e.g. from :func:`detect`.

        Returns:
            A copy of ``detections`` with ``mask`` set: NxHxW ``bool`` at the input's resolution.

        Example:
            >>> from textinpaint import detect, segment
            >>> masks = segment("street.jpg", detect("street.jpg", "car")).mask  # doctest: +SKIP
        """
        picture = self._picture(image)
        detections = _check_detections(detections)
        with _stage("segment", {}):
            return self._segment(picture, detections)

    def _segment(self, picture: Picture, detections: sv.Detections) -> sv.Detections:
        result = detections[np.arange(len(detections))]
        result.mask = self.segmenter.masks(picture, detections.xyxy.astype(np.float64))
        result.metadata = dict(detections.metadata)
        return result

    def inpaint(
        self,
        image: ImageInput,
        mask: object,
        prompt: str,
        *,
        negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
        steps: int = DEFAULT_STEPS,
        guidance: float = DEFAULT_GUIDANCE,
        strength: float = DEFAULT_STRENGTH,
        seed: int | None = None,
        dilate: int | None = None,
        feather: int | None = None,
    ) -> PIL.Image.Image:
        """Repaint the masked region from ``prompt``, at the image's full resolution.

        A window around the dilated mask is painted at the model's native size and blended back
        with a feathered edge. Pixels farther than ``dilate + feather`` from the mask are
        bit-identical to the input. An empty mask returns the input unchanged without running
        the model.

        Args:
            image: a path, PIL image or numpy array.
            mask: HxW ``bool`` array (or a PIL image / path; white = repaint), the image's size.
            prompt: what to paint in the region.
            negative_prompt: what to steer away from ("" for none).
            steps: denoising steps.
            guidance: classifier-free guidance scale.
            strength: 1.0 repaints from noise; lower keeps more of the original.
            seed: random seed; a fresh one is drawn when None. The seed used is in ``image.info["seed"]``.
            dilate: grow the mask by this many pixels (default: ``max(4, longer side / 128)``).
            feather: width in pixels of the soft blend band outside the dilated mask
                (default: half the dilation, at least 2).

        Returns:
            The edited image, same size as the input (RGBA when the input had alpha), with
            ``info["seed"]`` set.

        Example:
            >>> import numpy as np
            >>> from textinpaint import inpaint
            >>> mask = np.zeros((512, 768), bool); mask[100:300, 200:400] = True
            >>> out = inpaint("room.jpg", mask, "a green armchair", seed=1)  # doctest: +SKIP
        """
        picture = self._picture(image)
        region = load_mask(mask, picture.width, picture.height)
        painted, seed = self._paint(
            picture, region, prompt, negative_prompt, steps, guidance, strength, seed, dilate, feather, {}
        )
        result = picture.to_pil(painted.rgb)
        result.info["seed"] = seed
        return result

    def _paint(
        self,
        picture: Picture,
        region: np.ndarray,
        prompt: str,
        negative_prompt: str,
        steps: int,
        guidance: float,
        strength: float,
        seed: int | None,
        dilate: int | None,
        feather: int | None,
        timings: dict[str, float],
    ) -> tuple[Painted, int]:
        _check_text("prompt", prompt)
        _check_options(steps, guidance, strength, seed, dilate, feather)
        seed = draw_seed() if seed is None else seed
        dilation = auto_dilation(picture.width, picture.height) if dilate is None else dilate
        feathering = auto_feather(dilation) if feather is None else feather
        request = FillRequest(prompt, negative_prompt, steps, guidance, strength, seed)
        if not region.any():
            return Painted(picture.rgb, region, None, dilation, feathering), seed
        with _stage("load", timings):
            filler = self.inpainter
        with _stage("inpaint", timings):
            painted = paint(picture.rgb, region, filler, request, dilation=dilation, feathering=feathering)
        return painted, seed

    def replace(
        self,
        image: ImageInput,
        find: str | Sequence[str],
        with_: str,
        *,
        select: Select = "all",
        mask_mode: MaskMode = "mask",
        strict: bool = False,
        box_threshold: float = DEFAULT_BOX_THRESHOLD,
        text_threshold: float = DEFAULT_TEXT_THRESHOLD,
        negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
        steps: int = DEFAULT_STEPS,
        guidance: float = DEFAULT_GUIDANCE,
        strength: float = DEFAULT_STRENGTH,
        seed: int | None = None,
        dilate: int | None = None,
        feather: int | None = None,
    ) -> Edit:
        """Find ``find`` in the image and repaint it as ``with_``.

        Args:
            image: a path, PIL image or numpy array.
            find: what to replace: a phrase, several (``"dog. cat"``) or a list.
            with_: the prompt for what to paint instead.
            select: which matches to repaint: ``"all"`` (their union), ``"best"`` (highest
                score), ``"largest"`` (largest mask, or box in box mode), an index in score order,
                or a list of indices.
            mask_mode: ``"mask"`` repaints SAM's outline (dilated); ``"box"`` repaints the whole
                box, for replacements whose shape differs from the original's (SAM is not run).
            strict: raise :class:`~textinpaint.errors.NothingFoundError` when nothing matches,
                instead of returning the input with ``found=False``.
            box_threshold: see :meth:`detect`.
            text_threshold: see :meth:`detect`.
            negative_prompt: see :meth:`inpaint`.
            steps: see :meth:`inpaint`.
            guidance: see :meth:`inpaint`.
            strength: see :meth:`inpaint`.
            seed: see :meth:`inpaint`; the seed used is in ``Edit.seed``.
            dilate: see :meth:`inpaint`.
            feather: see :meth:`inpaint`.

        Returns:
            An :class:`Edit`. When nothing is found, ``found`` is False, ``image`` is the input
            unchanged and only the detector has run.

        Example:
            >>> from textinpaint import replace
            >>> edit = replace("street.jpg", find="the red car", with_="a vintage blue pickup truck", seed=0)  # doctest: +SKIP
            >>> edit.image.save("out.png")  # doctest: +SKIP
        """
        picture = self._picture(image)
        phrases = parse_phrases(find)
        if isinstance(with_, str) and not with_.strip():
            raise NotImplementedError(
                "with_='' would mean removing the object, which needs a dedicated fill model (LaMa) that "
                "textinpaint does not ship yet; describe the background to paint instead (e.g. with_='empty road')"
            )
        _check_text("with_", with_)
        _check_select(select)
        if mask_mode not in ("mask", "box"):
            raise InvalidInputError(f"mask_mode must be 'mask' or 'box'; got {mask_mode!r}")
        _check_unit("box_threshold", box_threshold)
        _check_unit("text_threshold", text_threshold)
        _check_options(steps, guidance, strength, seed, dilate, feather)
        seed = draw_seed() if seed is None else seed
        timings: dict[str, float] = {}
        with _stage("load", timings):
            detector = self.detector
        with _stage("detect", timings):
            detections = detector.detect(
                picture, phrases, box_threshold=box_threshold, text_threshold=text_threshold, nms_iou=DEFAULT_NMS_IOU
            )
        source = picture.to_pil()
        if len(detections) == 0:
            if strict:
                raise NothingFoundError(" . ".join(phrases), detections.metadata.get("best_score"), box_threshold)
            logger.info("nothing matching %r was found; the image is returned unchanged", phrases)
            empty = empty_detections(picture.height, picture.width) if mask_mode == "mask" else empty_detections()
            empty.metadata = dict(detections.metadata)
            nothing = np.zeros((picture.height, picture.width), dtype=bool)
            return Edit(source.copy(), nothing, empty, [], seed, False, timings, source)
        if mask_mode == "mask":
            with _stage("load", timings):
                self.segmenter  # noqa: B018 - load outside the timed stage
            with _stage("segment", timings):
                detections = self._segment(picture, detections)
        selected = select_indices(detections, select)
        if detections.mask is not None:
            region = detections.mask[selected].any(axis=0)
        else:
            region = box_mask(detections.xyxy[selected], picture.width, picture.height)
        painted, seed = self._paint(
            picture, region, with_, negative_prompt, steps, guidance, strength, seed, dilate, feather, timings
        )
        return Edit(picture.to_pil(painted.rgb), painted.changed, detections, selected, seed, True, timings, source)

    def _picture(self, image: ImageInput) -> Picture:
        return load_image(image, max_pixels=self.max_pixels)


_T = TypeVar("_T")
_P = ParamSpec("_P")


def select_indices(detections: sv.Detections, select: Select) -> list[int]:
    """Indices (into ``detections``, sorted by score) of the matches ``select`` names.

    ``"largest"`` compares mask areas when the detections have masks, else box areas.

    Raises:
        InvalidInputError: an index outside ``0..len(detections)-1``.
    """
    count = len(detections)
    if select == "all":
        return list(range(count))
    if select == "best":
        return [int(np.argmax(detections.confidence))]
    if select == "largest":
        areas = detections.mask.sum(axis=(1, 2)) if detections.mask is not None else detections.box_area
        return [int(np.argmax(areas))]
    indices = [select] if isinstance(select, int) else list(select)  # type: ignore[arg-type]
    bad = [i for i in indices if not 0 <= i < count]
    if bad or not indices:
        raise InvalidInputError(
            f"select indices must lie in 0..{count - 1} (there are {count} matches); got {select!r}"
        )
    return sorted(set(indices))


def _check_select(select: object) -> None:
    if select in ("all", "best", "largest"):
        return
    items = [select] if isinstance(select, int) else select
    if isinstance(items, (list, tuple)) and all(isinstance(i, int) and not isinstance(i, bool) for i in items):
        return
    raise InvalidInputError(
        f"select must be 'all', 'best', 'largest', an index or a list of indices; got {select!r}"
    )


def _check_text(argument: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{argument} must be a non-empty string; got {value!r}")


def _check_unit(argument: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise InvalidInputError(f"{argument} must be a number in [0, 1]; got {value!r}")


def _check_options(
    steps: object, guidance: object, strength: object, seed: object, dilate: object, feather: object
) -> None:
    """Validate the inpainting options in one place; each error names the argument and its value."""
    def integer(value: object) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

    if not integer(steps) or steps < 1:  # type: ignore[operator]
        raise InvalidInputError(f"steps must be an integer >= 1; got {steps!r}")
    if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or guidance < 0:
        raise InvalidInputError(f"guidance must be a number >= 0; got {guidance!r}")
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0.0 < strength <= 1.0:
        raise InvalidInputError(f"strength must be a number in (0, 1]; got {strength!r}")
    if seed is not None and (not integer(seed) or not 0 <= seed < 2**63):  # type: ignore[operator]
        raise InvalidInputError(f"seed must be None or an integer in [0, 2**63); got {seed!r}")
    for name, value in (("dilate", dilate), ("feather", feather)):
        if value is not None and (not integer(value) or value < 0):  # type: ignore[operator]
            raise InvalidInputError(f"{name} must be None (automatic) or an integer >= 0 pixels; got {value!r}")


def _check_detections(detections: object) -> sv.Detections:
    if not isinstance(detections, sv.Detections):
        raise InvalidInputError(f"detections must be a supervision.Detections; got {type(detections).__name__}")
    return detections


def _is_filler(value: object) -> bool:
    return callable(value) and hasattr(value, "native_size")


@contextmanager
def _stage(name: str, timings: dict[str, float]) -> Iterator[None]:
    """Time a stage into ``timings[name]``; turn CUDA out-of-memory into a typed, helpful error."""
    start = time.perf_counter()
    try:
        yield
    except torch.OutOfMemoryError as error:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise OutOfMemoryError(
            f"the device ran out of memory during {name}: use a smaller image or mask region, "
            "dtype='float16', a smaller model (segmenter='base'), or free other GPU work"
        ) from error
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


_default: Pipeline | None = None
_default_lock = threading.Lock()


def default_pipeline() -> Pipeline:
    """The shared pipeline behind the module-level functions (default models, best device)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Pipeline()
        return _default


def _on_default(method: Callable[Concatenate[Pipeline, _P], _T]) -> Callable[_P, _T]:
    """Turn a :class:`Pipeline` method into a function that calls it on :func:`default_pipeline`."""

    @functools.wraps(method)
    def function(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        return method(default_pipeline(), *args, **kwargs)

    return function


detect = _on_default(Pipeline.detect)
segment = _on_default(Pipeline.segment)
inpaint = _on_default(Pipeline.inpaint)
replace = _on_default(Pipeline.replace)
