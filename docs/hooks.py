"""MkDocs hooks: pages generated at build time, so they cannot drift from the code.

- ``cli.md``: the ``--help`` of every ``textinpaint`` subcommand.
- ``weights.md``: ``weights/README.md``, the single source of the weights guide.
- ``img/architecture.svg``: the layers and stages of the library, drawn from the stage table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent


def _cli_reference() -> str:
    from textinpaint.cli import _parser

    parser = _parser()
    parser.prog = "textinpaint"
    parts = [
        "# CLI reference\n",
        "Generated from the command's own `--help` at every docs build.\n",
        "```text",
        parser.format_help().rstrip(),
        "```\n",
    ]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                parts += [f"## `textinpaint {name}`\n", "```text", sub.format_help().rstrip(), "```\n"]
    return "\n".join(parts)


def _weights_guide() -> str:
    text = (ROOT / "weights" / "README.md").read_text().replace("](../docs/", "](")  # links from the repo to the site
    return text + "\n\n*This page is `weights/README.md` in the repository.*\n"


def _box(x: int, y: int, width: int, height: int, lines: list[str], fill: str) -> str:
    from html import escape

    bold = ' font-weight="bold"'

    text = "".join(
        f'<text x="{x + width / 2}" y="{y + 20 + 16 * i}" text-anchor="middle" '
        f'font-size="{13 if i == 0 else 11}"{bold if i == 0 else ""}>{escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    return f'<rect x="{x}" y="{y}" width="{width}" height="{height}" rx="6" fill="{fill}" stroke="#555"/>{text}'


def _architecture_svg() -> str:
    """Layers top to bottom: entry points, the pipeline, workflows, shared steps, the stages of the table, results."""
    from textinpaint.stages import STAGES

    width, parts, y = 1120, [], 10
    rows = [
        (
            [
                ["CLI", "cli.py, batch.py"],
                ["Python API", "__init__.py"],
                ["Web app", "app.py"],
                ["replay", "sidecars.py"],
            ],
            "#e8f0fe",
        ),
        (
            [
                [
                    "Pipeline",
                    "pipeline.py: settings + one ModelStore (models.py)",
                    "per-stage access read off the stage table (stages.py)",
                ]
            ],
            "#fef7e0",
        ),
        (
            [
                ["replace", "workflows/replace.py"],
                ["remove", "workflows/remove.py"],
                ["replace_background", "workflows/background.py"],
                ["inpaint", "workflows/inpaint.py"],
                ["generate", "workflows/generate.py"],
                ["detect / segment", "workflows/find.py"],
            ],
            "#e6f4ea",
        ),
        (
            [
                ["1. inputs", "load_pictures", "images.py"],
                ["2. find", "find_regions", "options.py (FindOptions)"],
                ["3. paint", "paint_found", "inpainting.py, masks.py"],
                ["4. record", "assemble -> Edit + Record", "results.py, outputs.py"],
            ],
            "#fce8e6",
        ),
    ]
    stage_boxes = []
    for stage in STAGES.values():
        files = sorted({backend.loader.split(":")[0] + ".py" for backend in stage.backends})
        stage_boxes.append([stage.name, ", ".join(files), f"default {stage.default}"])
    rows.append((stage_boxes, "#f3e8fd"))
    titles = [
        "entry points",
        "the pipeline",
        "workflows (one file each)",
        "the steps they share (runtime.py)",
        "stages: one entry each in stages.py + a loader file",
    ]
    for (boxes, fill), title in zip(rows, titles):
        parts.append(f'<text x="10" y="{y + 12}" font-size="12" fill="#333">{title}</text>')
        y += 18
        height = 22 + 16 * max(len(b) for b in boxes)
        gap = 10
        box_width = (width - 20 - gap * (len(boxes) - 1)) // len(boxes)
        for i, lines in enumerate(boxes):
            parts.append(_box(10 + i * (box_width + gap), y, box_width, height, lines, fill))
        y += height + 14
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
        f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>{"".join(parts)}</svg>'
    )


def on_files(files, config):
    files.append(File.generated(config, "img/architecture.svg", content=_architecture_svg()))
    for name, content in (("cli.md", _cli_reference()), ("weights.md", _weights_guide())):
        files.append(File.generated(config, name, content=content))
    return files
