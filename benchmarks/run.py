"""Benchmark textinpaint: the whole chain, each stage, and a Grounded-SAM-demo-style baseline.

    python benchmarks/run.py                  # CUDA: full-size random-weight models; CPU: tiny models (smoke test)
    python benchmarks/run.py --sdxl           # SDXL inpainting at 1024x1024 (CUDA)
    python benchmarks/run.py --compile        # torch.compile: the cold row holds the compile cost
    python benchmarks/run.py --device cpu --overhead-megapixels 12

Prints Markdown tables: median and spread (25th-75th percentile) over warm runs, the first
(cold) call apart, and peak GPU memory. No weights are downloaded: on CUDA the networks are
built from the published configurations with random weights (see architectures.py), which
costs exactly what the trained models cost.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import PIL.Image
import torch

sys.path.insert(0, str(Path(__file__).parent))

import architectures

from textinpaint import Pipeline
from textinpaint.backends.diffusion import Speed, optimize
from textinpaint.devices import resolve_device, resolve_dtype
from textinpaint.images import load_image
from textinpaint.inpainting import FillRequest, generation_size, paint, resize, shrink_any
from textinpaint.masks import auto_dilation, auto_feather, union


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class ModuleTimer:
    """Wall time spent inside chosen modules' forward passes (synchronised on CUDA)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.spent, self._starts = device, defaultdict(float), {}

    def attach(self, name: str, module: torch.nn.Module | None) -> None:
        if module is None:
            return

        def before(*_):
            synchronize(self.device)
            self._starts[name] = time.perf_counter()

        def after(*_):
            synchronize(self.device)
            self.spent[name] += time.perf_counter() - self._starts.pop(name)

        module.register_forward_pre_hook(before)
        module.register_forward_hook(after)

    def reset(self) -> None:
        self.spent.clear()


class TopDetections:
    """The real detector, keeping its best ``k`` boxes: random weights would otherwise pass hundreds."""

    def __init__(self, detector, k: int = 3) -> None:
        self.detector, self.k, self.model = detector, k, detector.model

    def detect(self, picture, phrases, **options):
        return self.detect_many([picture], phrases, **options)[0]

    def detect_many(self, pictures, phrases, **options):
        return [found[: self.k] for found in self.detector.detect_many(pictures, phrases, **options)]


def scene(width: int, height: int) -> np.ndarray:
    """A smooth synthetic photo (compresses like a real one) with a red 'car'."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = np.stack([150 + 60 * yy / height, 170 + 40 * xx / width, 210 - 30 * yy / height], axis=2)
    image = sky.astype(np.uint8)
    image[int(height * 0.5) : int(height * 0.75), int(width * 0.3) : int(width * 0.65)] = (200, 30, 40)
    return image


def stats(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=4, method="inclusive") if len(ordered) > 1 else [ordered[0]] * 3
    return statistics.median(ordered), q[0], q[2]


def row(name: str, cold: float | None, warm: list[float], note: str = "") -> str:
    median, low, high = stats(warm)
    cold_text = f"{cold * 1e3:.1f}" if cold is not None else "-"
    return f"| {name} | {median * 1e3:.1f} | {low * 1e3:.1f}-{high * 1e3:.1f} | {cold_text} | {note} |"


def build(args: argparse.Namespace, device: torch.device, dtype: torch.dtype) -> tuple[Pipeline, Pipeline]:
    """The pipeline under test and the baseline's (fp32 detector and SAM, as the demo runs them)."""
    if device.type == "cuda":
        detector = architectures.grounding_dino_tiny(device, dtype)
        segmenter = architectures.sam(args.sam, device, dtype)
        inpainter = (architectures.sdxl_inpainting if args.sdxl else architectures.sd15_inpainting)(device, dtype)
        optimize(inpainter.pipe, Speed(compile=args.compile, channels_last=args.channels_last), device)
        fast = Pipeline(TopDetections(detector), segmenter, inpainter, device=device, dtype=dtype)
        slow = Pipeline(
            TopDetections(architectures.grounding_dino_tiny(device, torch.float32)),
            architectures.sam(args.sam, device, torch.float32),
            inpainter,
            device=device,
            dtype=torch.float32,
        )
        return fast, slow
    from textinpaint.testing import write_tiny_models

    folder = args.models or write_tiny_models(tempfile.mkdtemp(prefix="textinpaint-bench-"))
    loaded = Pipeline(models=folder, device=device, dtype=dtype)
    fast = Pipeline(TopDetections(loaded.detector), models=folder, device=device, dtype=dtype)
    return fast, fast


def baseline(pipe: Pipeline, image: np.ndarray, find: str, prompt: str) -> PIL.Image.Image:
    """How the Grounded-Segment-Anything inpainting demo does the job: detect and segment on the
    full frame, squash frame and mask to the model's square, run the pipeline with its default
    settings, and stretch the result back over the whole photo."""
    detections = pipe.detect(image, find, box_threshold=0.0, text_threshold=0.0)
    masks = pipe.segment(image, detections).mask
    region = masks[:1].any(axis=0).astype(np.uint8) * 255
    side = pipe.inpainter.native_size
    frame = PIL.Image.fromarray(image).resize((side, side))
    mask = PIL.Image.fromarray(region).resize((side, side))
    out = pipe.inpainter.pipe(prompt=prompt, image=frame, mask_image=mask).images[0]  # default: 50 steps
    return out.resize((image.shape[1], image.shape[0]))


def chain_benchmark(args: argparse.Namespace) -> list[str]:
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    fast, slow = build(args, device, dtype)
    timer = ModuleTimer(device)
    inpainter = fast.inpainter
    timer.attach("detector", fast.detector.model)
    timer.attach("sam image encoder", fast.segmenter.model.vision_encoder)
    timer.attach("sam mask decoder", fast.segmenter.model.mask_decoder)
    for name in ("text_encoder", "text_encoder_2"):
        timer.attach("text encoding", getattr(inpainter.pipe, name, None))
    timer.attach("unet", inpainter.pipe.unet)
    timer.attach("vae encode", inpainter.pipe.vae.encoder)
    timer.attach("vae decode", inpainter.pipe.vae.decoder)
    side = args.size or inpainter.native_size
    image = scene(side, side)
    steps = args.steps or (25 if device.type == "cuda" else 2)
    options = dict(steps=steps, seed=0, box_threshold=0.0, text_threshold=0.0, select="best")

    def run() -> float:
        timer.reset()
        synchronize(device)
        start = time.perf_counter()
        fast.replace(image, "the red car", "a blue pickup truck", **options)
        synchronize(device)
        return time.perf_counter() - start

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    cold = run()
    cold_parts = dict(timer.spent)
    warm, parts = [], defaultdict(list)
    for _ in range(args.repeats):
        warm.append(run())
        for name, seconds in timer.spent.items():
            parts[name].append(seconds)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None

    mask = np.zeros((side, side), bool)
    mask[side // 2 : 3 * side // 4, int(side * 0.3) : int(side * 0.65)] = True
    identity = type("Identity", (), {"native_size": inpainter.native_size, "__call__": lambda self, c, m, r: c})()
    dilation = auto_dilation(side, side)
    geometry = []
    for _ in range(args.repeats + 1):
        start = time.perf_counter()
        paint(image, mask, identity, FillRequest("x"), dilation=dilation, feathering=auto_feather(dilation))
        geometry.append(time.perf_counter() - start)

    base_warm = []
    base_cold = None
    for index in range(max(1, args.repeats // 2) + 1):
        synchronize(device)
        start = time.perf_counter()
        baseline(slow, image, "the red car", "a blue pickup truck")
        synchronize(device)
        (base_warm.append if index else lambda t: None)(time.perf_counter() - start)
        base_cold = base_cold if index else time.perf_counter() - start

    model = "SDXL inpainting" if args.sdxl else "SD 1.5 inpainting"
    machine = (
        torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    )
    weights = "full-size, random weights" if device.type == "cuda" else "tiny random models (smoke test)"
    lines = [
        f"### {model}, {side}x{side}, {steps} steps, SAM {args.sam}, GroundingDINO tiny; {machine}; {weights}; {dtype}",
        "",
        "| what | median ms | spread (p25-p75) | cold ms | note |",
        "|---|---|---|---|---|",
        row("replace() end to end", cold, warm, f"peak GPU memory {peak:.2f} GiB" if peak is not None else ""),
    ]
    for name in (
        "detector",
        "sam image encoder",
        "sam mask decoder",
        "text encoding",
        "unet",
        "vae encode",
        "vae decode",
    ):
        if name in parts:
            lines.append(row(name, cold_parts.get(name), parts[name], "UNet: all steps" if name == "unet" else ""))
    lines.append(row("crop, resize, blend, paste", geometry[0], geometry[1:], "library geometry (CPU)"))
    ratio = statistics.median(base_warm) / statistics.median(warm)
    lines.append(
        row(
            "baseline (Grounded-SAM demo style)",
            base_cold,
            base_warm,
            f"whole frame at {inpainter.native_size}px, fp32 detector+SAM, 50 steps; ours is {ratio:.2f}x faster"
            + ("" if device.type == "cuda" else " (smoke run: not a like-for-like comparison)"),
        )
    )
    return lines


class ModelSizeFiller:
    """Does what the diffusers inpainter does around its model passes, and nothing else: the crop
    and mask brought to the generation size (the same library functions), handed over as PIL,
    and the painted picture brought back to the crop's size. Times itself."""

    def __init__(self, native: int = 512) -> None:
        self.native_size, self.spent = native, 0.0

    def __call__(self, crop: np.ndarray, mask: np.ndarray, request: FillRequest) -> np.ndarray:
        start = time.perf_counter()
        height, width = mask.shape
        gen_width, gen_height = generation_size(width, height, self.native_size, 8)
        small = PIL.Image.fromarray(resize(crop, gen_width, gen_height))
        PIL.Image.fromarray(shrink_any(mask, gen_width, gen_height))
        back = resize(np.asarray(small), width, height)
        self.spent += time.perf_counter() - start
        return back


def decoders(path: Path, repeats: int) -> list[str]:
    """The JPEG decoders on PyPI compared on one file: time to an RGB array, and whether the
    pixels equal PIL's."""
    import cv2

    data = path.read_bytes()

    def with_pil() -> np.ndarray:
        with PIL.Image.open(path) as image:
            image.load()
            return np.asarray(image)

    candidates = {"PIL (Pillow), then numpy": with_pil}
    candidates["OpenCV imdecode (IMREAD_COLOR_RGB)"] = lambda: cv2.imdecode(
        np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION
    )
    try:
        import simplejpeg

        candidates["simplejpeg (libjpeg-turbo), used"] = lambda: simplejpeg.decode_jpeg(data, colorspace="RGB")
        candidates["simplejpeg fastdct + fastupsample"] = lambda: simplejpeg.decode_jpeg(
            data, colorspace="RGB", fastdct=True, fastupsample=True
        )
    except ImportError:
        pass
    reference = with_pil()
    lines = [
        "",
        "| JPEG decoder | median ms | spread (p25-p75) | cold ms | same pixels as PIL |",
        "|---|---|---|---|---|",
    ]
    for name, decode in candidates.items():
        samples = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            pixels = decode()
            samples.append(time.perf_counter() - start)
        lines.append(row(name, samples[0], samples[1:], "yes" if np.array_equal(pixels, reference) else "no"))
    return lines


def overhead_benchmark(megapixels: float, repeats: int) -> list[str]:
    """Everything the library does besides the models, on a large JPEG photo, on this CPU: the same
    functions a replace() runs, with a filler that does only the inpainter's own pre/post work."""
    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(width * 3 / 4))
    photo = scene(width, height)
    scratch = tempfile.TemporaryDirectory(prefix="textinpaint-bench-")  # removed when this returns
    path = Path(scratch.name) / "photo.jpg"
    PIL.Image.fromarray(photo).save(path, quality=90)
    try:
        import simplejpeg

        def decode_only() -> None:
            simplejpeg.decode_jpeg(path.read_bytes(), colorspace="RGB")
    except ImportError:

        def decode_only() -> None:
            with PIL.Image.open(path) as image:
                image.load()

    masks = np.zeros((3, height, width), bool)
    masks[0, height // 2 : 3 * height // 4, int(width * 0.3) : int(width * 0.65)] = True
    masks[1, height // 3 : height // 2, width // 10 : width // 5] = True
    dilation = auto_dilation(width, height)
    timings = defaultdict(list)
    for _ in range(repeats + 1):
        filler = ModelSizeFiller()
        start = time.perf_counter()
        decode_only()
        decoded = time.perf_counter() - start
        marks = [time.perf_counter()]
        picture = load_image(path)
        marks.append(time.perf_counter())
        region = union(masks, [0, 1, 2])
        marks.append(time.perf_counter())
        painted = paint(
            picture.rgb, region, filler, FillRequest("x"), dilation=dilation, feathering=auto_feather(dilation)
        )
        marks.append(time.perf_counter())
        picture.to_pil(painted.base, patch=painted.patch, box=painted.box)
        marks.append(time.perf_counter())
        load, combined, geometry, output = (b - a for a, b in zip(marks, marks[1:]))
        timings["JPEG decode (libjpeg-turbo, to an RGB array)"].append(decoded)
        timings["normalise (read the header, EXIF, ICC; upright)"].append(max(0.0, load - decoded))
        timings["mask union"].append(combined)
        timings["dilate, feather, crop, blend"].append(geometry - filler.spent)
        timings["crop and mask to the model's size and back"].append(filler.spent)
        timings["output image (PIL, patch pasted)"].append(output)
    lines = [
        f"### library overhead on a {megapixels:.1f}-megapixel JPEG photo ({width}x{height}), "
        f"CPU with {torch.get_num_threads()} threads",
        "",
        "| what | median ms | spread (p25-p75) | cold ms | note |",
        "|---|---|---|---|---|",
    ]
    for name, samples in timings.items():
        lines.append(row(name, samples[0], samples[1:]))
    names = [n for n in timings if not n.startswith("JPEG decode")]
    library = [sum(timings[n][i] for n in names) for i in range(repeats + 1)]
    lines.append(row("all but file decoding", library[0], library[1:], "target: at most 60 ms"))
    return lines + decoders(path, repeats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", help="cuda or cpu (default: cuda when present)")
    parser.add_argument("--dtype", help="float16 (CUDA default), bfloat16, float32")
    parser.add_argument("--repeats", type=int, default=5, help="warm runs per measurement")
    parser.add_argument("--size", type=int, help="image side (default: the model's native size)")
    parser.add_argument("--steps", type=int, help="denoising steps (default 25 on CUDA, 2 on CPU)")
    parser.add_argument("--sam", choices=["base", "huge"], default="huge")
    parser.add_argument("--sdxl", action="store_true", help="SDXL inpainting instead of SD 1.5 (CUDA)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the UNet and VAE decoder (CUDA run)")
    parser.add_argument("--channels-last", action="store_true", help="channels-last UNet and VAE (CUDA run)")
    parser.add_argument("--models", type=Path, help="tiny models folder for the CPU run (default: written afresh)")
    parser.add_argument("--overhead-megapixels", type=float, default=12.0)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    print("\n".join(chain_benchmark(args)))
    print()
    print("\n".join(overhead_benchmark(args.overhead_megapixels, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
