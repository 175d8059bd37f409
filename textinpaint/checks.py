"""Argument validation for the public API, in one place. Each error names the argument and its value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import supervision as sv

from .diffusion import scheduler_key
from .errors import InvalidInputError

Select = Literal["all", "best", "largest"] | int | Sequence[int]
MaskMode = Literal["mask", "box"]


def _integer(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_text(argument: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{argument} must be a non-empty string; got {value!r}")


def check_unit(argument: str, value: object) -> None:
    if not _number(value) or not 0.0 <= value <= 1.0:  # type: ignore[operator]
        raise InvalidInputError(f"{argument} must be a number in [0, 1]; got {value!r}")


def check_painting(
    *, steps: object, guidance: object, strength: object, seed: object, dilate: object = None, feather: object = None,
    scheduler: object = None, refine: object = False, upscale: object = None,
) -> None:
    """Validate the painting options."""
    if not _integer(steps) or steps < 1:  # type: ignore[operator]
        raise InvalidInputError(f"steps must be an integer >= 1; got {steps!r}")
    if not _number(guidance) or guidance < 0:  # type: ignore[operator]
        raise InvalidInputError(f"guidance must be a number >= 0; got {guidance!r}")
    if not _number(strength) or not 0.0 < strength <= 1.0:  # type: ignore[operator]
        raise InvalidInputError(f"strength must be a number in (0, 1]; got {strength!r}")
    if seed is not None and (not _integer(seed) or not 0 <= seed < 2**63):  # type: ignore[operator]
        raise InvalidInputError(f"seed must be None or an integer in [0, 2**63); got {seed!r}")
    for name, value in (("dilate", dilate), ("feather", feather)):
        if value is not None and (not _integer(value) or value < 0):  # type: ignore[operator]
            raise InvalidInputError(f"{name} must be None (automatic) or an integer >= 0 pixels; got {value!r}")
    if scheduler is not None:
        if not isinstance(scheduler, str):
            raise InvalidInputError(f"scheduler must be a name such as 'ddim' or 'dpm++2m'; got {scheduler!r}")
        scheduler_key(scheduler)
    if not isinstance(refine, bool):
        raise InvalidInputError(f"refine must be True or False; got {refine!r}")
    if upscale is not None and upscale not in (2, 4):
        raise InvalidInputError(f"upscale must be None, 2 or 4; got {upscale!r}")


def check_select(select: object) -> None:
    if select in ("all", "best", "largest"):
        return
    items = [select] if _integer(select) else select
    if isinstance(items, (list, tuple)) and all(_integer(i) for i in items):
        return
    raise InvalidInputError(f"select must be 'all', 'best', 'largest', an index or a list of indices; got {select!r}")


def check_mask_mode(mask_mode: object) -> None:
    if mask_mode not in ("mask", "box"):
        raise InvalidInputError(f"mask_mode must be 'mask' or 'box'; got {mask_mode!r}")


def check_detections(detections: object) -> sv.Detections:
    if not isinstance(detections, sv.Detections):
        raise InvalidInputError(f"detections must be a supervision.Detections; got {type(detections).__name__}")
    return detections


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
    indices = [int(select)] if _integer(select) else [int(i) for i in select]  # type: ignore[union-attr]
    bad = [i for i in indices if not 0 <= i < count]
    if bad or not indices:
        raise InvalidInputError(f"select indices must lie in 0..{count - 1} (there are {count} matches); got {select!r}")
    return sorted(set(indices))
