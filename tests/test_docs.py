"""The documentation site builds in strict mode: a broken link or reference fails the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.heavy
def test_docs_build_strict(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert "replace_background" in api and "NothingFoundError" in api
    cli = (tmp_path / "site" / "cli" / "index.html").read_text()
    assert "textinpaint background" in cli and "--keep-mask" in cli
    assert (tmp_path / "site" / "weights" / "index.html").exists()
    architecture = (tmp_path / "site" / "architecture" / "index.html").read_text()
    assert "img/architecture.svg" in architecture
    svg = (tmp_path / "site" / "img" / "architecture.svg").read_text()
    assert all(f">{stage}<" in svg for stage in ("detector", "segmenter", "inpainter", "remover", "upscaler"))
    assert "textinpaint replay" in (tmp_path / "site" / "sidecar" / "index.html").read_text()
