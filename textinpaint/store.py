"""The models a pipeline holds: one :class:`ModelStore` per pipeline, shared copies between them.

Stores share what they load through a process-wide table of *weak* references, so two pipelines
asking for the same (stage, source, device, dtype, options) get one copy, and the memory is freed
once no pipeline holds it (:meth:`ModelStore.clear`). A load holds a lock for its own key only, so
loads of different models never wait on each other. :func:`thread_copy` gives each thread its own
copy of a small stateful helper (a tokenizer) of a shared model.
"""

from __future__ import annotations

import copy
import gc
import logging
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from .errors import ModelKindError, TextInpaintError, WeightsNotFoundError
from .models import cached_folder, damaged_weights, stage_of
from .stages import STAGES

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Process-wide: the one copy of each model while any store holds it (weak, so clear() frees it).
_shared: weakref.WeakValueDictionary[tuple[str, ...], Any] = weakref.WeakValueDictionary()
_key_locks: dict[tuple[str, ...], threading.Lock] = {}
_key_locks_guard = threading.Lock()


def _lock_for(key: tuple[str, ...]) -> threading.Lock:
    with _key_locks_guard:
        return _key_locks.setdefault(key, threading.Lock())


class ModelStore:
    """The models one pipeline has loaded (or was given), one per stage.

    Models given as objects stay until the store is dropped; loaded ones go with :meth:`clear`.
    """

    def __init__(self, given: dict[str, object]) -> None:
        self._given = dict(given)
        self._loaded: dict[str, object] = {}
        self._keys: dict[str, tuple[str, ...]] = {}  # what each loaded model was loaded as
        self._guard = threading.Lock()

    def loaded(self) -> list[str]:
        """The stages whose model is in memory now (loaded, or given as an object), in table order."""
        with self._guard:
            held = {**self._loaded, **self._given}
        return [stage for stage in STAGES if stage in held]

    def given(self, stage: str) -> object | None:
        return self._given.get(stage)

    def peek(self, stage: str) -> object | None:
        """The stage's model if it is in memory, without loading it."""
        with self._guard:
            return self._given.get(stage, self._loaded.get(stage))

    def get(self, stage: str, key: tuple[str, ...], load: Callable[[], T]) -> T:
        """The stage's model: the given object, this store's copy, a shared copy, or ``load()``.

        ``key`` identifies the copy (source, device, dtype, options); errors from ``load`` that
        mean "files not there" become :class:`WeightsNotFoundError`.
        """
        with self._guard:
            if stage in self._given:
                return self._given[stage]  # type: ignore[return-value]  # the stage's object, typed by the caller
            held = self._loaded.get(stage)
            if held is not None and self._keys.get(stage) == key:
                return held  # type: ignore[return-value]  # as above
        with _lock_for(key):
            with _key_locks_guard:  # a short lock for the table itself, never held while loading
                model = _shared.get(key)
            if model is None:
                logger.info("loading %s %s on %s as %s", stage, key[1], key[2], key[3])
                try:
                    model = load()
                except TextInpaintError:
                    raise
                except Exception as error:
                    raise _load_error(stage, key[1], error) from error
                with _key_locks_guard:
                    _shared[key] = model
        with self._guard:
            self._loaded[stage] = model
            self._keys[stage] = key
        return model

    def clear(self) -> None:
        """Drop every loaded model; its memory (GPU memory too) is freed once no other pipeline holds it."""
        with self._guard:
            self._loaded.clear()
            self._keys.clear()
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _load_error(stage: str, source: str, error: Exception) -> TextInpaintError:
    """A dependency's load failure as our error: a damaged weight file named, or the weights not there."""
    folder = Path(source) if Path(source).is_dir() else cached_folder(source, stage_of(stage))
    damaged = None if folder is None else damaged_weights(folder)
    if damaged is not None:
        return ModelKindError(f"{stage}={source!r}: {damaged}; download it again (or give another folder)")
    if type(error).__name__ == "HFValidationError":
        return WeightsNotFoundError(stage, source, "no such folder, and not a valid Hub repo id")
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if isinstance(error, OSError):
        return WeightsNotFoundError(stage, source, reason)
    return ModelKindError(f"{stage}={source!r} could not be loaded as a {stage} ({type(error).__name__}: {reason})")


_per_thread = threading.local()


def thread_copy(shared: T) -> T:
    """This thread's own copy of ``shared``, made on first use.

    Hugging Face fast tokenizers keep each call's padding and truncation settings on one shared
    Rust object, so two threads tokenizing with different settings corrupt each other's output
    (sequences of the wrong length). Tokenizers and processors are small; each thread gets one.
    """
    copies = getattr(_per_thread, "copies", None)
    if copies is None:
        copies = _per_thread.copies = {}
    entry = copies.get(id(shared))
    if entry is None or entry[0]() is not shared:
        try:
            reference: Callable[[], object] = weakref.ref(shared)
        except TypeError:
            reference = lambda: shared
        entry = copies[id(shared)] = (reference, copy.deepcopy(shared))
    return entry[1]
