"""The pipeline users hold: the model container with the workflows attached as methods.

:class:`Pipeline` is :class:`~textinpaint.container.Models` (the models of every stage, loaded
lazily, and the stages users call on their own: :meth:`~Pipeline.detect`,
:meth:`~Pipeline.segment`) plus every workflow of :data:`textinpaint.workflows.WORKFLOWS` as a
method. This module sits above both: the container knows no workflow, and the workflows take the
container. The module-level functions call the same methods on one shared default pipeline.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from .container import Models
from .workflows.background import replace_background as _replace_background
from .workflows.cutout import cutout as _cutout
from .workflows.generate import generate as _generate
from .workflows.inpaint import inpaint as _inpaint
from .workflows.remove import remove as _remove
from .workflows.replace import replace as _replace

_T = TypeVar("_T")
_P = ParamSpec("_P")


class Pipeline(Models):
    __doc__ = Models.__doc__

    # ---- workflows (one file each in textinpaint/workflows) -----------------------------------

    inpaint = _inpaint
    replace = _replace
    remove = _remove
    replace_background = _replace_background
    cutout = _cutout
    generate = _generate


_default: Pipeline | None = None
_default_lock = threading.Lock()


# The environment variables the default pipeline reads (configure() overrides them).
ENVIRONMENT = {"models": "TEXTINPAINT_MODELS", "device": "TEXTINPAINT_DEVICE", "dtype": "TEXTINPAINT_DTYPE"}


def default_pipeline() -> Pipeline:
    """The shared pipeline behind the module-level functions: the one :func:`configure` set, else
    one built from ``TEXTINPAINT_MODELS`` (a models folder), ``TEXTINPAINT_DEVICE`` and
    ``TEXTINPAINT_DTYPE`` when they are set, else the default models on the best device."""
    global _default
    with _default_lock:
        if _default is None:
            given = {key: os.environ.get(name) or None for key, name in ENVIRONMENT.items()}
            _default = Pipeline(models=given["models"], device=given["device"], dtype=given["dtype"])
        return _default


def configure(pipeline: Pipeline | None = None, **settings: Any) -> Pipeline:
    """Set the pipeline behind the module-level functions: the one given, or a new one built from
    ``settings`` (``Pipeline``'s own arguments: ``models=``, ``device=``, ``dtype=``...); with
    neither, the default again (read from the environment, see :func:`default_pipeline`).

    Returns:
        The new default pipeline (it loads nothing until used).

    Example:
        >>> import textinpaint
        >>> textinpaint.configure(models="tiny", device="cpu")  # doctest: +SKIP
        >>> textinpaint.replace("street.jpg", find="car", with_="a bus", seed=0)  # doctest: +SKIP
    """
    global _default
    if pipeline is not None and settings:
        raise TypeError("configure takes a pipeline or its settings, not both")
    chosen = pipeline if pipeline is not None else Pipeline(**settings) if settings else None
    with _default_lock:
        _default = chosen
    return default_pipeline()


def _on_default(method: Callable[Concatenate[Pipeline, _P], _T]) -> Callable[_P, _T]:
    """Turn a :class:`Pipeline` method into a function that calls it on :func:`default_pipeline`;
    ``help()`` and ``inspect.signature`` show its real signature (without the pipeline)."""

    @functools.wraps(method)
    def function(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        return method(default_pipeline(), *args, **kwargs)

    signature = inspect.signature(method)
    function.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])  # type: ignore[attr-defined]  # read by inspect
    return function


detect = _on_default(Pipeline.detect)
segment = _on_default(Pipeline.segment)
inpaint = _on_default(Pipeline.inpaint)
replace = _on_default(Pipeline.replace)
remove = _on_default(Pipeline.remove)
replace_background = _on_default(Pipeline.replace_background)
cutout = _on_default(Pipeline.cutout)
generate = _on_default(Pipeline.generate)
