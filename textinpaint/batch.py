"""Running a workflow over many files: input collection, output paths, sidecars, resume, failures.

Nothing is lost: a bad file is reported and the batch goes on; every output gets a JSON sidecar
with what is needed to make it again; re-running skips what is already done.
"""

from __future__ import annotations

import glob
import logging
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .outputs import write_json
from .runtime import listening

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


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
    """What happened to one job: ``done``, ``skipped`` (already done), ``nothing`` (no match) or ``failed``."""

    job: Job
    status: str
    message: str = ""
    seconds: float = 0.0


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    @property
    def exit_code(self) -> int:
        """1 when anything failed, else 3 when some input matched nothing, else 0."""
        return 1 if self.count("failed") else 3 if self.count("nothing") else 0

    def text(self) -> str:
        counts = ", ".join(f"{self.count(s)} {s}" for s in ("done", "skipped", "nothing", "failed"))
        lines = [f"{len(self.outcomes)} inputs: {counts}"]
        lines += [f"  failed: {o.job.source}: {o.message}" for o in self.outcomes if o.status == "failed"]
        lines += [f"  nothing found: {o.job.source}" for o in self.outcomes if o.status == "nothing"]
        return "\n".join(lines)


def collect(inputs: Iterable[str | Path]) -> list[tuple[Path, Path]]:
    """Expand files, folders (recursively, by image suffix) and globs into ``(file, relative path)``.

    A path that does not exist is kept, so that it is reported as failed rather than dropped.
    """
    found: dict[Path, Path] = {}
    for entry in map(str, inputs):
        path = Path(entry)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
                found.setdefault(file, file.relative_to(path))
        elif any(ch in entry for ch in "*?[") and not path.exists():
            for match in sorted(glob.glob(entry, recursive=True)):
                if Path(match).is_file():
                    found.setdefault(Path(match), Path(Path(match).name))
        else:
            found.setdefault(path, Path(path.name))
    return list(found.items())


def plan(inputs: list[str | Path], output: Path, *, suffix: str = ".png") -> list[Job]:
    """Jobs for ``inputs``. One input file with an image-named ``output`` writes that file;
    anything else writes ``output/<relative path>`` with ``suffix`` (PNG keeps untouched pixels exact).
    """
    files = collect(inputs)
    single = len(inputs) == 1 and len(files) == 1 and not Path(inputs[0]).is_dir()
    if single and output.suffix.lower() in IMAGE_SUFFIXES and not output.is_dir():
        return [Job(files[0][0], output)]
    return [Job(source, output / relative.with_suffix(suffix)) for source, relative in files]


def run(
    jobs: list[Job],
    work: Callable[[Job], dict | None],
    *,
    overwrite: bool = False,
    quiet: bool = False,
    stream=None,
    work_many: Callable[[list[Job]], list[dict | None]] | None = None,
    batch_size: int = 1,
) -> Summary:
    """Run ``work`` on each job, never stopping on a bad input.

    ``work`` writes the job's output and returns its sidecar (a JSON-able dict), or None when the
    input matched nothing. Each stage the library starts during ``work`` is shown on the bar. Jobs whose output and sidecar exist are skipped unless ``overwrite``.
    Progress goes to ``stream`` (default stderr): a bar on a terminal, plain lines elsewhere.

    With ``work_many`` and ``batch_size`` > 1, jobs still to do go ``batch_size`` at a time
    through ``work_many`` (one result per job); a chunk whose batched call fails is done again one
    job at a time, so a bad file costs only its own result.
    """
    stream = stream or sys.stderr
    inputs = {job.source.resolve() for job in jobs}
    summary = Summary()
    bar = None
    if not quiet and stream.isatty():
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), file=stream, unit="image")
    batched = _batched(jobs, work_many, batch_size, overwrite, inputs) if work_many and batch_size > 1 else {}
    for index, job in enumerate(jobs, 1):
        start = time.perf_counter()

        def show(stage: str, job: Job = job) -> None:
            if bar is not None:
                bar.set_postfix_str(f"{job.source.name}: {stage}")

        with listening(show):
            outcome = batched.get(index - 1) or _one(job, work, overwrite, inputs)
        if index - 1 not in batched:
            outcome.seconds = time.perf_counter() - start
        summary.outcomes.append(outcome)
        if bar is not None:
            bar.set_postfix_str(f"{job.source.name}: {outcome.status}")
            bar.update()
        elif not quiet:
            detail = f" ({outcome.message})" if outcome.message else ""
            print(f"[{index}/{len(jobs)}] {job.source}: {outcome.status}{detail} {outcome.seconds:.1f}s", file=stream)
    if bar is not None:
        bar.close()
    return summary


def _batched(
    jobs: list[Job], work_many: Callable[[list[Job]], list[dict | None]], size: int, overwrite: bool, inputs: set[Path]
) -> dict[int, Outcome]:
    """Outcomes of the jobs that went through ``work_many`` together (others are left to ``run``)."""
    todo = [
        i
        for i, job in enumerate(jobs)
        if job.output.resolve() not in inputs and (overwrite or not (job.output.exists() and job.sidecar.exists()))
    ]
    outcomes: dict[int, Outcome] = {}
    for start in range(0, len(todo), size):
        chunk = todo[start : start + size]
        began = time.perf_counter()
        try:
            sidecars = work_many([jobs[i] for i in chunk])
        except Exception:
            logger.debug("a batch failed; its jobs are redone one at a time", exc_info=True)
            continue
        share = (time.perf_counter() - began) / len(chunk)
        for i, sidecar in zip(chunk, sidecars):
            outcomes[i] = _record(jobs[i], sidecar)
            outcomes[i].seconds = share
    return outcomes


def _record(job: Job, sidecar: dict | None) -> Outcome:
    if sidecar is None:
        return Outcome(job, "nothing", "nothing matched; no output written")
    write_json(job.sidecar, sidecar)
    return Outcome(job, "done")


def _one(job: Job, work: Callable[[Job], dict | None], overwrite: bool, inputs: set[Path]) -> Outcome:
    if job.output.resolve() in inputs:
        return Outcome(job, "failed", "the output would overwrite an input; choose another output folder")
    if not overwrite and job.output.exists() and job.sidecar.exists():
        return Outcome(job, "skipped", "output and sidecar exist; --overwrite redoes it")
    try:
        sidecar = work(job)
    except Exception as error:
        logger.debug("job %s failed", job.source, exc_info=True)
        return Outcome(job, "failed", f"{type(error).__name__}: {error}")
    return _record(job, sidecar)
