"""The exceptions textinpaint raises: one base class, one subclass per kind of problem.

Every message names the argument (or model) at fault, what was expected and what was given,
so the user knows what to change. Catch :class:`TextInpaintError` to handle all of them. Every
one survives pickling (a Ray worker's error reaches the driver as the same type and message).
"""

from __future__ import annotations


class TextInpaintError(Exception):
    """Base class of every error this library raises on purpose."""

    def __reduce__(self) -> tuple:
        # Rebuilt from the message and attributes, whatever the subclass's __init__ takes.
        return (_rebuild, (type(self), str(self), dict(self.__dict__)))


def _rebuild(cls: type[TextInpaintError], message: str, attributes: dict) -> TextInpaintError:
    """An error of ``cls`` with ``message`` and ``attributes``, without calling its ``__init__``."""
    try:
        error = cls(message)
    except TypeError:  # an __init__ that takes its parts, not a message
        error = cls.__new__(cls)
        error.args = (message,)
    error.__dict__.update(attributes)
    return error


class InvalidInputError(TextInpaintError, ValueError):
    """An argument has the wrong type, shape, size or value."""


class UnknownOptionError(InvalidInputError, TypeError):
    """A keyword the workflow does not take (a ``TypeError`` too, as Python's own is)."""


class ImageLoadError(TextInpaintError, OSError):
    """An image path is missing, unreadable, truncated or not an image."""


class ImageTooLargeError(InvalidInputError):
    """An image has more pixels than the configured ``max_pixels`` limit."""


class NothingFoundError(TextInpaintError):
    """``strict=True`` was given and the detector found nothing for the query."""

    def __init__(self, query: str, best_score: float | None, box_threshold: float | None) -> None:
        best = "no box at all" if best_score is None else f"the best score seen was {best_score:.6g}"
        if box_threshold is None:  # no query: the salient-subject model saw nothing stand out
            super().__init__(
                f"no salient subject was found ({query}: nothing stands out from the background); "
                "name the subject with keep=, click it with points=, or give a mask"
            )
        else:
            super().__init__(
                f"nothing matching find={query!r} was detected above box_threshold={box_threshold} "
                f"({best}); lower box_threshold or rephrase the query"
            )
        self.query = query
        self.best_score = best_score
        self.box_threshold = box_threshold


class WeightsNotFoundError(TextInpaintError, OSError):
    """A model's weights are neither in the local cache nor in the given folder."""

    def __init__(self, stage: str, model: str, reason: str) -> None:
        import os

        if os.path.exists(model) or os.path.isabs(model) or model.startswith("."):
            advice = "give a folder (or file) that holds the model; see weights/README.md for the layout"
        elif ":" in model and "/" not in model:  # a model kept outside the Hub (rembg:NAME)
            advice = (
                f"download it first with `textinpaint download --stages {stage}` on a machine with internet access "
                f"(it goes where its library keeps its models), or pass a local file or folder ({stage}=PATH, "
                "or models=DIR holding it; see weights/README.md)"
            )
        else:
            advice = (
                f"download them first with `textinpaint download` or `hf download {model}` on a machine with "
                "internet access, or pass a local folder (models=DIR holding detector/, segmenter/, "
                "inpainter/; see weights/README.md)"
            )
        super().__init__(f"the {stage} weights {model!r} could not be loaded ({reason}): {advice}")
        self.stage = stage
        self.model = model


class OutputRefusedError(InvalidInputError):
    """An output would overwrite an input, a file textinpaint did not write, or another output of
    the same run; nothing was written."""


class OutputError(TextInpaintError, OSError):
    """An output could not be written (a read-only folder, a full disk); nothing partial is left."""


class ModelsMissingError(WeightsNotFoundError):
    """Models a run needs are not on this machine and the Hugging Face Hub cannot be reached."""

    def __init__(self, missing: list[tuple[str, str]]) -> None:
        listed = "; ".join(f"{stage} {source}" for stage, source in missing)
        stages = ",".join(dict.fromkeys(stage for stage, _ in missing))
        TextInpaintError.__init__(
            self,
            f"these models are not on this machine and cannot be downloaded from here (the Hugging Face Hub, or the "
            f"host a model comes from, cannot be reached): {listed}. "
            f"Three ways forward: (1) where there is internet, `textinpaint download --stages {stages}` "
            "(add --models DIR to write a folder you can copy here); (2) use models already on disk: "
            "--models DIR on the command line, models=DIR or textinpaint.configure(models=DIR) in Python; "
            "(3) to try textinpaint without any download: `python -m textinpaint.testing tiny-models tiny`, "
            "then --models tiny (noise pictures, every code path real)",
        )
        self.missing = missing
        self.stage = missing[0][0]
        self.model = missing[0][1]


class ModelKindError(TextInpaintError, ValueError):
    """A checkpoint of the wrong kind was given for a stage (a SAM folder as detector, say)."""


class MissingDependencyError(TextInpaintError, ImportError):
    """An optional extra is needed for what was asked (the message gives the pip command)."""


class OutOfMemoryError(TextInpaintError, MemoryError):
    """The device ran out of memory; the message says what to change."""


__all__ = [
    "ImageLoadError",
    "ImageTooLargeError",
    "InvalidInputError",
    "MissingDependencyError",
    "ModelKindError",
    "NothingFoundError",
    "OutOfMemoryError",
    "TextInpaintError",
    "WeightsNotFoundError",
]
