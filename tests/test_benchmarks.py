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


# The model zoo. Published sizes: SAM 3's 848M (Meta's release notes), the rest read off the
# published checkpoints: SAM 2.1 Hiera-L 224.4M (SAM 2's README), SAM-HQ ViT-H's model.safetensors
# of 2.57 GB and OWLv2 B/16's of 620 MB (float32: 4 bytes a parameter), MM-GroundingDINO tiny the
# size of GroundingDINO tiny (172M, same Swin-T and BERT-base), FLUX.1 Fill's "12 billion
# parameter" transformer with the 4.76B T5-XXL encoder and 83.8M VAE of FLUX.1.
ZOO = [
    (lambda: architectures.sam3(META, torch.float32), 848e6, 0.01),
    (lambda: architectures.sam2_large(META, torch.float32, video=True), 224.4e6, 0.001),
    (lambda: architectures.sam_hq_huge(META, torch.float32), 2.57e9 / 4, 0.005),
    (lambda: architectures.owlv2_base(META, torch.float32), 620e6 / 4, 0.005),
    (lambda: architectures.mm_grounding_dino_tiny(META, torch.float32), 172e6, 0.005),
    (lambda: architectures.flux_fill_modules()["transformer"], 12e9, 0.01),
    (lambda: architectures.flux_fill_modules()["text_encoder_2"], 4.76e9, 0.001),
    (lambda: architectures.flux_fill_modules()["vae"], 83.8e6, 0.001),
]


@pytest.mark.parametrize(
    "build,expected,tolerance",
    ZOO,
    ids=[
        "sam3",
        "sam2.1-hiera-large",
        "sam-hq-vit-huge",
        "owlv2-b16",
        "mm-gdino-tiny",
        "flux-fill",
        "t5-xxl",
        "flux-vae",
    ],
)
def test_zoo_architectures_have_the_published_sizes(build, expected, tolerance):
    with torch.device("meta"):
        model = build()
    assert abs(architectures.parameters(model) - expected) / expected < tolerance


def test_sam_images_run_the_image_parts_of_the_published_checkpoints():
    """Still images need neither SAM 3's tracker nor SAM 2's memory: what loads is a subset."""
    with torch.device("meta"):
        assert architectures.parameters(architectures.sam3(META, torch.float32)) == 840_376_374
        assert architectures.parameters(architectures.sam3_video(META, torch.float32)) == 859_921_848
        assert architectures.parameters(architectures.sam2_large(META, torch.float32)) == 216_924_865


@pytest.mark.heavy  # a fresh interpreter runs it (seconds)
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
    assert "library overhead on a 1.0-megapixel JPEG photo" in out
    assert "| all but file decoding |" in out and "| simplejpeg (libjpeg-turbo), used |" in out


# ---- work accounting (benchmarks/work.py): FLOPs counted on the full-size architectures ----------

import work  # noqa: E402


def test_stage_bytes_and_roofline_arithmetic():
    stage = work.Stage("unet", flops=2e12, calls=10, parameters=1_000_000_000, dtype=torch.float16)
    assert stage.total_flops == 2e13 and stage.bytes == 2e10
    device = work.Device("test", half_flops=1e15, single_flops=1e14, bandwidth=1e12)
    assert stage.seconds(device) == pytest.approx(max(2e13 / 1e15, 2e10 / 1e12))  # memory-bound here: 20 ms
    single = work.Stage("sam", flops=1e12, calls=1, parameters=10, dtype=torch.float32)
    assert single.seconds(device) == pytest.approx(1e12 / 1e14)  # fp32 runs at the fp32 peak


def test_sam_and_unet_flops_match_the_published_figures():
    (encoder, decoder) = work.segmenter_stages(torch.float16)
    assert encoder.flops / 2 == pytest.approx(2.973e12, rel=0.02), "SAM ViT-H encoder: about 2,973 GMACs"
    assert encoder.parameters == pytest.approx(632e6, rel=0.01) and decoder.flops < encoder.flops / 100
    text, vae_encode, unet, vae_decode = work.sd15_stages(torch.float16, 512, 25, guidance=True)
    assert unet.calls == 25 and unet.parameters == 859_535_364
    assert unet.flops / 2 / 2 == pytest.approx(0.4e12, rel=0.02), (
        "SD 1.5 UNet at 64x64 latents: about 0.4 TMACs a sample"
    )
    assert vae_decode.flops > vae_encode.flops > text.flops
    assert unet.bytes == 859_535_364 * 2 * 25


def test_fast_mode_and_flux_fill_work_is_counted():
    """fast=True: 4 UNet passes of batch 1 against 25 of batch 2. FLUX.1 Fill at 1024 px: 4,096
    image and 512 text tokens through 11.9B parameters, less the modulation weights that see one
    vector a sample, plus attention: about 74 TFLOPs a step."""
    *_, unet, _ = work.sd15_stages(torch.float16, 512, 4, guidance=False)
    *_, full, _ = work.sd15_stages(torch.float16, 512, 25, guidance=True)
    assert unet.calls == 4 and unet.total_flops == pytest.approx(full.total_flops * 4 / 25 / 2, rel=0.01)
    text, encode, transformer, decode = work.flux_fill_stages(torch.bfloat16, 1024, 28)
    assert transformer.calls == 28 and transformer.parameters == 11_902_391_360
    assert transformer.flops == pytest.approx(74.4e12, rel=0.02)
    assert transformer.bytes == 11_902_391_360 * 2 * 28 and text.parameters > 4.8e9


@pytest.mark.heavy
def test_work_report_prints_both_chains_and_the_ratio():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "work.py"), "--no-sdxl", "--no-flux"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "lower bounds, not measurements" in out and out.count("| **total** |") == 3
    assert "| UNet (25 steps, batch 2) |" in out and "| UNet (50 steps, batch 2) |" in out
    assert "| UNet (4 steps, batch 1) |" in out and "Painting, fast / 25 steps with guidance: 0.1" in out
    assert "Work, ours / baseline: 0.5" in out and "an estimate" in out


@pytest.mark.heavy
def test_ray_throughput_run_prints_its_table():
    pytest.importorskip("ray", reason="the ray extra is not installed")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ray_throughput.py"), "--images", "3", "--actors", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| local CLI (1 thread) |" in result.stdout and "| ray | 1 |" in result.stdout
    assert "ms per photo once the actor is up" in result.stdout


def test_lama_flops_are_what_the_flop_counter_counts_for_big_lamas_layers():
    """benchmarks/video_work.py counts big-LaMa layer by layer; the same layers built as torch
    convolutions on the meta device (the spectral 1x1 on the FFT's half-width grid) give the same
    count under FlopCounterMode. The layer list also holds big-LaMa's published 51 M weights."""
    import video_work
    from torch import nn

    def stack(h, w):
        layers = [(nn.Conv2d(4, 64, 7, padding=3), (h, w))]
        layers += [(nn.Conv2d(64 * 2**i, 128 * 2**i, 3, 2, 1), (h >> i, w >> i)) for i in range(3)]
        local, glob, (bh, bw) = 128, 384, (h // 8, w // 8)
        block = [
            (nn.Conv2d(local, local, 3, padding=1), (bh, bw)),
            (nn.Conv2d(local, glob, 3, padding=1), (bh, bw)),
            (nn.Conv2d(glob, local, 3, padding=1), (bh, bw)),
            (nn.Conv2d(glob, glob // 2, 1), (bh, bw)),
            (nn.Conv2d(glob, glob, 1), (bh, bw // 2 + 1)),
            (nn.Conv2d(glob // 2, glob, 1), (bh, bw)),
        ]
        layers += block * 36
        layers += [(nn.ConvTranspose2d(64 * 2**i, 32 * 2**i, 3, 2, 1, 1), (h >> i, w >> i)) for i in (3, 2, 1)]
        return layers + [(nn.Conv2d(64, 3, 7, padding=3), (h, w))]

    with torch.device("meta"):
        layers = stack(512, 384)
    counted = 0
    for layer, (h, w) in layers:
        shape = (1, layer.in_channels, h, w)
        with torch.utils.flop_counter.FlopCounterMode(display=False) as counter:
            layer(torch.empty(shape, device="meta"))
        counted += counter.get_total_flops()
    assert video_work.lama_flops(512, 384) == pytest.approx(counted, rel=1e-9)
    weights = sum(layer.weight.numel() for layer, _ in layers[:4] + layers[4:10] + layers[-4:])
    weights += 35 * sum(layer.weight.numel() for layer, _ in layers[4:10])
    assert weights == pytest.approx(51e6, rel=0.01)
