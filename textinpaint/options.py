"""Every option of every workflow, declared once: one field (type, default, check, one line of doc).

The options come in groups, each a frozen dataclass that validates itself (:class:`FindOptions`,
:class:`PaintOptions`, :class:`CheckOptions`, :class:`BackgroundOptions`, :class:`MatteOptions`,
:class:`CutoutOptions`). Each field carries its
help text in ``metadata["doc"]`` (and how the CLI reads it in ``metadata["cli"]``), so the CLI's
flags, the app's controls, the sidecar's ``parameters`` and replay are all derived from here.

A workflow takes its options as flat keywords, typed for editors by the ``...Args`` TypedDicts
below (PEP 692 ``**options: Unpack[ReplaceArgs]``): Python cannot derive a TypedDict from a
dataclass, so each group's TypedDict names the same fields with the same types, and a test holds
them equal (``tests/test_options.py``). :func:`split` turns the keywords into the groups, refusing
an unknown or misplaced keyword with the workflow's own list.

``None`` means "the model's default" (``steps``, ``guidance``, ``negative_prompt``): the painter
declares its own (:mod:`textinpaint.abilities`), :func:`resolve` fills them in and refuses what
the painter cannot do, and the sidecar records the values used.

Example:
    >>> FindOptions(box_threshold=0.3).text_threshold
    0.25
    >>> PaintOptions(steps=0)
    Traceback (most recent call last):
    ...
    textinpaint.errors.InvalidInputError: steps must be an integer >= 1 (or None: the model's default); got 0
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast

import numpy as np

from .abilities import FEW_STEPS_MAX, Abilities
from .errors import InvalidInputError, UnknownOptionError
from .schedulers import scheduler_key

if TYPE_CHECKING:  # supervision loads only when a workflow runs (a fast CLI start)
    import supervision as sv

Select = Literal["all", "best", "largest"] | int | Sequence[int]
MaskMode = Literal["mask", "box"]

# Strength 1.0: dedicated inpainting models expect to repaint the masked area from pure noise.
DEFAULT_STRENGTH = 1.0
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
    """A real, finite number (NaN, infinities and integers too large for a float are refused: they
    poison every comparison)."""
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


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
    """None (drawn) or an integer in [0, 2**32): the painters' generators keep 32 bits, so a larger
    seed would paint the same picture as a smaller one under another number."""
    if value is not None and (not _integer(value) or not 0 <= int(value) < 2**32):  # type: ignore[call-overload]  # checked by _integer
        raise InvalidInputError(f"{argument} must be None or an integer in [0, 2**32); got {value!r}")


def check_seeds(value: object) -> None:
    """One seed (see :func:`check_seed`), or a list of them (one per image of a list)."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise InvalidInputError("seed must be None, an integer, or a non-empty list of them; got []")
        for one in value:
            check_seed(one)
    else:
        check_seed(value)


def _doc(text: str, **cli: Any) -> dict[str, Any]:
    """A field's metadata: its one line of help, and how the CLI reads it (``cli``)."""
    return {"doc": text, "cli": cli}


def clicks(points: object, labels: object) -> tuple[tuple[tuple[float, float], ...] | None, tuple[int, ...] | None]:
    """``points`` as ``((x, y), ...)`` and ``labels`` as ``(1 or 0, ...)``, checked; (None, None) for no points.

    Raises:
        InvalidInputError: not a list of (x, y) pairs of finite numbers, labels of another length
            or not 0/1, or labels without points (see :func:`check_on_object` for clicks alone).
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
    return xy, tuple(int(v) for v in values)


def check_on_object(labels: Sequence[int] | None) -> None:
    """Clicks without a box must mark the object with at least one positive point (with a box, as
    in SAM's "combining points and boxes", negative clicks alone cut a part out of the box)."""
    if labels is not None and 1 not in labels:
        raise InvalidInputError(
            "points without a box need at least one point on the object (label 1); got only 0 labels "
            "(negative clicks alone work with find= or boxes=, to cut a part out of the box)"
        )


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
    """How text (or clicks) becomes a region: detection thresholds, which matches, mask or box.

    Each field's help is in its ``metadata["doc"]`` (see :func:`option_docs`).
    """

    box_threshold: float = field(
        default=DEFAULT_BOX_THRESHOLD,
        metadata=_doc("keep a box whose best token probability for its phrase reaches this", type=float),
    )
    text_threshold: float = field(
        default=DEFAULT_TEXT_THRESHOLD,
        metadata=_doc("... and whose mean token probability over the phrase reaches this", type=float),
    )
    nms_iou: float = field(
        default=DEFAULT_NMS_IOU,
        metadata=_doc("boxes overlapping more than this IoU are one object; the best-scored stays", type=float),
    )
    select: Select = field(
        default="all",
        metadata=_doc(
            "which matches: 'all' (their union), 'best', 'largest', an index in score order, or a list",
            type="select",
            metavar="WHICH",
        ),
    )
    mask_mode: MaskMode = field(
        default="mask",
        metadata=_doc("'mask' repaints SAM's outline; 'box' the whole box (SAM is not run)", choices=("mask", "box")),
    )
    strict: bool = field(
        default=False, metadata=_doc("raise NothingFoundError (exit status 3) when nothing matches", type=bool)
    )
    points: Sequence[Sequence[float]] | None = field(
        default=None,
        metadata=_doc(
            "clicks, (x, y) in input pixels of the upright image: alone they mark one object, with text "
            "they refine the one selected match",
            type="points",
        ),
    )
    labels: Sequence[int] | None = field(
        default=None, metadata=_doc("one per point: 1 on the object, 0 off it (None: all 1)", type="labels")
    )

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

    ``steps``, ``guidance`` and ``negative_prompt`` left at None take the painter's own defaults
    (:func:`resolve`); each field's help is in its ``metadata["doc"]``.
    """

    negative_prompt: str | None = field(
        default=None,
        metadata=_doc("what to steer away from ('' for none; None: the model's default)", type=str),
    )
    steps: int | None = field(default=None, metadata=_doc("denoising steps (None: the model's default)", type=int))
    guidance: float | None = field(
        default=None, metadata=_doc("guidance scale (None: the model's default)", type=float)
    )
    strength: float = field(
        default=DEFAULT_STRENGTH, metadata=_doc("1.0 repaints from noise; lower keeps more of the original", type=float)
    )
    seed: int | Sequence[int] | None = field(
        default=None,
        metadata=_doc(
            "the random seed in [0, 2**32) (None: drawn, and recorded); a list gives one per image", type=int
        ),
    )
    dilate: int | None = field(
        default=None, metadata=_doc("grow the mask by this many pixels (None: max(4, longer side / 128))", type=int)
    )
    feather: int | None = field(
        default=None,
        metadata=_doc("width in pixels of the soft blend band outside the grown mask (None: automatic)", type=int),
    )
    scheduler: str | None = field(
        default=None, metadata=_doc("a sampler's short name (None: the model's own)", type=str)
    )
    refine: bool = field(default=False, metadata=_doc("a second, low-strength pass at 1.5x the resolution", type=bool))
    upscale: int | None = field(
        default=None, metadata=_doc("2 or 4: sharpen the painted crop with the diffusion upscaler", choices=(2, 4))
    )
    fast: bool = field(
        default=False,
        metadata=_doc(
            f"paint in a few steps with the few-step LoRA (LCM-LoRA; at most {FEW_STEPS_MAX} steps)", type=bool
        ),
    )

    def __post_init__(self) -> None:
        if self.negative_prompt is not None and not isinstance(self.negative_prompt, str):
            raise InvalidInputError(
                f"negative_prompt must be a string ('' for none; None: the model's default); got {self.negative_prompt!r}"
            )
        if self.steps is not None and (not _integer(self.steps) or self.steps < 1):
            raise InvalidInputError(f"steps must be an integer >= 1 (or None: the model's default); got {self.steps!r}")
        if self.guidance is not None and (not _number(self.guidance) or self.guidance < 0):
            raise InvalidInputError(
                f"guidance must be a finite number >= 0 (or None: the model's default); got {self.guidance!r}"
            )
        if not _number(self.strength) or not 0.0 < self.strength <= 1.0:
            raise InvalidInputError(f"strength must be a number in (0, 1]; got {self.strength!r}")
        check_seeds(self.seed)
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
        if self.fast and self.scheduler is not None:
            raise InvalidInputError(
                f"fast=True paints with the few-step LoRA's own scheduler; leave scheduler unset (got {self.scheduler!r})"
            )
        if self.fast and self.steps is not None and self.steps > FEW_STEPS_MAX:
            raise InvalidInputError(
                f"fast=True paints in 1 to {FEW_STEPS_MAX} steps (a few-step LoRA); got steps={self.steps}"
            )


@dataclass(frozen=True)
class BackgroundOptions:
    """How a background is repainted around a kept subject."""

    depth: bool = field(
        default=True, metadata=_doc("condition on the input's depth through the ControlNet", type=bool, negate=True)
    )
    controlnet_scale: float = field(
        default=DEFAULT_CONTROLNET_SCALE,
        metadata=_doc("the ControlNet's weight (0 ignores it, 1 follows it closely)", type=float),
    )
    seam: int | None = field(
        default=None,
        metadata=_doc("width in px of the blend band outside the subject (None: the automatic feather)", type=int),
    )

    def __post_init__(self) -> None:
        check_bool("depth", self.depth)
        if not _number(self.controlnet_scale) or self.controlnet_scale < 0:
            raise InvalidInputError(f"controlnet_scale must be a finite number >= 0; got {self.controlnet_scale!r}")
        check_pixels("seam", self.seam, minimum=1)


@dataclass(frozen=True)
class MatteOptions:
    """Whether a subject's edge is softened into an alpha matte (the ``matte`` stage, ViTMatte)."""

    matte: bool | Literal["vitmatte"] | None = field(
        default=None,
        metadata=_doc(
            "soften the subject's edge with the matting model: True (or 'vitmatte') on, False off "
            "(None: on when its weights are on this machine)",
            type="tristate",
        ),
    )
    matte_band: int | None = field(
        default=None,
        metadata=_doc(
            "half-width in px of the band around the subject's edge that is matted (None: max(6, longer side / 64))",
            type=int,
        ),
    )

    def __post_init__(self) -> None:
        if (
            self.matte not in (None, True, False, "vitmatte")
            or isinstance(self.matte, (int, float))
            and not isinstance(self.matte, bool)
        ):
            raise InvalidInputError(f"matte must be True, 'vitmatte', False or None (automatic); got {self.matte!r}")
        check_pixels("matte_band", self.matte_band, minimum=1)


@dataclass(frozen=True)
class CutoutOptions:
    """How a cutout is delivered: transparent or on a colour, whole or cropped to the subject."""

    background_colour: str | Sequence[int] | None = field(
        default=None,
        metadata=_doc(
            "put the subject on this colour ('white', '#20a0ff', or (r, g, b)) instead of transparency", type=str
        ),
    )
    crop_to_subject: bool = field(
        default=False, metadata=_doc("crop the output to the subject's box (its visible pixels)", type=bool)
    )

    def __post_init__(self) -> None:
        colour_rgb(self.background_colour)
        check_bool("crop_to_subject", self.crop_to_subject)


def colour_rgb(colour: object) -> tuple[int, int, int] | None:
    """A colour as ``(r, g, b)`` (None stays None): a CSS name or ``#rrggbb`` (PIL's
    ``ImageColor``), or three integers in 0..255.

    Raises:
        InvalidInputError: anything else, named.
    """
    if colour is None:
        return None
    if isinstance(colour, str):
        import PIL.ImageColor

        try:
            red, green, blue = PIL.ImageColor.getrgb(colour.strip())[:3]
        except ValueError:
            raise InvalidInputError(
                f"background_colour must be a colour name ('white'), '#rrggbb' or (r, g, b); got {colour!r}"
            ) from None
        return red, green, blue
    values = list(colour) if isinstance(colour, (list, tuple, np.ndarray)) else None
    if values is None or len(values) != 3 or not all(_integer(v) and 0 <= int(v) <= 255 for v in values):
        raise InvalidInputError(
            f"background_colour must be a colour name ('white'), '#rrggbb' or (r, g, b) in 0..255; got {colour!r}"
        )
    return int(values[0]), int(values[1]), int(values[2])


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
    """Whether an edit checks itself, and how many candidates it paints (see :mod:`textinpaint.verify`)."""

    verify: bool = field(
        default=False, metadata=_doc("run the detector on the edited window and score the edit in [0, 1]", type=bool)
    )
    tries: int = field(
        default=1,
        metadata=_doc(
            f"paint this many candidates (seeds seed, seed+1, ...) in one batch and keep the best (at most {MAX_TRIES})",
            type=int,
        ),
    )
    min_score: float | None = field(
        default=None,
        metadata=_doc("flag an edit scoring below this (still written and returned); turns verify on", type=float),
    )

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


# ---- the flat keywords, typed for editors -----------------------------------------------------
# Each TypedDict names fields of one group above with the same types (tests/test_options.py holds
# them equal); the workflows' keyword sets are unions of these.


class ThresholdArgs(TypedDict, total=False):
    box_threshold: float
    text_threshold: float
    nms_iou: float


class SubjectArgs(ThresholdArgs, total=False):
    strict: bool
    points: Sequence[Sequence[float]] | None
    labels: Sequence[int] | None


class SelectArgs(TypedDict, total=False):
    select: Select


class FindArgs(SubjectArgs, SelectArgs, total=False):
    mask_mode: MaskMode


class SeedArgs(TypedDict, total=False):
    seed: int | Sequence[int] | None


class GrowArgs(TypedDict, total=False):
    dilate: int | None
    feather: int | None


class SampleArgs(SeedArgs, total=False):
    negative_prompt: str | None
    steps: int | None
    guidance: float | None
    scheduler: str | None
    upscale: int | None
    fast: bool


class RepaintArgs(SampleArgs, total=False):
    strength: float
    refine: bool


class PaintArgs(RepaintArgs, GrowArgs, total=False):
    pass


class VerifyArgs(TypedDict, total=False):
    verify: bool
    min_score: float | None


class CheckArgs(VerifyArgs, total=False):
    tries: int


class SeamArgs(TypedDict, total=False):
    seam: int | None


class BackgroundArgs(SeamArgs, total=False):
    depth: bool
    controlnet_scale: float


class MatteArgs(TypedDict, total=False):
    matte: bool | Literal["vitmatte"] | None
    matte_band: int | None


class CutoutStyleArgs(TypedDict, total=False):
    background_colour: str | Sequence[int] | None
    crop_to_subject: bool


class ReplaceArgs(FindArgs, PaintArgs, CheckArgs, total=False):
    """The options of :func:`textinpaint.replace`."""


class RemoveArgs(FindArgs, GrowArgs, SeedArgs, VerifyArgs, total=False):
    """The options of :func:`textinpaint.remove`."""


class ReplaceBackgroundArgs(SubjectArgs, RepaintArgs, CheckArgs, BackgroundArgs, MatteArgs, total=False):
    """The options of :func:`textinpaint.replace_background`."""


class CutoutArgs(SubjectArgs, MatteArgs, CutoutStyleArgs, total=False):
    """The options of :func:`textinpaint.cutout`."""


class InpaintArgs(PaintArgs, total=False):
    """The options of :func:`textinpaint.inpaint`."""


class GenerateArgs(SampleArgs, total=False):
    """The options of :func:`textinpaint.generate`."""


class SegmentArgs(FindArgs, total=False):
    """The options of the ``segment`` workflow."""


class DetectArgs(ThresholdArgs, total=False):
    """The options of :func:`textinpaint.detect` and the ``detect`` workflow."""


class TrackArgs(ThresholdArgs, SelectArgs, total=False):
    """The options of :func:`textinpaint.video.track`: the detector's thresholds, which matches to follow."""


class VideoReplaceArgs(ThresholdArgs, SelectArgs, GrowArgs, SampleArgs, total=False):
    """The options of :func:`textinpaint.video.replace`: the detector's thresholds, the mask's
    growth, the sampler's (steps, guidance, seed...)."""


class VideoRemoveArgs(VideoReplaceArgs, total=False):
    """The options of :func:`textinpaint.video.remove`: those of ``replace`` (the sampler's are
    the video painter's, and not taken with ``per_frame``)."""


class VideoBackgroundArgs(ThresholdArgs, SelectArgs, SampleArgs, SeamArgs, total=False):
    """The options of :func:`textinpaint.video.replace_background`: the detector's thresholds,
    the sampler's, and the ``seam`` band over which the new background meets the subject."""


# The option groups, in the order their fields appear in sidecars and help texts.
GROUPS: tuple[type, ...] = (FindOptions, PaintOptions, CheckOptions, BackgroundOptions, MatteOptions, CutoutOptions)


def keywords(args: type) -> frozenset[str]:
    """The keyword names a workflow's TypedDict (``ReplaceArgs``...) allows."""
    return frozenset(args.__required_keys__ | args.__optional_keys__)  # type: ignore[attr-defined]  # every TypedDict has them


def split(options: dict[str, Any], args: type, workflow: str) -> dict[type, Any]:
    """The option groups a workflow's keywords fill, each built (and so checked) once.

    Returns one instance per group in :data:`GROUPS` (fields not given keep their defaults).

    Raises:
        InvalidInputError: a keyword the workflow does not take, named with the ones it does.
    """
    allowed = keywords(args)
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise UnknownOptionError(
            f"{workflow} takes no option {', '.join(map(repr, unknown))}; its options are {', '.join(sorted(allowed))}"
        )
    groups = {}
    for group in GROUPS:
        names = {f.name for f in dataclasses.fields(group)}
        groups[group] = group(**{k: v for k, v in options.items() if k in names})
    return groups


def option_docs() -> dict[str, str]:
    """Every option's one line of help, by keyword name (for docstrings, the CLI and the app)."""
    return {f.name: f.metadata["doc"] for group in GROUPS for f in dataclasses.fields(group)}


def recorded(args: type, *groups: Any) -> dict[str, Any]:
    """The sidecar's ``parameters`` for a workflow: every option it takes, by name, as used."""
    allowed = keywords(args)
    values: dict[str, Any] = {}
    for group in groups:
        values.update({k: v for k, v in fields_of(group).items() if k in allowed})
    return values


def resolve(painting: PaintOptions, abilities: Abilities, *, control: bool = False) -> PaintOptions:
    """``painting`` with None filled from the painter's own defaults, after one check of every
    option against what the painter declares it can do.

    Raises:
        InvalidInputError: an option the painter cannot honour, naming the option and the painter.
    """
    who = abilities.name
    asked = {
        "negative_prompt": (bool(painting.negative_prompt), abilities.negative_prompt, "takes no negative prompt"),
        "scheduler": (painting.scheduler is not None, abilities.scheduler, "samples with its own scheduler only"),
        "fast": (painting.fast, abilities.fast, "has no few-step mode here"),
        "upscale": (painting.upscale is not None, abilities.upscale, "cannot run the diffusion upscaler"),
        "depth": (
            control,
            abilities.control,
            "cannot paint under a depth map (no ControlNet here, nor fill_controlled of a ControlFiller)",
        ),
    }
    for option, (given, able, why) in asked.items():
        if given and not able:
            value = True if option == "depth" else getattr(painting, option)
            fix = "pass depth=False" if option == "depth" else "leave it unset"
            raise InvalidInputError(f"{who} {why}; got {option}={value!r}: {fix}")
    steps, guidance, negative = abilities.defaults(fast=painting.fast)
    return dataclasses.replace(
        painting,
        steps=steps if painting.steps is None else painting.steps,
        guidance=guidance if painting.guidance is None else painting.guidance,
        negative_prompt=negative if painting.negative_prompt is None else painting.negative_prompt,
    )


def fields_of(options: Any) -> dict[str, Any]:
    """An option object's values by name (lists for tuples), for sidecars."""
    return {
        f.name: list(v) if isinstance(v := getattr(options, f.name), tuple) else v for f in dataclasses.fields(options)
    }
