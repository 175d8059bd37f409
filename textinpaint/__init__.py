"""textinpaint: edit photos from text.

Find an object by name (GroundingDINO), cut it out (SAM), and repaint only that region with
Stable Diffusion inpainting at the photo's full resolution.

Example:
    >>> from textinpaint import replace
    >>> edit = replace("street.jpg", find="the red car", with_="a vintage blue pickup truck", seed=0)  # doctest: +SKIP
    >>> edit.image.save("out.png")  # doctest: +SKIP

Importing this package loads no model and no model library: each name below is imported the
first time it is used (so ``textinpaint --help`` and scripts that only read sidecars start fast),
and each model is loaded the first time a stage needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    ImageLoadError,
    ImageTooLargeError,
    InvalidInputError,
    MissingDependencyError,
    ModelKindError,
    NothingFoundError,
    OutOfMemoryError,
    OutputError,
    OutputRefusedError,
    TextInpaintError,
    UnknownOptionError,
    WeightsNotFoundError,
)

__version__ = "0.1.0"

# Public name -> the module that defines it (imported on first use).
_LAZY = {
    "BackgroundOptions": "options",
    "CheckOptions": "options",
    "FindOptions": "options",
    "PaintOptions": "options",
    "BatchFiller": "inpainting",
    "ControlFiller": "inpainting",
    "FillRequest": "inpainting",
    "Filler": "inpainting",
    "Speed": "options",
    "Picture": "images",
    "load_image": "images",
    "Pipeline": "pipeline",
    "default_pipeline": "pipeline",
    "configure": "pipeline",
    "cutout": "pipeline",
    "CutoutOptions": "options",
    "MatteOptions": "options",
    "detect": "pipeline",
    "generate": "pipeline",
    "inpaint": "pipeline",
    "remove": "pipeline",
    "replace": "pipeline",
    "replace_background": "pipeline",
    "segment": "pipeline",
    "read_sidecar": "interfaces.sidecars",
    "replay": "interfaces.sidecars",
    "Edit": "results",
    "Record": "results",
    "annotate": "results",
    "Verification": "verify",
    "Candidate": "verify",
    "write_report": "interfaces.report",
}

if TYPE_CHECKING:
    from .images import Picture, load_image
    from .inpainting import BatchFiller, ControlFiller, Filler, FillRequest
    from .interfaces.report import write_report
    from .interfaces.sidecars import read_sidecar, replay
    from .options import (
        BackgroundOptions,
        CheckOptions,
        CutoutOptions,
        FindOptions,
        MatteOptions,
        PaintOptions,
        Speed,
    )
    from .pipeline import (
        Pipeline,
        configure,
        cutout,
        default_pipeline,
        detect,
        generate,
        inpaint,
        remove,
        replace,
        replace_background,
        segment,
    )
    from .results import Edit, Record, annotate
    from .verify import Candidate, Verification


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'textinpaint' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BackgroundOptions",
    "BatchFiller",
    "Candidate",
    "CheckOptions",
    "ControlFiller",
    "CutoutOptions",
    "Edit",
    "FillRequest",
    "Filler",
    "FindOptions",
    "ImageLoadError",
    "ImageTooLargeError",
    "InvalidInputError",
    "MatteOptions",
    "MissingDependencyError",
    "ModelKindError",
    "NothingFoundError",
    "OutOfMemoryError",
    "OutputError",
    "OutputRefusedError",
    "PaintOptions",
    "Picture",
    "Pipeline",
    "Record",
    "Speed",
    "TextInpaintError",
    "UnknownOptionError",
    "Verification",
    "WeightsNotFoundError",
    "annotate",
    "configure",
    "cutout",
    "default_pipeline",
    "detect",
    "generate",
    "inpaint",
    "load_image",
    "read_sidecar",
    "remove",
    "replace",
    "replace_background",
    "replay",
    "segment",
    "write_report",
]
