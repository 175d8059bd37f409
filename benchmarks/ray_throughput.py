"""Throughput of the Ray engine against the local CLI, on tiny models (what Ray itself adds).

    python benchmarks/ray_throughput.py --images 48 --actors 1 2

Writes the same folder of photos through ``textinpaint replace`` locally and through
``--engine ray`` with 1, 2, ... actors, each into a fresh output folder, and prints images per
second and the per-image overhead Ray adds over the local run. The tiny models make the model
time small, so the figures are dominated by what is not the model: decoding, scheduling,
object-store transfers, writing. Ray's start-up (``ray.init``) is timed apart.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import PIL.Image
import torch


def photos(folder: Path, count: int, side: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        PIL.Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(folder / f"p{i:03d}.jpg")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--side", type=int, default=256, help="photo side in pixels")
    parser.add_argument("--actors", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)

    import ray

    from textinpaint.interfaces.cli import main as cli
    from textinpaint.testing import write_tiny_models

    work = Path(tempfile.mkdtemp(prefix="textinpaint-ray-bench-"))
    models = write_tiny_models(work / "models")
    inputs = photos(work / "in", args.images, args.side)
    common = [str(inputs), "--find", "thing", "--with", "a fox", "--box-threshold", "0", "--text-threshold", "0"]
    common += ["--steps", "2", "--seed", "1", "--models", str(models), "--device", "cpu", "--quiet"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each 1-CPU actor has
    cli(["replace", *common, "-o", str(work / "warm")])  # loads the models once, outside the timing
    start = time.perf_counter()
    assert cli(["replace", *common, "-o", str(work / "local")]) == 0
    local = time.perf_counter() - start
    torch.set_num_threads(threads)
    start = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False)
    started = time.perf_counter() - start
    cpus = int(ray.cluster_resources().get("CPU", 1))
    rows = [
        f"### Ray engine throughput: {args.images} photos of {args.side}x{args.side}, tiny models, "
        f"CPU with {cpus} cores (local Ray); ray.init took {started:.1f} s",
        "",
        "| engine | actors | seconds | images/s | overhead per image vs local (ms) |",
        "|---|---|---|---|---|",
        f"| local CLI (1 thread) | - | {local:.1f} | {args.images / local:.2f} | - |",
    ]
    for actors in args.actors:
        start = time.perf_counter()
        status = cli(
            ["replace", *common, "-o", str(work / f"ray-{actors}"), "--engine", "ray", "--concurrency", str(actors)]
        )
        seconds = time.perf_counter() - start
        assert status == 0
        overhead = (seconds - local) / args.images * 1e3
        rows.append(f"| ray | {actors} | {seconds:.1f} | {args.images / seconds:.2f} | {overhead:+.0f} |")
    # The fixed part (actors start, import torch, load the models) apart from the per-image part:
    # the same run on twice the photos, one actor.
    more = photos(work / "in2", 2 * args.images, args.side)
    start = time.perf_counter()
    doubled = [str(more), *common[1:]]
    assert cli(["replace", *doubled, "-o", str(work / "ray-double"), "--engine", "ray", "--concurrency", "1"]) == 0
    twice = time.perf_counter() - start
    first = next(float(r.split("|")[3]) for r in rows if r.startswith("| ray | 1 |")) if 1 in args.actors else None
    ray.shutdown()
    if first is not None:
        per_image = (twice - first) / args.images
        fixed = first - per_image * args.images
        rows += [
            "",
            f"One actor, {args.images} and {2 * args.images} photos: {fixed:.1f} s fixed (actor start, torch import, "
            f"model load, once per actor) and {per_image * 1e3:.0f} ms per photo, against "
            f"{local / args.images * 1e3:.0f} ms per photo locally: Ray adds "
            f"{(per_image - local / args.images) * 1e3:+.0f} ms per photo once the actor is up.",
        ]
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
