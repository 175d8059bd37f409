"""What `pip install` from git installs: every module and data file of the package, in a real wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.heavy
def test_the_wheel_holds_every_module_and_data_file(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(ROOT),
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("textinpaint-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "textinpaint"
    expected = {
        str(p.relative_to(ROOT))
        for p in package.rglob("*")
        if p.is_file() and p.suffix in (".py", ".json", ".typed") and "__pycache__" not in p.parts
    }
    assert expected <= names, sorted(expected - names)
    assert any(name.endswith("licenses/LICENSE") for name in names)
