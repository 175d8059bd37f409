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
    from textinpaint.interfaces.cli import _parser

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
    """Layers top to bottom: interfaces, workflows, shared steps, the model container, the backends of the table."""
    from textinpaint.stages import STAGES

    width, parts, y = 1120, [], 10
    from textinpaint.workflows import WORKFLOWS

    rows = [
        (
            [
                ["CLI, batch, Ray", "interfaces/cli.py, batch.py, distributed.py"],
                ["Web app, report", "interfaces/app.py, report.py"],
                ["replay, writing", "interfaces/sidecars.py, outputs.py"],
                ["Python API", "pipeline.py: Pipeline = Models + workflows", "__init__.py"],
            ],
            "#e8f0fe",
        ),
        (
            [
                [flow.name, f"workflows/{flow.where.split(':')[0]}.py", f"CLI: {flow.command}"]
                for flow in WORKFLOWS.values()
            ],
            "#e6f4ea",
        ),
        (
            [
                ["1. inputs", "load_pictures", "images.py"],
                ["2. find", "find_regions", "options.py (FindOptions)"],
                ["3. paint", "paint_settings, paint_candidates", "abilities.py, inpainting.py, masks.py"],
                ["4. record", "assemble -> Edit + Record", "results.py"],
            ],
            "#fce8e6",
        ),
        (
            [
                [
                    "Models (container.py)",
                    "each stage loaded lazily, once (models.py)",
                    "abilities and family read off the stage table",
                ]
            ],
            "#fef7e0",
        ),
    ]
    stage_boxes = []
    for stage in STAGES.values():
        files = sorted({backend.loader.split(":")[0].replace(".", "/") + ".py" for backend in stage.backends})
        stage_boxes.append([stage.name, ", ".join(files), f"default {stage.default}"])
    rows.append((stage_boxes, "#f3e8fd"))
    titles = [
        "interfaces and the public API (top)",
        "workflows: one file each, one row each in WORKFLOWS (workflows/__init__.py)",
        "the steps they share (workflows/steps.py)",
        "the model container: no workflow in it",
        "backends: one entry each in stages.py + one file in backends/ declaring what it can do",
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


_ROLE = None


def on_page_content(html, page, config, files):
    """Sphinx roles left in docstrings (``:meth:`clear```, ``:func:`~textinpaint.replace```) as
    code, the way Sphinx shows them: the API page never shows a raw role."""
    import re

    global _ROLE
    if _ROLE is None:
        _ROLE = re.compile(r":(?:meth|func|class|mod|data|attr|exc|obj):`~?([^`]+)`")
    return _ROLE.sub(
        lambda m: f"<code>{m.group(1).rsplit('.', 1)[-1] if m.group(0).count('~') else m.group(1)}</code>", html
    )
