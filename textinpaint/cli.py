"""The ``textinpaint`` command: the library's workflows from a shell.

    textinpaint replace street.jpg --find "the red car" --with "a vintage blue pickup truck" -o out.png
    textinpaint remove beach.jpg --find "the person" -o empty.png
    textinpaint background car.jpg --keep "the car" --with "a mountain road at sunset" -o new.png
    textinpaint generate "a woman in a park" -o park.png
    textinpaint detect street.jpg --find "car. person"

Exit status: 0 done, 1 an error (the message says what to change), 3 nothing matched the query.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from typing import TYPE_CHECKING

import PIL.Image

from .errors import TextInpaintError

if TYPE_CHECKING:
    from .pipeline import Pipeline

NOTHING_FOUND = 3


def _select(text: str) -> str | int | list[int]:
    if text in ("all", "best", "largest"):
        return text
    try:
        indices = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected all, best, largest, N or N,M,...; got {text!r}") from None
    return indices[0] if len(indices) == 1 else indices


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 768x512; got {text!r}") from None
    return width, height


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textinpaint", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    commands = parser.add_subparsers(dest="command", required=True)

    models = argparse.ArgumentParser(add_help=False)
    group = models.add_argument_group("models")
    group.add_argument("--models", type=Path, help="folder with one subfolder per stage (offline use)")
    group.add_argument("--detector", help="GroundingDINO: tiny, base, a Hub id or a folder (default tiny)")
    group.add_argument("--segmenter", help="SAM: base, large, huge, a Hub id, a folder or a .pth (default huge)")
    group.add_argument("--inpainter", help="sd15, sd2, sdxl, a Hub id or a folder (default sd15)")
    group.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    group.add_argument("--dtype", help="float16, bfloat16 or float32 (default float16 on CUDA)")
    group.add_argument("--compile", action="store_true", help="torch.compile the UNet and VAE decoder (slow first call)")
    group.add_argument("--offload", action="store_true", help="keep models on the CPU until they run (CUDA; small cards)")
    group.add_argument("--vae-tiling", action="store_true", help="encode/decode large crops in tiles (less memory)")

    finding = argparse.ArgumentParser(add_help=False)
    group = finding.add_argument_group("detection")
    group.add_argument("--box-threshold", type=float, default=0.35)
    group.add_argument("--text-threshold", type=float, default=0.25)
    group.add_argument("--strict", action="store_true", help="treat nothing found as an error")

    choosing = argparse.ArgumentParser(add_help=False)
    group = choosing.add_argument_group("which matches")
    group.add_argument("--find", required=True, help='what to find: "the red car", or several: "dog. cat"')
    group.add_argument("--select", type=_select, default="all", help="all, best, largest, N or N,M (default all)")
    group.add_argument("--mask-mode", choices=["mask", "box"], default="mask")
    group.add_argument("--dilate", type=int, help="grow the mask by N px (default: automatic)")
    group.add_argument("--feather", type=int, help="soft blend band of N px (default: automatic)")

    painting = argparse.ArgumentParser(add_help=False)
    group = painting.add_argument_group("painting")
    group.add_argument("--negative-prompt")
    group.add_argument("--steps", type=int)
    group.add_argument("--guidance", type=float)
    group.add_argument("--seed", type=int, help="random seed (default: drawn and printed)")
    group.add_argument("--scheduler", help="ddim, pndm, euler, 'euler a', 'dpm++ 2m', unipc, lms")
    group.add_argument("--upscale", type=int, choices=[2, 4], help="sharpen the painted region with the x4 upscaler")
    group.add_argument("--upscaler", help="the upscaler: x4, a Hub id or a folder")

    output = argparse.ArgumentParser(add_help=False)
    group = output.add_argument_group("inputs and outputs")
    group.add_argument("inputs", nargs="+", help="image files, folders (searched recursively) or globs")
    group.add_argument("-o", "--output", type=Path, required=True,
                       help="the output file (one input) or folder (relative paths are kept)")
    group.add_argument("--format", choices=["png", "jpg", "webp"], default="png",
                       help="file type in an output folder (default png: untouched pixels stay exact)")
    group.add_argument("--overwrite", action="store_true", help="redo inputs whose output and sidecar exist")
    group.add_argument("--quiet", action="store_true", help="no progress, only the summary")
    group.add_argument("--save-mask", action="store_true", help="also write NAME.mask.png: the changed region")
    group.add_argument("--save-overlay", action="store_true", help="also write NAME.overlay.png: the detections")

    edit_parents = [models, finding, painting, output]
    replace = commands.add_parser("replace", parents=[*edit_parents, choosing], help="find an object and repaint it")
    replace.add_argument("--with", dest="with_", required=True, help='what to paint instead ("" removes)')
    replace.add_argument("--strength", type=float)
    replace.add_argument("--batch-size", type=int, default=1,
                         help="edit N images per model call (same-size images share the detector and UNet passes)")
    replace.add_argument("--refine", action="store_true", help="a second, low-strength pass at higher resolution")

    remove = commands.add_parser("remove", parents=[models, finding, output, choosing], help="erase an object (LaMa)")
    remove.add_argument("--remover", help="LaMa: big-lama, a .pt file, a folder or a Hub id")

    background = commands.add_parser("background", parents=edit_parents, help="keep the subject, repaint the rest")
    background.add_argument("--keep", help="what to keep, as for --find")
    background.add_argument("--keep-mask", type=Path, help="the subject as a mask image, instead of --keep")
    background.add_argument("--with", dest="with_", required=True, help="the new background")
    background.add_argument("--no-depth", dest="depth", action="store_false", help="no depth ControlNet")
    background.add_argument("--controlnet-scale", type=float, default=0.8)
    background.add_argument("--seam", type=int, help="blend band outside the subject, px (default: automatic)")
    background.add_argument("--refine", action="store_true")
    background.add_argument("--controlnet", help="the depth ControlNet: sd15-depth, sdxl-depth, a Hub id or a folder")
    background.add_argument("--depth-model", help="depth-anything-small, dpt-large, ..., a Hub id or a folder")

    generate = commands.add_parser("generate", parents=[models, painting], help="make an image from text")
    generate.add_argument("prompt")
    generate.add_argument("-o", "--output", type=Path, required=True)
    generate.add_argument("--size", type=_size, help="WIDTHxHEIGHT (default: the model's native square)")

    segment = commands.add_parser("segment", parents=[models, finding, output, choosing],
                                  help="find objects; write the selected masks as one PNG")
    segment.set_defaults(format="png")

    download = commands.add_parser("download", parents=[models], help="fetch models into the cache or --models DIR")
    download.add_argument("--stages", default="detector,segmenter,inpainter",
                          help="comma-separated stages (default detector,segmenter,inpainter; 'all' for every one)")
    for stage in ("controlnet", "depth-model", "remover", "upscaler"):
        download.add_argument(f"--{stage}")

    info = commands.add_parser("info", parents=[models], help="versions, device, and which weights are present")
    info.add_argument("--json", action="store_true")

    app = commands.add_parser("app", parents=[models], help="start the web app (needs the app extra)")
    app.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    app.add_argument("--port", type=int, default=7860)
    app.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    for stage in ("controlnet", "depth-model", "remover", "upscaler"):
        app.add_argument(f"--{stage}")

    detect = commands.add_parser("detect", parents=[models, finding], help="find objects; print them as JSON")
    detect.add_argument("image", type=Path)
    detect.add_argument("--find", required=True)
    detect.add_argument("--save-overlay", type=Path, help="also write the detections drawn on the image")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return _run(args)
    except TextInpaintError as error:
        print(f"textinpaint: error: {error}", file=sys.stderr)
        return 1


def _stage_names(args: argparse.Namespace) -> dict[str, str | None]:
    """The model named for each stage on the command line (None: the default or ``--models``)."""
    return {"detector": args.detector, "segmenter": args.segmenter, "inpainter": args.inpainter,
            "controlnet": getattr(args, "controlnet", None), "depth": getattr(args, "depth_model", None),
            "remover": getattr(args, "remover", None), "upscaler": getattr(args, "upscaler", None)}


def _options(args: argparse.Namespace, *names: str) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _run(args: argparse.Namespace) -> int:
    from .pipeline import Pipeline
    from .results import annotate

    from .diffusion import Speed

    speed = Speed(compile=args.compile, offload=args.offload, vae_tiling=args.vae_tiling)
    pipe = Pipeline(**_stage_names(args), models=args.models, device=args.device, dtype=args.dtype, speed=speed)
    if args.command == "info":
        return _info(pipe, args.json)
    if args.command == "app":
        from .app import serve

        print(f"textinpaint app on http://{args.host}:{args.port} (Ctrl+C to stop)")
        serve(pipe, host=args.host, port=args.port, share=args.share)
        return 0
    if args.command == "download":
        return _download(pipe, args)
    painting = ("negative_prompt", "steps", "guidance", "seed", "scheduler", "upscale")
    if args.command == "generate":
        image = pipe.generate(args.prompt, size=args.size, **_options(args, *painting))
        _write(image, args.output)
        print(f"wrote {args.output} (seed {image.info['seed']})")
        return 0
    thresholds = _options(args, "box_threshold", "text_threshold", "strict")
    if args.command == "detect":
        detections = pipe.detect(args.image, args.find, box_threshold=args.box_threshold,
                                 text_threshold=args.text_threshold)
        print(json.dumps(_rows(detections), indent=2))
        if args.save_overlay:
            annotate(args.image, detections).save(args.save_overlay)
        return 0 if len(detections) else NOTHING_FOUND
    return _batch(pipe, args, thresholds, painting)


def _batch(pipe: Pipeline, args: argparse.Namespace, thresholds: dict, painting: tuple[str, ...]) -> int:
    """Run an edit command over every input; see :mod:`textinpaint.batch`."""
    import inspect

    from . import __version__, batch
    from .checks import select_indices
    from .results import Edit

    choosing = _options(args, "select", "mask_mode", "dilate", "feather")
    if args.command == "replace":
        given = {"find": args.find, "with_": args.with_, "refine": args.refine, **choosing, **thresholds,
                 **_options(args, *painting, "strength")}
    elif args.command in ("remove", "segment"):
        given = {"find": args.find, **choosing, **thresholds}
    else:
        given = {"keep": args.keep, "with_": args.with_, "mask": str(args.keep_mask) if args.keep_mask else None,
                 "depth": args.depth, "controlnet_scale": args.controlnet_scale, "seam": args.seam,
                 "refine": args.refine, **thresholds, **_options(args, *painting)}
    workflow = {"background": "replace_background", "segment": "replace"}.get(args.command, args.command)
    method = getattr(pipe, workflow)
    defaults = {n: p.default for n, p in inspect.signature(method).parameters.items() if p.default is not p.empty}
    parameters = {**defaults, **given}
    used_stages = {"replace": ("detector", "segmenter", "inpainter"), "remove": ("detector", "segmenter", "remover"),
                   "segment": ("detector", "segmenter"),
                   "background": ("detector", "segmenter", "inpainter", "controlnet", "depth")}[args.command]

    def work(job: batch.Job) -> dict | None:
        if args.command == "segment":
            detections = pipe.detect(job.source, args.find, box_threshold=args.box_threshold,
                                     text_threshold=args.text_threshold)
            if len(detections) == 0:
                return None
            segmented = pipe.segment(job.source, detections)
            chosen = select_indices(segmented, args.select)
            _write(PIL.Image.fromarray(segmented.mask[chosen].any(axis=0)), job.output)
            return {"workflow": "segment", "input": str(job.source), "output": str(job.output),
                    "parameters": given, "detections": _rows(segmented), "selected": chosen}
        return emit(job, method(str(job.source), **parameters))

    def work_many(jobs: list[batch.Job]) -> list[dict | None]:
        edits = pipe.replace([str(job.source) for job in jobs], **parameters)
        return [emit(job, edit) for job, edit in zip(jobs, edits)]

    def emit(job: batch.Job, edit: Edit) -> dict | None:
        """Write one edit's outputs; return its sidecar (None when nothing matched)."""
        if not edit.found:
            best = edit.detections.metadata.get("best_score")
            print(f"{job.source}: nothing matching the query was found (best score {best}); no output written",
                  file=sys.stderr)
            return None
        _write(edit.image if args.format == "png" else edit.image.convert("RGB"), job.output)
        stem = job.output.with_suffix("")
        if args.save_mask:
            PIL.Image.fromarray(edit.mask).save(f"{stem}.mask.png")
        if args.save_overlay:
            edit.annotate().save(f"{stem}.overlay.png")
        if not args.quiet:
            used = ", ".join(f"{edit.detections.data['phrase'][i]} ({edit.detections.confidence[i]:.2f})"
                             for i in edit.selected)
            print(f"wrote {job.output} (seed {edit.seed}; used {len(edit.selected)} of {len(edit.detections)} "
                  f"matches: {used})")
        return {
            "workflow": workflow, "textinpaint": __version__, "input": str(job.source), "output": str(job.output),
            "parameters": {**parameters, "seed": edit.seed},
            "models": pipe.model_sources(*used_stages),
            "device": str(pipe.device), "dtype": str(pipe.dtype).replace("torch.", ""),
            "found": edit.found, "detections": _rows(edit.detections), "selected": edit.selected,
            "timings": {k: round(v, 4) for k, v in edit.timings.items()},
        }

    jobs = batch.plan(args.inputs, args.output, suffix=f".{args.format}")
    many = {"work_many": work_many, "batch_size": args.batch_size} if args.command == "replace" else {}
    if args.command == "replace" and args.batch_size < 1:
        print(f"textinpaint: error: --batch-size must be 1 or more; got {args.batch_size}", file=sys.stderr)
        return 1
    summary = batch.run(jobs, work, overwrite=args.overwrite, quiet=args.quiet, **many)
    if len(jobs) != 1 or summary.exit_code == 1 or not args.quiet and summary.count("skipped"):
        print(summary.text(), file=sys.stderr)
    return summary.exit_code


def _rows(detections: object) -> list[dict]:
    return [
        {"phrase": str(p), "confidence": round(float(c), 4), "xyxy": [round(float(v), 2) for v in box]}
        for p, c, box in zip(detections.data["phrase"], detections.confidence, detections.xyxy)  # type: ignore[attr-defined]
    ]


def _info(pipe: Pipeline, as_json: bool) -> int:
    """Print versions, the device, and for every stage its source and whether it is on this machine."""
    from importlib.metadata import PackageNotFoundError, version

    from .models import STAGES, present

    versions = {}
    for package in ("textinpaint", "torch", "transformers", "diffusers", "supervision", "opencv-python-headless"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    gpu = None
    if pipe.device.type == "cuda":
        import torch

        gpu = torch.cuda.get_device_name(pipe.device)
    stages = {}
    for stage in STAGES:
        try:
            source = pipe.source(stage)
        except TextInpaintError as error:
            stages[stage] = {"source": None, "present": False, "problem": str(error)}
            continue
        stages[stage] = {"source": source, "present": present(stage, source)}
    report = {"versions": versions, "device": str(pipe.device), "gpu": gpu, "dtype": str(pipe.dtype), "models": stages}
    if as_json:
        print(json.dumps(report, indent=2))
        return 0
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"device: {pipe.device}{f' ({gpu})' if gpu else ''}, dtype {report['dtype'].replace('torch.', '')}")
    for stage, row in stages.items():
        mark = "present" if row["present"] else "missing"
        print(f"{stage:>10}: {mark:8} {row['source'] or row.get('problem')}")
    return 0


def _download(pipe: Pipeline, args: argparse.Namespace) -> int:
    """Fetch the named stages' models into the Hugging Face cache, or into ``--models DIR/<stage>``."""
    from .models import STAGES, download, resolve_source

    wanted = list(STAGES) if args.stages == "all" else [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in STAGES]
    if unknown:
        print(f"textinpaint: error: --stages must name stages among {list(STAGES)}; got {unknown}", file=sys.stderr)
        return 1
    names = _stage_names(args)
    for stage in wanted:
        repo = resolve_source(stage, names[stage], None)  # the Hub id, even when --models is the target
        target = None if args.models is None else Path(args.models) / stage
        where = download(stage, repo, target)
        print(f"{stage}: {repo} -> {where}")
    return 0


def _write(image: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
