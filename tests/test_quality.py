"""The code checks CI runs: ruff (lint and format), mypy, and a reason beside every `type: ignore`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ["textinpaint", "tests", "benchmarks", "docs"]


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint_passes():
    result = run("ruff", "check", *CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied():
    result = run("ruff", "format", "--check", *CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_passes():
    result = run("mypy", "--cache-dir", str(ROOT / ".mypy_cache"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_type_ignore_names_its_code_and_reason():
    pattern = re.compile(r"type:\s*ignore(?!\[[a-z-]+\]\s*#\s*[A-Za-z])")
    bare = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in (ROOT / "textinpaint").rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert bare == []


@pytest.mark.heavy
@pytest.mark.parametrize(
    "selection",
    # Two app tests that paint through the page's worker threads (the whole file takes a minute
    # here and runs in the suite anyway): what this checks is the process's exit after them.
    [["tests/test_app.py", "-k", "upload_detect_select_run_and_download or second_click_while_running"]],
)
def test_a_selection_of_tests_exits_cleanly(selection):
    """A worker thread left inside torch at shutdown aborts the process (exit 134) after the tests pass."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *selection],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode in (0, 5), result.stdout[-2000:] + result.stderr[-2000:]
    assert "terminate called" not in result.stderr
