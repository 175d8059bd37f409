"""The README's and the docs' Python code blocks run as written against the tiny models, after the
one documented line (``textinpaint.configure(models=..., device="cpu")``).

Each file's blocks run in order in one namespace, in a folder holding a picture under every
file name the blocks mention (a light object on a dark ground, so the salient subject is known).
A block that cannot run here says why in an HTML comment just above it (``<!-- not run: ... -->``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

import textinpaint

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"(<!-- not run: [^>]*-->\s*)?```python\n(.*?)```", re.S)

pytestmark = pytest.mark.heavy


def blocks(page: Path) -> list[str]:
    return [code for skipped, code in BLOCK.findall(page.read_text()) if not skipped]


def picture(path: Path, seed: int) -> None:
    rgb = np.random.default_rng(seed).integers(0, 256, (448, 640, 3), dtype=np.uint8)  # room for the clicks
    yy, xx = np.mgrid[:448, :640]
    disc = (yy - 224) ** 2 + (xx - 320) ** 2 < 120**2
    rgb[disc] = (230, 210, 180)
    if "mask" in path.name:
        rgb = np.where(disc[..., None], 255, 0).astype(np.uint8)
    PIL.Image.fromarray(rgb).save(path)


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_the_python_blocks_run_as_written_on_the_tiny_models(page, tiny_models, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = blocks(page)
    text = "\n".join(code)
    written = set(re.findall(r"save\(\s*[\"']([^\"']+)[\"']", text))  # what the blocks write
    names = sorted(set(re.findall(r"[\"']([\w\-/]+\.(?:jpg|png|jpeg|webp))[\"']", text)) - written)
    for i, name in enumerate(names):
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            picture(target, i)
    textinpaint.configure(models=tiny_models, device="cpu")
    namespace: dict = {"__name__": "__readme__"}
    try:
        for number, block in enumerate(code, 1):
            try:
                exec(compile(block, f"{page.name}, python block {number}", "exec"), namespace)
            except Exception as error:
                raise AssertionError(
                    f"{page.name}, python block {number} failed: {type(error).__name__}: {error}"
                ) from error
    finally:
        textinpaint.configure()
        os.environ.pop("TEXTINPAINT_MODELS", None)
