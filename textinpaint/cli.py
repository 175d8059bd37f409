"""The ``textinpaint`` command: the library's stages from a shell.

    textinpaint replace street.jpg --find "the red car" --with "a vintage blue pickup truck" -o out.png
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textinpaint", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    commands = parser.add_subparsers(dest="command", required=True)

    models = argparse.ArgumentParser(add_help=False)
    group = models.add_argument_group("models")
    group.add_argument("--models", type=Path, help="folder with detector/, segmenter/, inpainter/ (offline use)")
    group.add_argument("--detector", help="GroundingDINO: tiny, base, a Hub id or a folder (default tiny)")
    group.add_argument("--segmenter", help="SAM: base, large, huge, a Hub id or a folder (default huge)")
    group.add_argument("--inpainter", help="sd15, sd2, sdxl, a Hub id or a folder (default sd15)")
    group.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    group.add_argument("--dtype", help="float16, bfloat16 or float32 (default float16 on CUDA)")

    finding = argparse.ArgumentParser(add_help=False)
    group = finding.add_argument_group("detection")
    group.add_argument("--find", required=True, help='what to find: "the red car", or several: "dog. cat"')
    group.add_argument("--box-threshold", type=float, default=0.35)
    group.add_argument("--text-threshold", type=float, default=0.25)

    replace = commands.add_parser("replace", parents=[models, finding], help="find an object and repaint it")
    replace.add_argument("image", type=Path)
    replace.add_argument("--with", dest="with_", required=True, help="what to paint instead")
    replace.add_argument("-o", "--output", type=Path, required=True, help="where to write the edited image")
    replace.add_argument("--select", type=_select, default="all", help="all, best, largest, N or N,M (default all)")
    replace.add_argument("--mask-mode", choices=["mask", "box"], default="mask")
    replace.add_argument("--strict", action="store_true", help="treat nothing found as an error")
    replace.add_argument("--negative-prompt")
    replace.add_argument("--steps", type=int)
    replace.add_argument("--guidance", type=float)
    replace.add_argument("--strength", type=float)
    replace.add_argument("--seed", type=int, help="random seed (default: drawn and printed)")
    replace.add_argument("--dilate", type=int, help="grow the mask by N px (default: automatic)")
    replace.add_argument("--feather", type=int, help="soft blend band of N px (default: automatic)")
    replace.add_argument("--save-mask", type=Path, help="also write the repainted region as a PNG")
    replace.add_argument("--save-overlay", type=Path, help="also write the detections drawn on the input")

    detect = commands.add_parser("detect", parents=[models, finding], help="find objects; print them as JSON")
    detect.add_argument("image", type=Path)
    detect.add_argument("--save-overlay", type=Path, help="also write the detections drawn on the image")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return _run(args)
    except (TextInpaintError, NotImplementedError) as error:
        print(f"textinpaint: error: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from .pipeline import Pipeline
    from .results import annotate

    pipe = Pipeline(
        args.detector, args.segmenter, args.inpainter, models=args.models, device=args.device, dtype=args.dtype
    )
    thresholds = {"box_threshold": args.box_threshold, "text_threshold": args.text_threshold}
    if args.command == "detect":
        detections = pipe.detect(args.image, args.find, **thresholds)
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
    options = {
        key: value for key, value in vars(args).items()
        if key in ("negative_prompt", "steps", "guidance", "strength", "seed", "dilate", "feather") and value is not None
    }
    edit = pipe.replace(
        args.image, args.find, args.with_, select=args.select, mask_mode=args.mask_mode, strict=args.strict,
        **thresholds, **options,
    )
    if args.save_overlay:
        edit.annotate().save(args.save_overlay)
    if not edit.found:
        best = edit.detections.metadata.get("best_score")
        print(f"nothing matching {args.find!r} was found (best score {best}); no output written", file=sys.stderr)
        return NOTHING_FOUND
    args.output.parent.mkdir(parents=True, exist_ok=True)
    edit.image.save(args.output)
    if args.save_mask:
        from PIL import Image

        Image.fromarray(edit.mask).save(args.save_mask)
    phrases = ", ".join(f"{edit.detections.data['phrase'][i]} ({edit.detections.confidence[i]:.2f})" for i in edit.selected)
    print(f"wrote {args.output} (seed {edit.seed}; repainted {len(edit.selected)} of {len(edit.detections)}: {phrases})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
