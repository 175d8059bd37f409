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
import contextlib
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

from .. import __version__
from ..errors import TextInpaintError
from ..options import GROUPS, TrackArgs, keywords
from ..schedulers import SCHEDULERS
from ..stages import STAGES
from ..workflows import COMMANDS, VIDEO_WORKFLOWS, Workflow

if TYPE_CHECKING:
    from ..pipeline import Pipeline
    from . import batch

NOTHING_FOUND = 3
INTERRUPTED = 130
# Pictures a local run works on at once (see textinpaint.interfaces.batch.run): the next is decoded
# and prepared, and the last encoded and written, while one is in the model.
WORKERS = 2

# A video replace's window of frames and its overlap (textinpaint.workflows.video's defaults,
# repeated here so that --help imports no model library; a test checks they agree).
WINDOW, OVERLAP = 33, 4

# The stages each subcommand loads: it offers a model flag for each of these only (the workflows'
# commands read theirs off the workflow table).
COMMAND_STAGES = {
    **{command: flow.stages for command, flow in COMMANDS.items()},
    "replay": (),
    "report": (),
    "models": (),
    "download": tuple(STAGES),
    "info": tuple(STAGES),
    "app": tuple(STAGES),
    "video": tuple(dict.fromkeys(stage for flow in VIDEO_WORKFLOWS.values() for stage in flow.stages)),
}


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


def _box(text: str) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X0,Y0,X1,Y1 in pixels, e.g. 40,60,200,300; got {text!r}") from None
    return x0, y0, x1, y1


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


def _option_flags(parser: argparse.ArgumentParser, *args: type, skip: tuple[str, ...] = ()) -> None:
    """A flag for every option the ``args`` (workflows' TypedDicts) allow, grouped as the option
    objects group them, written from each field's declaration (its type, default and one line of
    help in ``metadata``)."""
    import dataclasses

    taken = frozenset().union(*(keywords(a) for a in args)) - set(skip)
    titles = {
        "FindOptions": "finding",
        "PaintOptions": "painting",
        "CheckOptions": "checking the edit (the detector looks again)",
        "BackgroundOptions": "background",
        "MatteOptions": "soft edges (matting)",
        "CutoutOptions": "cutout",
    }
    for group_class in GROUPS:
        fields = [f for f in dataclasses.fields(group_class) if f.name in taken and f.name != "labels"]
        if not fields:
            continue
        group = parser.add_argument_group(titles[group_class.__name__])
        for option in fields:
            _flag(group, option.name, option.default, option.metadata["doc"], option.metadata["cli"])


def _flag(group: Any, name: str, default: Any, doc: str, cli: dict[str, Any]) -> None:
    flag = "--" + name.replace("_", "-")
    kind = cli.get("type")
    shown = "" if default is None or isinstance(default, bool) else f" (default {default})"
    if kind == "tristate":  # --matte / --no-matte; neither: None (automatic)
        group.add_argument(flag, dest=name, action="store_const", const=True, default=None, help=doc)
        group.add_argument(f"--no-{name.replace('_', '-')}", dest=name, action="store_const", const=False)
    elif kind is bool:
        if cli.get("negate"):
            group.add_argument(f"--no-{name.replace('_', '-')}", dest=name, action="store_false", help=f"do not {doc}")
        else:
            group.add_argument(flag, action="store_true", help=doc)
    elif kind == "points":
        group.add_argument(
            "--point", type=_xy, action="append", metavar="X,Y", help=f"a click on the object (repeatable): {doc}"
        )
        group.add_argument(
            "--negative-point", type=_xy, action="append", metavar="X,Y", help="a click off the object (repeatable)"
        )
    elif kind == "select":
        group.add_argument(flag, type=_select, default=default, metavar=cli["metavar"], help=doc + shown)
    elif "choices" in cli:
        choices = list(cli["choices"])
        group.add_argument(flag, choices=choices, type=type(choices[0]), default=default, help=doc + shown)
    else:
        extra = f"; one of {', '.join(SCHEDULERS)}" if name == "scheduler" else ""
        group.add_argument(flag, type=kind, default=default, help=doc + extra + shown)


def _engine_group(parser: argparse.ArgumentParser, *, uris: bool = True) -> None:
    group = parser.add_argument_group("engine (distributed runs need the ray extra)")
    group.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="run here, or on Ray Data (a local Ray, or the cluster at --address)"
        + (
            "; inputs may then also be URIs (s3://, gs://, file://) and Parquet/CSV manifests"
            if uris
            else ", one clip per task (paths every node sees)"
        ),
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
    group.add_argument(
        "--workers",
        type=int,
        default=WORKERS,
        metavar="N",
        help=f"pictures worked on at once, so decoding and writing overlap the model (default {WORKERS}; "
        "each holds one picture, and on a GPU its activations, in memory)",
    )
    if image_options:
        group.add_argument("--save-mask", action="store_true", help="also write NAME.mask.png: the changed region")
        group.add_argument("--save-overlay", action="store_true", help="also write NAME.overlay.png: the detections")


# One or two examples per subcommand, shown at the end of its --help.
EXAMPLES = {
    "replace": [
        'textinpaint replace street.jpg --find "the red car" --with "a blue pickup truck" -o out.png',
        'textinpaint replace photos/ --find "sky" --with "a stormy sky" --seed 1 -o edited/',
    ],
    "remove": ['textinpaint remove beach.jpg --find "the person" -o empty-beach.png'],
    "background": [
        'textinpaint background car.jpg --keep "the car" --with "a mountain road at sunset" -o new.png',
        'textinpaint background product.jpg --with "a marble table, soft window light" -o new.png',
        'textinpaint background product.jpg --keep-mask subject.png --with "a marble table" -o new.png',
    ],
    "inpaint": ['textinpaint inpaint room.jpg --mask region.png --prompt "a green armchair" -o room2.png'],
    "cutout": [
        "textinpaint cutout product.jpg -o product.png",
        'textinpaint cutout portraits/ --keep "the person" --background-colour white --crop-to-subject -o cut/',
    ],
    "generate": ['textinpaint generate "a woman in a park" --size 768x512 --seed 1 -o park.png'],
    "segment": ['textinpaint segment street.jpg --find "car" --select largest -o car-mask.png'],
    "detect": ['textinpaint detect street.jpg --find "car. person" --save-overlay found.png'],
    "replay": ["textinpaint replay edited/street.json -o again.png", "textinpaint replay edited/*.json -o again/"],
    "download": ["textinpaint download --stages detector,segmenter,inpainter --models models/"],
    "models": ["textinpaint models", "textinpaint models --json"],
    "report": ["textinpaint report edited/", "textinpaint report edited/ -o review.html"],
    "info": ["textinpaint info --models models/"],
    "app": ["textinpaint app --models models/ --port 7860"],
    "video": [
        'textinpaint video remove clip.mp4 --find "the person" -o out.mp4',
        "textinpaint video track clip.mp4 --point 320,200 --frame 12 -o masks.json",
        'textinpaint video replace clip.mp4 --find "the red car" --with "a blue pickup truck" -o out.mp4',
        "textinpaint video remove clip.mp4 --box 40,60,200,300 --lossless -o out.mkv",
        'textinpaint video background talk.mp4 --keep "the person" --with "a quiet library" -o out.mp4',
        'textinpaint video remove crowd.mp4 --find "a person" --tracker sam3-video -o out.mp4',
    ],
}


class _Parser(argparse.ArgumentParser):
    """argparse, with "did you mean" for a mistyped flag or subcommand (Python < 3.14 has none)."""

    def error(self, message: str) -> NoReturn:
        import difflib

        choices = [flag for action in self._actions for flag in action.option_strings]
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):  # the subcommands, and their flags
                choices += list(action.choices)
                choices += [f for sub in action.choices.values() for a in sub._actions for f in a.option_strings]
        words = re.findall(r"unrecognized arguments: (.*)$|invalid choice: '([^']*)'", message)
        for unknown, invalid in words:
            for word in unknown.split() if unknown else [invalid]:
                close = difflib.get_close_matches(word.split("=")[0], choices, n=1)
                if close:
                    message += f" (did you mean {close[0]}?)"
        super().error(message)


def _parser() -> argparse.ArgumentParser:
    description = "textinpaint: edit photos from text (find, cut out, repaint at full resolution)."
    parser = _Parser(
        prog="textinpaint",
        description=description,
        epilog=(
            "exit status: 0 done, 1 an error, 2 a usage error, 3 nothing matched the query or an edit "
            "scored below --min-score, 130 interrupted; inputs that match no picture are an error (1)"
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    parser.add_argument("--version", action="version", version=f"textinpaint {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, help_text: str, run: Any = None) -> argparse.ArgumentParser:
        examples = "\n".join(f"  {line}" for line in EXAMPLES[name])
        sub = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"examples:\n{examples}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _models_group(sub, COMMAND_STAGES[name], runs=name not in ("download", "report", "models"))
        sub.set_defaults(run=run or (lambda args: _batch(_pipeline(args), args)), flow=COMMANDS.get(name))
        return sub

    def mask_dir_flag(sub: argparse.ArgumentParser, what: str) -> None:
        sub.add_argument(
            "--mask-dir",
            type=Path,
            help=f"a folder of masks, {what} of each picture, found by the picture's name (DIR/NAME.png for "
            "NAME.jpg; in folder runs the same relative path)",
        )

    def find_flag(sub: argparse.ArgumentParser, *, required: bool = False) -> None:
        help_text = 'what to find: "the red car", or several: "dog. cat"'
        sub.add_argument("--find", required=required, help=help_text + ("" if required else " (or give --point)"))

    replace = command("replace", "find an object and repaint it")
    replace.add_argument(
        "--with", dest="with_", metavar="TEXT", required=True, help='what to paint instead ("" removes)'
    )
    find_flag(replace)
    replace.add_argument("--mask", type=Path, help="repaint exactly this mask's white pixels (instead of --find)")
    mask_dir_flag(replace, "the region to repaint")
    replace.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="edit N images per model call (same-size images share the detector and UNet passes; default 1)",
    )
    _option_flags(replace, COMMANDS["replace"].args)
    _outputs_group(replace)
    _engine_group(replace)

    remove = command("remove", "erase an object (LaMa)")
    find_flag(remove)
    remove.add_argument("--mask", type=Path, help="erase exactly this mask's white pixels (instead of --find)")
    mask_dir_flag(remove, "the region to erase")
    _option_flags(remove, COMMANDS["remove"].args)
    _outputs_group(remove)
    _engine_group(remove)

    background = command("background", "keep the subject, repaint the rest")
    background.add_argument(
        "--keep", help="what to keep, as for --find (none of --keep, --point, --keep-mask: the salient subject)"
    )
    background.add_argument("--keep-mask", type=Path, help="the subject as a mask image, instead of --keep")
    mask_dir_flag(background, "the subject")
    background.add_argument("--with", dest="with_", metavar="TEXT", required=True, help="the new background")
    _option_flags(background, COMMANDS["background"].args)
    _outputs_group(background)
    _engine_group(background)

    cut = command("cutout", "cut the subject out onto transparency, with soft edges")
    cut.add_argument("--keep", help="what to cut out, as for --find (default: the salient subject)")
    cut.add_argument("--keep-mask", type=Path, help="the subject as a mask image, instead of --keep")
    mask_dir_flag(cut, "the subject")
    _option_flags(cut, COMMANDS["cutout"].args)
    _outputs_group(cut)
    _engine_group(cut)

    inpaint = command("inpaint", "repaint the white pixels of your own mask from a prompt")
    inpaint.add_argument("--mask", type=Path, help="the mask image (white = repaint), the input's size")
    mask_dir_flag(inpaint, "the region to repaint")
    inpaint.add_argument("--prompt", required=True, help="what to paint in the masked region")
    _option_flags(inpaint, COMMANDS["inpaint"].args)
    _outputs_group(inpaint)

    generate = command("generate", "make an image from text", lambda args: _generate(_pipeline(args), args))
    generate.add_argument("prompt")
    generate.add_argument("-o", "--output", type=Path, required=True, help="the image file (a sidecar goes beside it)")
    generate.add_argument("--size", type=_size, help="WIDTHxHEIGHT (default: the model's native square)")
    _option_flags(generate, COMMANDS["generate"].args)

    segment = command("segment", "find objects; write the selected masks as one PNG")
    find_flag(segment)
    _option_flags(segment, COMMANDS["segment"].args, skip=("mask_mode",))
    _outputs_group(segment, image_options=False)
    _engine_group(segment)
    segment.set_defaults(format="png", save_mask=False, save_overlay=False)

    detect = command("detect", "find objects; print them as JSON", lambda args: _detect(_pipeline(args), args))
    detect.add_argument("image", type=Path)
    find_flag(detect, required=True)
    _option_flags(detect, COMMANDS["detect"].args)
    detect.add_argument("--strict", action="store_true", help="exit with status 3 and an error when nothing matches")
    detect.add_argument("-o", "--output", type=Path, help="also write the sidecar (JSON) to this file")
    detect.add_argument("--save-overlay", type=Path, help="also write the detections drawn on the image")

    replay = command(
        "replay",
        "make edits again from their sidecars (JSON files or PNGs textinpaint wrote)",
        lambda args: _replay(args),
    )
    replay.add_argument("sidecars", nargs="+", type=Path)
    replay.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="the output file (one sidecar) or folder (one file per sidecar, by its name)",
    )
    replay.add_argument("--image", type=Path, help="the input, when the sidecar's path is not there")

    download = command("download", "fetch models into the cache or --models DIR", lambda args: _download(args))
    download.add_argument(
        "--stages", default="detector,segmenter,inpainter", help="comma-separated stages, or 'all' for every one"
    )

    models = command(
        "models",
        "every model by its short name: stage, Hub id, size, licence, and whether it is here",
        lambda args: _models(args.json),
    )
    models.add_argument("--json", action="store_true")

    report = command(
        "report",
        "write an HTML contact sheet of an output folder: flagged and failed edits first",
        lambda args: _report(args),
    )
    report.add_argument("folder", type=Path, help="an output folder (its sidecars and failures.json)")
    report.add_argument("-o", "--output", type=Path, help="the HTML file (default FOLDER/report.html)")

    info = command(
        "info", "versions, device, and which weights are present", lambda args: _info(_pipeline(args), args.json)
    )
    info.add_argument("--json", action="store_true")

    clip = command(
        "video",
        "track what the text (a click, a box) names through a clip, and remove, replace or re-background it "
        "(the video extra)",
        lambda args: _video(_pipeline(args), args),
    )
    clip.add_argument(
        "action",
        choices=list(_VIDEO_ACTIONS),
        help="track: write its masks; remove: erase it (Wan VACE; --per-frame: LaMa); replace: repaint it "
        "(--with, Wan VACE); background: keep it (--keep) and repaint the rest (--with, Wan VACE)",
    )
    clip.add_argument(
        "inputs",
        type=Path,
        nargs="+",
        help="the clip (any file FFmpeg reads); remove, replace and background also take folders and several clips",
    )
    clip.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="track: masks.json (COCO run-length) or a folder of PNG masks; the others: out.mp4 (H.264), "
        "out.mkv (FFV1, lossless) or a folder of PNG frames; for several clips, a folder (one clip each)",
    )
    marking = clip.add_argument_group("what to follow (one of --find or --keep, --point, --box), on --frame")
    marking.add_argument("--find", help='what to look for on the prompt frame: "the person"')
    marking.add_argument(
        "--keep",
        help="background: the subject to keep, as for --find (none of --keep, --point, --box, --masks: "
        "the salient subject)",
    )
    marking.add_argument("--point", type=_xy, action="append", metavar="X,Y", help="a click on it (repeatable)")
    marking.add_argument(
        "--negative-point", type=_xy, action="append", metavar="X,Y", help="a click off it (repeatable)"
    )
    marking.add_argument("--box", type=_box, metavar="X0,Y0,X1,Y1", help="a box around it, in pixels")
    marking.add_argument("--frame", type=int, default=0, help="the frame the prompt is on (default 0)")
    marking.add_argument(
        "--masks",
        type=Path,
        help="remove, replace, background: your own masks instead (a masks JSON, or a folder of PNGs named by "
        "frame index)",
    )
    clip.add_argument(
        "--with",
        dest="with_",
        metavar="TEXT",
        help="replace: what to paint instead; background: the new background; remove: what the emptied region shows",
    )
    clip.add_argument(
        "--per-frame", action="store_true", help="remove: fill frame by frame with LaMa (light, no GPU; flickers)"
    )
    _option_flags(clip, *(action.options for action in _VIDEO_ACTIONS.values()), skip=("scheduler", "upscale", "fast"))
    clip.add_argument("--window", type=int, default=WINDOW, help=f"frames painted together (default {WINDOW})")
    clip.add_argument(
        "--overlap", type=int, default=OVERLAP, help=f"frames a window hands to the next (default {OVERLAP})"
    )
    frames = clip.add_argument_group("frames and file")
    frames.add_argument("--start", type=int, default=0, help="the first frame written (default 0)")
    frames.add_argument("--end", type=int, help="one past the last frame (default: the clip's end)")
    frames.add_argument("--every", type=int, default=1, help="write every Nth frame, a quick preview (no audio)")
    frames.add_argument("--codec", choices=["h264", "ffv1", "png"], help="default: from the output's suffix")
    frames.add_argument("--quiet", action="store_true", help="no progress bar")
    frames.add_argument("--overwrite", action="store_true", help="several clips: redo those done before")
    _engine_group(clip, uris=False)
    frames.add_argument(
        "--lossless",
        action="store_true",
        help="FFV1 (.mkv) or PNG frames (a folder): every pixel outside the grown masks stays exact",
    )

    app = command("app", "start the web app (needs the app extra)", lambda args: _app(_pipeline(args), args))
    app.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1: this machine only)")
    app.add_argument("--port", type=int, default=7860)
    app.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    return parser


def main(argv: list[str] | None = None, *, pipeline: Pipeline | None = None) -> int:
    """Run the command line; returns the exit status (2 for a usage error, 130 when interrupted).

    Args:
        argv: the arguments (default: the process's).
        pipeline: run with this pipeline (one holding your own Filler, say) instead of the one
            the model flags name.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    args.pipeline = pipeline
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        _check_options(args)
    except TextInpaintError as error:
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices[args.command].error(str(error))  # exits 2, as argparse does for every usage error
    try:
        return int(args.run(args))
    except BrokenPipeError:  # `textinpaint models | head`: the reader left; nothing is wrong
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's recipe: no flush at exit into it
        return 0
    except TextInpaintError as error:
        print(f"textinpaint: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("textinpaint: interrupted", file=sys.stderr)
        return INTERRUPTED


def _check_options(args: argparse.Namespace) -> None:
    """Every option checked by the option objects before anything loads (a bad value is a usage error)."""
    from ..errors import InvalidInputError
    from ..options import split

    flow = args.flow
    if flow is not None:
        split(_options(args, flow), flow.args, flow.name)
    if getattr(args, "mask", None) is not None and getattr(args, "mask_dir", None) is not None:
        raise InvalidInputError("give --mask (one for every picture) or --mask-dir (one per picture), not both")
    if getattr(args, "keep_mask", None) is not None and getattr(args, "mask_dir", None) is not None:
        raise InvalidInputError("give --keep-mask (one for every picture) or --mask-dir (one per picture), not both")
    if "mask" in getattr(flow, "inputs", ()) and args.mask is None and args.mask_dir is None:
        raise InvalidInputError("inpaint needs the region to repaint: --mask FILE or --mask-dir DIR")
    if getattr(args, "mask_dir", None) is not None and not args.mask_dir.is_dir():
        raise InvalidInputError(f"--mask-dir must be a folder of masks; got {str(args.mask_dir)!r}")
    takes_points = flow is not None and "points" in keywords(flow.args)
    masked = getattr(args, "mask", None) is not None or getattr(args, "mask_dir", None) is not None
    if takes_points and "find" in flow.inputs and args.find is None and not getattr(args, "point", None) and not masked:
        raise InvalidInputError("give --find (what to look for), --point (a click on it), or both")
    if getattr(args, "batch_size", 1) < 1:
        raise InvalidInputError(f"--batch-size must be 1 or more; got {args.batch_size}")
    if getattr(args, "workers", 1) < 1:
        raise InvalidInputError(f"--workers must be 1 or more; got {args.workers}")
    if getattr(args, "concurrency", 1) < 1:
        raise InvalidInputError(f"--concurrency must be 1 or more; got {args.concurrency}")
    if not getattr(args, "num_gpus", 0.0) >= 0:
        raise InvalidInputError(f"--num-gpus must be 0 or more; got {args.num_gpus}")
    if not getattr(args, "cpus_per_actor", 1.0) > 0:
        raise InvalidInputError(f"--cpus-per-actor must be more than 0; got {args.cpus_per_actor}")
    models = getattr(args, "models", None)
    if models is not None and args.command != "download" and not Path(models).is_dir():
        raise InvalidInputError(f"--models must be a folder with one subfolder per stage; got {str(models)!r}")
    from ..models import resolve_source

    for stage, name in stage_names(args).items():
        if name is not None:
            try:
                resolve_source(stage, name, None)  # an unknown short name: refused before any network
            except InvalidInputError as error:
                raise InvalidInputError(f"{STAGES[stage].flag}: {error}") from None


def stage_names(args: argparse.Namespace) -> dict[str, Any]:
    """The model named for each stage on the command line (None: the default or ``--models``)."""
    return {stage: getattr(args, f"model_{stage}", None) for stage in STAGES}


def _pipeline(args: argparse.Namespace) -> Pipeline:
    from ..options import Speed
    from ..pipeline import Pipeline

    if getattr(args, "pipeline", None) is not None:
        return cast("Pipeline", args.pipeline)
    speed = Speed(
        compile=getattr(args, "compile", False),
        compile_segmenter=getattr(args, "compile", False) and "segmenter" in COMMAND_STAGES.get(args.command, ()),
        offload=getattr(args, "offload", False),
        vae_tiling=getattr(args, "vae_tiling", False),
    )
    return Pipeline(**stage_names(args), models=args.models, device=args.device, dtype=args.dtype, speed=speed)


def _report(args: argparse.Namespace) -> int:
    from .report import write_report

    print(f"wrote {write_report(args.folder, args.output)}")
    return 0


def _app(pipe: Pipeline, args: argparse.Namespace) -> int:
    from .app import serve

    print(f"textinpaint app on http://{args.host}:{args.port} (Ctrl+C to stop)")
    serve(pipe, host=args.host, port=args.port, share=args.share)
    return 0


def _options(args: argparse.Namespace, flow: Workflow) -> dict[str, Any]:
    """The workflow's options as the command line gave them (points and labels from the clicks)."""
    given = {name: getattr(args, name) for name in keywords(flow.args) if hasattr(args, name)}
    positive, negative = getattr(args, "point", None) or [], getattr(args, "negative_point", None) or []
    if "points" in keywords(flow.args):
        given["points"] = [list(p) for p in positive + negative] if positive or negative else None
        given["labels"] = [1] * len(positive) + [0] * len(negative) if positive or negative else None
    return given


def _generate(pipe: Pipeline, args: argparse.Namespace) -> int:
    from ..outputs import Writer

    writer = Writer()
    writer.check(args.output, "image")
    writer.check(args.output.with_suffix(".json"), "sidecar")
    pipe.require(*_needed(pipe, args.flow, _options(args, args.flow)))
    edit = pipe.generate(args.prompt, size=args.size, **_options(args, args.flow))
    sidecar = {**edit.to_dict(), "output": str(args.output)}
    writer.image(edit.image, args.output, sidecar)
    writer.json(args.output.with_suffix(".json"), sidecar)
    print(f"wrote {args.output} (seed {edit.seed})")
    return 0


def _detect(pipe: Pipeline, args: argparse.Namespace) -> int:
    from ..outputs import Writer
    from ..results import detection_rows

    writer = Writer([args.image])
    if args.output is not None:
        writer.check(args.output, "sidecar")
    if args.save_overlay is not None:
        writer.check(args.save_overlay, "image")
    pipe.require("detector")
    edit = args.flow.function(pipe, args.image, args.find, **_options(args, args.flow))
    print(json.dumps(detection_rows(edit.detections), indent=2))
    if args.output:
        writer.json(args.output, edit.to_dict())
    if args.save_overlay:
        writer.image(edit.annotate(), args.save_overlay, made="overlay")
    if args.strict and not edit.found:
        from ..errors import NothingFoundError

        raise NothingFoundError(args.find, edit.detections.metadata.get("best_score"), args.box_threshold)
    return 0 if edit.found else NOTHING_FOUND


def _video(pipe: Pipeline, args: argparse.Namespace) -> int:
    """``textinpaint video track|remove|replace|background``: one clip or several (see
    :mod:`textinpaint.workflows.video`)."""
    from ..errors import InvalidInputError

    action = _VIDEO_ACTIONS[args.action]
    positive, negative = args.point or [], args.negative_point or []
    points = [list(p) for p in positive + negative] or None
    prompt: dict[str, Any] = {
        "points": points,
        "labels": [1] * len(positive) + [0] * len(negative) if points else None,
        "box": args.box,
        "frame": args.frame,
    }
    given = {k: getattr(args, k) for k in keywords(action.options) if getattr(args, k, None) is not None}
    for flag, dest in action.needs:
        if getattr(args, dest) is None:
            raise InvalidInputError(f"video {action.command} needs {flag}")
    for other in {"find", "keep"} - {action.subject}:
        if getattr(args, other) is not None:
            raise InvalidInputError(f"video {action.command} takes --{action.subject}, not --{other}")
    for flag, dest in (("--with", "with_"), ("--per-frame", "per_frame")):
        if getattr(args, dest) not in (None, False) and dest not in action.extra:
            raise InvalidInputError(f"video {action.command} takes no {flag}")
    subject = getattr(args, action.subject)
    marked = subject is not None or points is not None or args.box is not None or args.masks is not None
    from ..workflows.video import follows_text

    finder = ("detector",) if subject is not None else () if marked or not action.salient else ("subject",)
    if follows_text(pipe):  # the tracker finds the text itself (SAM 3 video)
        finder = ()
    pipe.require(*finder, *action.stages(args))
    return action.run(pipe, args, {**prompt, **given})


def _video_track(pipe: Pipeline, args: argparse.Namespace, given: dict[str, Any]) -> int:
    from ..errors import InvalidInputError
    from ..workflows import video

    if len(args.inputs) != 1 or args.inputs[0].is_dir():
        raise InvalidInputError("video track follows one clip; give one file")
    args.input = args.inputs[0]
    masks = video.track(pipe, args.input, args.find, start=args.start, end=args.end, **given)
    if not masks.ids:
        print(f"{args.input}: nothing matching {args.find!r} on frame {args.frame}; no masks written", file=sys.stderr)
        return NOTHING_FOUND
    masks.save(args.output)
    print(f"wrote {args.output}: {len(masks.ids)} tracked over frames {masks.frames[0]}-{masks.frames[-1]}")
    return 0


def _video_edit(pipe: Pipeline, args: argparse.Namespace, given: dict[str, Any]) -> int:
    """video remove, replace and background: the clip written, and what was done said."""
    from ..errors import InvalidInputError

    several = len(args.inputs) > 1 or args.inputs[0].is_dir() or not args.inputs[0].exists()
    codec = args.codec
    if args.lossless:
        suffix = args.output.suffix.lower()
        # several clips go into the -o folder, one FFV1 clip each (or a PNG folder each with --codec png)
        lossless = (codec or "ffv1") if several else "ffv1" if suffix == ".mkv" else "png" if suffix == "" else None
        if lossless not in ("ffv1", "png") or codec not in (None, lossless):
            raise InvalidInputError(
                f"--lossless writes FFV1 into a .mkv file or PNG frames into a folder; got {str(args.output)!r}"
                + (f" with --codec {codec}" if codec else "")
            )
        codec = lossless
    action = _VIDEO_ACTIONS[args.action]
    subject = getattr(args, action.subject)
    masks = None if args.masks is None else str(args.masks)
    asked = {action.subject: subject, "codec": codec, "start": args.start, "end": args.end, "masks": masks}
    asked |= {name: getattr(args, name) for name in action.extra} | given
    workflow = VIDEO_WORKFLOWS[cast(str, action.workflow)]
    if several or args.engine == "ray":
        return _video_folder(pipe, args, workflow, asked, codec)
    args.input = args.inputs[0]
    with _frame_bar(args.quiet):
        edit = workflow.function(pipe, args.input, output=args.output, **asked)
    if not edit.found:
        what = "the salient subject" if subject is None else f"nothing matching {subject!r}"
        print(f"{args.input}: {what} on frame {args.frame}; no output written", file=sys.stderr)
        return NOTHING_FOUND
    seconds = edit.timings.get("total", 0.0)
    done = action.done + ("" if edit.seed is None else f" (seed {edit.seed})")
    print(f"wrote {edit.output} ({len(edit.masks.ids)} {done} over {len(edit.masks)} frames, {seconds:.1f}s)")
    return 0


def _video_folder(
    pipe: Pipeline, args: argparse.Namespace, workflow: Workflow, asked: dict[str, Any], codec: str | None
) -> int:
    """Several clips (folders, globs): one output each in the ``-o`` folder, through the batch
    runner (or on Ray with ``--engine ray``, one clip per task): a bad clip fails alone, a rerun
    skips what was done with the same request, here or on Ray."""
    from ..errors import InvalidInputError
    from ..outputs import Writer
    from . import batch

    suffix = {"ffv1": ".mkv", "png": "", None: ".mp4", "h264": ".mp4"}[codec]
    flags = ["action", "find", "keep", "point", "negative_point", "box", "frame", "masks", "with_", "per_frame"]
    flags += ["window", "overlap", "codec", "lossless", "start", "end", "every", "models", "device", "dtype"]
    options = frozenset().union(*(keywords(action.options) for action in _VIDEO_ACTIONS.values()))
    request = {name: getattr(args, name, None) for name in (*flags, *sorted(options))}
    key = batch.request_key({**request, "stages": stage_names(args)})
    if args.engine == "ray":
        from .distributed import run_clips

        where = {"models": None if args.models is None else str(args.models), "device": args.device}
        summary = run_clips(
            args.inputs,
            workflow.name,
            asked,
            args.output,
            pipeline={**stage_names(args), **where, "dtype": args.dtype},
            address=args.address,
            num_gpus=args.num_gpus,
            num_cpus=args.cpus_per_actor,
            concurrency=args.concurrency,
            suffix=suffix,
            overwrite=args.overwrite,
            key=key,
        )
        print(summary.text(), file=sys.stderr)
        return summary.exit_code
    jobs = batch.plan(args.inputs, args.output, suffix=suffix, suffixes=batch.VIDEO_SUFFIXES)
    if not jobs:
        raise InvalidInputError(
            f"no clips matched {' '.join(map(str, args.inputs))!r}; clips end in {', '.join(sorted(batch.VIDEO_SUFFIXES))}"
        )

    def work(job: batch.Job) -> dict[str, Any]:
        done = workflow.function(pipe, job.source, output=job.output, **asked)
        return {**done.record, "found": done.found}

    writer = Writer(job.source for job in jobs)
    summary = batch.run(jobs, work, overwrite=args.overwrite, quiet=args.quiet, key=key, writer=writer)
    batch.write_failures(args.output, summary, writer)
    print(summary.text(), file=sys.stderr)
    return summary.exit_code


@contextlib.contextmanager
def _frame_bar(quiet: bool) -> Iterator[None]:
    """A bar of frames written on a terminal (nothing elsewhere, or with --quiet)."""
    from ..events import listening

    if quiet or not sys.stderr.isatty():
        yield
        return
    from tqdm.auto import tqdm

    bar = tqdm(file=sys.stderr, unit="frame", desc="frames")

    def written(count: int, total: int | None) -> None:
        bar.total = total
        bar.n = count
        bar.refresh()

    try:
        with listening(lambda stage: bar.set_postfix_str(stage), frames=written):
            yield
    finally:
        bar.close()


@dataclass(frozen=True)
class _VideoAction:
    """One ``textinpaint video`` action: the video workflow it runs (its row in ``VIDEO_WORKFLOWS``,
    whose command is the action's word; None: tracking, which writes masks), the stages it loads
    (given the flags), what runs it, the flags it needs (message, dest), the flag naming what it
    follows (passed as the workflow's argument of that name), whether it finds the salient
    subject when nothing is named, the extra arguments it passes (by their name, which is the
    flag's dest), and what its line says it did."""

    workflow: str | None
    stages: Callable[[argparse.Namespace], tuple[str, ...]]
    run: Any
    needs: tuple[tuple[str, str], ...] = ()
    subject: str = "find"
    salient: bool = False
    extra: tuple[str, ...] = ()
    done: str = ""

    @property
    def command(self) -> str:
        return "track" if self.workflow is None else VIDEO_WORKFLOWS[self.workflow].command

    @property
    def options(self) -> type:
        """The TypedDict of the options it takes (the detector's thresholds and select for tracking)."""
        return TrackArgs if self.workflow is None else VIDEO_WORKFLOWS[self.workflow].args


_WINDOWS = ("with_", "every", "window", "overlap")
_VIDEO_ACTIONS = {
    action.command: action
    for action in (
        _VideoAction(None, lambda args: ("tracker",), _video_track),
        _VideoAction(
            "video remove",
            lambda args: ("tracker", "remover" if args.per_frame else "video_painter"),
            _video_edit,
            extra=(*_WINDOWS, "per_frame"),
            done="removed",
        ),
        _VideoAction(
            "video replace",
            lambda args: ("tracker", "video_painter"),
            _video_edit,
            needs=(("--with: what to paint instead", "with_"),),
            extra=_WINDOWS,
            done="repainted",
        ),
        _VideoAction(
            "video replace_background",
            lambda args: ("tracker", "video_painter"),
            _video_edit,
            needs=(("--with: the new background", "with_"),),
            subject="keep",
            salient=True,
            extra=_WINDOWS,
            done="kept, the background repainted",
        ),
    )
}


def _quiet() -> None:
    """No loading bars from the model libraries (``--quiet``)."""
    import diffusers.utils.logging
    import transformers.utils.logging

    transformers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.disable_progress_bar()


def _given(args: argparse.Namespace, flow: Workflow) -> dict[str, Any]:
    """Everything the command line gives the workflow besides the image: its inputs and options."""
    given = {name: getattr(args, name) for name in flow.inputs if hasattr(args, name)}
    if isinstance(given.get("mask"), Path):
        given["mask"] = str(given["mask"])
    if getattr(args, "keep_mask", None):
        given["mask"] = str(args.keep_mask)
    if given.get("mask") is None and getattr(args, "mask", None) is not None:
        given["mask"] = str(args.mask)
    return {**given, **_options(args, flow)}


def _needed(pipe: Pipeline, flow: Workflow, given: dict[str, Any]) -> list[str]:
    """The stages this run will load, read off its options (for one up-front check of the weights)."""
    named = given.get("find") is not None or given.get("keep") is not None or bool(given.get("points"))
    finds = not (given.get("mask") and "mask" not in flow.inputs)  # a subject given as a mask: nothing to find
    asked = {
        "upscaler": bool(given.get("upscale")),
        "fast": bool(given.get("fast")),
        "controlnet": given.get("depth", True) is not False,
        "depth": given.get("depth", True) is not False,
        "subject": finds and not named,  # nothing names the subject: the salient one
        "matte": bool(given.get("matte")),  # None (automatic) never needs a download
    }
    stages = [stage for stage in flow.stages if asked.get(stage, True)]
    if not finds or not named:
        stages = [stage for stage in stages if stage not in ("detector", "segmenter")]
    elif not given.get("points") and (given.get("mask_mode") == "box" or pipe.detector_gives_masks()):
        stages = [stage for stage in stages if stage != "segmenter"]
    checks = given.get("verify") or given.get("min_score") is not None or (given.get("tries") or 1) > 1
    if given.get("find") is None and given.get("keep") is None and given.get("points") and not checks:
        stages = [stage for stage in stages if stage != "detector"]  # clicks alone: SAM, no detector
    return stages


def _mask_for(job: Any, folder: Path, output: Path) -> Path:
    """The mask of ``job``'s picture in ``folder``: the same relative path (a folder run) or name,
    with any picture suffix.

    Raises:
        InvalidInputError: no mask for the picture (this picture fails; the batch goes on).
    """
    from ..errors import InvalidInputError
    from .batch import IMAGE_SUFFIXES

    try:
        relative = job.output.relative_to(output).with_suffix("")
    except ValueError:  # one input, one output file
        relative = Path(job.source.stem)
    for suffix in sorted(IMAGE_SUFFIXES):
        candidate = folder / f"{relative}{suffix}"
        if candidate.is_file():
            return candidate
    raise InvalidInputError(
        f"--mask-dir: no mask for {job.source.name} in {str(folder)!r} (looked for {relative}.png, ...)"
    )


def _batch(pipe: Pipeline, args: argparse.Namespace) -> int:
    """Run an edit command over every input; see :mod:`textinpaint.interfaces.batch`."""
    from ..outputs import Writer
    from . import batch
    from .batch import write_edit

    if args.quiet:
        _quiet()
    flow: Workflow = args.flow
    given = _given(args, flow)
    shown = dict(
        save_mask=args.save_mask, save_overlay=args.save_overlay, quiet=args.quiet, summary=flow.output == "image"
    )
    writer = Writer([given["mask"]] if isinstance(given.get("mask"), str) else [])

    masks = getattr(args, "mask_dir", None)

    def work(job: batch.Job) -> Any:
        own = given if masks is None else {**given, "mask": str(_mask_for(job, masks, args.output))}
        return flow.function(pipe, str(job.source), **own)

    def write(job: batch.Job, edit: Any) -> dict | None:
        return write_edit(writer, job, edit, **shown)

    def work_many(jobs: list[batch.Job]) -> list[dict | None]:
        edits = flow.function(pipe, [str(job.source) for job in jobs], **given)
        return [write_edit(writer, job, edit, **shown) for job, edit in zip(jobs, edits)]

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
    if args.engine == "ray" if hasattr(args, "engine") else False:
        summary = _distributed(args, given, key)
        jobs_count = len(summary.outcomes)
    else:
        jobs = batch.plan(args.inputs, args.output, suffix=f".{args.format}")
        if not jobs:
            from ..errors import InvalidInputError

            raise InvalidInputError(
                f"no pictures matched the inputs {' '.join(map(str, args.inputs))!r} (empty folders, no image "
                f"files, or a pattern that matched nothing); picture files end in {', '.join(sorted(batch.IMAGE_SUFFIXES))}"
            )
        asked = {**given, "mask": given.get("mask") or masks}  # a mask folder: nothing to find either
        pipe.require(*_needed(pipe, flow, asked))  # every missing model named at once, before any work
        writer.protect(*(job.source for job in jobs))
        # A mask per picture goes one picture at a time (a batched call takes one mask for all).
        batched = hasattr(args, "batch_size") and masks is None
        many = {"work_many": work_many, "batch_size": args.batch_size} if batched else {}
        summary = batch.run(
            jobs,
            work,
            write=write,
            workers=getattr(args, "workers", 1),
            overwrite=args.overwrite,
            quiet=args.quiet,
            key=key,
            writer=writer,
            **many,
        )
        if not (len(jobs) == 1 and jobs[0].output == args.output):
            batch.write_failures(args.output, summary, writer)
        jobs_count = len(jobs)
    if jobs_count != 1 or summary.exit_code in (1, INTERRUPTED) or not args.quiet and summary.count("skipped"):
        print(summary.text(), file=sys.stderr)
    return summary.exit_code


def _distributed(args: argparse.Namespace, given: dict[str, Any], key: str) -> Any:
    """The same run on Ray Data (:mod:`textinpaint.interfaces.distributed`); resumes and is resumed by local runs."""
    from ..options import Speed
    from .distributed import run

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
        args.flow.name,
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


def _replay(args: argparse.Namespace) -> int:
    """Make each sidecar's edit again and write it: the image, the mask (segment) or the sidecar (detect)."""
    from ..outputs import Writer
    from ..workflows import VIDEO_WORKFLOWS, WORKFLOWS
    from .sidecars import read_sidecar, replay, replay_video

    single = len(args.sidecars) == 1 and args.output.suffix != ""
    # Never over a sidecar being replayed, the image given, or an input a sidecar names.
    writer = Writer([*args.sidecars, *([args.image] if args.image else [])])
    failed = 0
    for path in args.sidecars:
        try:
            document = read_sidecar(path)
            writer.protect(
                (document.get("input") or {}).get("path"), *((document.get("batch") or {}).get("inputs") or [])
            )
            if document["workflow"] in VIDEO_WORKFLOWS:  # a clip: written again with its sidecar beside it
                recorded = Path(document["output"])
                target = args.output if single else writer.fresh(args.output / f"{Path(path).stem}{recorded.suffix}")
                writer.check(target, "image")
                replay_video(document, target, video=args.image, device=args.device)
                print(f"wrote {target}")
                continue
            detections_only = WORKFLOWS[document["workflow"]].output == "detections"
            suffix = ".json" if detections_only else ".png"
            target = args.output if single else writer.fresh(args.output / f"{Path(path).stem}{suffix}")
            writer.check(target, "sidecar" if detections_only else "image")
            result = replay(document, image=args.image, device=args.device)
            if detections_only:
                writer.json(target, result.to_dict())
            else:
                writer.image(result.image, target, result.to_dict())
        except TextInpaintError as error:
            print(f"textinpaint: error: {path}: {error}", file=sys.stderr)
            failed += 1
            continue
        print(f"wrote {target}")
    return 1 if failed else 0


def model_rows() -> list[dict[str, Any]]:
    """One row per short name of the stage table, with whether its weights are on this machine
    (the Hugging Face cache) and, when they are, their size on disk."""
    from ..models import model_folder, weights_status

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
    header = ("stage", "name", "Hub id", "size", "licence", "here")
    table = [
        (
            row["stage"],
            row["name"] + (" (default)" if row["default"] else ""),
            row["repo"],
            row["size"],
            row["licence"],
            ("cached" if row["cached"] else "not downloaded")
            + ("" if row["bytes_on_disk"] is None else f", {row['bytes_on_disk'] / 1e9:.2f} GB on disk"),
        )
        for row in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *table]) for i in range(len(header))]
    for line in [header, *table]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip())
    return 0


def _info(pipe: Pipeline, as_json: bool) -> int:
    """Print versions, the device, and for every stage its source and whether it is on this machine."""
    from ..models import weights_status
    from ..results import versions

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
    from ..models import download, resolve_source

    wanted = list(STAGES) if args.stages == "all" else [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in STAGES]
    if unknown:
        print(f"textinpaint: error: --stages must name stages among {list(STAGES)}; got {unknown}", file=sys.stderr)
        return 1
    names = stage_names(args)
    failed = 0
    for stage in wanted:
        repo = resolve_source(stage, names[stage], None)  # the Hub id, even when --models is the target
        target = None if args.models is None else Path(args.models) / stage
        try:
            where = download(stage, repo, target)
        except TextInpaintError as error:
            print(f"textinpaint: error: {stage}: {error}", file=sys.stderr)
            failed += 1
            continue
        print(f"{stage}: {repo} -> {where}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
