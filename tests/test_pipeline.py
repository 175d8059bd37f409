"""replace() and Pipeline: selection, nothing found, seeds, lazy shared models, model errors."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch
from conftest import ConstantFiller, FailingFiller, noise, scripted_detector

import textinpaint
from textinpaint import (
    Edit,
    InvalidInputError,
    ModelKindError,
    NothingFoundError,
    Pipeline,
    WeightsNotFoundError,
)
from textinpaint.masks import box_mask

PHRASES = ["dog", "cat"]
# Three separate objects, in score order: small dog, large cat, medium dog (normalised cx, cy, w, h).
ENTRIES = [(0, 0.9, (0.2, 0.2, 0.1, 0.1)), (1, 0.6, (0.7, 0.7, 0.4, 0.4)), (0, 0.5, (0.2, 0.75, 0.2, 0.2))]
PIXEL_BOXES = [(30, 30, 50, 50), (100, 100, 180, 180), (20, 130, 60, 170)]  # the same, in a 200x200 image


@pytest.fixture
def scripted(tiny_models):
    return Pipeline(
        detector=scripted_detector(tiny_models, PHRASES, ENTRIES),
        inpainter=ConstantFiller(),
        models=tiny_models,
        device="cpu",
    )


def boxes_changed(edit: Edit):
    image = np.asarray(edit.image)
    return [bool((image[y0:y1, x0:x1] == [255, 0, 255]).all()) for x0, y0, x1, y1 in PIXEL_BOXES]


@pytest.mark.parametrize(
    "select,expected",
    [
        ("all", [True, True, True]),
        ("best", [True, False, False]),
        ("largest", [False, True, False]),
        (2, [False, False, True]),
        ([0, 2], [True, False, True]),
    ],
)
def test_select_in_box_mode(scripted, select, expected):
    edit = scripted.replace(noise(200, 200), "dog. cat", "a fox", select=select, mask_mode="box", seed=1)
    assert boxes_changed(edit) == expected
    assert edit.selected == [i for i, chosen in enumerate(expected) if chosen]
    outside = ~edit.mask
    np.testing.assert_array_equal(np.asarray(edit.image)[outside], noise(200, 200)[outside])
    assert edit.mask[box_mask(edit.detections.xyxy[edit.selected], 200, 200)].all()


def test_largest_in_mask_mode_compares_mask_areas(scripted):
    edit = scripted.replace(noise(200, 200), "dog. cat", "a fox", select="largest", seed=1)
    areas = edit.detections.mask.sum(axis=(1, 2))
    assert edit.selected == [int(np.argmax(areas))]
    assert edit.detections.mask.shape == (3, 200, 200)


def test_mask_mode_repaints_the_union_of_sam_masks(scripted):
    edit = scripted.replace(noise(200, 200), "dog. cat", "a fox", seed=1, dilate=0, feather=0)
    union = edit.detections.mask.any(axis=0)
    np.testing.assert_array_equal(edit.mask, union)
    assert (np.asarray(edit.image)[union] == [255, 0, 255]).all()


@pytest.mark.parametrize("select", ["first", 3, [0, 5], -1, [], 1.5, True])
def test_bad_select_is_refused(scripted, select):
    with pytest.raises(InvalidInputError, match="select"):
        scripted.replace(noise(200, 200), "dog. cat", "a fox", select=select, mask_mode="box")


def test_bad_mask_mode_is_refused(scripted):
    with pytest.raises(InvalidInputError, match="mask_mode must be 'mask' or 'box'; got 'outline'"):
        scripted.replace(noise(200, 200), "dog", "a fox", mask_mode="outline")  # type: ignore[arg-type]


def test_edit_reports_detections_seed_and_timings(scripted):
    edit = scripted.replace(noise(200, 200), "dog. cat", "a fox", seed=5)
    assert edit.found and edit.seed == 5
    assert list(edit.detections.data["phrase"]) == ["dog", "cat", "dog"]
    assert {"load", "detect", "segment", "inpaint"} <= set(edit.timings)
    assert edit.source.size == edit.image.size == (200, 200)
    drawn = edit.annotate()
    assert drawn.size == (200, 200) and np.asarray(drawn).tobytes() != np.asarray(edit.source).tobytes()


def test_nothing_found_returns_the_input_and_runs_only_the_detector(tiny_models):
    lonely = Pipeline(
        detector=tiny_models / "detector", segmenter=tiny_models / "nowhere", inpainter=FailingFiller(), device="cpu"
    )
    image = noise(60, 90)
    edit = lonely.replace(image, "a dog", "a cat", box_threshold=1.0)
    assert not edit.found and edit.selected == [] and len(edit.detections) == 0
    np.testing.assert_array_equal(np.asarray(edit.image), image)
    assert not edit.mask.any() and edit.mask.shape == (60, 90)
    assert set(edit.timings) == {"load", "detect"}


def test_nothing_found_with_strict_raises_naming_query_and_best_score(pipe):
    with pytest.raises(NothingFoundError, match=r"find='a dog' .*box_threshold=1.0 \(the best score seen was 0\.\d+\)"):
        pipe.replace(noise(60, 90), "a dog", "a cat", box_threshold=1.0, strict=True)


def test_replace_end_to_end_on_tiny_models_is_reproducible(pipe):
    image = noise(97, 131)
    edit = pipe.replace(
        image, "the red car. a dog", "a blue truck", seed=11, box_threshold=0.0, text_threshold=0.0, steps=2
    )
    again = pipe.replace(
        image, "the red car. a dog", "a blue truck", seed=11, box_threshold=0.0, text_threshold=0.0, steps=2
    )
    assert edit.image.size == (131, 97) and edit.found
    np.testing.assert_array_equal(np.asarray(edit.image), np.asarray(again.image))
    np.testing.assert_array_equal(np.asarray(edit.image)[~edit.mask], image[~edit.mask])


def test_empty_replacement_removes_with_the_fill_model_not_the_diffusion_model(tiny_models):
    remover = ConstantFiller((0, 255, 0))
    pipeline = Pipeline(
        detector=scripted_detector(tiny_models, PHRASES, ENTRIES),
        inpainter=FailingFiller(),
        remover=remover,
        models=tiny_models,
        device="cpu",
    )
    edit = pipeline.replace(noise(200, 200), "dog", "  ", mask_mode="box", select="best")
    assert remover.calls == 1 and edit.found and "remove" in edit.timings
    assert (np.asarray(edit.image)[35:45, 35:45] == [0, 255, 0]).all()


def test_models_load_lazily_once_and_are_shared_between_pipelines(tiny_models):
    first = Pipeline(models=tiny_models, device="cpu")
    assert first.loaded() == []
    second = Pipeline(models=tiny_models, device="cpu")
    assert first.detector is second.detector and first.segmenter is second.segmenter
    assert first.inpainter is second.inpainter


def test_device_and_dtype_defaults_on_cpu(tiny_models):
    pipeline = Pipeline(models=tiny_models, device="cpu")
    assert pipeline.device == torch.device("cpu") and pipeline.dtype == torch.float32
    assert Pipeline(models=tiny_models, device="cpu", dtype="bf16").dtype == torch.bfloat16


def test_bad_dtype_is_named(tiny_models):
    with pytest.raises(InvalidInputError, match="dtype must be one of"):
        Pipeline(models=tiny_models, device="cpu", dtype="int8")


def test_short_names_map_to_hub_ids():
    pipeline = Pipeline(detector="base", segmenter="large", inpainter="sdxl", depth="dpt-large", device="cpu")
    assert [pipeline.source(stage) for stage in ("detector", "segmenter", "inpainter", "depth")] == [
        "IDEA-Research/grounding-dino-base",
        "facebook/sam-vit-large",
        "diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
        "Intel/dpt-large",
    ]
    assert pipeline.source("controlnet") == "diffusers/controlnet-depth-sdxl-1.0"
    assert "inpainter" not in pipeline.loaded(), "choosing the ControlNet does not load the inpainter"
    defaults = Pipeline(device="cpu")
    assert defaults.source("controlnet") == "lllyasviel/control_v11f1p_sd15_depth"
    assert defaults.source("inpainter") == "stable-diffusion-v1-5/stable-diffusion-inpainting"
    assert defaults.source("remover") == "JosephCatrambone/big-lama-torchscript"
    assert defaults.source("upscaler") == "stabilityai/stable-diffusion-x4-upscaler"


def test_missing_weights_offline_name_the_model_and_the_way_out():
    pipeline = Pipeline(detector="IDEA-Research/grounding-dino-tiny", device="cpu")
    with pytest.raises(WeightsNotFoundError, match=r"detector IDEA-Research/grounding-dino-tiny.*models=DIR"):
        pipeline.detector


def test_models_folder_without_a_stage_subfolder(tmp_path):
    pipeline = Pipeline(models=tmp_path, device="cpu")
    with pytest.raises(WeightsNotFoundError, match="has no detector/ subfolder"):
        pipeline.detector


@pytest.mark.parametrize(
    "stage,wrong,message",
    [
        ("detector", "segmenter", "holds a 'sam' model; the detector needs one of"),
        ("segmenter", "detector", "holds a 'grounding-dino' model; the segmenter needs one of"),
        ("inpainter", "detector", "not a diffusers pipeline folder"),
    ],
)
def test_a_checkpoint_of_the_wrong_kind_is_named(tiny_models, stage, wrong, message):
    pipeline = Pipeline(**{stage: tiny_models / wrong}, models=tiny_models, device="cpu")
    with pytest.raises(ModelKindError, match=message):
        getattr(pipeline, stage)


def test_module_functions_use_the_shared_default_pipeline(pipe):
    assert textinpaint.configure(pipe) is pipe
    assert textinpaint.default_pipeline() is pipe
    found = textinpaint.detect(noise(40, 40), "a dog", box_threshold=0.0, text_threshold=0.0)
    assert len(found) > 0
    out = textinpaint.inpaint(noise(40, 40), np.ones((40, 40), bool), "a cat", steps=1, seed=0).image
    assert isinstance(out, PIL.Image.Image)
    assert textinpaint.replace.__doc__ == Pipeline.replace.__doc__
    textinpaint.configure()  # the default again, from the environment (it loads nothing until used)


def test_importing_the_package_loads_no_model_library():
    import subprocess
    import sys

    code = "import sys, textinpaint; print('diffusers' in sys.modules, 'transformers.models.sam.modeling_sam' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_no_loader_ever_trusts_remote_code(tiny_models, monkeypatch):
    import diffusers
    import transformers

    seen = []

    def recording(original):
        def load(*args, **kwargs):
            seen.append(kwargs.get("trust_remote_code", False))
            return original(*args, **kwargs)

        return load

    for owner, name in [
        (transformers.AutoProcessor, "from_pretrained"),
        (transformers.AutoModelForZeroShotObjectDetection, "from_pretrained"),
        (transformers.SamModel, "from_pretrained"),
        (transformers.SamProcessor, "from_pretrained"),
        (diffusers.AutoPipelineForInpainting, "from_pretrained"),
    ]:
        monkeypatch.setattr(owner, name, recording(getattr(owner, name)))
    pipeline = Pipeline(models=tiny_models, device="cpu", dtype="bfloat16")  # a copy no other test has loaded
    pipeline.detector, pipeline.segmenter, pipeline.inpainter
    assert len(seen) >= 5 and not any(seen)


def test_speed_modes_apply_at_load_and_get_their_own_cached_copy(tiny_models, monkeypatch):
    from textinpaint import Speed

    compiled = []
    monkeypatch.setattr(torch, "compile", lambda module, **kw: compiled.append(module) or module)
    plain = Pipeline(models=tiny_models, device="cpu").inpainter
    fast = Pipeline(models=tiny_models, device="cpu", speed=Speed(compile=True, channels_last=True, vae_tiling=True))
    inpainter = fast.inpainter
    assert inpainter is not plain and not plain.pipe.vae.use_tiling
    assert inpainter.pipe.vae.use_tiling and len(compiled) == 2
    assert inpainter.pipe.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    out = fast.inpaint(noise(40, 40), np.ones((40, 40), bool), "a cat", steps=1, seed=0).image
    assert out.size == (40, 40)


def test_offload_needs_cuda(tiny_models):
    from textinpaint import Speed

    with pytest.raises(InvalidInputError, match="offload=True needs a CUDA device; got device=cpu"):
        Pipeline(models=tiny_models, device="cpu", speed=Speed(offload=True)).inpainter
