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

from .errors import TextInpaintError

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
    output.add_argument("-o", "--output", type=Path, required=True, help="where to write the result")
    output.add_argument("--save-mask", type=Path, help="also write the changed region as a PNG")
    output.add_argument("--save-overlay", type=Path, help="also write the detections drawn on the input")

    edit_parents = [models, finding, painting, output]
    replace = commands.add_parser("replace", parents=[*edit_parents, choosing], help="find an object and repaint it")
    replace.add_argument("image", type=Path)
    replace.add_argument("--with", dest="with_", required=True, help='what to paint instead ("" removes)')
    replace.add_argument("--strength", type=float)
    replace.add_argument("--refine", action="store_true", help="a second, low-strength pass at higher resolution")

    remove = commands.add_parser("remove", parents=[models, finding, output, choosing], help="erase an object (LaMa)")
    remove.add_argument("image", type=Path)
    remove.add_argument("--remover", help="LaMa: big-lama, a .pt file, a folder or a Hub id")

    background = commands.add_parser("background", parents=edit_parents, help="keep the subject, repaint the rest")
    background.add_argument("image", type=Path)
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


def _options(args: argparse.Namespace, *names: str) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _run(args: argparse.Namespace) -> int:
    from .pipeline import Pipeline
    from .results import annotate

    stages = {"controlnet": getattr(args, "controlnet", None), "depth": getattr(args, "depth_model", None),
              "remover": getattr(args, "remover", None), "upscaler": getattr(args, "upscaler", None)}
    pipe = Pipeline(args.detector, args.segmenter, args.inpainter, models=args.models, device=args.device,
                    dtype=args.dtype, **stages)
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
        rows = [
            {"phrase": str(p), "confidence": round(float(c), 4), "xyxy": [round(float(v), 2) for v in box]}
            for p, c, box in zip(detections.data["phrase"], detections.confidence, detections.xyxy)
        ]
        print(json.dumps(rows, indent=2))
        if args.save_overlay:
            annotate(args.image, detections).save(args.save_overlay)
        return 0 if rows else NOTHING_FOUND

    if args.output.resolve() == args.image.resolve():
        print("textinpaint: error: --output must differ from the input image; inputs are never overwritten",
              file=sys.stderr)
        return 1
    choosing = _options(args, "select", "mask_mode", "dilate", "feather")
    if args.command == "replace":
        edit = pipe.replace(args.image, args.find, args.with_, refine=args.refine, **choosing, **thresholds,
                            **_options(args, *painting, "strength"))
    elif args.command == "remove":
        edit = pipe.remove(args.image, args.find, **choosing, **thresholds)
    else:
        query = args.keep
        edit = pipe.replace_background(
            args.image, query, args.with_, mask=args.keep_mask, depth=args.depth, controlnet_scale=args.controlnet_scale,
            seam=args.seam, refine=args.refine, **thresholds, **_options(args, *painting),
        )
    if args.save_overlay:
        edit.annotate().save(args.save_overlay)
    if not edit.found:
        best = edit.detections.metadata.get("best_score")
        query = getattr(args, "find", None) or args.keep
        print(f"nothing matching {query!r} was found (best score {best}); no output written", file=sys.stderr)
        return NOTHING_FOUND
    _write(edit.image, args.output)
    if args.save_mask:
        from PIL import Image

        Image.fromarray(edit.mask).save(args.save_mask)
    used = ", ".join(f"{edit.detections.data['phrase'][i]} ({edit.detections.confidence[i]:.2f})" for i in edit.selected)
    print(f"wrote {args.output} (seed {edit.seed}; used {len(edit.selected)} of {len(edit.detections)} matches: {used})")
    return 0


def _write(image: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
