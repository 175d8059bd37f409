"""The pipeline that chains the stages, and the workflows built on them.

A :class:`Pipeline` names its models and loads each one the first time it is needed. The
module-level functions (:func:`detect`, :func:`replace`, :func:`remove`, ...) call the same
methods on one shared default pipeline.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Concatenate, NamedTuple, ParamSpec, TypeVar

import numpy as np
import PIL.Image
import supervision as sv
import torch

from .checks import (
    MaskMode,
    Select,
    check_detections,
    check_mask_mode,
    check_painting,
    check_select,
    check_text,
    check_unit,
    select_indices,
)
from .depth import DEFAULT_CONTROLNET_SCALE, DepthControlled, DepthEstimator
from .detection import (
    DEFAULT_BOX_THRESHOLD,
    DEFAULT_NMS_IOU,
    DEFAULT_TEXT_THRESHOLD,
    GroundingDino,
    empty_detections,
    parse_phrases,
)
from .diffusion import DiffusersInpainter, load_controlnet, load_upscaler
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
    PaintJob,
    draw_seed,
    paint_many,
)
from .masks import auto_dilation, auto_feather, box_mask, distance_outside, load_mask
from .models import CONTROLNETS, cached, resolve_device, resolve_dtype, resolve_source
from .removal import Lama
from .results import Edit
from .segmentation import OriginalSam, Sam, Segmenter

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_P = ParamSpec("_P")

# Called with each stage's name as it starts, in this thread or task only (see `listening`).
_stage_listener: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "textinpaint_stage_listener", default=None
)


@contextmanager
def listening(callback: Callable[[str], None]) -> Iterator[None]:
    """Call ``callback(stage)`` as each stage starts (``"load"``, ``"detect"``, ``"segment"``,
    ``"inpaint"``, ...) in calls made inside this block, in this thread only.

    Example:
        >>> with listening(print):  # doctest: +SKIP
        ...     replace("street.jpg", "car", "a bus")
    """
    token = _stage_listener.set(callback)
    try:
        yield
    finally:
        _stage_listener.reset(token)


class _Found(NamedTuple):
    detections: sv.Detections
    selected: list[int]
    region: np.ndarray | None  # None when nothing matched


class Pipeline:
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
    ) -> None:
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.max_pixels = max_pixels
        self.models = models
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

    def _is_sdxl(self) -> bool:
        """Whether the inpainter is SDXL: its class once loaded, its name before (never loads it)."""
        inpainter = self._loaded.get("inpainter")
        if inpainter is not None:
            return isinstance(inpainter, DiffusersInpainter) and "XL" in type(inpainter.pipe).__name__
        return "xl" in self.source("inpainter").lower()

    def _model(self, stage: str, loader: Callable[[str, torch.device, torch.dtype], _T]) -> _T:
        if stage not in self._loaded:
            source = self.source(stage)
            self._loaded[stage] = cached(stage, source, self.device, self.dtype, lambda: loader(source, self.device, self.dtype))
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
        return self._model("inpainter", DiffusersInpainter.load)

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
        detections = check_detections(detections)
        with _stage("segment", {}):
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
        request = _request(prompt, negative_prompt, steps, guidance, strength, seed, scheduler, refine, upscale,
                           dilate=dilate, feather=feather)
        painted = self._paint(picture, region, lambda: self._painter(request), request, dilate, feather, {})
        result = picture.to_pil(painted.rgb)
        result.info["seed"] = request.seed
        return result

    # ---- workflows --------------------------------------------------------------------------

    def replace(
        self,
        image: ImageInput | Sequence[ImageInput],
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
        scheduler: str | None = None,
        refine: bool = False,
        upscale: int | None = None,
    ) -> Edit:
        """Find ``find`` in the image and repaint it as ``with_``.

        Given a list of images, every one is checked before any work starts; then they go through
        the detector (one pass per image size), SAM's encoder (one pass) and the UNet (one run per
        group of crops painted at the same size) together, and a list of edits comes back. A given
        ``seed`` is used for every image, as if each were edited alone (without one, each image
        draws its own); a list of one gives exactly the single call's edit.
        ``timings`` are then the whole batch's.

        Args:
            image: a path, PIL image or numpy array, or a list of them.
            find: what to replace: a phrase, several (``"dog. cat"``) or a list.
            with_: the prompt for what to paint instead; ``""`` removes the object (:meth:`remove`).
            select: which matches to repaint: ``"all"`` (their union), ``"best"`` (highest
                score), ``"largest"`` (largest mask, or box in box mode), an index in score order,
                or a list of indices.
            mask_mode: ``"mask"`` repaints SAM's outline (dilated); ``"box"`` repaints the whole
                box, for replacements whose shape differs from the original's (SAM is not run).
            strict: raise :class:`~textinpaint.NothingFoundError` when nothing matches,
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
            scheduler: see :meth:`inpaint`.
            refine: see :meth:`inpaint`.
            upscale: see :meth:`inpaint`.

        Returns:
            An :class:`Edit` (a list of them for a list of images). When nothing is found,
            ``found`` is False, ``image`` is the input unchanged and only the detector has run.

        Example:
            >>> from textinpaint import replace
            >>> edit = replace("street.jpg", find="the red car", with_="a vintage blue pickup truck", seed=0)  # doctest: +SKIP
            >>> edit.image.save("out.png")  # doctest: +SKIP
        """
        if isinstance(with_, str) and not with_.strip():
            return self.remove(image, find, select=select, mask_mode=mask_mode, strict=strict,  # type: ignore[arg-type]
                               box_threshold=box_threshold, text_threshold=text_threshold, seed=seed,
                               dilate=dilate, feather=feather)
        batch = isinstance(image, (list, tuple))
        pictures = [self._picture(one) for one in (image if batch else [image])]  # all checked before any work
        check_text("with_", with_)
        first = _request(with_, negative_prompt, steps, guidance, strength, seed, scheduler, refine, upscale,
                         dilate=dilate, feather=feather)
        requests = [first] + [
            dataclasses.replace(first, seed=draw_seed() if seed is None else first.seed) for _ in pictures[1:]
        ]
        timings: dict[str, float] = {}
        found = self._find_many(pictures, find, select, mask_mode, strict, box_threshold, text_threshold, timings)
        hit = [i for i, f in enumerate(found) if f.region is not None]
        painted = self._paint_many([pictures[i] for i in hit], [found[i].region for i in hit],  # type: ignore[misc]
                                   lambda: self._painter(first), [requests[i] for i in hit], dilate, feather, timings)
        edits = [_unchanged(p, f, r.seed, timings) for p, f, r in zip(pictures, found, requests)]
        for i, result in zip(hit, painted):
            edits[i] = _edit(pictures[i], found[i], result, requests[i].seed, timings)
        return edits if batch else edits[0]  # type: ignore[return-value]

    def remove(
        self,
        image: ImageInput,
        find: str | Sequence[str],
        *,
        select: Select = "all",
        mask_mode: MaskMode = "mask",
        strict: bool = False,
        box_threshold: float = DEFAULT_BOX_THRESHOLD,
        text_threshold: float = DEFAULT_TEXT_THRESHOLD,
        seed: int | None = None,
        dilate: int | None = None,
        feather: int | None = None,
    ) -> Edit:
        """Erase what ``find`` names and fill the hole with plausible background (LaMa).

        The diffusion model is not used: with an empty prompt it tends to paint a new object.
        Arguments are as for :meth:`replace`; ``seed`` only matters to a random remover.

        Example:
            >>> from textinpaint import remove
            >>> remove("beach.jpg", "the person").image.save("empty-beach.png")  # doctest: +SKIP
        """
        picture = self._picture(image)
        request = _request("remove", "", 1, 0.0, 1.0, seed, None, False, None, dilate=dilate, feather=feather)
        timings: dict[str, float] = {}
        found = self._find(picture, find, select, mask_mode, strict, box_threshold, text_threshold, timings)
        if found.region is None:
            return _unchanged(picture, found, request.seed, timings)
        painted = self._paint(picture, found.region, lambda: self.remover, request, dilate, feather, timings, "remove")
        return _edit(picture, found, painted, request.seed, timings)

    def replace_background(
        self,
        image: ImageInput,
        keep: str | Sequence[str] | None,
        with_: str,
        *,
        mask: object = None,
        depth: bool = True,
        controlnet_scale: float = DEFAULT_CONTROLNET_SCALE,
        seam: int | None = None,
        strict: bool = False,
        box_threshold: float = DEFAULT_BOX_THRESHOLD,
        text_threshold: float = DEFAULT_TEXT_THRESHOLD,
        negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
        steps: int = DEFAULT_STEPS,
        guidance: float = DEFAULT_GUIDANCE,
        strength: float = DEFAULT_STRENGTH,
        seed: int | None = None,
        scheduler: str | None = None,
        refine: bool = False,
        upscale: int | None = None,
    ) -> Edit:
        """Keep the subject, regenerate everything else from ``with_``.

        The subject is every match of ``keep`` (detect + segment), or ``mask`` when given. Its
        pixels stay bit-identical; the new background is blended in over a ``seam`` px band just
        outside it. With ``depth=True`` a depth map of the input conditions the painting through
        a depth ControlNet, so the new scene keeps the input's perspective.

        Args:
            image: a path, PIL image or numpy array.
            keep: what to keep (phrases, as for :meth:`detect`); None when ``mask`` is given.
            with_: the prompt for the new background.
            mask: the subject as a ``bool`` HxW mask (or PIL / path), instead of ``keep``.
            depth: condition on the input's depth through the ControlNet.
            controlnet_scale: the ControlNet's weight (0 ignores it, 1 follows it closely).
            seam: width in px of the blend band outside the subject (default: the automatic feather).
            strict: as for :meth:`replace`.
            box_threshold: as for :meth:`replace`.
            text_threshold: as for :meth:`replace`.
            negative_prompt: as for :meth:`inpaint`.
            steps: as for :meth:`inpaint`.
            guidance: as for :meth:`inpaint`.
            strength: as for :meth:`inpaint`.
            seed: as for :meth:`inpaint`.
            scheduler: as for :meth:`inpaint`.
            refine: as for :meth:`inpaint`.
            upscale: as for :meth:`inpaint`.

        Returns:
            An :class:`Edit`; ``mask`` is the repainted background, ``detections`` the subject.

        Example:
            >>> from textinpaint import replace_background
            >>> edit = replace_background("car.jpg", keep="the car", with_="a mountain road at sunset", seed=0)  # doctest: +SKIP
        """
        picture = self._picture(image)
        check_text("with_", with_)
        if (keep is None) == (mask is None):
            raise InvalidInputError("give exactly one of keep (what to find) or mask (the subject); got "
                                    f"keep={keep!r} and mask={'an array' if mask is not None else None}")
        if isinstance(controlnet_scale, bool) or not isinstance(controlnet_scale, (int, float)) or controlnet_scale < 0:
            raise InvalidInputError(f"controlnet_scale must be a number >= 0; got {controlnet_scale!r}")
        if seam is not None and (isinstance(seam, bool) or not isinstance(seam, int) or seam < 1):
            raise InvalidInputError(f"seam must be None (automatic) or an integer >= 1 pixels; got {seam!r}")
        request = _request(with_, negative_prompt, steps, guidance, strength, seed, scheduler, refine, upscale)
        timings: dict[str, float] = {}
        if mask is not None:
            subject = load_mask(mask, picture.width, picture.height)
            found = _Found(empty_detections(picture.height, picture.width), [], subject)
        else:
            found = self._find(picture, keep, "all", "mask", strict, box_threshold, text_threshold, timings)
            if found.region is None:
                return _unchanged(picture, found, request.seed, timings)
        seam = seam or auto_feather(auto_dilation(picture.width, picture.height))
        background = distance_outside(found.region) > seam

        def painter() -> Filler:
            base = self._painter(request)
            if not depth:
                return base
            return DepthControlled(base.with_extras(controlnet=self.controlnet, upscaler=base.upscaler),  # type: ignore[attr-defined]
                                   self.depth, controlnet_scale)

        painted = self._paint(picture, background, painter, request, 0, seam - 1, timings)
        return _edit(picture, found._replace(region=background), painted, request.seed, timings)

    def generate(
        self,
        prompt: str,
        *,
        size: tuple[int, int] | None = None,
        negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
        steps: int = DEFAULT_STEPS,
        guidance: float = DEFAULT_GUIDANCE,
        seed: int | None = None,
        scheduler: str | None = None,
        upscale: int | None = None,
    ) -> PIL.Image.Image:
        """Make an image from text with the inpainting model's own weights (no second copy).

        Args:
            prompt: what to draw.
            size: ``(width, height)`` of the result; default the model's native square.
            negative_prompt: as for :meth:`inpaint`.
            steps: as for :meth:`inpaint`.
            guidance: as for :meth:`inpaint`.
            seed: as for :meth:`inpaint`.
            scheduler: as for :meth:`inpaint`.
            upscale: as for :meth:`inpaint`.

        Returns:
            An RGB image of exactly ``size``, with ``info["seed"]``.

        Example:
            >>> from textinpaint import generate, replace
            >>> edit = replace(generate("a woman in a park", seed=1), find="hair", with_="short pink hair")  # doctest: +SKIP
        """
        request = _request(prompt, negative_prompt, steps, guidance, 1.0, seed, scheduler, False, upscale)
        if size is not None and not (
            isinstance(size, (tuple, list)) and len(size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in size)
        ):
            raise InvalidInputError(f"size must be (width, height) in whole pixels >= 1; got {size!r}")
        with _stage("load", {}):
            painter = self._painter(request)
        if not isinstance(painter, DiffusersInpainter):
            raise InvalidInputError("generate needs a diffusers inpainting model as inpainter; got a custom filler")
        width, height = size or (painter.native_size, painter.native_size)
        with _stage("generate", {}):
            pixels = painter.generate(request, width, height)
        result = PIL.Image.fromarray(pixels)
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
    ) -> _Found:
        """Detect, segment (in mask mode) and select; ``region`` is None when nothing matched."""
        return self._find_many([picture], find, select, mask_mode, strict, box_threshold, text_threshold, timings)[0]

    def _find_many(
        self, pictures: list[Picture], find: object, select: Select, mask_mode: MaskMode, strict: bool,
        box_threshold: float, text_threshold: float, timings: dict[str, float],
    ) -> list[_Found]:
        """:meth:`_find` for several pictures: one detector pass per image size, one SAM encoder pass."""
        phrases = parse_phrases(find)  # type: ignore[arg-type]
        check_select(select)
        check_mask_mode(mask_mode)
        check_unit("box_threshold", box_threshold)
        check_unit("text_threshold", text_threshold)
        with _stage("load", timings):
            detector = self.detector
        with _stage("detect", timings):
            found = detector.detect_many(
                pictures, phrases, box_threshold=box_threshold, text_threshold=text_threshold, nms_iou=DEFAULT_NMS_IOU
            )
        empty = [i for i, detections in enumerate(found) if len(detections) == 0]
        if strict and empty:
            best = found[empty[0]].metadata.get("best_score")
            raise NothingFoundError(" . ".join(phrases), best, box_threshold)
        if mask_mode == "mask" and len(empty) < len(found):
            with _stage("load", timings):
                segmenter = self.segmenter
            with _stage("segment", timings):
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
                results.append(_Found(nothing, [], None))
                continue
            selected = select_indices(detections, select)
            if detections.mask is not None:
                region = detections.mask[selected].any(axis=0)
            else:
                region = box_mask(detections.xyxy[selected], picture.width, picture.height)
            results.append(_Found(detections, selected, region))
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
            with _stage("load", timings):
                filler = painter()
            with _stage(stage, timings):
                for i, painted in zip(where, paint_many(jobs, filler)):
                    results[i] = painted
        return results  # type: ignore[return-value]


def _request(
    prompt: str, negative_prompt: str, steps: int, guidance: float, strength: float, seed: int | None,
    scheduler: str | None, refine: bool, upscale: int | None, *, dilate: object = None, feather: object = None,
) -> FillRequest:
    """Validate painting options and fix the seed (drawn when None)."""
    check_text("prompt", prompt)
    if not isinstance(negative_prompt, str):
        raise InvalidInputError(f"negative_prompt must be a string ('' for none); got {negative_prompt!r}")
    check_painting(steps=steps, guidance=guidance, strength=strength, seed=seed, dilate=dilate, feather=feather,
                   scheduler=scheduler, refine=refine, upscale=upscale)
    seed = draw_seed() if seed is None else int(seed)
    return FillRequest(prompt, negative_prompt, steps, guidance, strength, seed, scheduler, refine, upscale)


def _unchanged(picture: Picture, found: _Found, seed: int, timings: dict[str, float]) -> Edit:
    source = picture.to_pil()
    nothing = np.zeros((picture.height, picture.width), dtype=bool)
    return Edit(source.copy(), nothing, found.detections, [], seed, False, timings, source)


def _edit(picture: Picture, found: _Found, painted: Painted, seed: int, timings: dict[str, float]) -> Edit:
    return Edit(picture.to_pil(painted.rgb), painted.changed, found.detections, found.selected, seed, True,
                timings, picture.to_pil())


@contextmanager
def _stage(name: str, timings: dict[str, float]) -> Iterator[None]:
    """Time a stage into ``timings[name]``; turn CUDA out-of-memory into a typed, helpful error."""
    listener = _stage_listener.get()
    if listener is not None:
        listener(name)
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
remove = _on_default(Pipeline.remove)
replace_background = _on_default(Pipeline.replace_background)
generate = _on_default(Pipeline.generate)
