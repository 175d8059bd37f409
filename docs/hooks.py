"""MkDocs hooks: pages generated at build time, so they cannot drift from the code.

- ``cli.md``: the ``--help`` of every ``textinpaint`` subcommand.
- ``weights.md``: ``weights/README.md``, the single source of the weights guide.
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
    text = (ROOT / "weights" / "README.md").read_text()
    return text + "\n\n*This page is `weights/README.md` in the repository.*\n"


def on_files(files, config):
    for name, content in (("cli.md", _cli_reference()), ("weights.md", _weights_guide())):
        files.append(File.generated(config, name, content=content))
    return files
