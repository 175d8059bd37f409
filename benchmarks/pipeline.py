"""How busy a folder run keeps the model: a simulated model on the real command-line path.

    python benchmarks/pipeline.py --simulated-model-ms 300
    python benchmarks/pipeline.py --simulated-model-ms 100 --format jpg --pictures 16

A folder of 12-megapixel JPEGs is repainted by ``textinpaint inpaint DIR --mask M -o OUT``
(``textinpaint.interfaces.cli.main``, the same code as the command) with a painter that does
what the diffusers adapter does around its model passes (the crop and mask brought to the
model's size and back, with the library's functions) and then waits a fixed time while holding
a lock and not the GIL: a GPU call, one at a time. Nothing else is simulated: decoding, the mask,
the blend, the output image, the PNG/JPEG encoding and the sidecars are the real ones.

Two runs: a serial one with no model time (``--workers 1``): the CPU time per picture; then the
pipelined one (``--workers``, default the command's). The bound on throughput is
``1 / max(model time, CPU time per picture)``: the model never idle, or the CPU never idle on one
core. The last line is ``efficiency E``: measured throughput over that bound.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import PIL.Image

from textinpaint import Pipeline
from textinpaint.inpainting import FillRequest, generation_size, resize, shrink_any
from textinpaint.interfaces.cli import WORKERS, main


class SimulatedPainter:
    """A painter that costs ``seconds`` of "GPU" time per call, one call at a time, without the
    GIL (``time.sleep``), around the real CPU work of the diffusers adapter."""

    native_size = 512

    def __init__(self, seconds: float) -> None:
        self.seconds, self.gpu = seconds, threading.Lock()

    def __call__(self, crop: np.ndarray, mask: np.ndarray, request: FillRequest) -> np.ndarray:
        height, width = mask.shape
        gen_width, gen_height = generation_size(width, height, self.native_size, 8)
        small = resize(crop, gen_width, gen_height)
        shrink_any(mask, gen_width, gen_height)
        with self.gpu:
            time.sleep(self.seconds)
        return resize(255 - small, width, height)


def photo(width: int, height: int, seed: int) -> np.ndarray:
    """A photo-like picture: smooth shapes with sensor noise (so PNG compresses as a photo does)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width, y / height, (x + y) / (width + height)], axis=2) * 200
    base[height // 3 : height // 2, width // 4 : width // 2] = (200, 40, 30)
    noise = rng.normal(0, 4, (height, width, 3)).astype(np.float32)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def folder_run(folder: Path, mask: Path, out: Path, painter: SimulatedPainter, workers: int, fmt: str) -> float:
    """Seconds for one run of the command over ``folder`` (the output folder emptied first)."""
    shutil.rmtree(out, ignore_errors=True)
    argv = ["inpaint", str(folder), "--mask", str(mask), "--prompt", "a plant", "--seed", "0"]
    argv += ["-o", str(out), "--format", fmt, "--workers", str(workers), "--quiet", "--device", "cpu"]
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        status = main(argv, pipeline=Pipeline(inpainter=painter, device="cpu"))
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"the run failed with status {status}")
    return seconds


def main_(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulated-model-ms", type=float, default=300.0, help="model time per picture")
    parser.add_argument("--pictures", type=int, default=24)
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument(
        "--format", choices=["png", "jpg"], default="png", help="output format (the command's default: png)"
    )
    parser.add_argument(
        "--workers", type=int, default=WORKERS, help=f"pictures at once (default {WORKERS}, the command's)"
    )
    args = parser.parse_args(argv)
    width = int(round((args.megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(width * 3 / 4))
    root = Path(tempfile.mkdtemp(prefix="textinpaint-pipeline-"))
    try:
        folder = root / "photos"
        folder.mkdir()
        for i in range(args.pictures):
            PIL.Image.fromarray(photo(width, height, i)).save(folder / f"{i:03d}.jpg", quality=92)
        region = np.zeros((height, width), np.uint8)
        region[height // 3 : 2 * height // 3, width // 4 : width // 2] = 255
        PIL.Image.fromarray(region).save(root / "mask.png")
        folder_run(folder, root / "mask.png", root / "warm", SimulatedPainter(0.0), 1, args.format)  # imports, caches
        serial = folder_run(folder, root / "mask.png", root / "out", SimulatedPainter(0.0), 1, args.format)
        cpu = serial / args.pictures
        model = args.simulated_model_ms / 1000
        piped = folder_run(folder, root / "mask.png", root / "out", SimulatedPainter(model), args.workers, args.format)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    throughput, bound = args.pictures / piped, 1 / max(model, cpu)
    print(f"{args.pictures} pictures of {width}x{height}, output {args.format}, {args.workers} workers")
    print(f"CPU time per picture (serial run, no model time): {cpu * 1000:.0f} ms")
    print(f"simulated model time per picture: {model * 1000:.0f} ms")
    print(f"pipelined run: {piped:.2f} s, {throughput:.2f} pictures/s; bound {bound:.2f} pictures/s")
    print(f"efficiency {throughput / bound:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main_())
