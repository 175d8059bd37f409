"""Running a workflow over many files: input collection, output paths, sidecars, resume, failures.

Nothing is lost: a bad file is reported and the batch goes on; every output gets a JSON sidecar
with what is needed to make it again; re-running skips what was done with the same parameters
(and remembers inputs where nothing was found). Two inputs never share an output, an output never
overwrites an input, and outputs go to a temporary name first, so an interrupted run leaves no
truncated file that looks finished. A setup error (missing or wrong model weights) stops the run
at once instead of failing every file.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError, MissingDependencyError, ModelKindError, WeightsNotFoundError
from ..events import listening
from ..outputs import Writer

if TYPE_CHECKING:
    from ..results import Edit

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
# The clips a folder run of ``textinpaint video`` takes.
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"}
# Errors that are the same for every file: the run stops at the first one instead of repeating it.
FATAL = (WeightsNotFoundError, ModelKindError, MissingDependencyError)
# Pictures worked on at once by a local run (see `run`): while one is in the model, the next is
# decoded and prepared and the last one encoded and written, so the model is seldom left waiting.
DEFAULT_WORKERS = 2


@dataclass(frozen=True)
class Job:
    """One input file and where its result goes."""

    source: Path
    output: Path

    @property
    def sidecar(self) -> Path:
        return self.output.with_suffix(".json")


@dataclass
class Outcome:
    """What happened to one job: ``done``, ``flagged`` (done, but scored below ``--min-score``),
    ``skipped`` (already done), ``nothing`` (no match) or ``failed`` (``error`` names the exception's type)."""

    job: Job
    status: str
    message: str = ""
    seconds: float = 0.0
    error: str | None = None


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)
    interrupted: bool = False  # Ctrl+C stopped the run; the job in flight was discarded

    def count(self, status: str) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    @property
    def exit_code(self) -> int:
        """130 when interrupted, 1 when anything failed, else 3 when some input matched nothing or
        an edit was flagged, else 0."""
        if self.interrupted:
            return 130
        return 1 if self.count("failed") else 3 if self.count("nothing") or self.count("flagged") else 0

    def text(self) -> str:
        statuses = ("done", "flagged", "skipped", "nothing", "failed")
        counts = ", ".join(f"{self.count(s)} {s}" for s in statuses if s != "flagged" or self.count(s))
        lines = [f"{len(self.outcomes)} inputs: {counts}"]
        if self.interrupted:
            lines[0] = f"interrupted after {len(self.outcomes)} inputs: {counts}"
        lines += [f"  failed: {o.job.source}: {o.message}" for o in self.outcomes if o.status == "failed"]
        lines += [f"  nothing found: {o.job.source}" for o in self.outcomes if o.status == "nothing"]
        lines += [f"  flagged: {o.job.source}: {o.message}" for o in self.outcomes if o.status == "flagged"]
        return "\n".join(lines)

    def failures(self) -> list[dict[str, str]]:
        """The failures table: one row (input, error type, message) per failed job."""
        return [
            {"input": str(o.job.source), "output": str(o.job.output), "error": o.error or "", "message": o.message}
            for o in self.outcomes
            if o.status == "failed"
        ]


FAILURES = "failures.json"


def request_key(request: dict) -> str:
    """The resume key of a run: a digest of everything that decides its outputs."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_failures(folder: Path, summary: Summary, writer: Writer | None = None) -> Path | None:
    """Write ``folder/failures.json`` (the failures table, which ``textinpaint report`` reads) when
    the run had failures; remove a previous run's (never a file textinpaint did not write) when it
    had none. Returns the file written."""
    from ..outputs import owned

    writer = writer or Writer()
    target = folder / FAILURES
    rows = summary.failures()
    if not rows:
        if target.is_file() and owned(target, "failures"):
            target.unlink()
        return None
    return writer.json(target, {"failures": rows}, kind="failures")


def collect(
    inputs: Iterable[str | Path], *, exclude: Path | None = None, suffixes: set[str] = IMAGE_SUFFIXES
) -> list[tuple[Path, Path]]:
    """Expand files, folders (recursively, by ``suffixes``: pictures) and globs into ``(file, relative path)``.

    A path that does not exist is kept, so that it is reported as failed rather than dropped; a
    file named twice (``a.png`` and ``./dir/../a.png``, or by a folder and a glob) is one input.
    Files under ``exclude`` (the output folder, when it lies inside an input folder) are left
    out, so a second run never takes the first run's outputs for inputs. With several folders,
    each file's relative path starts with its folder's name, so ``d1/x.png`` and ``d2/x.png``
    stay apart.
    """
    entries = list(map(str, inputs))
    folders = [Path(e) for e in entries if Path(e).is_dir()]
    skip = exclude.resolve() if exclude is not None else None
    found: dict[Path, tuple[Path, Path]] = {}  # resolved path -> (the path as given, its relative output path)
    for entry in entries:
        path = Path(entry)
        if path.is_dir():
            prefix = Path(path.resolve().name) if len(folders) > 1 else Path()
            for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes):
                if skip is not None and skip in file.resolve().parents:
                    continue
                found.setdefault(file.resolve(), (file, prefix / file.relative_to(path)))
        elif any(ch in entry for ch in "*?[") and not path.exists():
            for match in sorted(glob.glob(entry, recursive=True)):
                if Path(match).is_file() and not (skip is not None and skip in Path(match).resolve().parents):
                    found.setdefault(Path(match).resolve(), (Path(match), Path(Path(match).name)))
        else:
            found.setdefault(path.resolve(), (path, Path(path.name)))
    return list(found.values())


def plan(
    inputs: Sequence[str | Path], output: Path, *, suffix: str = ".png", suffixes: set[str] = IMAGE_SUFFIXES
) -> list[Job]:
    """Jobs for ``inputs``. One input file with an ``output`` named like them (``suffixes``:
    pictures) writes that file; anything else writes ``output/<relative path>`` with ``suffix``
    (PNG keeps untouched pixels exact).

    Raises:
        InvalidInputError: two inputs would write one output (``p.png`` and ``p.jpg``, say); the
            message names them. Nothing has run.
    """
    for entry in inputs:
        if Path(entry).is_dir() and output.exists() and Path(entry).resolve() == output.resolve():
            raise InvalidInputError(
                f"the output folder {str(output)!r} is an input folder: every edit would go over its own input; "
                "give another output folder"
            )
    files = collect(inputs, exclude=output, suffixes=suffixes)
    single = len(inputs) == 1 and len(files) == 1 and not Path(inputs[0]).is_dir()
    if single and output.suffix.lower() in suffixes and not output.is_dir():
        return [Job(files[0][0], output)]
    jobs = [Job(source, output / relative.with_suffix(suffix)) for source, relative in files]
    taken: dict[Path, list[Path]] = {}
    for job in jobs:
        taken.setdefault(job.output.resolve(), []).append(job.source)
    clashes = {out: sources for out, sources in taken.items() if len(sources) > 1}
    if clashes:
        listed = "; ".join(f"{', '.join(map(str, s))} -> {out}" for out, s in clashes.items())
        raise InvalidInputError(
            f"inputs would overwrite each other's output ({listed}); rename one, or run them "
            "into separate output folders"
        )
    return jobs


def run(
    jobs: list[Job],
    work: Callable[[Job], Any],
    *,
    overwrite: bool = False,
    quiet: bool = False,
    stream=None,
    work_many: Callable[[list[Job]], list[dict | None]] | None = None,
    batch_size: int = 1,
    key: str | None = None,
    writer: Writer | None = None,
    write: Callable[[Job, Any], dict | None] | None = None,
    workers: int = 1,
) -> Summary:
    """Run ``work`` on each job, never stopping on a bad input.

    ``work`` makes the job's result; ``write`` writes it and returns its sidecar (a JSON-able
    dict; ``found`` False when the input matched nothing and no output was written). Without
    ``write``, ``work`` itself writes and returns the sidecar. Each stage the library starts
    during ``work`` is shown on the bar. A job whose sidecar says it was done (or found nothing)
    with the same ``key`` (a digest of the request) is skipped unless ``overwrite``; one done
    with other parameters is redone. Progress goes to ``stream`` (default stderr): a bar on a
    terminal, plain lines elsewhere, always in the jobs' order.

    With ``workers`` > 1, up to that many jobs are worked on at once on threads (at most
    ``workers`` pictures in memory): while one is in the model (which releases the GIL, as a GPU
    call does), the next is decoded and prepared and a finished one encoded and written.

    With ``work_many`` and ``batch_size`` > 1, jobs still to do go ``batch_size`` at a time
    through ``work_many`` (one result per job); a chunk whose batched call fails is done again one
    job at a time, so a bad file costs only its own result.

    Ctrl+C stops after discarding the jobs in flight (with ``workers`` > 1 and ``write``, a job
    whose writing has begun finishes it, so its image and sidecar are both written; nothing new
    starts); the summary says so (``exit_code`` 130). Missing or wrong model weights
    (:data:`FATAL`) stop the run at once and are raised.

    Every file goes through ``writer`` (the one given, which ``work`` writes with too, or one that
    protects the jobs' inputs): a job whose output or sidecar would overwrite an input or a file
    textinpaint did not write fails, and the batch goes on.
    """
    stream = stream or sys.stderr
    inputs = [job.source for job in jobs]
    writer = writer or Writer(inputs)
    summary = Summary()
    stop = threading.Event()
    bar = steps = None
    if not quiet and stream.isatty():
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), file=stream, unit="image")
        steps = tqdm(total=0, file=stream, unit="step", desc="denoising", position=1, leave=False)

    def stepped(done: int, total: int) -> None:
        if steps is not None:
            steps.total, steps.n = total, done
            steps.refresh()

    def do(job: Job) -> Outcome:
        start = time.perf_counter()

        def show(stage: str) -> None:
            if bar is not None:
                bar.set_postfix_str(f"{job.source.name}: {stage}")

        with listening(show, stepped if steps is not None else None):
            outcome = _one(job, work, overwrite, writer, key, write, stop)
        outcome.seconds = time.perf_counter() - start
        return outcome

    try:
        batched = _batched(jobs, work_many, batch_size, overwrite, writer, key) if work_many and batch_size > 1 else {}
        with closing(_in_order(jobs, do, batched, workers, stop)) as outcomes:  # its finally runs on Ctrl+C
            for index, (job, outcome) in enumerate(outcomes, 1):
                summary.outcomes.append(outcome)
                if bar is not None:
                    bar.set_postfix_str(f"{job.source.name}: {outcome.status}")
                    bar.update()
                elif not quiet:
                    detail = f" ({outcome.message})" if outcome.message else ""
                    line = f"[{index}/{len(jobs)}] {job.source}: {outcome.status}{detail} {outcome.seconds:.1f}s"
                    print(line, file=stream)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        for progress in (steps, bar):
            if progress is not None:
                progress.close()
    return summary


def _in_order(
    jobs: list[Job], do: Callable[[Job], Outcome], done: dict[int, Outcome], workers: int, stop: threading.Event
) -> Generator[tuple[Job, Outcome], None, None]:
    """Each job with its outcome, in the jobs' order: ``done[i]`` where given, else ``do(job)``,
    with up to ``workers`` jobs in flight on threads (one: here, in this thread). On leaving
    early (Ctrl+C, a fatal error) nothing more starts, and the jobs in flight are waited for; they
    write nothing they had not begun to write (see :func:`_one`)."""
    if workers <= 1:
        for i, job in enumerate(jobs):
            yield job, done[i] if i in done else do(job)
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="textinpaint-job")
    waiting, running = deque(range(len(jobs))), deque[tuple[int, "Future[Outcome] | None"]]()
    try:
        while waiting or running:
            while waiting and len(running) < workers:  # a finished job counts until it is reported
                i = waiting.popleft()
                running.append((i, None if i in done else pool.submit(do, jobs[i])))
            i, future = running.popleft()
            yield jobs[i], done[i] if future is None else _awaited(future)
    finally:
        stop.set()  # on the way out, whatever the reason: nothing starts, nothing more is written
        pool.shutdown(wait=True, cancel_futures=True)


def refused(job: Job, writer: Writer) -> str | None:
    """Why the job's output or sidecar may not be written (None when they may)."""
    from ..errors import OutputRefusedError

    try:
        writer.check(job.output, "image")
        writer.check(job.sidecar, "sidecar")
    except OutputRefusedError as error:
        return str(error)
    return None


def done_before(job: Job, key: str | None) -> str | None:
    """Why the job needs no doing (None when it does): done or nothing found, with the same key.
    A flagged edit is never skipped: a rerun reports it again."""
    from .sidecars import read_sidecar

    try:
        sidecar = read_sidecar(job.sidecar)
    except Exception:  # no sidecar, or one that is not valid: redo (the writer guards what may be replaced)
        return None
    if key is not None and sidecar.get("request") != key:
        return None
    if sidecar.get("flagged"):
        return None
    if sidecar.get("found") is False:
        return "nothing was found here last time with the same parameters; --overwrite tries again"
    if job.output.exists():
        return "done before with the same parameters; --overwrite redoes it"
    return None


def _changed(job: Job) -> str:
    return " (redone: the parameters differ from the last run's)" if job.sidecar.exists() else ""


def _batched(
    jobs: list[Job],
    work_many: Callable[[list[Job]], list[dict | None]],
    size: int,
    overwrite: bool,
    writer: Writer,
    key: str | None,
) -> dict[int, Outcome]:
    """Outcomes of the jobs that went through ``work_many`` together (others are left to ``run``)."""
    todo = [
        i for i, job in enumerate(jobs) if refused(job, writer) is None and (overwrite or done_before(job, key) is None)
    ]
    outcomes: dict[int, Outcome] = {}
    for start in range(0, len(todo), size):
        chunk = todo[start : start + size]
        began = time.perf_counter()
        notes = {i: _changed(jobs[i]) for i in chunk}
        try:
            sidecars = work_many([jobs[i] for i in chunk])
        except FATAL:
            raise
        except Exception:
            logger.debug("a batch failed; its jobs are redone one at a time", exc_info=True)
            continue
        share = (time.perf_counter() - began) / len(chunk)
        for i, sidecar in zip(chunk, sidecars):
            outcomes[i] = record_outcome(jobs[i], sidecar, key, writer, notes[i])
            outcomes[i].seconds = share
    return outcomes


def record_outcome(job: Job, sidecar: dict | None, key: str | None, writer: Writer, note: str = "") -> Outcome:
    from ..errors import TextInpaintError

    try:
        if sidecar is not None:
            writer.json(job.sidecar, {**sidecar, "request": key} if key is not None else sidecar)
    except TextInpaintError as error:
        return Outcome(job, "failed", str(error), error=type(error).__name__)
    if sidecar is None or sidecar.get("found") is False:
        return Outcome(job, "nothing", "nothing matched; no output written" + note)
    if sidecar.get("flagged"):
        score = (sidecar.get("verification") or {}).get("score")
        minimum = (sidecar.get("parameters") or {}).get("min_score")
        return Outcome(job, "flagged", f"score {score} below min_score {minimum}; written" + note)
    return Outcome(job, "done", note.strip(" ()"))


def _awaited(future: Future[Outcome]) -> Outcome:
    """The future's result, waited for in short naps: Ctrl+C's signal may reach a worker thread,
    and this thread raises it only when it next runs Python, so it must not sleep through it."""
    while True:
        try:
            return future.result(timeout=0.1)
        except TimeoutError:
            continue


def _one(
    job: Job,
    work: Callable[[Job], Any],
    overwrite: bool,
    writer: Writer,
    key: str | None,
    write: Callable[[Job, Any], dict | None] | None = None,
    stop: threading.Event | None = None,
) -> Outcome:
    why = refused(job, writer)
    if why is not None:
        return Outcome(job, "failed", why, error="OutputRefusedError")
    reason = None if overwrite else done_before(job, key)
    if reason is not None:
        return Outcome(job, "skipped", reason)
    note = _changed(job)
    try:
        result = work(job)
        if stop is not None and stop.is_set():  # made after Ctrl+C: dropped, never written
            return Outcome(job, "failed", "interrupted before it was written", error="KeyboardInterrupt")
        sidecar = result if write is None else write(job, result)
    except FATAL:
        raise
    except Exception as error:
        logger.debug("job %s failed", job.source, exc_info=True)
        return Outcome(job, "failed", f"{type(error).__name__}: {error}", error=type(error).__name__)
    return record_outcome(job, sidecar, key, writer, note)


def _score_text(edit: Edit) -> str:
    """``; score 0.62 (present 0.62, gone 1.00), best of 4; FLAGGED`` for a checked edit, else ``""``."""
    if edit.verification is None:
        return ""
    check = edit.verification
    parts = ", ".join(f"{name} {'unchecked' if v is None else f'{v:.2f}'}" for name, v in check.parts.items())
    score = "unchecked" if check.score is None else f"{check.score:.2f}"
    tries = f", best of {len(edit.candidates) + 1}" if edit.candidates else ""
    return f"; score {score} ({parts}){tries}{'; FLAGGED' if edit.flagged else ''}"


def write_edit(
    writer: Writer,
    job: Any,
    edit: Edit,
    *,
    save_mask: bool = False,
    save_overlay: bool = False,
    quiet: bool = False,
    summary: bool = True,
) -> dict[str, Any]:
    """Write one edit of a run (``job.source`` edited into ``job.output``) and return its sidecar.

    When nothing matched, nothing is written and the sidecar has ``output`` None. The image
    carries its sidecar (a PNG text chunk); ``save_mask`` and ``save_overlay`` also write
    ``NAME.mask.png`` (the changed region) and ``NAME.overlay.png`` (the detections). Unless
    ``quiet``, one line says what was written (with ``summary``, what was used and the score).
    """
    import PIL.Image
    from tqdm.auto import tqdm

    if not edit.found:
        best = edit.detections.metadata.get("best_score")
        shown = "none" if best is None else f"{best:.3g}"
        asked = {} if edit.record is None else edit.record.parameters
        if any(asked.get(name) is not None for name in ("find", "keep", "points")):
            message = f"{job.source}: nothing matching the query was found (best score {shown}); no output written"
        else:  # nothing named the subject: the salient-subject model saw nothing stand out
            message = f"{job.source}: no salient subject was found; no output written"
        tqdm.write(message, file=sys.stderr)
        return {**edit.to_dict(), "output": None}
    sidecar = {**edit.to_dict(), "output": str(job.output)}
    writer.image(edit.image, job.output, sidecar)
    stem = job.output.with_suffix("")
    if save_mask:
        writer.image(PIL.Image.fromarray(edit.mask), Path(f"{stem}.mask.png"), made="mask")
    if save_overlay:
        writer.image(edit.annotate(), Path(f"{stem}.overlay.png"), made="overlay")
    if not quiet and summary:
        used = ", ".join(
            f"{edit.detections.data['phrase'][i]} ({edit.detections.confidence[i]:.2f})" for i in edit.selected
        )
        seed = "" if edit.seed is None else f"seed {edit.seed}; "
        found = f"used {len(edit.selected)} of {len(edit.detections)} matches: {used}" if len(edit.detections) else ""
        what = f"{seed}{found}".rstrip("; ") or "the mask given"
        tqdm.write(f"wrote {job.output} ({what}{_score_text(edit)})")
    return sidecar
