"""textinpaint: edit photos from text.

Find an object by name (GroundingDINO), cut it out (SAM), and repaint only that region with
Stable Diffusion inpainting at the photo's full resolution.

Example:
    >>> from textinpaint import replace
    >>> edit = replace("street.jpg", find="the red car", with_="a vintage blue pickup truck", seed=0)  # doctest: +SKIP
    >>> edit.image.save("out.png")  # doctest: +SKIP

Importing this package loads no model; each model is loaded the first time a stage needs it.
"""

from .diffusion import Speed
from .errors import (
    ImageLoadError,
    ImageTooLargeError,
    InvalidInputError,
    MissingDependencyError,
    ModelKindError,
    NothingFoundError,
    OutOfMemoryError,
    TextInpaintError,
    WeightsNotFoundError,
)
from .images import Picture, load_image
from .inpainting import BatchFiller, ControlFiller, Filler, FillRequest
from .options import BackgroundOptions, FindOptions, PaintOptions
from .pipeline import (
    Pipeline,
    default_pipeline,
    detect,
    generate,
    inpaint,
    remove,
    replace,
    replace_background,
    segment,
)
from .replay import read_sidecar, replay
from .results import Edit, Record, annotate

__version__ = "0.1.0"

__all__ = [
    "BackgroundOptions",
    "BatchFiller",
    "ControlFiller",
    "Edit",
    "FillRequest",
    "Filler",
    "FindOptions",
    "ImageLoadError",
    "ImageTooLargeError",
    "InvalidInputError",
    "MissingDependencyError",
    "ModelKindError",
    "NothingFoundError",
    "OutOfMemoryError",
    "PaintOptions",
    "Picture",
    "Pipeline",
    "Record",
    "Speed",
    "TextInpaintError",
    "WeightsNotFoundError",
    "annotate",
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
]
