"""Every notebook runs top to bottom on the tiny models, so none can rot."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.heavy

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"quickstart.ipynb", "background.ipynb", "removal.ipynb", "generate.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tiny_models, monkeypatch):
    monkeypatch.setenv("TEXTINPAINT_MODELS", str(tiny_models))
    monkeypatch.setenv("TEXTINPAINT_STEPS", "2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # ipykernel's kernel.json starts "python": make that this interpreter, venv activated or not.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "outputs stripped"
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    shown = [
        o
        for cell in notebook.cells
        for o in cell.get("outputs", [])
        if o.get("output_type") in ("execute_result", "display_data")
    ]
    assert any("image/png" in o.get("data", {}) for o in shown), "the notebook shows pictures"
