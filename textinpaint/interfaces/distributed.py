"""Edit a catalogue on a Ray cluster, with Ray Data (the ``ray`` extra).

The work is a Ray Data pipeline; textinpaint schedules nothing itself:

1. the jobs (one per input: its source, its output, per-row ``find`` / ``with`` / ``seed`` from a
   manifest) are planned on the driver exactly as the local CLI plans them, and those already
   done with the same parameters are skipped (the same resume rule, keyed by the parameters);
2. a CPU stage (plain Ray tasks) reads and decodes every input into an upright picture, so no
   GPU actor waits on a JPEG decoder; a file that cannot be read becomes a failure row here;
3. an actor stage (``map_batches`` with a class: each actor loads the models once, sized by
   ``num_gpus``, fractions allowed, and ``concurrency``) edits the pictures through the same
   workflow functions and writes each output and its versioned sidecar atomically (a temporary
   name, then a rename), with the same relative layout as the local CLI;
4. the driver collects one row per input (done, skipped, nothing found, flagged or failed) into
   the same :class:`~textinpaint.interfaces.batch.Summary` as a local run, and writes the failures table
   (``failures.json``).

A dead actor (a killed worker, a preempted node) is restarted by Ray and its batch retried; an
actor that finds a job already done with the same parameters (written before its predecessor
died) skips it, so every image is done once and no file is left half-written.

Clips (:func:`run_clips`) go one clip per task: an actor runs a video workflow over the whole
clip, streaming its frames (there is no separate decoding stage: a clip is never held whole),
and writes it and its sidecar; a clip interrupted with its actor resumes at its first window not
painted when the task is retried (see :mod:`textinpaint.workflows.video`).

Example:
    >>> from textinpaint.interfaces.distributed import run
    >>> summary = run(["s3://shop/catalogue/"], "replace_background", {"keep": "the product",
    ...     "with_": "a marble table"}, "out/", num_gpus=1, concurrency=4)  # doctest: +SKIP
    >>> summary.exit_code  # doctest: +SKIP
    0
"""

from __future__ import annotations

import base64
import json
import logging
import math
import pickle
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError, MissingDependencyError
from .batch import (
    FATAL,
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    Job,
    Outcome,
    Summary,
    done_before,
    plan,
    record_outcome,
    refused,
    request_key,
    write_failures,
)

logger = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".parquet", ".csv")
# The status of a row whose actor met a setup error (raised again on the driver).
FATAL_STATUS = "fatal"


class _Stop(Exception):
    """Carries a setup error out of an actor's batch."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


# Manifest columns that override the run's options for one row.
ROW_OPTIONS = {"find": "find", "with": "with_", "with_": "with_", "keep": "keep", "seed": "seed"}


def require_ray() -> Any:
    try:
        import ray
        import ray.data  # the Data library is what the extra installs
    except ImportError as error:
        raise MissingDependencyError(
            'the Ray engine needs Ray Data: pip install "textinpaint[ray]" (ray[data])'
        ) from error
    return ray


@dataclass(frozen=True)
class Task:
    """One input of a distributed run: where it is read from (a path or a URI, as given), the
    job (its output), and the options its manifest row overrides."""

    source: str
    job: Job
    overrides: dict[str, Any] = field(default_factory=dict)


def row_key(key: str, overrides: dict[str, Any]) -> str:
    """The key of one row: the run's, with the row's own options folded in."""
    return key if not overrides else request_key({"run": key, "row": overrides})


# ---- 1. planning (driver) -------------------------------------------------------------------


def _is_uri(text: str) -> bool:
    return "://" in text


def _uri_files(uri: str) -> list[tuple[str, Path]]:
    """The image files under a URI (a file, or a folder listed recursively) with relative paths."""
    from pyarrow import fs

    filesystem, root = fs.FileSystem.from_uri(uri)
    info = filesystem.get_file_info(root)
    scheme = uri.split("://", 1)[0]
    if info.type == fs.FileType.File:
        return [(uri, Path(Path(root).name))]
    if info.type != fs.FileType.Directory:
        return [(uri, Path(Path(root).name or "missing"))]  # reported as failed, not dropped
    found = filesystem.get_file_info(fs.FileSelector(root, recursive=True))
    files = sorted(
        f.path for f in found if f.type == fs.FileType.File and Path(f.path).suffix.lower() in IMAGE_SUFFIXES
    )
    prefix = "file://" if scheme == "file" else f"{scheme}://"
    return [(prefix + path, Path(path).relative_to(root)) for path in files]


def _manifest(path: str) -> list[tuple[str, dict[str, Any]]]:
    """The rows of a Parquet or CSV manifest: each row's ``path`` and its option overrides."""
    import pyarrow.csv
    import pyarrow.parquet

    try:
        table = pyarrow.parquet.read_table(path) if path.endswith(".parquet") else pyarrow.csv.read_csv(path)
    except Exception as error:  # pyarrow raises its own error types
        raise InvalidInputError(f"manifest {path!r} is not a readable Parquet or CSV table ({error})") from error
    if "path" not in table.column_names:
        raise InvalidInputError(f"manifest {path!r} needs a 'path' column; it has {table.column_names}")
    unknown = [c for c in table.column_names if c not in ("path", *ROW_OPTIONS)]
    if unknown:
        raise InvalidInputError(
            f"manifest {path!r} has columns textinpaint does not know: {unknown} "
            f"(known: path, {', '.join(ROW_OPTIONS)})"
        )
    from ..options import check_seed

    rows = []
    for number, row in enumerate(table.to_pylist(), 1):
        where = f"manifest {path!r} row {number}"
        source = row["path"]
        if not isinstance(source, str) or Path(source.rstrip("/")).name in ("", ".", "..") or source.endswith("/"):
            raise InvalidInputError(f"{where}: path must name a picture file; got {source!r}")
        overrides = {ROW_OPTIONS[k]: v for k, v in row.items() if k != "path" and v is not None and v == v}
        if "seed" in overrides:
            seed = overrides["seed"]
            if isinstance(seed, float) and math.isfinite(seed) and seed.is_integer():
                seed = int(seed)  # a CSV column with an empty cell is read as floats
            check_seed(seed, f"{where}: seed")
            overrides["seed"] = seed
        rows.append((source, overrides))
    return rows


def plan_tasks(inputs: Sequence[str | Path], output: Path, *, suffix: str = ".png") -> list[Task]:
    """The tasks of a run: local files, folders and globs as the local CLI plans them; URIs
    (``s3://``, ``gs://``, ``file://``: anything pyarrow's filesystems read) and manifest rows
    beside them. Two inputs never share an output (a typed error names them)."""
    local = [str(i) for i in inputs if not _is_uri(str(i)) and not str(i).endswith(MANIFEST_SUFFIXES)]
    tasks = [Task(str(job.source), job) for job in plan(local, output, suffix=suffix)] if local else []
    for entry in map(str, inputs):
        if entry.endswith(MANIFEST_SUFFIXES):
            for source, overrides in _manifest(entry):
                target = output / Path(source.rsplit("/", 1)[-1]).with_suffix(suffix)
                tasks.append(Task(source, Job(Path(source), target), overrides))
        elif _is_uri(entry):
            for source, relative in _uri_files(entry):
                tasks.append(Task(source, Job(Path(source), output / relative.with_suffix(suffix))))
    taken: dict[Path, list[str]] = {}
    for task in tasks:
        taken.setdefault(task.job.output.resolve(), []).append(task.source)
    clashes = {out: sources for out, sources in taken.items() if len(sources) > 1}
    if clashes:
        listed = "; ".join(f"{', '.join(s)} -> {out}" for out, s in clashes.items())
        raise InvalidInputError(f"inputs would overwrite each other's output ({listed}); rename one")
    return tasks


# ---- 2. reading and decoding (CPU tasks) ----------------------------------------------------


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """Read and decode one input into an upright picture (the row gains its pixels), or record
    why it could not be read (the row gains ``error`` and ``message``)."""
    from ..images import load_image

    source = row["source"]
    try:
        if _is_uri(source) and not source.startswith("file://"):
            from pyarrow import fs

            filesystem, path = fs.FileSystem.from_uri(source)
            with (
                filesystem.open_input_file(path) as stream,
                tempfile.NamedTemporaryFile(suffix=Path(path).suffix) as copy,
            ):
                copy.write(stream.read())
                copy.flush()
                picture = load_image(copy.name)
        else:
            picture = load_image(source.removeprefix("file://"))
    except Exception as error:
        return {
            **row,
            "rgb": None,
            "alpha": None,
            "icc": None,
            "exif": None,
            "error": type(error).__name__,
            "message": f"{type(error).__name__}: {error}",
        }
    return {
        **row,
        "rgb": picture.rgb,
        "alpha": picture.alpha,
        "icc": picture.icc_profile,
        "exif": picture.exif,
        "error": None,
        "message": None,
    }


# ---- 3. editing (actors) --------------------------------------------------------------------


class EditStage:
    """A Ray Data actor: loads the pipeline once, then edits and writes every picture it is given."""

    def __init__(
        self,
        pipeline: dict[str, Any],
        workflow: str,
        options: dict[str, Any],
        emit: dict[str, Any],
        key: str,
        overwrite: bool,
    ) -> None:
        from ..pipeline import Pipeline
        from ..workflows import workflow as named

        self.pipeline = Pipeline(**pipeline)
        self.flow = named(workflow)
        self.options, self.key, self.overwrite = options, key, overwrite
        self.emit = emit

    def _run(self, picture: Any, overrides: dict[str, Any]) -> Any:
        return self.flow.function(self.pipeline, picture, **{**self.options, **overrides})

    def edit(self, row: dict[str, Any]) -> Outcome:
        from ..images import Picture
        from ..outputs import Writer
        from .batch import write_edit

        job = Job(Path(row["source"]), Path(row["output"]))
        overrides = json.loads(row["overrides"])
        key = row_key(self.key, overrides)
        if _text(row["error"]):
            return Outcome(job, "failed", _text(row["message"]), error=_text(row["error"]))
        if not self.overwrite and done_before(job, key) is not None:
            return Outcome(job, "done", "written before this actor's predecessor stopped")
        picture = Picture(row["rgb"], _array(row["alpha"]), row["source"], _bytes(row["icc"]), _bytes(row["exif"]))
        try:
            writer = Writer([] if _is_uri(row["source"]) else [row["source"]])
            sidecar = write_edit(writer, job, self._run(picture, overrides), **self.emit)
        except FATAL as error:
            raise _Stop(error) from error
        except Exception as error:
            logger.debug("job %s failed", job.source, exc_info=True)
            return Outcome(job, "failed", f"{type(error).__name__}: {error}", error=type(error).__name__)
        return record_outcome(job, sidecar, key, writer)

    def edit_together(self, rows: list[dict[str, Any]]) -> list[Outcome] | None:
        """``replace`` on several pictures at once (one detector, SAM and UNet pass per size
        group), as the CLI's ``--batch-size`` does; None when they cannot go together or the
        batched call fails (then each is done on its own, so a bad file costs only itself)."""
        from ..images import ImageInput, Picture
        from ..outputs import Writer
        from .batch import write_edit

        overrides = {row["overrides"] for row in rows}
        if not self.flow.batchable or len(rows) < 2 or len(overrides) > 1:
            return None
        if any(_text(row["error"]) for row in rows):
            return None
        jobs = [Job(Path(row["source"]), Path(row["output"])) for row in rows]
        key = row_key(self.key, json.loads(rows[0]["overrides"]))
        if not self.overwrite and any(done_before(job, key) is not None for job in jobs):
            return None
        pictures: list[ImageInput] = [
            Picture(row["rgb"], _array(row["alpha"]), row["source"], _bytes(row["icc"]), _bytes(row["exif"]))
            for row in rows
        ]
        try:
            edits = self.flow.function(self.pipeline, pictures, **{**self.options, **json.loads(rows[0]["overrides"])})
            writer = Writer(row["source"] for row in rows if not _is_uri(row["source"]))
            return [
                record_outcome(job, write_edit(writer, job, edit, **self.emit), key, writer)
                for job, edit in zip(jobs, edits)
            ]
        except FATAL as error:
            raise _Stop(error) from error
        except Exception:
            logger.debug("a batch failed; its pictures are done one at a time", exc_info=True)
            return None

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
        start = time.perf_counter()
        outcomes: list[Outcome] = []
        seconds: list[float] = []
        try:
            together = self.edit_together(rows)
            if together is not None:
                outcomes, seconds = together, [(time.perf_counter() - start) / len(rows)] * len(rows)
            else:
                for row in rows:
                    began = time.perf_counter()
                    outcomes.append(self.edit(row))
                    seconds.append(time.perf_counter() - began)
        except _Stop as stop:
            # A setup error (missing weights...) is the same for every picture: hand it to the
            # driver, which raises it as it is (Ray would turn it into an error of its own).
            message = base64.b64encode(pickle.dumps(stop.error)).decode("ascii")
            outcomes = [Outcome(Job(Path(r["source"]), Path(r["output"])), FATAL_STATUS, message) for r in rows]
            seconds = [0.0] * len(rows)
        return {
            "source": [row["source"] for row in rows],
            "output": [row["output"] for row in rows],
            "status": [o.status for o in outcomes],
            "message": [o.message for o in outcomes],
            "error": [o.error or "" for o in outcomes],
            "seconds": seconds,
        }


class ClipStage(EditStage):
    """A Ray Data actor for clips: loads the pipeline once, then runs the video workflow over each
    clip it is given (one a row), writing the clip and its sidecar."""

    def __init__(
        self, pipeline: dict[str, Any], workflow: str, options: dict[str, Any], key: str, overwrite: bool
    ) -> None:
        from ..pipeline import Pipeline
        from ..workflows import VIDEO_WORKFLOWS

        self.pipeline = Pipeline(**pipeline)
        self.flow = VIDEO_WORKFLOWS[workflow]
        self.options, self.key, self.overwrite, self.emit = options, key, overwrite, {}

    def edit(self, row: dict[str, Any]) -> Outcome:
        from ..outputs import Writer

        job = Job(Path(row["source"]), Path(row["output"]))
        if not self.overwrite and done_before(job, self.key) is not None:
            return Outcome(job, "done", "written before this actor's predecessor stopped")
        writer = Writer([job.source])
        try:
            made = self.flow.function(self.pipeline, str(job.source), output=job.output, **self.options)
        except FATAL as error:
            raise _Stop(error) from error
        except Exception as error:
            logger.debug("clip %s failed", job.source, exc_info=True)
            return Outcome(job, "failed", f"{type(error).__name__}: {error}", error=type(error).__name__)
        return record_outcome(job, {**made.record, "found": made.found}, self.key, writer)

    def edit_together(self, rows: list[dict[str, Any]]) -> list[Outcome] | None:
        return None  # a clip is a task of its own


def build_dataset(
    tasks: list[Task],
    stage: dict[str, Any],
    *,
    num_gpus: float = 0.0,
    num_cpus: float = 1.0,
    concurrency: int = 1,
    batch_size: int = 1,
) -> Any:
    """The Ray Data pipeline: read and decode in CPU tasks, edit and write in an actor pool. With
    GPUs the two stay apart (a decoder never holds a GPU); on CPUs alone Ray fuses them."""
    import ray.data

    rows = [
        {"source": t.source, "output": str(t.job.output), "overrides": json.dumps(t.overrides, default=str)}
        for t in tasks
    ]
    decoded = ray.data.from_items(rows, override_num_blocks=max(1, len(rows))).map(decode_row, num_cpus=1)
    return decoded.map_batches(
        EditStage,
        fn_constructor_kwargs=stage,
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        num_gpus=num_gpus or None,
        num_cpus=num_cpus,
    )


# ---- the run --------------------------------------------------------------------------------


def run(
    inputs: Iterable[str | Path],
    workflow: str,
    options: dict[str, Any],
    output: str | Path,
    *,
    pipeline: dict[str, Any] | None = None,
    address: str | None = None,
    num_gpus: float = 0.0,
    num_cpus: float = 1.0,
    concurrency: int = 1,
    batch_size: int = 1,
    format: str = "png",
    overwrite: bool = False,
    save_mask: bool = False,
    save_overlay: bool = False,
    key: str | None = None,
) -> Summary:
    """Run ``workflow`` over every input on Ray, writing outputs and sidecars under ``output``.

    Args:
        inputs: files, folders, globs, URIs (``s3://bucket/photos/``, ``gs://...``, ``file://...``)
            and Parquet/CSV manifests (a ``path`` column, and optionally ``find``, ``with``,
            ``keep``, ``seed`` for that row).
        workflow: ``"replace"``, ``"remove"``, ``"replace_background"`` or ``"segment"``.
        options: the workflow's keyword options (``find``, ``with_``, ``steps``, ...).
        output: a folder every worker can write to (local, or a shared mount on a cluster).
        pipeline: the :class:`~textinpaint.Pipeline` keywords each actor builds its models from
            (model names, ``models`` folder, ``device``, ``dtype``, ``speed``).
        address: the Ray cluster (``"auto"``, ``"ray://head:10001"``); None starts a local Ray.
        num_gpus: GPUs per actor (0.5 puts two actors on one GPU).
        num_cpus: CPUs per actor; Ray gives an actor as many torch threads, and a CPU run's
            pixels equal a local run's with the same thread count.
        concurrency: how many actors edit at once.
        batch_size: pictures handed to an actor per call.
        format: the output file type (``png``, ``jpg``, ``webp``).
        overwrite: redo inputs done before with the same parameters.
        save_mask: also write ``NAME.mask.png``.
        save_overlay: also write ``NAME.overlay.png``.
        key: the resume key (the CLI passes its own, so local and Ray runs resume each other).

    Returns:
        The :class:`~textinpaint.interfaces.batch.Summary`: done, skipped, nothing found, flagged and
        failed inputs; ``exit_code`` as for the local CLI.

    Raises:
        MissingDependencyError: Ray Data is not installed.
        InvalidInputError: a bad workflow, option or manifest; two inputs with one output.
        WeightsNotFoundError, ModelKindError: the models cannot load (the run stops at once).
    """
    from ..workflows import WORKFLOWS

    if workflow not in WORKFLOWS or not WORKFLOWS[workflow].ray:
        raise InvalidInputError(
            f"workflow must be one of {[n for n, w in WORKFLOWS.items() if w.ray]}; got {workflow!r}"
        )
    _check_resources(concurrency, num_gpus, num_cpus, batch_size)
    from ..options import split
    from ..outputs import Writer

    flow = WORKFLOWS[workflow]
    split({k: v for k, v in options.items() if k not in (*flow.inputs, "mask")}, flow.args, workflow)
    ray = require_ray()
    folder = Path(output)
    pipeline = dict(pipeline or {})
    key = key or request_key({"workflow": workflow, "given": options, "pipeline": pipeline, "format": format})
    tasks = plan_tasks(list(inputs), folder, suffix=f".{format}")
    writer = Writer(Path(t.source) for t in tasks if not _is_uri(t.source))
    summary = Summary()
    todo = _to_do(tasks, writer, key, overwrite, summary)
    if todo:
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
        emit = {"save_mask": save_mask, "save_overlay": save_overlay, "quiet": True}
        stage = {
            "pipeline": pipeline,
            "workflow": workflow,
            "options": options,
            "emit": emit,
            "key": key,
            "overwrite": overwrite,
        }
        edited = build_dataset(
            todo, stage, num_gpus=num_gpus, num_cpus=num_cpus, concurrency=concurrency, batch_size=batch_size
        )
        _collect(edited, todo, summary)
    return _finish(summary, tasks, folder, writer, IMAGE_SUFFIXES)


def run_clips(
    inputs: Iterable[str | Path],
    workflow: str,
    options: dict[str, Any],
    output: str | Path,
    *,
    pipeline: dict[str, Any] | None = None,
    address: str | None = None,
    num_gpus: float = 0.0,
    num_cpus: float = 1.0,
    concurrency: int = 1,
    suffix: str = ".mp4",
    overwrite: bool = False,
    key: str | None = None,
) -> Summary:
    """Run a video workflow over every clip on Ray, one clip per task, writing each clip and its
    sidecar under ``output`` with the inputs' relative layout (as ``textinpaint video ... DIR``).

    Args:
        inputs: clip files, folders and globs (local paths: on a cluster, a mount every node sees).
        workflow: ``"video remove"``, ``"video replace"`` or ``"video replace_background"``.
        options: the workflow's keyword arguments besides the clip and ``output`` (``find``,
            ``with_``, ``box``, ``steps``, ``codec``, ...).
        output: a folder every worker can write to.
        pipeline: the :class:`~textinpaint.Pipeline` keywords each actor builds its models from.
        address: the Ray cluster; None starts a local Ray.
        num_gpus: GPUs per actor.
        num_cpus: CPUs per actor.
        concurrency: how many actors paint at once (each holds one clip at a time).
        suffix: the outputs' suffix: ``.mp4``, ``.mkv`` (FFV1), or ``""`` for a PNG folder each.
        overwrite: redo clips done before with the same parameters.
        key: the resume key (the CLI passes its own, so local and Ray runs resume each other).

    Returns:
        The :class:`~textinpaint.interfaces.batch.Summary`, as :func:`run`'s.

    Raises:
        MissingDependencyError: Ray Data is not installed.
        InvalidInputError: a bad workflow, option or resource count; no clips; two clips with one output.
        WeightsNotFoundError, ModelKindError: the models cannot load (the run stops at once).

    Example:
        >>> from textinpaint.interfaces.distributed import run_clips
        >>> run_clips(["clips/"], "video remove", {"find": "the person"}, "cleaned/", num_gpus=1)  # doctest: +SKIP
    """
    from ..outputs import Writer
    from ..workflows import VIDEO_WORKFLOWS

    if workflow not in VIDEO_WORKFLOWS:
        raise InvalidInputError(f"workflow must be one of {list(VIDEO_WORKFLOWS)}; got {workflow!r}")
    _check_resources(concurrency, num_gpus, num_cpus, 1)
    ray = require_ray()
    folder = Path(output)
    pipeline = dict(pipeline or {})
    key = key or request_key({"workflow": workflow, "given": options, "pipeline": pipeline, "suffix": suffix})
    jobs = plan(list(inputs), folder, suffix=suffix, suffixes=VIDEO_SUFFIXES)
    if not jobs:
        raise InvalidInputError(f"no clips matched {list(map(str, inputs))!r}; clips end in {sorted(VIDEO_SUFFIXES)}")
    tasks = [Task(str(job.source), job) for job in jobs]
    writer = Writer(job.source for job in jobs)
    summary = Summary()
    todo = _to_do(tasks, writer, key, overwrite, summary)
    if todo:
        import ray.data

        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
        rows = [{"source": t.source, "output": str(t.job.output)} for t in todo]
        stage = {"pipeline": pipeline, "workflow": workflow, "options": options, "key": key, "overwrite": overwrite}
        edited = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            ClipStage,
            fn_constructor_kwargs=stage,
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=concurrency),
            num_gpus=num_gpus or None,
            num_cpus=num_cpus,
        )
        _collect(edited, todo, summary)
    return _finish(summary, tasks, folder, writer, VIDEO_SUFFIXES)


def _check_resources(concurrency: int, num_gpus: float, num_cpus: float, batch_size: int) -> None:
    if not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidInputError(f"concurrency must be an integer >= 1; got {concurrency!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be an integer >= 1; got {batch_size!r}")
    if not isinstance(num_gpus, (int, float)) or not num_gpus >= 0:
        raise InvalidInputError(f"num_gpus must be a number >= 0; got {num_gpus!r}")
    if not isinstance(num_cpus, (int, float)) or not num_cpus > 0:
        raise InvalidInputError(f"num_cpus must be a number > 0; got {num_cpus!r}")


def _to_do(tasks: list[Task], writer: Any, key: str, overwrite: bool, summary: Summary) -> list[Task]:
    """The tasks still to do: those refused by the writer fail, those done before are skipped."""
    todo = []
    for task in tasks:
        why = refused(task.job, writer)
        if why is not None:
            summary.outcomes.append(Outcome(task.job, "failed", why, error="OutputRefusedError"))
            continue
        reason = None if overwrite else done_before(task.job, row_key(key, task.overrides))
        if reason is not None:
            summary.outcomes.append(Outcome(task.job, "skipped", reason))
        else:
            todo.append(task)
    return todo


def _collect(edited: Any, todo: list[Task], summary: Summary) -> None:
    """One outcome per row the actors return; an actor's setup error is raised here as it is."""
    by_source = {t.source: t.job for t in todo}
    try:
        for row in edited.iter_rows():
            if row["status"] == FATAL_STATUS:
                raise pickle.loads(base64.b64decode(row["message"]))  # our own actor's error, from this run
            job = by_source[str(row["source"])]
            error = row["error"]
            outcome = Outcome(job, str(row["status"]), str(row["message"] or ""), float(row["seconds"]), error or None)
            summary.outcomes.append(outcome)
    except KeyboardInterrupt:
        summary.interrupted = True


def _finish(summary: Summary, tasks: list[Task], folder: Path, writer: Any, files: set[str]) -> Summary:
    """The failures table (for a folder of outputs) and the outcomes in the inputs' order."""
    if folder.suffix.lower() not in files:  # a folder of outputs, not one output file
        write_failures(folder, summary, writer)
    order = {t.job.output: i for i, t in enumerate(tasks)}
    summary.outcomes.sort(key=lambda o: order.get(o.job.output, len(order)))
    return summary


def _array(value: Any) -> Any:
    """An optional array column's value (None for a missing one)."""
    import numpy as np

    return value if isinstance(value, np.ndarray) and value.ndim == 2 else None


def _bytes(value: Any) -> bytes | None:
    """An optional bytes column's value (None for a missing or empty one)."""
    return bytes(value) if isinstance(value, (bytes, bytearray)) and value else None


def _text(value: Any) -> str:
    """A text column's value ("" for a missing one, which Arrow may hand back as None or NaN)."""
    return value if isinstance(value, str) else ""
