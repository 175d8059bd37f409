"""The benchmark harness: full-size architectures match the published models; the CPU smoke run works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import architectures  # noqa: E402

META = torch.device("meta")


@pytest.mark.parametrize(
    "build,part,expected",
    [
        (lambda: architectures.sd15_inpainting(META, torch.float32), "unet", 859_535_364),
        (lambda: architectures.sd15_inpainting(META, torch.float32), "vae", 83_653_863),
        (lambda: architectures.sd15_inpainting(META, torch.float32), "text_encoder", 123_060_480),
        (architectures.sdxl_modules, "unet", 2_567_478_084),
        (architectures.sdxl_modules, "text_encoder_2", 694_659_840),
    ],
    ids=["sd15-unet", "sd15-vae", "sd15-clip", "sdxl-unet", "sdxl-clip-bigG"],
)
def test_diffusion_architectures_have_the_published_sizes(build, part, expected):
    with torch.device("meta"):
        built = build()
    modules = built if isinstance(built, dict) else built.pipe.components
    assert architectures.parameters(modules[part]) == expected


@pytest.mark.parametrize("variant,expected", [("base", 93_735_472), ("huge", 641_090_608)])
def test_sam_architectures_have_the_published_sizes(variant, expected):
    with torch.device("meta"):
        model = architectures.sam(variant, META, torch.float32).model
    assert abs(architectures.parameters(model) - expected) / expected < 0.005


def test_grounding_dino_tiny_has_the_published_size():
    with torch.device("meta"):
        model = architectures.grounding_dino_tiny(META, torch.float32).model
    assert abs(architectures.parameters(model) - 172_000_000) / 172e6 < 0.02


def test_cpu_smoke_run_prints_the_tables(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--device",
            "cpu",
            "--repeats",
            "2",
            "--overhead-megapixels",
            "1",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "| replace() end to end |" in out and "| baseline (Grounded-SAM demo style) |" in out
    assert "| unet |" in out and "| sam image encoder |" in out and "| crop, resize, blend, paste |" in out
    assert "library overhead on a 1.0-megapixel photo" in out
