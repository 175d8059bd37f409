"""The pipeline that chains the stages, and the workflows built on them.

A :class:`Pipeline` names its models and loads each one the first time it is needed. The
module-level functions (:func:`detect`, :func:`replace`, :func:`remove`, ...) call the same
methods on one shared default pipeline.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import numpy as np
import PIL.Image
import supervision as sv
import torch

from .checks import (
    MaskMode,
    Select,
    check_detections,
    check_mask_mode,
    check_select,
    check_unit,
    select_indices,
)
from .depth import DepthEstimator
from .detection import (
    DEFAULT_BOX_THRESHOLD,
    DEFAULT_NMS_IOU,
    DEFAULT_TEXT_THRESHOLD,
    GroundingDino,
    empty_detections,
    parse_phrases,
)
from .diffusion import DiffusersInpainter, Speed, load_controlnet, load_upscaler
from .errors import NothingFoundError
from .images import DEFAULT_MAX_PIXELS, ImageInput, Picture, load_image
from .inpainting import (
    DEFAULT_GUIDANCE,
    DEFAULT_NEGATIVE_PROMPT,
    DEFAULT_STEPS,
    DEFAULT_STRENGTH,
    FillRequest,
    Filler,
    Painted,
    PaintJob,
    paint_many,
)
from .masks import auto_dilation, auto_feather, box_mask, load_mask
from .models import cached, resolve_device, resolve_dtype, resolve_source
from .removal import Lama
from .runtime import Found, fill_request, timed
from .workflows import Workflows
from .segmentation import OriginalSam, Sam, Segmenter

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_P = ParamSpec("_P")

class Pipeline(Workflows):
    """The models of every stage, loaded lazily, once, and shared.

    Each model argument takes a short name, a Hub repo id, a local folder, or an already loaded
    object. ``None`` means ``models/<stage>`` when ``models`` is given, else the default.

    Args:
        detector: GroundingDINO: ``"tiny"`` (default), ``"base"``.
        segmenter: SAM: ``"base"``, ``"large"``, ``"huge"`` (default), or an original ``.pth``
            checkpoint (``sam-original`` extra).
        inpainter: ``"sd15"`` (default), ``"sd2"``, ``"sdxl"``, any diffusers SD inpainting model,
            or any :class:`~textinpaint.inpainting.Filler`.
        controlnet: the depth ControlNet for :meth:`replace_background` (default ``"sd15-depth"``,
            or ``"sdxl-depth"`` with an SDXL inpainter).
        depth: the depth model: ``"depth-anything-small"`` (default), ``"depth-anything-base"``,
            ``"dpt-large"``, ``"dpt-hybrid"``, or any transformers depth model.
        remover: the LaMa TorchScript fill model for :meth:`remove` (default ``"big-lama"``), a
            ``.pt`` file, a folder holding one, or any Filler.
        upscaler: the diffusion upscaler for ``upscale=`` (default ``"x4"``).
        models: a folder with one subfolder per stage (``detector/``, ``segmenter/``,
            ``inpainter/``, and optionally ``controlnet/``, ``depth/``, ``remover/``, ``upscaler/``)
            in Hub layout, for offline and air-gapped installs.
        device: ``"cuda"``, ``"mps"``, ``"cpu"``...; default CUDA, then MPS, then CPU.
        dtype: ``"float16"``, ``"bfloat16"`` or ``"float32"``; default float16 on CUDA, else float32.
        max_pixels: refuse larger images (a decompression-bomb guard).
        speed: opt-in modes for the inpainter: ``Speed(compile=True)``, ``channels_last``,
            ``vae_tiling``, ``offload`` (see :class:`~textinpaint.diffusion.Speed`).

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
        controlnet: str | Path | torch.nn.Module | None = None,
        depth: str | Path | DepthEstimator | None = None,
        remover: str | Path | Filler | None = None,
        upscaler: str | Path | object | None = None,
        models: str | Path | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        speed: Speed | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.max_pixels = max_pixels
        self.models = models
        self.speed = speed or Speed()
        given = {
            "detector": detector, "segmenter": segmenter, "inpainter": inpainter, "controlnet": controlnet,
            "depth": depth, "remover": remover, "upscaler": upscaler,
        }
        self._names = {stage: v for stage, v in given.items() if v is None or isinstance(v, (str, Path))}
        self._loaded: dict[str, object] = {stage: v for stage, v in given.items() if stage not in self._names}

    def __repr__(self) -> str:
        return f"Pipeline({self._names}, models={self.models!r}, device={self.device}, dtype={self.dtype})"

    def source(self, stage: str) -> str:
        """The Hub repo id or local path the ``stage`` model is (or will be) loaded from."""
        name = self._names[stage]
        if stage == "controlnet" and name is None and self.models is None and self._is_sdxl():
            name = "sdxl-depth"
        return resolve_source(stage, name, self.models)

    def model_sources(self, *stages: str) -> dict[str, str]:
        """Where each of ``stages`` (default: all) comes from: a Hub id or path, or ``"(object)"``
        for a model given already loaded. For sidecars and reports; loads nothing."""
        wanted = stages or (*self._names, *(s for s in self._loaded if s not in self._names))
        return {stage: self.source(stage) if stage in self._names else "(object)" for stage in wanted}

    def _is_sdxl(self) -> bool:
        """Whether the inpainter is SDXL: its class once loaded, its name before (never loads it)."""
        inpainter = self._loaded.get("inpainter")
        if inpainter is not None:
            return isinstance(inpainter, DiffusersInpainter) and "XL" in type(inpainter.pipe).__name__
        return "xl" in self.source("inpainter").lower()

    def _model(self, stage: str, loader: Callable[..., _T], **options: object) -> _T:
        if stage not in self._loaded:
            source = self.source(stage)
            self._loaded[stage] = cached(stage, source, self.device, self.dtype,
                                         lambda: loader(source, self.device, self.dtype, **options), repr(options))
        return self._loaded[stage]  # type: ignore[return-value]

    @property
    def detector(self) -> GroundingDino:
        """GroundingDINO, loaded on first use."""
        return self._model("detector", GroundingDino.load)

    @property
    def segmenter(self) -> Segmenter:
        """SAM, loaded on first use (an original ``.pth`` checkpoint through segment-anything)."""
        if "segmenter" not in self._loaded and self.source("segmenter").endswith(".pth"):
            return self._model("segmenter", OriginalSam.load)
        return self._model("segmenter", Sam.load)

    @property
    def inpainter(self) -> Filler:
        """The inpainting model, loaded on first use."""
        speed = {} if self.speed == Speed() else {"speed": self.speed}
        return self._model("inpainter", DiffusersInpainter.load, **speed)

    @property
    def controlnet(self) -> torch.nn.Module:
        """The depth ControlNet, loaded on first use."""
        return self._model("controlnet", load_controlnet)

    @property
    def depth(self) -> DepthEstimator:
        """The depth model, loaded on first use."""
        return self._model("depth", DepthEstimator.load)

    @property
    def remover(self) -> Filler:
        """The LaMa fill model, loaded on first use."""
        return self._model("remover", Lama.load)

    @property
    def upscaler(self) -> object:
        """The diffusion upscaler, loaded on first use."""
        return self._model("upscaler", load_upscaler)

    # ---- stages -----------------------------------------------------------------------------

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
            image: a path, PIL image or numpy array (see :func:`textinpaint.load_image`).
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
        check_unit("box_threshold", box_threshold)
        check_unit("text_threshold", text_threshold)
        check_unit("nms_iou", nms_iou)
        with timed("detect", {}):
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
        detections = check_detections(detections)
        with timed("segment", {}):
            return self._segment(picture, detections)

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
        scheduler: str | None = None,
        refine: bool = False,
        upscale: int | None = None,
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
            scheduler: ``"ddim"``, ``"pndm"``, ``"euler"``, ``"euler a"``, ``"dpm++ 2m"``,
                ``"dpm++ 2m karras"``, ``"unipc"``, ``"lms"``; None keeps the model's own.
            refine: run a second, low-strength pass at 1.5x the resolution to add detail.
            upscale: 2 or 4: sharpen the painted crop with the diffusion upscaler before it is
                fitted back (only the repainted region changes; the output keeps its size).

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
        request = fill_request(prompt, negative_prompt, steps, guidance, strength, seed, scheduler, refine, upscale,
                           dilate=dilate, feather=feather)
        painted = self._paint(picture, region, lambda: self._painter(request), request, dilate, feather, {})
        result = picture.to_pil(painted.rgb)
        result.info["seed"] = request.seed
        return result

    # ---- internals ---------------------------------------------------------------------------

    def _picture(self, image: ImageInput) -> Picture:
        return load_image(image, max_pixels=self.max_pixels)

    def _segment(self, picture: Picture, detections: sv.Detections) -> sv.Detections:
        result = detections[np.arange(len(detections))]
        result.mask = self.segmenter.masks(picture, detections.xyxy.astype(np.float64))
        result.metadata = dict(detections.metadata)
        return result

    def _painter(self, request: FillRequest) -> Filler:
        """The inpainter, with the upscaler attached when the request asks for it."""
        inpainter = self.inpainter
        if isinstance(inpainter, DiffusersInpainter) and request.upscale:
            return inpainter.with_extras(upscaler=self.upscaler)
        return inpainter

    def _find(
        self, picture: Picture, find: object, select: Select, mask_mode: MaskMode, strict: bool,
        box_threshold: float, text_threshold: float, timings: dict[str, float],
    ) -> Found:
        """Detect, segment (in mask mode) and select; ``region`` is None when nothing matched."""
        return self._find_many([picture], find, select, mask_mode, strict, box_threshold, text_threshold, timings)[0]

    def _find_many(
        self, pictures: list[Picture], find: object, select: Select, mask_mode: MaskMode, strict: bool,
        box_threshold: float, text_threshold: float, timings: dict[str, float],
    ) -> list[Found]:
        """:meth:`_find` for several pictures: one detector pass per image size, one SAM encoder pass."""
        phrases = parse_phrases(find)  # type: ignore[arg-type]
        check_select(select)
        check_mask_mode(mask_mode)
        check_unit("box_threshold", box_threshold)
        check_unit("text_threshold", text_threshold)
        with timed("load", timings):
            detector = self.detector
        with timed("detect", timings):
            found = detector.detect_many(
                pictures, phrases, box_threshold=box_threshold, text_threshold=text_threshold, nms_iou=DEFAULT_NMS_IOU
            )
        empty = [i for i, detections in enumerate(found) if len(detections) == 0]
        if strict and empty:
            best = found[empty[0]].metadata.get("best_score")
            raise NothingFoundError(" . ".join(phrases), best, box_threshold)
        if mask_mode == "mask" and len(empty) < len(found):
            with timed("load", timings):
                segmenter = self.segmenter
            with timed("segment", timings):
                masks = segmenter.masks_many(pictures, [d.xyxy.astype(np.float64) for d in found])
            for detections, stack in zip(found, masks):
                if len(detections):
                    detections.mask = stack
        results = []
        for picture, detections in zip(pictures, found):
            if len(detections) == 0:
                logger.info("nothing matching %r was found; the image is returned unchanged", phrases)
                nothing = empty_detections(picture.height, picture.width) if mask_mode == "mask" else empty_detections()
                nothing.metadata = dict(detections.metadata)
                results.append(Found(nothing, [], None))
                continue
            selected = select_indices(detections, select)
            if detections.mask is not None:
                region = detections.mask[selected].any(axis=0)
            else:
                region = box_mask(detections.xyxy[selected], picture.width, picture.height)
            results.append(Found(detections, selected, region))
        return results

    def _paint(
        self, picture: Picture, region: np.ndarray, painter: Callable[[], Filler], request: FillRequest,
        dilate: int | None, feather: int | None, timings: dict[str, float], stage: str = "inpaint",
    ) -> Painted:
        """Blend ``painter()``'s fill of ``region`` into ``picture``; the painter loads only if needed."""
        return self._paint_many([picture], [region], painter, [request], dilate, feather, timings, stage)[0]

    def _paint_many(
        self, pictures: list[Picture], regions: list[np.ndarray], painter: Callable[[], Filler],
        requests: list[FillRequest], dilate: int | None, feather: int | None, timings: dict[str, float],
        stage: str = "inpaint",
    ) -> list[Painted]:
        """:meth:`_paint` for several pictures; their crops are painted together where sizes allow."""
        results: list[Painted | None] = [None] * len(pictures)
        jobs, where = [], []
        for i, (picture, region, request) in enumerate(zip(pictures, regions, requests)):
            dilation = auto_dilation(picture.width, picture.height) if dilate is None else dilate
            feathering = auto_feather(dilation) if feather is None else feather
            if region.any():
                jobs.append(PaintJob(picture.rgb, region, request, dilation, feathering))
                where.append(i)
            else:
                results[i] = Painted(picture.rgb, region, None, dilation, feathering)
        if jobs:
            with timed("load", timings):
                filler = painter()
            with timed(stage, timings):
                for i, painted in zip(where, paint_many(jobs, filler)):
                    results[i] = painted
        return results  # type: ignore[return-value]


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
remove = _on_default(Pipeline.remove)
replace_background = _on_default(Pipeline.replace_background)
generate = _on_default(Pipeline.generate)
