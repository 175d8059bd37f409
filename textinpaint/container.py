"""The model container: the models of every stage, loaded lazily, once, and what they can do.

:class:`Models` names its models and loads each one the first time it is needed (see
:mod:`textinpaint.models`). Its two methods are the stages users call on their own
(:meth:`~Models.detect`, :meth:`~Models.segment`). The workflows (:mod:`textinpaint.workflows`)
take a :class:`Models` as their first argument; :class:`textinpaint.Pipeline`, one layer above
both, attaches them as methods. Nothing here imports a workflow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack, cast

import numpy as np
import supervision as sv
import torch

from .abilities import Abilities
from .backends.detection import parse_phrases, with_query_ids
from .devices import resolve_device, resolve_dtype
from .errors import InvalidInputError, ModelsMissingError, TextInpaintError
from .events import timed
from .images import DEFAULT_MAX_PIXELS, ImageInput, load_image
from .inpainting import Filler, check_filler
from .masks import auto_matte_band, bounding_box, trimap
from .models import backend_for, family_of, missing_models, resolve_source, weights_status
from .options import (
    DetectArgs,
    FindOptions,
    Speed,
    check_detections,
    check_inside,
    check_on_object,
    clicks,
    split,
)
from .stages import STAGES, Backend
from .store import ModelStore

if TYPE_CHECKING:
    from .backends.depth import DepthEstimator
    from .backends.detection import Detector, GroundingDino
    from .backends.segmentation import Segmenter


class Models:
    """The models of every stage, loaded lazily, once, and shared (:class:`textinpaint.Pipeline`
    is this container with the workflows attached as methods).

    Each model argument takes a short name, a Hub repo id, a local folder, or an already loaded
    object. ``None`` means ``models/<stage>`` when ``models`` is given, else the default. The
    stages, their short names and defaults are listed in :data:`textinpaint.stages.STAGES`.

    Pipelines asking for the same model (source, device, dtype) share one copy while any of
    them holds it; :meth:`clear` (or dropping the pipeline) frees it. Keep one pipeline for a
    series of edits (the module-level functions do: they share :func:`default_pipeline`).

    Args:
        detector: GroundingDINO: ``"tiny"`` (default), ``"base"``; MM-GroundingDINO (better
            zero-shot detection): ``"mm-tiny"``, ``"mm-base"``, ``"mm-large"``. Both are scored the
            same way (sigmoid token probabilities), so the thresholds apply unchanged; their
            calibration on real photos differs and was not measured here. OWLv2: ``"owlv2"``
            (one query per phrase; ``text_threshold`` does not apply, and its scores run lower).
            SAM 3: ``"sam3"`` finds and cuts out in one pass (its detections carry masks, and
            the segmenter is skipped). See docs/models.md for choosing.
        segmenter: SAM: ``"base"``, ``"large"``, ``"huge"`` (default); SAM-HQ, for finer edges
            on hair, fur and fences: ``"hq-base"``, ``"hq-large"``, ``"hq-huge"``; SAM 2.1:
            ``"sam2.1-tiny"``, ``"sam2.1-small"``, ``"sam2.1-base-plus"``, ``"sam2.1-large"``; any
            SAM, SAM-HQ or SAM 2 repository or folder; or an original ``.pth`` checkpoint
            (``sam-original`` extra).
        inpainter: ``"sd15"`` (default), ``"sd2"``, ``"sdxl"``, any diffusers SD inpainting model;
            ``"flux-fill"`` (FLUX.1 Fill [dev], bf16, non-commercial weights: see
            :mod:`textinpaint.backends.flux`); or any :class:`~textinpaint.inpainting.Filler`.
        controlnet: the depth ControlNet for :meth:`replace_background` (default ``"sd15-depth"``,
            or ``"sdxl-depth"`` with an SDXL inpainter).
        depth: the depth model: ``"depth-anything-small"`` (default), ``"depth-anything-base"``,
            ``"dpt-large"``, ``"dpt-hybrid"``, or any transformers depth model.
        remover: the LaMa TorchScript fill model for :meth:`remove` (default ``"big-lama"``), a
            ``.pt`` file, a folder holding one, or any Filler.
        upscaler: the diffusion upscaler for ``upscale=`` (default ``"x4"``).
        fast: the few-step LoRA for ``fast=True``: ``"lcm-sd15"`` (default), or ``"lcm-sdxl"``
            (the default with an SDXL inpainter), any LCM-LoRA repository, folder or
            ``.safetensors`` file.
        subject: the salient-object model that finds the subject when none is named (cutouts and
            new backgrounds without ``keep``), run by rembg: ``"birefnet-general"`` (default),
            ``"isnet-general-use"``, ``"u2net"``, ``"u2netp"``..., a ``.onnx`` file or a folder
            holding one (``subject`` extra).
        matte: the matting model that softens a subject's edge (ViTMatte): ``"small-646"``
            (default), ``"small-1k"``, ``"base-646"``, ``"base-1k"``, or any ViTMatte folder.
        tracker: the video model that follows objects through a clip's frames (SAM 2.1 video):
            ``"sam2.1-tiny"`` (default), ``"sam2.1-small"``, ``"sam2.1-base-plus"``,
            ``"sam2.1-large"``, or any SAM 2.1 video folder.
        video_painter: the model that repaints a region of a clip consistently over time (Wan
            2.1 VACE): ``"vace-1.3b"`` (default) or ``"vace-14b"``, or any WanVACEPipeline folder.
        models: a folder with one subfolder per stage (``detector/``, ``segmenter/``,
            ``inpainter/``, and optionally ``controlnet/``, ``depth/``, ``remover/``, ``upscaler/``,
            ``fast/``, ``subject/``, ``matte/``, ``tracker/``, ``video_painter/``) in Hub layout, for offline and air-gapped installs.
        device: ``"cuda"``, ``"mps"``, ``"cpu"``...; default CUDA, then MPS, then CPU.
        dtype: ``"float16"``, ``"bfloat16"`` or ``"float32"``; default float16 on CUDA, else float32.
        max_pixels: refuse larger images (a decompression-bomb guard).
        speed: opt-in modes: ``Speed(compile=True)``, ``channels_last``, ``vae_tiling``,
            ``offload`` for the inpainter, ``compile_segmenter`` for SAM's image encoder (see
            :class:`~textinpaint.Speed`).

    Example:
        >>> pipe = Pipeline(models="tiny", device="cpu")  # doctest: +SKIP
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
        fast: str | Path | object | None = None,
        subject: str | Path | object | None = None,
        matte: str | Path | object | None = None,
        tracker: str | Path | object | None = None,
        video_painter: str | Path | object | None = None,
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
            "detector": detector,
            "segmenter": segmenter,
            "inpainter": inpainter,
            "controlnet": controlnet,
            "depth": depth,
            "remover": remover,
            "upscaler": upscaler,
            "fast": fast,
            "subject": subject,
            "matte": matte,
            "tracker": tracker,
            "video_painter": video_painter,
        }
        self._names = {stage: v for stage, v in given.items() if v is None or isinstance(v, (str, Path))}
        objects = {stage: v for stage, v in given.items() if stage not in self._names}
        for stage in ("inpainter", "remover"):
            if stage in objects:
                check_filler(objects[stage], stage)
        self.store = ModelStore(objects)

    def __repr__(self) -> str:
        return f"Pipeline({self._names}, models={self.models!r}, device={self.device}, dtype={self.dtype})"

    def source(self, stage: str) -> str:
        """The Hub repo id or local path the ``stage`` model is (or will be) loaded from;
        ``"(object)"`` for a model given already loaded. Loads nothing."""
        if stage not in STAGES:
            from .errors import InvalidInputError

            raise InvalidInputError(f"stage must be one of {list(STAGES)}; got {stage!r}")
        if stage not in self._names:
            return "(object)"
        name = self._names[stage]
        if name is None and self.models is None and STAGES[stage].follows:
            name = STAGES[stage].follows.get(self.family(STAGES[stage].follows_stage) or "")
        return resolve_source(stage, name, self.models)

    def model_sources(self, *stages: str) -> dict[str, str]:
        """Where each of ``stages`` (default: all) comes from: a Hub id or an absolute path, or
        ``"(object)"`` for a model given already loaded. For sidecars and reports; loads nothing."""
        sources = {stage: self.source(stage) for stage in (stages or tuple(STAGES))}
        return {stage: str(Path(src).resolve()) if Path(src).exists() else src for stage, src in sources.items()}

    def loaded(self) -> list[str]:
        """The stages whose model is in memory now (loaded, or given as an object)."""
        return self.store.loaded()

    def clear(self) -> None:
        """Free every model this pipeline loaded (models given as objects stay).

        Memory (GPU memory too) is released once no other pipeline holds the same model; the
        next use loads it again.
        """
        self.store.clear()

    def family(self, stage: str) -> str | None:
        """The model family of ``stage`` (``"sd"``, ``"sdxl"``, ``"flux"``...), read off the loaded
        model or, before it loads, its short name or its folder's config; None when unknown."""
        held = self.store.peek(stage)
        if held is not None:
            return getattr(held, "family", None)
        if stage not in self._names:
            return None
        return family_of(stage, self.source(stage), self._names[stage])

    def abilities(self, stage: str = "inpainter") -> Abilities:
        """What the ``stage`` painter can do and its own defaults (see :mod:`textinpaint.abilities`):
        declared by the loaded or given model, else by its backend's file (loads no model)."""
        from .inpainting import ControlFiller

        held = self.store.peek(stage)
        if held is not None:
            declared = getattr(held, "abilities", None)
            if isinstance(declared, Abilities):
                return declared
            return Abilities(
                name=f"the custom {type(held).__name__}",
                control=isinstance(held, ControlFiller),
                batch=hasattr(held, "fill_many"),
            )
        backend = self.backend(stage)
        return Abilities() if backend is None else backend.abilities()

    def backend(self, stage: str) -> Backend | None:
        """The kind of model ``stage`` runs (see :data:`textinpaint.stages.STAGES`), read off its
        name, folder or file; None for a model given as an object. Loads nothing."""
        if stage not in self._names:
            return None
        return backend_for(stage, self.source(stage), self._names[stage])

    def detector_gives_masks(self) -> bool:
        """Whether the detector cuts out what it finds (SAM 3), so that finding skips the
        segmenter. Read off the loaded detector, or the stage table before it loads (loads nothing)."""
        detector = self.store.peek("detector")
        if detector is not None:
            return bool(getattr(detector, "gives_masks", False))
        backend = self.backend("detector")
        return backend is not None and bool(getattr(backend.owner(), "gives_masks", False))

    def available(self, stage: str) -> bool:
        """Whether the ``stage`` model can be used without a download: given, loaded, or its
        weights on this machine (what ``matte=None`` asks before softening edges). Loads nothing."""
        if stage in self.loaded():
            return True
        try:
            return weights_status(stage, self.source(stage))[0]
        except TextInpaintError:  # no models/<stage> folder, or no such model
            return False

    def require(self, *stages: str) -> None:
        """Refuse at once, naming every one, the models of ``stages`` that are neither on this
        machine nor downloadable now (the Hub cannot be reached); loads nothing.

        Raises:
            ModelsMissingError: with the three ways forward (download, a models folder, tiny models).
        """
        held = set(self.loaded())
        missing = missing_models({stage: self.source(stage) for stage in stages if stage not in held})
        if missing:
            raise ModelsMissingError(missing)

    def model(self, stage: str) -> Any:
        """The ``stage`` model (see :data:`textinpaint.stages.STAGES`), loaded on first use."""
        given = self.store.given(stage)
        if given is not None:
            return given
        self.require(stage)
        source = self.source(stage)
        backend = backend_for(stage, source, self._names[stage])
        options: dict[str, Any] = {}
        painting = dataclasses.replace(self.speed, compile_segmenter=False)
        if stage == "inpainter" and painting != Speed():
            options = {"speed": painting}
        elif stage == "segmenter" and self.speed.compile_segmenter:
            options = {"speed": Speed(compile_segmenter=True)}
        key = (stage, source, str(self.device), str(self.dtype), backend.name, repr(options))
        load = backend.load_function()
        return self.store.get(stage, key, lambda: load(source, self.device, self.dtype, **options))

    @property
    def detector(self) -> Detector:
        """The detector, loaded on first use."""
        return cast("Detector", self.model("detector"))

    @property
    def segmenter(self) -> Segmenter:
        """The segmenter (SAM, or an original ``.pth`` through segment-anything), loaded on first use."""
        return cast("Segmenter", self.model("segmenter"))

    @property
    def inpainter(self) -> Filler:
        """The inpainting model, loaded on first use."""
        return cast("Filler", self.model("inpainter"))

    @property
    def controlnet(self) -> torch.nn.Module:
        """The depth ControlNet, loaded on first use."""
        return cast("torch.nn.Module", self.model("controlnet"))

    @property
    def depth(self) -> DepthEstimator:
        """The depth model, loaded on first use."""
        return cast("DepthEstimator", self.model("depth"))

    @property
    def remover(self) -> Filler:
        """The fill model for removal, loaded on first use."""
        return cast("Filler", self.model("remover"))

    @property
    def upscaler(self) -> Any:
        """The diffusion upscaler, loaded on first use."""
        return self.model("upscaler")

    # ---- stages -----------------------------------------------------------------------------

    def detect(
        self,
        image: ImageInput,
        find: str | Sequence[str],
        **options: Unpack[DetectArgs],
    ) -> sv.Detections:
        """Find every object matching ``find``.

        Args:
            image: a path, PIL image or numpy array (see :func:`textinpaint.load_image`).
            find: one phrase, several separated by periods (``"dog. cat"``), or a list of phrases.
            **options: ``box_threshold`` (keep a box whose best token probability for its phrase
                reaches this), ``text_threshold`` (... and whose mean token probability over the
                phrase reaches this), ``nms_iou`` (boxes overlapping more than this IoU are one
                object; the best-scored stays).

        Returns:
            ``supervision.Detections`` sorted by confidence: ``xyxy`` float32 Nx4 in input-image
            pixels, ``confidence`` float32, ``class_id`` (the index of the phrase in the query as written), and
            ``data["phrase"]``, always exactly one of the given phrases (also in
            ``data["class_name"]``, which supervision's label annotator shows). When nothing passed
            the thresholds, ``metadata["best_score"]`` holds the best score seen (None if the
            model returned no box); a non-empty result has no per-call metadata, so results of
            several images or queries combine with ``sv.Detections.merge``.

        Example:
            >>> from textinpaint import detect
            >>> found = detect("street.jpg", "car. person")  # doctest: +SKIP
            >>> found.xyxy, found.data["phrase"]  # doctest: +SKIP
        """
        finding = split(dict(options), DetectArgs, "detect")[FindOptions]
        picture = load_image(image, max_pixels=self.max_pixels)
        phrases = parse_phrases(find)
        with timed("detect", {}):
            found = self.detector.detect_many(
                [picture],
                phrases,
                box_threshold=finding.box_threshold,
                text_threshold=finding.text_threshold,
                nms_iou=finding.nms_iou,
            )[0]
        return with_query_ids(found, find)

    def segment(
        self,
        image: ImageInput,
        detections: sv.Detections | None = None,
        *,
        points: Sequence[Sequence[float]] | None = None,
        labels: Sequence[int] | None = None,
        boxes: Sequence[Sequence[float]] | np.ndarray | None = None,
    ) -> sv.Detections:
        """Cut out objects with SAM, prompted by boxes (detections, or your own), clicked points, or both.

        The image is encoded once; every prompt is decoded from that one embedding, and the
        embedding is kept for the next call on the same image (a bounded, thread-safe cache), so
        each further click costs only SAM's light mask decoder.

        Args:
            image: the image the prompts refer to.
            detections: boxes (``xyxy`` in input-image pixels), e.g. from :func:`detect`. Detections
                that carry masks at the image's size already (SAM 3's) keep them; pass
                ``boxes=detections.xyxy`` to cut them out again with the segmenter.
            points: clicks, ``[(x, y), ...]`` in input pixels of the upright image. On their own
                they mark one object; with exactly one box (or detection) they refine it.
            labels: one per point: 1 on the object, 0 off it (default all 1).
            boxes: ``[(x0, y0, x1, y1), ...]`` in input pixels, instead of ``detections``.

        Returns:
            ``detections`` (or one row per box, or one row for the clicks) with ``mask`` set:
            NxHxW ``bool`` at the input's resolution. Rows made from boxes or clicks have the
            phrase ``"box"`` or ``"points"``; a clicked object's confidence is SAM's predicted IoU.

        Raises:
            InvalidInputError: no prompt; both ``detections`` and ``boxes``; points outside the
                image, bad labels, or points with more than one box.

        Example:
            >>> from textinpaint import detect, segment
            >>> masks = segment("street.jpg", detect("street.jpg", "car")).mask  # doctest: +SKIP
            >>> vespa = segment("street.jpg", points=[(410, 220), (380, 300)], labels=[1, 0])  # doctest: +SKIP
        """
        from .backends.segmentation import Prompt

        picture = load_image(image, max_pixels=self.max_pixels)
        clicked, marks = clicks(points, labels)
        if detections is not None and boxes is not None:
            raise InvalidInputError("give detections or boxes, not both")
        if detections is None and boxes is None and points is None:
            raise InvalidInputError("segment needs a prompt: detections, boxes, points, or boxes with points")
        if clicked is not None:
            check_inside(clicked, picture.width, picture.height)
        if detections is not None:
            base = check_detections(detections)
        elif boxes is not None:
            base = _box_detections(boxes)
        else:
            base = None
        with timed("segment", {}):
            if clicked is None and base is not None:
                result = base[np.arange(len(base))]
                if base.mask is not None and base.mask.shape[1:] == (picture.height, picture.width):
                    return result  # the detector cut them out already (SAM 3): its masks are kept
                result.mask = self.segmenter.masks(picture, base.xyxy.astype(np.float64))
                result.metadata = dict(base.metadata)
                return result
            if base is not None and len(base) != 1:
                raise InvalidInputError(f"points refine one box; got {len(base)} boxes (segment them one at a time)")
            if base is None:
                check_on_object(marks)
            box = None if base is None else base.xyxy[0].astype(np.float64)
            masks, scores = self.segmenter.prompted(
                picture, [Prompt(box=box, points=np.asarray(clicked), labels=np.asarray(marks))]
            )
            if base is not None:
                result = base[np.arange(1)]
                result.mask = masks
                result.metadata = dict(base.metadata)
                return result
            return clicked_detections(masks, scores)

    def salient(self, image: ImageInput) -> sv.Detections:
        """Find the salient subject without a prompt (the ``subject`` stage: rembg's model).

        Args:
            image: a path, PIL image or numpy array.

        Returns:
            One detection (none when nothing stands out): ``mask`` 1xHxW ``bool`` (the soft mask
            at 128 or more), ``data["alpha"]`` 1xHxW ``uint8``, the model's soft mask as rembg's
            ``remove(..., only_mask=True)`` gives it, ``xyxy`` the mask's box in input pixels,
            ``confidence`` the mean soft mask over the subject (from 0.5 to 1), phrase ``"subject"``.

        Example:
            >>> from textinpaint import Pipeline
            >>> found = Pipeline(models="tiny").salient("product.jpg")  # doctest: +SKIP
            >>> found.mask.shape, found.data["alpha"].dtype  # doctest: +SKIP
        """
        picture = load_image(image, max_pixels=self.max_pixels)
        with timed("subject", {}):
            alpha = self.model("subject")(picture.rgb)
        return subject_detections(alpha)

    def matte(self, image: ImageInput, mask: np.ndarray, *, band: int | None = None) -> np.ndarray:
        """Soften a subject mask's edge into an alpha matte (the ``matte`` stage: ViTMatte).

        A trimap is made from ``mask`` (see :func:`textinpaint.masks.trimap`): the pixels within
        ``band`` px of its edge are "unknown", and ViTMatte mattes them on the bounding crop of
        that band (plus ``band`` px of context) at full resolution.

        Args:
            image: the picture the mask belongs to.
            mask: HxW ``bool``, the subject (from :meth:`salient`, :meth:`segment`, clicks or yours).
            band: the unknown band's half-width in px (None: ``max(6, longer side / 64)``).

        Returns:
            HxW ``uint8`` alpha: 255 in the sure subject, 0 in the sure background, ViTMatte's
            answer (rounded) in the band.

        Example:
            >>> pipe = Pipeline(models="tiny")  # doctest: +SKIP
            >>> alpha = pipe.matte("portrait.jpg", pipe.salient("portrait.jpg").mask.any(axis=0))  # doctest: +SKIP
        """
        from .options import check_pixels

        picture = load_image(image, max_pixels=self.max_pixels)
        check_pixels("band", band, minimum=1)
        subject = np.asarray(mask)
        if subject.shape != (picture.height, picture.width):
            raise InvalidInputError(
                f"mask must be HxW like the image ({picture.height}x{picture.width}); got shape {subject.shape}"
            )
        width = auto_matte_band(picture.width, picture.height) if band is None else int(band)
        sure = trimap(subject.astype(bool), width)
        unknown = sure == 128
        box = bounding_box(unknown)
        if box is None:
            return sure  # all sure: nothing to matte
        x0, y0, x1, y1 = box
        x0, y0 = max(0, x0 - width), max(0, y0 - width)
        x1, y1 = min(picture.width, x1 + width), min(picture.height, y1 + width)
        with timed("matte", {}):
            soft = self.model("matte")(picture.rgb[y0:y1, x0:x1], sure[y0:y1, x0:x1])
        alpha = sure.copy()
        window = alpha[y0:y1, x0:x1]
        band_pixels = unknown[y0:y1, x0:x1]
        window[band_pixels] = np.rint(soft[band_pixels] * 255.0).astype(np.uint8)
        return alpha


def subject_detections(alpha: np.ndarray) -> sv.Detections:
    """One detection for a salient subject's soft mask (none when no pixel reaches 128)."""
    import supervision as sv

    from .backends.detection import empty_detections

    mask = alpha >= 128
    box = bounding_box(mask)
    if box is None:
        nothing = empty_detections(*alpha.shape)
        nothing.data["alpha"] = np.zeros((0, *alpha.shape), dtype=np.uint8)
        return nothing
    return sv.Detections(
        xyxy=np.array([box], dtype=np.float32),
        mask=mask[None],
        confidence=np.array([alpha[mask].mean() / 255.0], dtype=np.float32),
        class_id=np.zeros(1, dtype=int),
        data={"phrase": np.array(["subject"]), "class_name": np.array(["subject"]), "alpha": alpha[None]},
    )


def _box_detections(boxes: object) -> sv.Detections:
    """Detections for boxes the user gave (confidence 1, phrase ``"box"``)."""
    import supervision as sv

    array = np.asarray(boxes, dtype=np.float64) if isinstance(boxes, (list, tuple, np.ndarray)) else None
    if (
        array is None
        or array.ndim != 2
        or array.shape[1] != 4
        or len(array) == 0
        or not np.isfinite(array).all()
        or (array[:, 2] <= array[:, 0]).any()
        or (array[:, 3] <= array[:, 1]).any()
    ):
        raise InvalidInputError(
            f"boxes must be a non-empty list of (x0, y0, x1, y1) with x0 < x1 and y0 < y1; got {boxes!r}"
        )
    count = len(array)
    return sv.Detections(
        xyxy=array.astype(np.float32),
        confidence=np.ones(count, dtype=np.float32),
        class_id=np.zeros(count, dtype=int),
        data={"phrase": np.array(["box"] * count), "class_name": np.array(["box"] * count)},
    )


def clicked_detections(masks: np.ndarray, scores: np.ndarray) -> sv.Detections:
    """One detection for a clicked object: its mask's box, SAM's predicted IoU, phrase ``"points"``."""
    import supervision as sv

    found = bounding_box(masks[0])
    box = np.array([found if found is not None else (0, 0, 0, 0)], dtype=np.float64)
    return sv.Detections(
        xyxy=box.astype(np.float32),
        mask=masks[:1],
        confidence=np.clip(scores[:1], 0.0, 1.0).astype(np.float32),
        class_id=np.zeros(1, dtype=int),
        data={"phrase": np.array(["points"]), "class_name": np.array(["points"])},
    )
