"""The options of every workflow, as frozen dataclasses that validate themselves, in one place.

The flat keyword API (``replace(..., box_threshold=0.3, steps=20)``) builds these objects first,
so every option is checked once, before any work, with an error that names the argument and its
value. The CLI and the app take their defaults from the same objects (``FindOptions().box_threshold``).

Example:
    >>> FindOptions(box_threshold=0.3).text_threshold
    0.25
    >>> PaintOptions(steps=0)
    Traceback (most recent call last):
    ...
    textinpaint.errors.InvalidInputError: steps must be an integer >= 1; got 0
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from .errors import InvalidInputError
from .schedulers import scheduler_key

if TYPE_CHECKING:  # supervision and the painting code load only when a workflow runs (a fast CLI start)
    import supervision as sv

    from .inpainting import FillRequest

Select = Literal["all", "best", "largest"] | int | Sequence[int]
MaskMode = Literal["mask", "box"]

# Steps: SD inpainting models converge by about 30 DDIM/PNDM steps; more costs time for little.
DEFAULT_STEPS = 30
# Guidance 7.5 is Stable Diffusion's own default: faithful to the prompt without burnt colours.
DEFAULT_GUIDANCE = 7.5
# Strength 1.0: dedicated inpainting models expect to repaint the masked area from pure noise.
DEFAULT_STRENGTH = 1.0
# Negative prompt: the artefacts users complain about most in inpainted regions.
DEFAULT_NEGATIVE_PROMPT = "blurry, low quality, deformed, distorted, watermark, text, seam, border"
# GroundingDINO's published demo uses 0.35 / 0.25: high enough to drop stray boxes on random clutter.
DEFAULT_BOX_THRESHOLD = 0.35
DEFAULT_TEXT_THRESHOLD = 0.25
# Boxes overlapping more than this are the same object found twice (often under two phrases).
DEFAULT_NMS_IOU = 0.8
# A ControlNet weight of 0.8 keeps the layout without copying the old scene's every edge.
DEFAULT_CONTROLNET_SCALE = 0.8
# Best of N: more candidates than this is a search, not an edit (each costs a batch slot in the UNet).
MAX_TRIES = 16


def _integer(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _number(value: object) -> bool:
    """A real, finite number (NaN and infinities are refused: they poison every comparison)."""
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def check_text(argument: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{argument} must be a non-empty string; got {value!r}")


def check_unit(argument: str, value: object) -> None:
    if not _number(value) or not 0.0 <= float(value) <= 1.0:  # type: ignore[arg-type]  # checked by _number
        raise InvalidInputError(f"{argument} must be a number in [0, 1]; got {value!r}")


def check_bool(argument: str, value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{argument} must be True or False; got {value!r}")


def check_pixels(argument: str, value: object, *, minimum: int = 0) -> None:
    """None (automatic) or a whole number of pixels >= ``minimum``."""
    if value is not None and (not _integer(value) or int(value) < minimum):  # type: ignore[call-overload]  # checked by _integer
        raise InvalidInputError(f"{argument} must be None (automatic) or an integer >= {minimum} pixels; got {value!r}")


def check_seed(value: object, argument: str = "seed") -> None:
    if value is not None and (not _integer(value) or not 0 <= int(value) < 2**63):  # type: ignore[call-overload]  # checked by _integer
        raise InvalidInputError(f"{argument} must be None or an integer in [0, 2**63); got {value!r}")


def clicks(points: object, labels: object) -> tuple[tuple[tuple[float, float], ...] | None, tuple[int, ...] | None]:
    """``points`` as ``((x, y), ...)`` and ``labels`` as ``(1 or 0, ...)``, checked; (None, None) for no points.

    Raises:
        InvalidInputError: not a list of (x, y) pairs of finite numbers, labels of another length
            or not 0/1, labels without points, or no point on the object (only 0 labels).
    """
    if points is None:
        if labels is not None:
            raise InvalidInputError(f"labels were given without points; got labels={labels!r}")
        return None, None
    pairs = np.asarray(points, dtype=object) if isinstance(points, (list, tuple, np.ndarray)) else None
    if (
        pairs is None
        or pairs.ndim != 2
        or pairs.shape[1] != 2
        or len(pairs) == 0
        or not all(_number(v) for v in pairs.ravel())
    ):
        raise InvalidInputError(f"points must be a non-empty list of (x, y) pairs of finite numbers; got {points!r}")
    xy = tuple((float(x), float(y)) for x, y in pairs)
    if labels is None:
        return xy, (1,) * len(xy)
    values = list(labels) if isinstance(labels, (list, tuple, np.ndarray)) else None
    if values is None or len(values) != len(xy) or not all(_integer(v) and int(v) in (0, 1) for v in values):
        raise InvalidInputError(
            f"labels must be one 1 (on the object) or 0 (off it) per point, {len(xy)} of them; got {labels!r}"
        )
    marks = tuple(int(v) for v in values)
    if 1 not in marks:
        raise InvalidInputError("points need at least one point on the object (label 1); got only 0 labels")
    return xy, marks


def check_query(find: object, finding: FindOptions) -> None:
    """Refuse a request with neither text nor clicks to find the object by."""
    if find is None and finding.points is None:
        raise InvalidInputError("give find (what to look for, as text), points (clicks on the object), or both")


def check_inside(points: Sequence[Sequence[float]], width: int, height: int) -> None:
    """Refuse a point outside a ``width`` x ``height`` picture (xy in pixels)."""
    for x, y in points:
        if not (0 <= x <= width and 0 <= y <= height):
            raise InvalidInputError(
                f"points must lie in the image (0..{width} x 0..{height} pixels, upright); got ({x}, {y})"
            )


def check_detections(detections: object) -> sv.Detections:
    import supervision as sv

    if not isinstance(detections, sv.Detections):
        raise InvalidInputError(f"detections must be a supervision.Detections; got {type(detections).__name__}")
    return detections


@dataclass(frozen=True)
class FindOptions:
    """How text becomes a region: detection thresholds, which matches, mask or box.

    Attributes:
        box_threshold: keep a box whose best token probability for its phrase reaches this.
        text_threshold: ... and whose mean token probability over the phrase reaches this.
        nms_iou: boxes overlapping more than this IoU are one object; the best-scored stays.
        select: ``"all"`` (their union), ``"best"``, ``"largest"``, an index in score order, or a list.
        mask_mode: ``"mask"`` repaints SAM's outline; ``"box"`` the whole box (SAM is not run).
        strict: raise :class:`~textinpaint.NothingFoundError` when nothing matches.
        points: clicked points, ``(x, y)`` in input pixels of the upright image: with no text,
            SAM cuts out the one object they mark; with text, they refine the one selected match.
        labels: one per point, 1 for a point on the object and 0 for a point off it (None: all 1).
    """

    box_threshold: float = DEFAULT_BOX_THRESHOLD
    text_threshold: float = DEFAULT_TEXT_THRESHOLD
    nms_iou: float = DEFAULT_NMS_IOU
    select: Select = "all"
    mask_mode: MaskMode = "mask"
    strict: bool = False
    points: Sequence[Sequence[float]] | None = None
    labels: Sequence[int] | None = None

    def __post_init__(self) -> None:
        for name in ("box_threshold", "text_threshold", "nms_iou"):
            check_unit(name, getattr(self, name))
        select = self.select
        items = [select] if _integer(select) else select
        if select not in ("all", "best", "largest") and not (
            isinstance(items, (list, tuple)) and items and all(_integer(i) and int(cast(int, i)) >= 0 for i in items)
        ):
            raise InvalidInputError(
                f"select must be 'all', 'best', 'largest', an index >= 0 or a non-empty list of them; got {select!r}"
            )
        if self.mask_mode not in ("mask", "box"):
            raise InvalidInputError(f"mask_mode must be 'mask' or 'box'; got {self.mask_mode!r}")
        check_bool("strict", self.strict)
        points, labels = clicks(self.points, self.labels)
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "labels", labels)
        if points is not None and self.mask_mode == "box":
            raise InvalidInputError("points prompt SAM, which mask_mode='box' does not run; use mask_mode='mask'")

    def select_indices(self, detections: sv.Detections) -> list[int]:
        """Indices (into ``detections``, sorted by score) of the matches ``select`` names.

        ``"largest"`` compares mask areas when the detections have masks, else box areas.

        Raises:
            InvalidInputError: an index outside ``0..len(detections)-1``.
        """
        return select_indices(detections, self.select)


def select_indices(detections: sv.Detections, select: Select) -> list[int]:
    """See :meth:`FindOptions.select_indices`."""
    count = len(detections)
    if select == "all":
        return list(range(count))
    if select == "best":
        return [int(np.argmax(detections.confidence))]
    if select == "largest":
        areas = detections.mask.sum(axis=(1, 2)) if detections.mask is not None else detections.box_area
        return [int(np.argmax(areas))]
    # FindOptions checked the form: an integer, or a sequence of them
    indices = [int(cast(int, select))] if _integer(select) else [int(i) for i in cast(Sequence[int], select)]
    bad = [i for i in indices if not 0 <= i < count]
    if bad or not indices:
        raise InvalidInputError(
            f"select indices must lie in 0..{count - 1} (there are {count} matches); got {select!r}"
        )
    return sorted(set(indices))


@dataclass(frozen=True)
class PaintOptions:
    """How a region is repainted: sampler settings, seed, mask growth, extra passes.

    Attributes:
        negative_prompt: what to steer away from (``""`` for none).
        steps: denoising steps.
        guidance: classifier-free guidance scale.
        strength: 1.0 repaints from noise; lower keeps more of the original.
        seed: the random seed; None draws a fresh one per image.
        dilate: grow the mask by this many pixels (None: ``max(4, longer side / 128)``).
        feather: width in pixels of the soft blend band outside the grown mask (None: half the dilation, >= 2).
        scheduler: a short name (see :data:`textinpaint.schedulers.SCHEDULERS`); None keeps the model's own.
        refine: a second, low-strength pass at 1.5x the resolution.
        upscale: 2 or 4: sharpen the painted crop with the diffusion upscaler.
        fast: paint in a few steps with the few-step LoRA (LCM-LoRA, see :mod:`textinpaint.fast`)
            and its scheduler; ``steps`` and ``guidance`` left at their defaults become 4 and 1.0,
            and at most 8 steps are allowed.
    """

    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT
    steps: int = DEFAULT_STEPS
    guidance: float = DEFAULT_GUIDANCE
    strength: float = DEFAULT_STRENGTH
    seed: int | None = None
    dilate: int | None = None
    feather: int | None = None
    scheduler: str | None = None
    refine: bool = False
    upscale: int | None = None
    fast: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.negative_prompt, str):
            raise InvalidInputError(f"negative_prompt must be a string ('' for none); got {self.negative_prompt!r}")
        if not _integer(self.steps) or self.steps < 1:
            raise InvalidInputError(f"steps must be an integer >= 1; got {self.steps!r}")
        if not _number(self.guidance) or self.guidance < 0:
            raise InvalidInputError(f"guidance must be a finite number >= 0; got {self.guidance!r}")
        if not _number(self.strength) or not 0.0 < self.strength <= 1.0:
            raise InvalidInputError(f"strength must be a number in (0, 1]; got {self.strength!r}")
        check_seed(self.seed)
        check_pixels("dilate", self.dilate)
        check_pixels("feather", self.feather)
        if self.scheduler is not None:
            if not isinstance(self.scheduler, str):
                raise InvalidInputError(
                    f"scheduler must be a name such as 'ddim' or 'dpm++ 2m'; got {self.scheduler!r}"
                )
            scheduler_key(self.scheduler)
        check_bool("refine", self.refine)
        if self.upscale is not None and (not _integer(self.upscale) or self.upscale not in (2, 4)):
            raise InvalidInputError(f"upscale must be None, 2 or 4; got {self.upscale!r}")
        check_bool("fast", self.fast)
        if self.fast:
            self._few_steps()

    def _few_steps(self) -> None:
        """``fast=True``: the few-step LoRA's steps and guidance for values left at their defaults."""
        from .fast import FAST_GUIDANCE, FAST_MAX_STEPS, FAST_STEPS

        if self.scheduler is not None:
            raise InvalidInputError(
                f"fast=True paints with the few-step LoRA's own scheduler; leave scheduler unset (got {self.scheduler!r})"
            )
        if self.steps == DEFAULT_STEPS:
            object.__setattr__(self, "steps", FAST_STEPS)
        if self.guidance == DEFAULT_GUIDANCE:
            object.__setattr__(self, "guidance", FAST_GUIDANCE)
        if self.steps > FAST_MAX_STEPS:
            raise InvalidInputError(
                f"fast=True paints in 1 to {FAST_MAX_STEPS} steps (a few-step LoRA); got steps={self.steps}"
            )

    def request(self, prompt: str, seed: int | None = None) -> FillRequest:
        """The :class:`~textinpaint.inpainting.FillRequest` for ``prompt``, with ``seed`` (else
        this object's seed, else a freshly drawn one)."""
        from .inpainting import FillRequest, draw_seed

        check_text("prompt", prompt)
        chosen = seed if seed is not None else self.seed
        return FillRequest(
            prompt,
            self.negative_prompt,
            int(self.steps),
            float(self.guidance),
            float(self.strength),
            draw_seed() if chosen is None else int(chosen),
            self.scheduler,
            self.refine,
            None if self.upscale is None else int(self.upscale),
            self.fast,
        )


@dataclass(frozen=True)
class BackgroundOptions:
    """How a background is repainted around a kept subject.

    Attributes:
        depth: condition on the input's depth through the ControlNet.
        controlnet_scale: the ControlNet's weight (0 ignores it, 1 follows it closely).
        seam: width in px of the blend band outside the subject (None: the automatic feather).
    """

    depth: bool = True
    controlnet_scale: float = DEFAULT_CONTROLNET_SCALE
    seam: int | None = None

    def __post_init__(self) -> None:
        check_bool("depth", self.depth)
        if not _number(self.controlnet_scale) or self.controlnet_scale < 0:
            raise InvalidInputError(f"controlnet_scale must be a finite number >= 0; got {self.controlnet_scale!r}")
        check_pixels("seam", self.seam, minimum=1)


@dataclass(frozen=True)
class Speed:
    """Opt-in speed and memory modes, applied once when the model loads (each setting gets its own
    loaded copy, so a pipeline without them is not changed).

    Attributes:
        compile: ``torch.compile`` the UNet and the VAE decoder (the first call pays the compile).
        compile_segmenter: ``torch.compile`` SAM's image encoder (SAM, SAM-HQ, or an original
            ``.pth``), the segmenter's expensive part.
        channels_last: keep the UNet's and VAE's convolutions in channels-last memory order.
        vae_tiling: decode and encode large crops tile by tile (less memory, tiny seams risk).
        offload: keep each model on the CPU until it runs (``enable_model_cpu_offload``; CUDA only),
            so the SD 1.5 chain fits small cards.
    """

    compile: bool = False
    compile_segmenter: bool = False
    channels_last: bool = False
    vae_tiling: bool = False
    offload: bool = False


@dataclass(frozen=True)
class CheckOptions:
    """Whether an edit checks itself, and how many candidates it paints (see :mod:`textinpaint.verify`).

    Attributes:
        verify: run the detector on the edited window and score the edit in [0, 1].
        tries: paint this many candidates (seeds ``seed``, ``seed + 1``, ...) in one batched
            run, verify each, and keep the best. More than 1 turns ``verify`` on.
        min_score: an edit scoring below this is still written but flagged (``Edit.flagged``).
            Given, it turns ``verify`` on.
    """

    verify: bool = False
    tries: int = 1
    min_score: float | None = None

    def __post_init__(self) -> None:
        check_bool("verify", self.verify)
        if not _integer(self.tries) or not 1 <= self.tries <= MAX_TRIES:
            raise InvalidInputError(f"tries must be an integer in 1..{MAX_TRIES}; got {self.tries!r}")
        if self.min_score is not None and (not _number(self.min_score) or not 0.0 <= self.min_score <= 1.0):
            raise InvalidInputError(f"min_score must be None or a number in [0, 1]; got {self.min_score!r}")

    @property
    def active(self) -> bool:
        """Whether the edit is verified: asked for, or needed by ``tries`` or ``min_score``."""
        return bool(self.verify) or self.tries > 1 or self.min_score is not None


def fields_of(options: Any) -> dict[str, Any]:
    """An option object's values by name (lists for tuples), for sidecars."""
    return {
        f.name: list(v) if isinstance(v := getattr(options, f.name), tuple) else v for f in dataclasses.fields(options)
    }
