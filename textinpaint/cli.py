"""The ``textinpaint`` command: the library's workflows from a shell.

    textinpaint replace street.jpg --find "the red car" --with "a vintage blue pickup truck" -o out.png
    textinpaint remove beach.jpg --find "the person" -o empty.png
    textinpaint background car.jpg --keep "the car" --with "a mountain road at sunset" -o new.png
    textinpaint generate "a woman in a park" -o park.png
    textinpaint detect street.jpg --find "car. person"
    textinpaint replay edited/street.json -o again.png

Exit status: 0 done, 1 an error (the message says what to change), 2 a usage error, 3 nothing
matched the query, 130 interrupted (Ctrl+C).

Model flags, their short names and defaults come from the stage table
(:data:`textinpaint.stages.STAGES`); option defaults from the option objects
(:mod:`textinpaint.options`); scheduler names from :data:`textinpaint.schedulers.SCHEDULERS`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import TextInpaintError
from .options import MAX_TRIES, BackgroundOptions, CheckOptions, FindOptions, PaintOptions
from .schedulers import SCHEDULERS
from .stages import STAGES

if TYPE_CHECKING:
    from . import batch
    from .pipeline import Pipeline
    from .results import Edit

NOTHING_FOUND = 3
INTERRUPTED = 130

# The stages each subcommand loads: it offers a model flag for each of these only.
COMMAND_STAGES = {
    "replace": ("detector", "segmenter", "inpainter", "upscaler", "fast"),
    "remove": ("detector", "segmenter", "remover"),
    "background": ("detector", "segmenter", "inpainter", "controlnet", "depth", "upscaler", "fast"),
    "generate": ("inpainter", "upscaler", "fast"),
    "segment": ("detector", "segmenter"),
    "detect": ("detector",),
    "replay": (),
    "report": (),
    "models": (),
    "download": tuple(STAGES),
    "info": tuple(STAGES),
    "app": tuple(STAGES),
}
# The workflow behind each editing subcommand, as its sidecar names it.
WORKFLOW = {"replace": "replace", "remove": "remove", "background": "replace_background", "segment": "segment"}


def _select(text: str) -> str | int | list[int]:
    if text in ("all", "best", "largest"):
        return text
    try:
        indices = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected all, best, largest, N or N,M,...; got {text!r}") from None
    return indices[0] if len(indices) == 1 else indices


def _xy(text: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y in pixels, e.g. 410,220; got {text!r}") from None
    return x, y


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 768x512; got {text!r}") from None
    return width, height


def _models_group(parser: argparse.ArgumentParser, stages: tuple[str, ...], *, runs: bool = True) -> None:
    """The model flags, one per stage the subcommand uses, written from the stage table; with
    ``runs`` also where they run (``--device``, ``--dtype``)."""
    group = parser.add_argument_group("models")
    if stages:
        group.add_argument("--models", type=Path, help="folder with one subfolder per stage (offline use)")
    for name in stages:
        stage = STAGES[name]
        names = ", ".join(
            f"{model.name} (non-commercial weights)" if model.non_commercial else model.name for model in stage.models
        )
        group.add_argument(
            stage.flag,
            dest=f"model_{name}",
            metavar="MODEL",
            help=f"the {name} model, which {stage.summary}: {names}, a Hub id or a folder (default {stage.default})",
        )
    if not runs:
        return
    group.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    if stages:
        group.add_argument("--dtype", help="float16, bfloat16 or float32 (default float16 on CUDA)")
    if "inpainter" in stages:
        group.add_argument(
            "--compile", action="store_true", help="torch.compile the UNet, the VAE decoder and SAM's image encoder"
        )
        group.add_argument("--offload", action="store_true", help="keep models on the CPU until they run (CUDA)")
        group.add_argument("--vae-tiling", action="store_true", help="encode/decode large crops in tiles")


def _finding_group(parser: argparse.ArgumentParser, *, choose: bool, find: bool = True, points: bool = True) -> None:
    found = FindOptions()
    group = parser.add_argument_group("finding")
    if find and not points:
        group.add_argument("--find", required=True, help='what to find: "the red car", or several: "dog. cat"')
    elif find:
        group.add_argument("--find", help='what to find: "the red car", or several: "dog. cat" (or give --point)')
    if points:
        group.add_argument(
            "--point",
            type=_xy,
            action="append",
            metavar="X,Y",
            help="a click on the object, in pixels of the upright image (repeat for more); without --find, "
            "SAM cuts out the object the points mark; with it, they refine the one selected match",
        )
        group.add_argument(
            "--negative-point", type=_xy, action="append", metavar="X,Y", help="a click off the object (repeatable)"
        )
    group.add_argument("--box-threshold", type=float, default=found.box_threshold, help="(default %(default)s)")
    group.add_argument("--text-threshold", type=float, default=found.text_threshold, help="(default %(default)s)")
    group.add_argument(
        "--nms-iou",
        type=float,
        default=found.nms_iou,
        help="boxes overlapping more are one object (default %(default)s)",
    )
    group.add_argument("--strict", action="store_true", help="treat nothing found as an error")
    if choose:
        group.add_argument(
            "--select", type=_select, default=found.select, help="all, best, largest, N or N,M (default %(default)s)"
        )


def _painting_group(parser: argparse.ArgumentParser, *, strength: bool = True, dilate: bool = True) -> None:
    paint = PaintOptions()
    group = parser.add_argument_group("painting")
    group.add_argument("--negative-prompt", default=paint.negative_prompt, help="(default %(default)r)")
    group.add_argument("--steps", type=int, default=paint.steps, help="(default %(default)s)")
    group.add_argument("--guidance", type=float, default=paint.guidance, help="(default %(default)s)")
    if strength:
        group.add_argument("--strength", type=float, default=paint.strength, help="(default %(default)s)")
    group.add_argument("--seed", type=int, help="random seed (default: drawn, and written to the sidecar)")
    group.add_argument("--scheduler", help=f"{', '.join(SCHEDULERS)} (default: the model's own)")
    group.add_argument("--upscale", type=int, choices=[2, 4], help="sharpen the painted region with the x4 upscaler")
    group.add_argument(
        "--fast",
        action="store_true",
        help="paint in 4 steps with a few-step LoRA (LCM-LoRA; --steps at most 8, --guidance 1.0 unless given)",
    )
    if dilate:
        group.add_argument("--dilate", type=int, help="grow the mask by N px (default: automatic)")
        group.add_argument("--feather", type=int, help="soft blend band of N px (default: automatic)")


def _checking_group(parser: argparse.ArgumentParser, *, tries: bool = True) -> None:
    checking = CheckOptions()
    group = parser.add_argument_group("checking the edit (the detector looks again)")
    group.add_argument("--verify", action="store_true", help="score each edit in [0, 1]; the score goes to the sidecar")
    if tries:
        group.add_argument(
            "--tries",
            type=int,
            default=checking.tries,
            help=f"paint N candidates (seeds SEED, SEED+1, ...) in one batch and keep the best (at most {MAX_TRIES})",
        )
    group.add_argument(
        "--min-score",
        type=float,
        help="flag edits scoring below this (still written; listed in the summary; exit status 3)",
    )


def _engine_group(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("engine (distributed runs need the ray extra)")
    group.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="run here, or on Ray Data (a local Ray, or the cluster at --address); inputs may then also "
        "be URIs (s3://, gs://, file://) and Parquet/CSV manifests",
    )
    group.add_argument("--address", help="the Ray cluster to join (auto, ray://HOST:10001); default: a local Ray")
    group.add_argument("--num-gpus", type=float, default=0.0, help="GPUs per Ray actor (0.5: two actors a GPU)")
    group.add_argument("--concurrency", type=int, default=1, help="Ray actors editing at once")
    group.add_argument(
        "--cpus-per-actor", type=float, default=1.0, help="CPUs (and torch threads) per Ray actor (default 1)"
    )


def _outputs_group(parser: argparse.ArgumentParser, *, image_options: bool = True) -> None:
    group = parser.add_argument_group("inputs and outputs")
    group.add_argument("inputs", nargs="+", help="image files, folders (searched recursively) or globs")
    group.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="the output file (one input) or folder (relative paths are kept)",
    )
    if image_options:
        group.add_argument(
            "--format",
            choices=["png", "jpg", "webp"],
            default="png",
            help="file type in an output folder (default png: untouched pixels stay exact)",
        )
    group.add_argument("--overwrite", action="store_true", help="redo inputs whose output and sidecar exist")
    group.add_argument("--quiet", action="store_true", help="no progress, only the summary")
    if image_options:
        group.add_argument("--save-mask", action="store_true", help="also write NAME.mask.png: the changed region")
        group.add_argument("--save-overlay", action="store_true", help="also write NAME.overlay.png: the detections")


def _parser() -> argparse.ArgumentParser:
    description = "textinpaint: edit photos from text (find, cut out, repaint at full resolution)."
    parser = argparse.ArgumentParser(
        prog="textinpaint",
        description=description,
        epilog=(
            "exit status: 0 done, 1 an error, 2 a usage error, 3 nothing matched the query or an edit "
            "scored below --min-score, 130 interrupted"
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    parser.add_argument("--version", action="version", version=f"textinpaint {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=help_text, description=help_text, formatter_class=argparse.ArgumentDefaultsHelpFormatter
        )
        _models_group(sub, COMMAND_STAGES[name], runs=name not in ("download", "report", "models"))
        return sub

    replace = command("replace", "find an object and repaint it")
    replace.add_argument("--with", dest="with_", required=True, help='what to paint instead ("" removes)')
    replace.add_argument("--mask-mode", choices=["mask", "box"], default=FindOptions().mask_mode)
    replace.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="edit N images per model call (same-size images share the detector and UNet passes)",
    )
    replace.add_argument("--refine", action="store_true", help="a second, low-strength pass at higher resolution")
    _finding_group(replace, choose=True)
    _painting_group(replace)
    _checking_group(replace)
    _outputs_group(replace)
    _engine_group(replace)

    remove = command("remove", "erase an object (LaMa)")
    remove.add_argument("--mask-mode", choices=["mask", "box"], default=FindOptions().mask_mode)
    remove.add_argument("--seed", type=int, help="only for a random remover of your own")
    remove.add_argument("--dilate", type=int, help="grow the mask by N px (default: automatic)")
    remove.add_argument("--feather", type=int, help="soft blend band of N px (default: automatic)")
    _finding_group(remove, choose=True)
    _checking_group(remove, tries=False)
    _outputs_group(remove)
    _engine_group(remove)

    scene = BackgroundOptions()
    background = command("background", "keep the subject, repaint the rest")
    background.add_argument("--keep", help="what to keep, as for --find")
    background.add_argument("--keep-mask", type=Path, help="the subject as a mask image, instead of --keep")
    background.add_argument("--with", dest="with_", required=True, help="the new background")
    background.add_argument("--no-depth", dest="depth", action="store_false", help="no depth ControlNet")
    background.add_argument("--controlnet-scale", type=float, default=scene.controlnet_scale)
    background.add_argument("--seam", type=int, help="blend band outside the subject, px (default: automatic)")
    background.add_argument("--refine", action="store_true")
    _finding_group(background, choose=False, find=False)
    _painting_group(background, dilate=False)
    _checking_group(background)
    _outputs_group(background)
    _engine_group(background)

    generate = command("generate", "make an image from text")
    generate.add_argument("prompt")
    generate.add_argument("-o", "--output", type=Path, required=True, help="the image file (a sidecar goes beside it)")
    generate.add_argument("--size", type=_size, help="WIDTHxHEIGHT (default: the model's native square)")
    _painting_group(generate, strength=False, dilate=False)

    segment = command("segment", "find objects; write the selected masks as one PNG")
    _finding_group(segment, choose=True)
    _outputs_group(segment, image_options=False)
    _engine_group(segment)
    segment.set_defaults(format="png", save_mask=False, save_overlay=False)

    detect = command("detect", "find objects; print them as JSON")
    detect.add_argument("image", type=Path)
    _finding_group(detect, choose=False, points=False)
    detect.add_argument("-o", "--output", type=Path, help="also write the sidecar (JSON) to this file")
    detect.add_argument("--save-overlay", type=Path, help="also write the detections drawn on the image")

    replay = command("replay", "make edits again from their sidecars (JSON files or PNGs textinpaint wrote)")
    replay.add_argument("sidecars", nargs="+", type=Path)
    replay.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="the output file (one sidecar) or folder (one file per sidecar, by its name)",
    )
    replay.add_argument("--image", type=Path, help="the input, when the sidecar's path is not there")

    download = command("download", "fetch models into the cache or --models DIR")
    download.add_argument(
        "--stages", default="detector,segmenter,inpainter", help="comma-separated stages, or 'all' for every one"
    )

    models = command("models", "every model by its short name: stage, Hub id, size, licence, and whether it is here")
    models.add_argument("--json", action="store_true")

    report = command("report", "write an HTML contact sheet of an output folder: flagged and failed edits first")
    report.add_argument("folder", type=Path, help="an output folder (its sidecars and failures.json)")
    report.add_argument("-o", "--output", type=Path, help="the HTML file (default FOLDER/report.html)")

    info = command("info", "versions, device, and which weights are present")
    info.add_argument("--json", action="store_true")

    app = command("app", "start the web app (needs the app extra)")
    app.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1: this machine only)")
    app.add_argument("--port", type=int, default=7860)
    app.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for a usage error, 130 when interrupted)."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        _check_options(args)
    except TextInpaintError as error:
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices[args.command].error(str(error))  # exits 2, as argparse does for every usage error
    try:
        return _run(args)
    except TextInpaintError as error:
        print(f"textinpaint: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("textinpaint: interrupted", file=sys.stderr)
        return INTERRUPTED


def _check_options(args: argparse.Namespace) -> None:
    """Every option checked by the option objects before anything loads (a bad value is a usage error)."""
    from .errors import InvalidInputError

    finding = {
        k: v
        for k, v in _finding(args).items()
        if k in ("box_threshold", "text_threshold", "nms_iou", "select", "points", "labels", "mask_mode")
    }
    if "box_threshold" in finding:
        FindOptions(**finding)
    if hasattr(args, "find") and args.command != "detect" and args.find is None and "points" not in finding:
        raise InvalidInputError("give --find (what to look for), --point (a click on it), or both")
    painting = {k: v for k, v in _painting(args).items() if k in {f for f in PaintOptions.__dataclass_fields__}}
    if painting:
        PaintOptions(**painting)
    if args.command == "background":
        BackgroundOptions(args.depth, args.controlnet_scale, args.seam)
    if hasattr(args, "verify"):
        CheckOptions(**_checking(args))
    if getattr(args, "batch_size", 1) < 1:
        raise InvalidInputError(f"--batch-size must be 1 or more; got {args.batch_size}")
    if getattr(args, "concurrency", 1) < 1:
        raise InvalidInputError(f"--concurrency must be 1 or more; got {args.concurrency}")
    if not getattr(args, "num_gpus", 0.0) >= 0:
        raise InvalidInputError(f"--num-gpus must be 0 or more; got {args.num_gpus}")
    if not getattr(args, "cpus_per_actor", 1.0) > 0:
        raise InvalidInputError(f"--cpus-per-actor must be more than 0; got {args.cpus_per_actor}")
    models = getattr(args, "models", None)
    if models is not None and args.command != "download" and not Path(models).is_dir():
        raise InvalidInputError(f"--models must be a folder with one subfolder per stage; got {str(models)!r}")


def stage_names(args: argparse.Namespace) -> dict[str, Any]:
    """The model named for each stage on the command line (None: the default or ``--models``)."""
    return {stage: getattr(args, f"model_{stage}", None) for stage in STAGES}


def _pipeline(args: argparse.Namespace) -> Pipeline:
    from .options import Speed
    from .pipeline import Pipeline

    speed = Speed(
        compile=getattr(args, "compile", False),
        compile_segmenter=getattr(args, "compile", False) and "segmenter" in COMMAND_STAGES.get(args.command, ()),
        offload=getattr(args, "offload", False),
        vae_tiling=getattr(args, "vae_tiling", False),
    )
    return Pipeline(**stage_names(args), models=args.models, device=args.device, dtype=args.dtype, speed=speed)


def _run(args: argparse.Namespace) -> int:
    if args.command == "replay":
        return _replay(args)
    if args.command == "download":
        return _download(args)
    if args.command == "models":
        return _models(args.json)
    if args.command == "report":
        from .report import write_report

        print(f"wrote {write_report(args.folder, args.output)}")
        return 0
    pipe = _pipeline(args)
    if args.command == "info":
        return _info(pipe, args.json)
    if args.command == "app":
        from .app import serve

        print(f"textinpaint app on http://{args.host}:{args.port} (Ctrl+C to stop)")
        serve(pipe, host=args.host, port=args.port, share=args.share)
        return 0
    if args.command == "generate":
        return _generate(pipe, args)
    if args.command == "detect":
        return _detect(pipe, args)
    return _batch(pipe, args)


def _painting(args: argparse.Namespace) -> dict[str, Any]:
    names = (
        "negative_prompt",
        "steps",
        "guidance",
        "strength",
        "seed",
        "scheduler",
        "upscale",
        "refine",
        "fast",
        "dilate",
        "feather",
    )
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


def _checking(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in ("verify", "tries", "min_score") if hasattr(args, name)}


def _finding(args: argparse.Namespace) -> dict[str, Any]:
    names = ("box_threshold", "text_threshold", "nms_iou", "strict", "select", "mask_mode")
    found = {name: getattr(args, name) for name in names if hasattr(args, name)}
    positive, negative = getattr(args, "point", None) or [], getattr(args, "negative_point", None) or []
    if positive or negative:
        found["points"] = [list(p) for p in positive + negative]
        found["labels"] = [1] * len(positive) + [0] * len(negative)
    return found


def _generate(pipe: Pipeline, args: argparse.Namespace) -> int:
    from .outputs import save_image, write_json

    image = pipe.generate(args.prompt, size=args.size, **_painting(args))
    sidecar = {**image.info["edit"].to_dict(), "output": str(args.output)}
    save_image(image, args.output, sidecar)
    write_json(args.output.with_suffix(".json"), sidecar)
    print(f"wrote {args.output} (seed {image.info['seed']})")
    return 0


def _detect(pipe: Pipeline, args: argparse.Namespace) -> int:
    from .outputs import save_image, write_json
    from .results import detection_rows
    from .workflows.find import find_boxes

    finding = _finding(args)
    finding.pop("strict")
    edit = find_boxes(pipe, args.image, args.find, **finding)
    print(json.dumps(detection_rows(edit.detections), indent=2))
    if args.output:
        write_json(args.output, edit.to_dict())
    if args.save_overlay:
        save_image(edit.annotate(), args.save_overlay)
    if args.strict and not edit.found:
        from .errors import NothingFoundError

        raise NothingFoundError(args.find, edit.detections.metadata.get("best_score"), args.box_threshold)
    return 0 if edit.found else NOTHING_FOUND


def _quiet() -> None:
    """No loading bars from the model libraries (``--quiet``)."""
    import diffusers.utils.logging
    import transformers.utils.logging

    transformers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.disable_progress_bar()


def _batch(pipe: Pipeline, args: argparse.Namespace) -> int:
    """Run an edit command over every input; see :mod:`textinpaint.batch`."""
    from . import batch

    if args.quiet:
        _quiet()
    from .workflows.find import find_masks

    if args.command == "replace":
        given = {"find": args.find, "with_": args.with_, **_finding(args), **_painting(args), **_checking(args)}
    elif args.command == "remove":
        given = {"find": args.find, **_finding(args), **_painting(args), **_checking(args)}
    elif args.command == "segment":
        given = {"find": args.find, **_finding(args)}
    else:
        given = {
            "keep": args.keep,
            "with_": args.with_,
            "depth": args.depth,
            "controlnet_scale": args.controlnet_scale,
            "seam": args.seam,
            **_finding(args),
            **_painting(args),
            **_checking(args),
        }
        if args.keep_mask:
            given["mask"] = str(args.keep_mask)
    run: Any = {
        "replace": pipe.replace,
        "remove": pipe.remove,
        "background": pipe.replace_background,
        "segment": lambda image, **options: find_masks(pipe, image, **options),
    }[args.command]

    def work(job: batch.Job) -> dict | None:
        return _emit(args, job, run(str(job.source), **given))

    def work_many(jobs: list[batch.Job]) -> list[dict | None]:
        edits = pipe.replace([str(job.source) for job in jobs], **given)
        return [_emit(args, job, edit) for job, edit in zip(jobs, edits)]

    request = {
        "command": args.command,
        "given": given,
        "models": stage_names(args),
        "models_dir": args.models,
        "device": args.device,
        "dtype": args.dtype,
        "format": args.format,
    }
    key = batch.request_key(request)
    if args.engine == "ray":
        summary = _distributed(args, given, key)
        jobs_count = len(summary.outcomes)
    else:
        jobs = batch.plan(args.inputs, args.output, suffix=f".{args.format}")
        many = {"work_many": work_many, "batch_size": args.batch_size} if args.command == "replace" else {}
        summary = batch.run(jobs, work, overwrite=args.overwrite, quiet=args.quiet, key=key, **many)
        if not (len(jobs) == 1 and jobs[0].output == args.output):
            batch.write_failures(args.output, summary)
        jobs_count = len(jobs)
    if jobs_count != 1 or summary.exit_code in (1, INTERRUPTED) or not args.quiet and summary.count("skipped"):
        print(summary.text(), file=sys.stderr)
    return summary.exit_code


def _distributed(args: argparse.Namespace, given: dict[str, Any], key: str) -> Any:
    """The same run on Ray Data (:mod:`textinpaint.distributed`); resumes and is resumed by local runs."""
    from .distributed import run
    from .options import Speed

    speed = Speed(
        compile=getattr(args, "compile", False),
        compile_segmenter=getattr(args, "compile", False),
        offload=getattr(args, "offload", False),
        vae_tiling=getattr(args, "vae_tiling", False),
    )
    pipeline = {
        **stage_names(args),
        "models": None if args.models is None else str(args.models),
        "device": args.device,
        "dtype": args.dtype,
        "speed": speed,
    }
    return run(
        args.inputs,
        WORKFLOW[args.command],
        given,
        args.output,
        pipeline=pipeline,
        address=args.address,
        num_gpus=args.num_gpus,
        num_cpus=args.cpus_per_actor,
        concurrency=args.concurrency,
        batch_size=getattr(args, "batch_size", 1),
        format=args.format,
        overwrite=args.overwrite,
        save_mask=args.save_mask,
        save_overlay=args.save_overlay,
        key=key,
    )


def _emit(args: argparse.Namespace | SimpleNamespace, job: batch.Job, edit: Edit) -> dict | None:
    """Write one edit's outputs; return its sidecar (``found`` False, and no output, when nothing matched)."""
    from tqdm.auto import tqdm

    from .outputs import save_image

    if not edit.found:
        best = edit.detections.metadata.get("best_score")
        message = f"{job.source}: nothing matching the query was found (best score {best}); no output written"
        tqdm.write(message, file=sys.stderr)
        return {**edit.to_dict(), "output": None}
    sidecar = {**edit.to_dict(), "output": str(job.output)}
    save_image(edit.image, job.output, sidecar)
    stem = job.output.with_suffix("")
    if args.save_mask:
        import PIL.Image

        save_image(PIL.Image.fromarray(edit.mask), Path(f"{stem}.mask.png"))
    if args.save_overlay:
        save_image(edit.annotate(), Path(f"{stem}.overlay.png"))
    if not args.quiet and args.command != "segment":
        used = ", ".join(
            f"{edit.detections.data['phrase'][i]} ({edit.detections.confidence[i]:.2f})" for i in edit.selected
        )
        seed = "" if edit.seed is None else f"seed {edit.seed}; "
        tqdm.write(
            f"wrote {job.output} ({seed}used {len(edit.selected)} of {len(edit.detections)} matches: {used}"
            f"{_score_text(edit)})"
        )
    return sidecar


def _score_text(edit: Edit) -> str:
    """``; score 0.62 (present 0.62, gone 1.00), best of 4; FLAGGED`` for a checked edit, else ``""``."""
    if edit.verification is None:
        return ""
    check = edit.verification
    parts = ", ".join(f"{name} {'unchecked' if v is None else f'{v:.2f}'}" for name, v in check.parts.items())
    score = "unchecked" if check.score is None else f"{check.score:.2f}"
    tries = f", best of {len(edit.candidates) + 1}" if edit.candidates else ""
    return f"; score {score} ({parts}){tries}{'; FLAGGED' if edit.flagged else ''}"


def _replay(args: argparse.Namespace) -> int:
    """Make each sidecar's edit again and write it: the image, the mask (segment) or the sidecar (detect)."""
    import supervision as sv

    from .outputs import save_image, write_json
    from .sidecars import read_sidecar, replay

    single = len(args.sidecars) == 1 and args.output.suffix != ""
    failed = 0
    for path in args.sidecars:
        try:
            document = read_sidecar(path)
            result = replay(document, image=args.image, device=args.device)
        except TextInpaintError as error:
            print(f"textinpaint: error: {path}: {error}", file=sys.stderr)
            failed += 1
            continue
        suffix = ".json" if isinstance(result, sv.Detections) else ".png"
        target = args.output if single else args.output / f"{Path(path).stem}{suffix}"
        if isinstance(result, sv.Detections):
            from .results import detection_rows

            write_json(target, {**document, "detections": detection_rows(result)})
        else:
            save_image(result.image, target, result.to_dict())
        print(f"wrote {target}")
    return 1 if failed else 0


def model_rows() -> list[dict[str, Any]]:
    """One row per short name of the stage table, with whether its weights are on this machine
    (the Hugging Face cache) and, when they are, their size on disk."""
    from .models import model_folder, weights_status

    rows = []
    for stage in STAGES.values():
        for model in stage.models:
            present, problem = weights_status(stage.name, model.repo)
            folder = model_folder(stage.name, model.repo)
            on_disk = None
            if folder is not None:
                on_disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            rows.append(
                {
                    "name": model.name,
                    "stage": stage.name,
                    "default": model.name == stage.default,
                    "repo": model.repo,
                    "backend": model.backend,
                    "size": model.size,
                    "licence": model.licence,
                    "note": model.note,
                    "cached": present,
                    "bytes_on_disk": on_disk,
                    **({"problem": problem} if folder is not None and problem else {}),
                }
            )
    return rows


def _models(as_json: bool) -> int:
    """Print every short name: its stage, Hub id, size, licence, and whether it is in the cache."""
    rows = model_rows()
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    for stage in STAGES:
        print(f"{stage}:")
        for row in (r for r in rows if r["stage"] == stage):
            here = "cached" if row["cached"] else "-"
            if row["bytes_on_disk"] is not None:
                here = f"{here} ({row['bytes_on_disk'] / 1e9:.2f} GB on disk)"
            default = " (default)" if row["default"] else ""
            print(f"  {row['name']:<12} {row['repo']:<55} {row['size']:>8}  {row['licence']:<28} {here}{default}")
    return 0


def _info(pipe: Pipeline, as_json: bool) -> int:
    """Print versions, the device, and for every stage its source and whether it is on this machine."""
    from .models import weights_status
    from .results import versions

    gpu = None
    if pipe.device.type == "cuda":
        import torch

        gpu = torch.cuda.get_device_name(pipe.device)
    stages: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        try:
            source = pipe.source(stage)
        except TextInpaintError as error:
            stages[stage] = {"source": None, "present": False, "problem": str(error)}
            continue
        ok, problem = weights_status(stage, source)
        stages[stage] = {"source": source, "present": ok, **({"problem": problem} if problem else {})}
    found = versions()
    report = {"versions": found, "device": str(pipe.device), "gpu": gpu, "dtype": str(pipe.dtype), "models": stages}
    if as_json:
        print(json.dumps(report, indent=2))
        return 0
    print("versions: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    print(f"device: {pipe.device}{f' ({gpu})' if gpu else ''}, dtype {str(pipe.dtype).replace('torch.', '')}")
    for stage, row in stages.items():
        mark = "present" if row["present"] else "missing"
        problem = f" ({row['problem']})" if row.get("problem") and row["source"] else ""
        print(f"{stage:>10}: {mark:8} {row['source'] or row.get('problem')}{problem}")
    return 0


def _download(args: argparse.Namespace) -> int:
    """Fetch the named stages' models into the Hugging Face cache, or into ``--models DIR/<stage>``."""
    from .models import download, resolve_source

    wanted = list(STAGES) if args.stages == "all" else [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in STAGES]
    if unknown:
        print(f"textinpaint: error: --stages must name stages among {list(STAGES)}; got {unknown}", file=sys.stderr)
        return 1
    names = stage_names(args)
    for stage in wanted:
        repo = resolve_source(stage, names[stage], None)  # the Hub id, even when --models is the target
        target = None if args.models is None else Path(args.models) / stage
        where = download(stage, repo, target)
        print(f"{stage}: {repo} -> {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
