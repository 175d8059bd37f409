"""The library's own cost per input kind, end to end through the public API.

    python benchmarks/overhead.py                 # 12 MP against 0.12 MP, 7 warm runs each
    python benchmarks/overhead.py --repeats 15

``Pipeline(inpainter=painter).inpaint(picture, mask, prompt)`` is timed with the picture given as
a JPEG path, a PIL image and a numpy array, at 12 megapixels and at 0.12 megapixels, with a
painter that does only what the diffusers adapter does around its model passes (the crop and
mask brought to the model's size and back, with the library's functions). The model's own work
is the same at both sizes, so the difference is what the library costs for the larger picture:
reading the input, the mask, the crop, the blend and the record. Reading ``edit.image`` (a PIL
image is made on first read) and writing the sidecar (``edit.to_dict()``) are timed apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import PIL.Image

from textinpaint import Edit, Pipeline
from textinpaint.images import load_image
from textinpaint.inpainting import FillRequest, generation_size, resize, shrink_any


class ModelSizePainter:
    """The diffusers adapter's work around its model passes, and nothing else."""

    native_size = 512

    def __call__(self, crop: np.ndarray, mask: np.ndarray, request: FillRequest) -> np.ndarray:
        height, width = mask.shape
        gen_width, gen_height = generation_size(width, height, self.native_size, 8)
        small = PIL.Image.fromarray(resize(crop, gen_width, gen_height))
        PIL.Image.fromarray(shrink_any(mask, gen_width, gen_height))
        return resize(np.asarray(small), width, height)


def photo(width: int, height: int) -> np.ndarray:
    """The scene of benchmarks/run.py: smooth, with a red "car" (decodes in the time a camera JPEG
    of little detail does; a detailed photo's entropy decoding takes longer with any decoder)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = np.stack([150 + 60 * yy / height, 170 + 40 * xx / width, 210 - 30 * yy / height], axis=2)
    image = sky.astype(np.uint8)
    image[int(height * 0.5) : int(height * 0.75), int(width * 0.3) : int(width * 0.65)] = (200, 30, 40)
    return image


def median_ms(run: Callable[[], object], repeats: int) -> float:
    return timed_ms(run, repeats)[0]


def timed_ms(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """The median and the fastest of ``repeats`` warm runs, ms (the fastest is the least disturbed
    by the other tenants of a shared machine)."""
    run()  # warm: caches, first allocations
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000, min(samples) * 1000


def costs(width: int, height: int, repeats: int, folder: Path) -> dict[str, tuple[float, float, float, float]]:
    """Per input kind: ms for the call, for reading edit.image after it, for edit.to_dict(), and
    the fastest call."""
    path = folder / f"photo-{width}.jpg"
    PIL.Image.fromarray(photo(width, height)).save(path, quality=92)
    mask = np.zeros((height, width), bool)
    mask[height // 2 : 3 * height // 4, int(width * 0.3) : int(width * 0.65)] = True
    pipe = Pipeline(inpainter=ModelSizePainter(), device="cpu")
    with PIL.Image.open(path) as opened:
        as_pil = opened.convert("RGB")
    inputs: dict[str, object] = {"path": str(path), "PIL image": as_pil, "numpy array": np.asarray(as_pil).copy()}
    decoding, fastest = timed_ms(lambda: load_image(path), repeats)
    out = {"JPEG decoding alone": (decoding, 0.0, 0.0, fastest)}
    for kind, given in inputs.items():

        def edit(given: object = given) -> Edit:
            return pipe.inpaint(given, mask, "a plant", seed=0)

        call, fastest = timed_ms(edit, repeats)
        image = median_ms(lambda: edit().image, repeats) - call
        record = median_ms(lambda: edit().to_dict(), repeats) - call
        out[kind] = (call, image, record, fastest)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="textinpaint-overhead-"))
    large, small = costs(4000, 3000, args.repeats, folder), costs(400, 300, args.repeats, folder)
    print("#### 12 MP (4000x3000) minus 0.12 MP (400x300), median of", args.repeats, "warm runs, ms")
    print()
    print("| input | inpaint() call | its fastest run | then reading edit.image | then edit.to_dict() (sidecar) |")
    print("|---|---|---|---|---|")
    for kind in large:
        (call, image, record, fastest), (call_s, image_s, record_s, fastest_s) = large[kind], small[kind]
        if kind.startswith("JPEG"):
            print(f"| ({kind}: `load_image(path)`) | {call - call_s:.1f} | {fastest - fastest_s:.1f} | | |")
            continue
        print(
            f"| {kind} | {call - call_s:.1f} | {fastest - fastest_s:.1f} "
            f"| +{image - image_s:.1f} | +{record - record_s:.1f} |"
        )
    for file in folder.iterdir():
        file.unlink()
    folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
