"""The structure every stage and workflow builds on: the stage table, option objects, fillers, the model store."""

from __future__ import annotations

import gc
import json
import math
import re
import threading
import weakref
from pathlib import Path

import numpy as np
import pytest
from conftest import ConstantFiller, FailingFiller, IdentityFiller, noise, scripted_detector

import textinpaint
from textinpaint import (
    BackgroundOptions,
    FindOptions,
    InvalidInputError,
    ModelKindError,
    PaintOptions,
    Pipeline,
    WeightsNotFoundError,
)
from textinpaint.interfaces.cli import COMMAND_STAGES, _parser
from textinpaint.models import backend_for
from textinpaint.stages import STAGES, markdown_table
from textinpaint.store import ModelStore

ROOT = Path(__file__).resolve().parent.parent

# ---- one table of stages ------------------------------------------------------------------------


def test_the_weights_guide_table_is_the_stage_table():
    assert markdown_table() in (ROOT / "weights" / "README.md").read_text()


def test_every_stage_has_a_default_among_its_short_names_and_a_loadable_backend():
    for stage in STAGES.values():
        assert stage.default in stage.names
        for model in stage.models:
            assert stage.backend(model.backend).name == model.backend
        for backend in stage.backends:
            assert callable(backend.load_function())


def help_of(command: str) -> str:
    parser = _parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices[command].format_help()


@pytest.mark.parametrize("command", list(COMMAND_STAGES))
def test_each_subcommand_offers_a_model_flag_for_exactly_the_stages_it_uses(command):
    text = help_of(command)
    for name, stage in STAGES.items():
        offered = re.search(rf"^\s+{re.escape(stage.flag)} MODEL", text, re.M) is not None
        assert offered == (name in COMMAND_STAGES[command]), (command, stage.flag)
        if offered:
            assert f"(default{stage.default})" in "".join(text.split())


def test_cli_defaults_come_from_the_option_objects():
    text = " ".join(help_of("replace").split())
    assert re.search(rf"--box-threshold BOX_THRESHOLD [^-]*\(default {FindOptions().box_threshold}\)", text)
    assert "--steps STEPS denoising steps (None: the model's default)" in text
    assert "(default: None)" not in text and "(default None)" not in text
    assert f"(default {BackgroundOptions().controlnet_scale})" in " ".join(help_of("background").split())


def test_info_lists_every_stage(tiny_models, capsys):
    from textinpaint.interfaces.cli import main

    assert main(["info", "--models", str(tiny_models), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert all(f"{name:>10}: present" in printed for name in STAGES)


# ---- which backend loads a source ----------------------------------------------------------------


@pytest.mark.parametrize(
    "stage,folder,message",
    [
        ("inpainter", "upscaler", "holds a 'StableDiffusionUpscalePipeline' model; the inpainter needs one of"),
        ("upscaler", "inpainter", "holds a 'StableDiffusionInpaintPipeline' model; the upscaler needs one of"),
        ("controlnet", "depth", "holds a 'dpt' model; the controlnet needs one of"),
        ("depth", "controlnet", "holds a 'ControlNetModel' model; the depth needs one of"),
        ("segmenter", "inpainter", "holds a 'StableDiffusionInpaintPipeline' model; the segmenter needs one of"),
    ],
)
def test_a_folder_of_another_stage_is_refused_before_loading(tiny_models, stage, folder, message):
    with pytest.raises(ModelKindError, match=re.escape(message)):
        backend_for(stage, str(tiny_models / folder))
    with pytest.raises(ModelKindError, match=re.escape(message)):
        Pipeline(**{stage: tiny_models / folder}, device="cpu").model(stage)


@pytest.mark.parametrize(
    "pipeline",
    [
        "StableDiffusion3InpaintPipeline",
        "QwenImageInpaintPipeline",
        "FluxInpaintPipeline",
        "FluxKontextInpaintPipeline",
    ],
)
def test_other_diffusers_inpainters_are_refused_naming_the_supported_ones(tmp_path, monkeypatch, pipeline):
    """SD3, Qwen-Image and FLUX's img2img-style inpainting (not Fill) are refused: a typed error
    before anything loads."""
    import diffusers

    def loaded(*args, **kwargs):
        raise AssertionError("nothing may load")

    monkeypatch.setattr(diffusers.AutoPipelineForInpainting, "from_pretrained", loaded)
    folder = tmp_path / pipeline
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": pipeline, "_diffusers_version": "0.35.0"}))
    supported = ["FluxFillPipeline", "StableDiffusionInpaintPipeline", "StableDiffusionXLInpaintPipeline"]
    expected = f"holds a '{pipeline}' model; the inpainter needs one of {supported}"
    with pytest.raises(ModelKindError, match=re.escape(expected)):
        Pipeline(inpainter=folder, device="cpu").inpainter
    with pytest.raises(ModelKindError, match=re.escape(pipeline)):
        backend_for("inpainter", str(folder))


def test_backends_are_read_off_files_and_folders(tiny_models, tmp_path):
    assert backend_for("segmenter", str(tmp_path / "sam_vit_b.pth")).name == "sam-original"
    assert backend_for("segmenter", str(tiny_models / "segmenter")).name == "sam"
    assert backend_for("remover", str(tiny_models / "remover")).name == "lama"
    assert backend_for("detector", "some-user/an-uncached-repo").name == "grounding-dino"
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsNotFoundError, match="holds no config.json or model_index.json"):
        backend_for("detector", str(tmp_path / "empty"))
    with pytest.raises(WeightsNotFoundError, match="holds no big-lama.pt or lama.pt"):
        backend_for("remover", str(tmp_path / "empty"))
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelKindError, match="is a file; the detector takes a model folder"):
        backend_for("detector", str(tmp_path / "weights.bin"))


def test_an_unknown_stage_is_a_typed_error(tiny_models):
    with pytest.raises(InvalidInputError, match="stage must be one of"):
        Pipeline(models=tiny_models, device="cpu").source("painter")


# ---- the model store ----------------------------------------------------------------------------


def test_clear_really_frees_the_models(tiny_models):
    pipeline = Pipeline(models=tiny_models, device="cpu", dtype="bfloat16")  # copies no other test holds
    detector = weakref.ref(pipeline.detector)
    segmenter = weakref.ref(pipeline.segmenter.model)
    assert pipeline.loaded() == ["detector", "segmenter"]
    pipeline.clear()
    gc.collect()
    assert detector() is None and segmenter() is None, "nothing else holds a cleared model"
    assert pipeline.loaded() == []
    assert pipeline.detector is not None, "the next use loads it again"


def test_a_model_shared_by_two_pipelines_lives_while_one_holds_it(tiny_models):
    first = Pipeline(models=tiny_models, device="cpu", dtype="bfloat16")
    second = Pipeline(models=tiny_models, device="cpu", dtype="bfloat16")
    model = first.detector
    assert second.detector is model
    reference = weakref.ref(model)
    del model
    first.clear()
    gc.collect()
    assert reference() is second.detector
    second.clear()
    gc.collect()
    assert reference() is None


def test_models_given_as_objects_survive_clear(tiny_models):
    filler = ConstantFiller()
    pipeline = Pipeline(inpainter=filler, models=tiny_models, device="cpu")
    pipeline.clear()
    assert pipeline.inpainter is filler and pipeline.loaded() == ["inpainter"]


class Model:
    """Any object a loader returns."""


def test_loads_of_different_models_do_not_wait_on_each_other():
    store = ModelStore({})
    started, other_done, results = threading.Event(), threading.Event(), {}

    def slow():
        started.set()
        results["overlapped"] = other_done.wait(10)  # a global lock would keep the other load waiting
        return Model()

    def fast():
        model = Model()
        other_done.set()
        return model

    key = ("detector", "a", "cpu", "float32", "")
    first = threading.Thread(target=lambda: results.setdefault("a", store.get("detector", key, slow)))
    first.start()
    assert started.wait(10)
    results["b"] = ModelStore({}).get("segmenter", ("segmenter", "b", "cpu", "float32", ""), fast)
    first.join(10)
    assert results["overlapped"] and isinstance(results["a"], Model)


def test_the_same_model_asked_for_by_many_threads_loads_once():
    calls = []

    def load():
        calls.append(1)
        threading.Event().wait(0.05)
        return Model()

    stores = [ModelStore({}) for _ in range(6)]
    found = []
    key = ("detector", "same", "cpu", "float32", "")
    threads = [threading.Thread(target=lambda s=s: found.append(s.get("detector", key, load))) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(calls) == 1 and len({id(model) for model in found}) == 1


# ---- fillers --------------------------------------------------------------------------------------


def subject_mask(height=40, width=40):
    mask = np.zeros((height, width), bool)
    mask[10:25, 10:25] = True
    return mask


def test_a_plain_user_filler_works_with_every_workflow_that_needs_no_more(tiny_models):
    filler = IdentityFiller()
    pipeline = Pipeline(inpainter=filler, remover=IdentityFiller(), models=tiny_models, device="cpu")
    image = noise(40, 40)
    edit = pipeline.replace_background(image, None, "a sky", mask=subject_mask(), depth=False)
    np.testing.assert_array_equal(np.asarray(edit.image), image)
    assert np.asarray(pipeline.inpaint(image, subject_mask(), "x").image).shape == (40, 40, 3)
    assert filler.calls, "the user's filler painted"


def test_depth_with_a_filler_that_takes_no_control_image_is_refused_up_front(tiny_models):
    pipeline = Pipeline(inpainter=FailingFiller(), models=tiny_models, device="cpu")
    with pytest.raises(
        InvalidInputError, match=r"custom FailingFiller cannot paint under a depth map .*fill_controlled.*depth=True"
    ):
        pipeline.replace_background(noise(40, 40), None, "a sky", mask=subject_mask())
    assert "depth" not in pipeline.loaded() and "controlnet" not in pipeline.loaded()


def test_upscale_with_a_custom_filler_is_refused_up_front(tiny_models):
    pipeline = Pipeline(inpainter=FailingFiller(), models=tiny_models, device="cpu")
    with pytest.raises(InvalidInputError, match="cannot run the diffusion upscaler; got upscale=2"):
        pipeline.inpaint(noise(40, 40), subject_mask(), "x", upscale=2).image
    with pytest.raises(InvalidInputError, match="cannot run the diffusion upscaler; got upscale=4"):
        pipeline.replace(noise(40, 40), "a dog", "a cat", upscale=4)


class ControlledFiller:
    """A user filler that paints under a control image: it paints the control picture itself."""

    native_size = 64

    def __init__(self):
        self.controls = []

    def __call__(self, crop, mask, request):
        raise AssertionError("background with depth calls fill_controlled")

    def fill_controlled(self, crops, masks, requests, controls, controlnet_scale):
        self.controls.append((controls[0].shape, controlnet_scale))
        return [control.copy() for control in controls]


def test_a_user_control_filler_gets_the_depth_map(tiny_models):
    filler = ControlledFiller()
    pipeline = Pipeline(inpainter=filler, models=tiny_models, device="cpu")
    edit = pipeline.replace_background(noise(40, 40), None, "a sky", mask=subject_mask(), controlnet_scale=0.4)
    assert filler.controls and filler.controls[0][1] == 0.4
    corner = np.asarray(edit.image)[:5, :5].reshape(-1, 3)  # far from the subject: painted, not blended
    assert (corner[:, 0] == corner[:, 1]).all() and (corner[:, 1] == corner[:, 2]).all(), "a depth map is grey"


@pytest.mark.parametrize("filler", [object(), type("NoSize", (), {"__call__": lambda *a: None})()])
def test_an_object_that_is_no_filler_is_refused_when_the_pipeline_is_made(filler):
    with pytest.raises(InvalidInputError, match=r"inpainter must be a Filler .* lacks"):
        Pipeline(inpainter=filler, device="cpu")


# ---- options reach every workflow -----------------------------------------------------------------


PHRASES = ["dog", "cat"]
OVERLAPPING = [(0, 0.9, (0.5, 0.5, 0.4, 0.4)), (1, 0.8, (0.52, 0.5, 0.4, 0.4))]  # IoU about 0.9


@pytest.fixture
def scripted(tiny_models):
    return Pipeline(
        detector=scripted_detector(tiny_models, PHRASES, OVERLAPPING),
        inpainter=ConstantFiller(),
        remover=ConstantFiller((0, 255, 0)),
        models=tiny_models,
        device="cpu",
    )


@pytest.mark.parametrize("workflow", ["replace", "remove", "background"])
def test_nms_iou_reaches_the_detector_from_every_workflow(scripted, workflow):
    def run(nms_iou):
        image = noise(60, 60)
        if workflow == "replace":
            return scripted.replace(image, "dog. cat", "a fox", mask_mode="box", nms_iou=nms_iou)
        if workflow == "remove":
            return scripted.remove(image, "dog. cat", mask_mode="box", nms_iou=nms_iou)
        return scripted.replace_background(image, "dog. cat", "a beach", depth=False, nms_iou=nms_iou)

    assert len(run(0.8).detections) == 1 and len(run(0.95).detections) == 2


def test_empty_with_removes_a_list_of_images(scripted):
    edits = scripted.replace([noise(60, 60), noise(60, 60, seed=1)], "dog", "", mask_mode="box", seed=[1, 2])
    assert [e.found for e in edits] == [True, True] and [e.seed for e in edits] == [1, 2]
    assert all((np.asarray(e.image)[30, 30] == [0, 255, 0]).all() for e in edits)
    assert all(e.record.workflow == "remove" for e in edits)


@pytest.mark.parametrize(
    "option,value",
    [
        ("steps", 5),
        ("negative_prompt", "blur"),
        ("scheduler", "ddim"),
        ("refine", True),
        ("upscale", 2),
        ("guidance", 1.0),
        ("strength", 0.5),
    ],
)
def test_empty_with_refuses_painting_options_it_cannot_honour(scripted, option, value):
    with pytest.raises(InvalidInputError, match=rf"with_='' removes .*takes no {option}"):
        scripted.replace(noise(60, 60), "dog", "", **{option: value})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float32("nan")])
@pytest.mark.parametrize(
    "call",
    [
        lambda p, v: p.replace(noise(20, 20), "dog", "x", box_threshold=v),
        lambda p, v: p.replace(noise(20, 20), "dog", "x", text_threshold=v),
        lambda p, v: p.replace(noise(20, 20), "dog", "x", nms_iou=v),
        lambda p, v: p.replace(noise(20, 20), "dog", "x", guidance=v),
        lambda p, v: p.replace(noise(20, 20), "dog", "x", strength=v),
        lambda p, v: p.inpaint(noise(20, 20), np.ones((20, 20), bool), "x", guidance=v).image,
        lambda p, v: p.replace_background(noise(20, 20), "dog", "x", controlnet_scale=v),
        lambda p, v: p.detect(noise(20, 20), "dog", box_threshold=v),
        lambda p, v: p.generate("x", guidance=v).image,
    ],
    ids=["box", "text", "nms", "guidance", "strength", "inpaint-guidance", "controlnet", "detect", "generate"],
)
def test_nan_and_infinite_numbers_are_refused_naming_the_argument(scripted, call, bad):
    with pytest.raises(InvalidInputError, match=r"must be a .*number"):
        call(scripted, bad)


def test_a_seed_list_must_match_the_images(scripted):
    with pytest.raises(InvalidInputError, match="seed must be one integer, or a list of 2"):
        scripted.replace([noise(20, 20), noise(20, 20)], "dog", "x", seed=[1])


def test_option_objects_validate_themselves():
    with pytest.raises(InvalidInputError, match="steps must be an integer >= 1"):
        PaintOptions(steps=0)
    with pytest.raises(InvalidInputError, match="mask_mode must be 'mask' or 'box'"):
        FindOptions(mask_mode="outline")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="seam must be None"):
        BackgroundOptions(seam=0)


def test_the_public_api_is_exported():
    for name in (
        "FindOptions",
        "PaintOptions",
        "BackgroundOptions",
        "BatchFiller",
        "ControlFiller",
        "Record",
        "replay",
        "read_sidecar",
    ):
        assert name in textinpaint.__all__ and hasattr(textinpaint, name)


def test_no_public_name_is_shadowed_by_a_module_of_the_same_name():
    import importlib
    import pkgutil

    modules = {info.name for info in pkgutil.iter_modules(textinpaint.__path__)}
    assert not modules & set(textinpaint.__all__), "importing such a module would replace the function"
    for name in modules - {"app", "testing", "__main__"}:
        importlib.import_module(f"textinpaint.{name}")
    assert callable(textinpaint.replay) and callable(textinpaint.replace)
