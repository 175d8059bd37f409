"""The model zoo: every short name of every stage has a tiny model in its real on-disk layout
(``python -m textinpaint.testing tiny-models DIR`` writes them to ``DIR/zoo``), which loads
through ``from_pretrained`` as the backend the stage table names, and every finding and painting
backend runs through the workflows with the library's guarantees."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from conftest import ConstantFiller, noise, scripted_detector

import textinpaint
from textinpaint import Pipeline
from textinpaint.errors import InvalidInputError
from textinpaint.models import backend_for
from textinpaint.stages import STAGES
from textinpaint.testing import write_zoo, zoo_name


def in_threads(run, jobs: list) -> list:
    """``run(*job)`` for every job, all at once, one thread each; the results in job order."""
    results: list = [None] * len(jobs)
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, run(*jobs[i]))) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


SHORT_NAMES = [(stage.name, model.name) for stage in STAGES.values() for model in stage.models]
QUERY = ["a dog", "the red car"]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo") / "zoo"
    return root, write_zoo(root)


def test_every_short_name_has_a_tiny_model(zoo):
    _, written = zoo
    assert sorted(written) == sorted(f"{stage}/{name}" for stage, name in SHORT_NAMES)
    assert len({str(folder) for folder in written.values()}) == len(written), "one folder per short name"


@pytest.mark.parametrize("stage,name", SHORT_NAMES, ids=[f"{s}/{n}" for s, n in SHORT_NAMES])
def test_each_tiny_model_is_read_as_its_backend_and_loads(zoo, stage, name):
    _, written = zoo
    folder = written[f"{stage}/{name}"]
    assert folder.name == zoo_name(stage, name)
    expected = STAGES[stage].names[name].backend
    assert backend_for(stage, str(folder)).name == expected, "the folder's layout names the same backend"
    pipeline = Pipeline(**{stage: folder}, device="cpu")
    model = pipeline.model(stage)
    assert pipeline.loaded() == [stage] and pipeline.model(stage) is model, "loaded once, then shared"


# ---- finding: each detector and segmenter backend through replace ---------------------------------

FIND = {"box_threshold": 0.0, "text_threshold": 0.0}
FINDERS = [("detector", "mm-tiny"), ("detector", "owlv2"), ("detector", "sam3"), ("segmenter", "hq-base")]
FINDERS += [("segmenter", "sam2.1-tiny"), ("segmenter", "sam2.1-large")]


def _finder_pipeline(zoo, tiny_models, stage, name):
    _, written = zoo
    return Pipeline(**{stage: written[f"{stage}/{name}"]}, inpainter=ConstantFiller(), models=tiny_models, device="cpu")


@pytest.mark.parametrize("stage,name", FINDERS, ids=[n for _, n in FINDERS])
def test_each_finder_edits_with_exact_phrases_and_untouched_pixels(zoo, tiny_models, stage, name):
    pipeline = _finder_pipeline(zoo, tiny_models, stage, name)
    images = [noise(48, 72, seed=1), noise(40, 56, seed=2)]
    edits = pipeline.replace(images, ". ".join(QUERY), "a fox", box_threshold=0.0, text_threshold=0.0, seed=3)
    for image, edit in zip(images, edits):
        assert edit.found and edit.mask.shape == image.shape[:2] and edit.mask.any()
        assert set(edit.detections.data["phrase"]) <= set(QUERY)
        assert edit.detections.mask.shape == (len(edit.detections), *image.shape[:2])
        np.testing.assert_array_equal(np.asarray(edit.image)[~edit.mask], image[~edit.mask])


@pytest.mark.parametrize("stage,name", FINDERS, ids=[n for _, n in FINDERS])
def test_each_finder_gives_the_same_edits_from_threads_as_in_turn(zoo, tiny_models, stage, name):
    pipeline = _finder_pipeline(zoo, tiny_models, stage, name)
    jobs = [(noise(48, 72, seed=i), i) for i in range(4)]

    def run(image, seed):
        edit = pipeline.replace(image, ". ".join(QUERY), "a fox", box_threshold=0.2, text_threshold=0.0, seed=seed)
        return np.asarray(edit.image), edit.detections.xyxy, list(edit.detections.data["phrase"])

    in_turn = [run(*job) for job in jobs]
    together = in_threads(run, jobs)
    for (image_a, boxes_a, phrases_a), (image_b, boxes_b, phrases_b) in zip(in_turn, together):
        np.testing.assert_array_equal(image_a, image_b)
        np.testing.assert_array_equal(boxes_a, boxes_b)
        assert phrases_a == phrases_b


def test_sam3_cuts_out_what_it_finds_so_the_segmenter_never_loads(zoo, tiny_models):
    _, written = zoo
    pipeline = Pipeline(detector=written["detector/sam3"], inpainter=ConstantFiller(), models=tiny_models, device="cpu")
    assert pipeline.detector_gives_masks()
    found = pipeline.detect(noise(48, 72), QUERY, box_threshold=0.0)
    assert found.mask is not None and found.mask.shape == (len(found), 48, 72) and found.mask.dtype == bool
    assert list(found.data["phrase"]) == [QUERY[i] for i in found.class_id]
    assert (np.diff(found.confidence) <= 0).all(), "sorted by score"
    edit = pipeline.replace(noise(48, 72), QUERY, "a fox", box_threshold=0.0, select="best", seed=0)
    assert edit.found and "segmenter" not in pipeline.loaded()
    assert "segmenter" not in edit.to_dict()["models"] and "detector" in edit.to_dict()["models"]
    np.testing.assert_array_equal(edit.mask, edit.detections.mask[0] | edit.mask)  # the region holds SAM 3's mask
    # Box mode paints the boxes, not SAM 3's masks; clicks refine with the segmenter.
    boxed = pipeline.replace(noise(48, 72), QUERY, "a fox", box_threshold=0.0, select="best", mask_mode="box", seed=0)
    x0, y0, x1, y1 = boxed.detections.xyxy[0]
    assert boxed.mask[int(np.ceil(y0)) : int(y1), int(np.ceil(x0)) : int(x1)].all()


def test_segment_keeps_the_masks_sam3_cut_out_unless_asked_for_boxes(zoo, tiny_models):
    _, written = zoo
    pipeline = Pipeline(detector=written["detector/sam3"], models=tiny_models, device="cpu")
    image = noise(48, 72)
    found = pipeline.detect(image, QUERY, box_threshold=0.0)
    assert len(found) and found.mask is not None
    kept = pipeline.segment(image, found)
    np.testing.assert_array_equal(kept.mask, found.mask)
    assert "segmenter" not in pipeline.loaded(), "SAM 3's own masks were kept; SAM did not run"
    again = pipeline.segment(image, boxes=found.xyxy)  # asked for: the segmenter cuts the boxes out
    assert again.mask.shape == found.mask.shape and "segmenter" in pipeline.loaded()


def test_every_detector_keeps_a_box_whose_score_equals_the_threshold(zoo, tiny_models):
    _, written = zoo
    for name in ("sam3", "owlv2", "mm-tiny"):
        pipeline = Pipeline(detector=written[f"detector/{name}"], models=tiny_models, device="cpu")
        image = noise(48, 72, seed=3)
        found = pipeline.detect(image, QUERY, box_threshold=0.0, text_threshold=0.0)
        assert len(found), f"{name} found nothing at threshold 0: the test would check nothing"
        best = float(found.confidence[0])
        again = pipeline.detect(image, QUERY, box_threshold=best, text_threshold=0.0)
        assert len(again) >= 1 and float(again.confidence[0]) == best, name  # score >= threshold is kept


def test_sam3_refuses_a_phrase_longer_than_its_text_window(zoo, tiny_models):
    _, written = zoo
    pipeline = Pipeline(detector=written["detector/sam3"], models=tiny_models, device="cpu")
    with pytest.raises(InvalidInputError, match="SAM 3's text window of 32"):
        pipeline.detect(noise(32, 32), "a " + "very " * 40 + "long dog")


def test_sam3_reports_the_best_score_when_nothing_passes(zoo, tiny_models):
    _, written = zoo
    pipeline = Pipeline(detector=written["detector/sam3"], models=tiny_models, device="cpu")
    found = pipeline.detect(noise(32, 32), "a dog", box_threshold=0.99)
    assert len(found) == 0 and found.mask.shape == (0, 32, 32)
    assert 0.0 <= found.metadata["best_score"] < 0.99


def test_sam2_boxes_and_clicks_reuse_one_encoding(zoo, tiny_models, monkeypatch):
    from textinpaint.backends.sam2 import Sam2
    from textinpaint.backends.segmentation import EMBEDDINGS

    EMBEDDINGS.clear()
    _, written = zoo
    pipeline = Pipeline(segmenter=written["segmenter/sam2.1-tiny"], models=tiny_models, device="cpu")
    assert isinstance(pipeline.segmenter, Sam2)
    encoder = pipeline.segmenter.model.vision_encoder
    calls = []
    original = encoder.forward
    monkeypatch.setattr(encoder, "forward", lambda *a, **k: calls.append(1) or original(*a, **k))
    image = noise(40, 90, seed=4)
    cut = pipeline.segment(image, boxes=[(5, 5, 40, 30), (50, 10, 85, 38)])
    assert cut.mask.shape == (2, 40, 90) and calls == [1]
    one = pipeline.segment(image, points=[(10, 12)])
    two = pipeline.segment(image, boxes=[(5, 5, 40, 30)], points=[(10, 12), (30, 20)], labels=[1, 0])
    assert one.mask.shape == two.mask.shape == (1, 40, 90) and calls == [1, 1], "clicks reuse the cached encoding"


def test_sam2_scales_boxes_per_axis_as_its_processor_does(zoo):
    """SAM 2 squashes the image to its square input: a box maps to x * 64 / W, y * 64 / H."""
    from textinpaint.images import load_image

    _, written = zoo
    pipeline = Pipeline(segmenter=written["segmenter/sam2.1-tiny"], device="cpu")
    sam = pipeline.segmenter
    seen = []
    original = sam.model.forward

    def spy(*args, **kwargs):
        seen.append(kwargs["input_boxes"].clone())
        return original(*args, **kwargs)

    sam.model.forward = spy
    try:
        sam.masks(load_image(noise(40, 160)), np.array([[16.0, 10.0, 80.0, 30.0]]))
    finally:
        del sam.model.forward
    expected = sam.processor(images=[noise(40, 160)], input_boxes=[[[16.0, 10.0, 80.0, 30.0]]], return_tensors="pt")
    torch.testing.assert_close(seen[0].float(), expected["input_boxes"].float())


# ---- painting: SDXL, FLUX.1 Fill and the few-step LoRA through replace and replace_background ----

PAINTERS = ["sdxl", "flux-fill"]


class BoxSegmenter:
    """Cuts out each box as it is (a tiny random SAM may cover the whole picture)."""

    def masks(self, picture, xyxy):
        from textinpaint.masks import box_mask

        return np.stack([box_mask(box[None], picture.width, picture.height) for box in xyxy])

    def masks_many(self, pictures, boxes):
        return [self.masks(picture, xyxy) for picture, xyxy in zip(pictures, boxes)]


def _painter_pipeline(zoo, tiny_models, name, **extra):
    _, written = zoo
    models = {"inpainter": written[f"inpainter/{name}"]}
    if name == "sdxl":
        models["controlnet"] = written["controlnet/sdxl-depth"]
    dog = scripted_detector(tiny_models, ["a dog"], [(0, 0.9, (0.4, 0.5, 0.3, 0.4))])  # one box, a third of the picture
    return Pipeline(**models, **extra, detector=dog, segmenter=BoxSegmenter(), models=tiny_models, device="cpu")


@pytest.mark.parametrize("name", PAINTERS)
def test_each_inpainter_replaces_and_repaints_backgrounds_leaving_other_pixels(zoo, tiny_models, name):
    pipeline = _painter_pipeline(zoo, tiny_models, name)
    image = noise(48, 80, seed=5)
    edit = pipeline.replace(image, "a dog", "a fox", seed=0, steps=2)
    assert edit.found and not edit.mask.all()
    np.testing.assert_array_equal(np.asarray(edit.image)[~edit.mask], image[~edit.mask])
    assert (np.asarray(edit.image)[edit.mask] != image[edit.mask]).any()
    again = pipeline.replace(image, "a dog", "a fox", seed=0, steps=2)
    np.testing.assert_array_equal(np.asarray(edit.image), np.asarray(again.image))
    scene = pipeline.replace_background(image, "a dog", "a beach", seed=0, steps=2, depth=name == "sdxl")
    assert scene.found and not scene.mask.all()
    np.testing.assert_array_equal(np.asarray(scene.image)[~scene.mask], image[~scene.mask])


@pytest.mark.parametrize(
    "name",
    ["sdxl", pytest.param("flux-fill", marks=pytest.mark.heavy)],  # FLUX's 14 s: out of the fast loop
)
def test_each_inpainter_gives_the_same_pixels_from_threads_as_in_turn(zoo, tiny_models, name):
    pipeline = _painter_pipeline(zoo, tiny_models, name)
    mask = np.zeros((48, 80), bool)
    mask[10:30, 20:60] = True
    jobs = [(noise(48, 80, seed=i), i) for i in range(3)]

    def run(image, seed):
        return np.asarray(pipeline.inpaint(image, mask, "a red car", seed=seed, steps=2).image)

    in_turn = [run(*job) for job in jobs]
    together = in_threads(run, jobs)
    for a, b in zip(in_turn, together):
        np.testing.assert_array_equal(a, b)


def test_flux_fill_runs_in_bf16_when_float16_is_asked(zoo):
    _, written = zoo
    pipeline = Pipeline(inpainter=written["inpainter/flux-fill"], device="cpu", dtype="float16")
    assert pipeline.inpainter.pipe.transformer.dtype == torch.bfloat16


@pytest.mark.parametrize(
    "options,message",
    [
        ({"negative_prompt": "ugly"}, "FLUX.1 Fill takes no negative prompt"),
        ({"scheduler": "ddim"}, "FLUX.1 Fill samples with its own scheduler only"),
        ({"fast": True}, "FLUX.1 Fill has no few-step mode here"),
    ],
)
def test_flux_fill_refuses_what_it_cannot_do_before_any_work(zoo, tiny_models, options, message):
    pipeline = _painter_pipeline(zoo, tiny_models, "flux-fill")
    with pytest.raises(InvalidInputError, match=message):
        pipeline.replace(noise(32, 32), "a dog", "a fox", **options)
    with pytest.raises(InvalidInputError, match="pass depth=False"):
        pipeline.replace_background(noise(32, 32), "a dog", "a beach")
    assert "inpainter" not in pipeline.loaded(), "refused before anything loads"


@pytest.mark.heavy  # 12 s
def test_flux_fill_paints_and_records_the_guidance_given_and_its_own_30_for_none(zoo, tiny_models, monkeypatch):
    from diffusers import FluxFillPipeline

    seen = []
    original = FluxFillPipeline.__call__
    monkeypatch.setattr(FluxFillPipeline, "__call__", lambda self, **k: seen.append(k) or original(self, **k))
    pipeline = _painter_pipeline(zoo, tiny_models, "flux-fill")
    mask = np.zeros((32, 48), bool)
    mask[8:20, 10:30] = True
    edits = [
        pipeline.inpaint(noise(32, 48), mask, "a red car", seed=0, steps=2),
        pipeline.inpaint(noise(32, 48), mask, "a red car", seed=0, steps=2, guidance=7.5),
        pipeline.replace(noise(32, 48), "a dog", "a fox", seed=0, steps=2, guidance=7.5, **FIND),
        pipeline.replace(noise(32, 48), "a dog", "a fox", seed=0, steps=2, **FIND),
    ]
    assert [k["guidance_scale"] for k in seen] == [30.0, 7.5, 7.5, 30.0]
    assert [e.to_dict()["parameters"]["guidance"] for e in edits] == [30.0, 7.5, 7.5, 30.0]
    assert all("negative_prompt" not in k for k in seen)
    assert all(e.to_dict()["parameters"]["negative_prompt"] == "" for e in edits)
    np.testing.assert_array_equal(
        np.asarray(textinpaint.replay(edits[0].to_dict(), image=noise(32, 48), pipeline=pipeline).image),
        np.asarray(edits[0].image),
    )


# ---- the few-step LoRA ---------------------------------------------------------------------------


@pytest.mark.parametrize("name,lora", [("sd15", "lcm-sd15"), ("sdxl", "lcm-sdxl")])
def test_fast_paints_in_few_steps_without_changing_the_shared_unet(zoo, tiny_models, name, lora):
    _, written = zoo
    pipeline = Pipeline(inpainter=written[f"inpainter/{name}"], fast=written[f"fast/{lora}"], device="cpu")
    shared = {k: v.clone() for k, v in pipeline.inpainter.pipe.unet.state_dict().items()}
    image = noise(48, 80, seed=6)
    mask = np.zeros((48, 80), bool)
    mask[10:30, 20:60] = True
    slow = pipeline.inpaint(image, mask, "a red car", seed=0, steps=2).image
    edit = pipeline.inpaint(image, mask, "a red car", seed=0, fast=True)
    fast = edit.image
    record = edit.to_dict()
    assert record["parameters"]["steps"] == 4 and record["parameters"]["guidance"] == 1.0
    assert record["models"]["fast"]["source"] == str(written[f"fast/{lora}"].resolve())
    assert (np.asarray(fast) != np.asarray(slow)).any()
    np.testing.assert_array_equal(np.asarray(fast)[~edit.mask], image[~edit.mask])
    for key, value in pipeline.inpainter.pipe.unet.state_dict().items():
        torch.testing.assert_close(value, shared[key], rtol=0, atol=0)
    fused = pipeline.inpainter.with_extras(fast=pipeline.model("fast")).fast_unet()
    assert fused is not pipeline.inpainter.pipe.unet
    assert any(not torch.equal(fused.state_dict()[k], shared[k]) for k in shared if "attn" in k)
    assert not any("lora" in k for k in fused.state_dict()), "fused, LoRA layers dropped"
    np.testing.assert_array_equal(np.asarray(pipeline.inpaint(image, mask, "a red car", seed=0, steps=2).image), slow)


def test_fast_and_full_steps_from_threads_equal_in_turn(zoo, tiny_models):
    _, written = zoo
    pipeline = Pipeline(inpainter=written["inpainter/sd15"], fast=written["fast/lcm-sd15"], device="cpu")
    mask = np.zeros((48, 80), bool)
    mask[10:30, 20:60] = True
    jobs = [(noise(48, 80, seed=i), i, i % 2 == 0) for i in range(4)]

    def run(image, seed, fast):
        return np.asarray(pipeline.inpaint(image, mask, "a red car", seed=seed, steps=3, fast=fast).image)

    in_turn = [run(*job) for job in jobs]
    together = in_threads(run, jobs)
    for a, b in zip(in_turn, together):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"fast": True, "steps": 20}, "fast=True paints in 1 to 8 steps"),
        ({"fast": True, "scheduler": "ddim"}, "leave scheduler unset"),
        ({"fast": "yes"}, "fast must be True or False"),
    ],
)
def test_fast_options_are_checked(pipe, options, message):
    with pytest.raises(InvalidInputError, match=message):
        pipe.replace(noise(32, 32), "a dog", "a fox", **options)


def test_fast_refuses_a_lora_for_another_base_model(zoo, tiny_models):
    from textinpaint.errors import ModelKindError

    _, written = zoo
    pipeline = Pipeline(inpainter=written["inpainter/sdxl"], fast=written["fast/lcm-sd15"], device="cpu")
    mask = np.zeros((32, 32), bool)
    mask[4:20, 4:20] = True
    with pytest.raises(ModelKindError, match="does not fit this inpainter"):
        pipeline.inpaint(noise(32, 32), mask, "a red car", fast=True).image


def test_fast_defaults_to_the_sdxl_lora_with_an_sdxl_inpainter():
    assert Pipeline(inpainter="sdxl", device="cpu").source("fast") == "latent-consistency/lcm-lora-sdxl"
    assert Pipeline(device="cpu").source("fast") == "latent-consistency/lcm-lora-sdv1-5"


# ---- the command line: the zoo's short-name flags, --fast, and replaying what they made ------------


@pytest.mark.parametrize(
    "flags",
    [
        ["--fast"],
        ["--detector", "{zoo}/sam3"],
        ["--segmenter", "{zoo}/segmenter-sam2.1-tiny"],  # the tracker has a sam2.1-tiny too
        ["--inpainter", "{zoo}/flux-fill", "--negative-prompt", ""],
    ],
    ids=["fast", "sam3", "sam2", "flux-fill"],
)
def test_cli_edits_with_each_backend_and_replays_the_same_pixels(zoo, tiny_models, tmp_path, capsys, flags):
    import json

    import PIL.Image

    from textinpaint.interfaces.cli import main

    root, _ = zoo
    photo = tmp_path / "photo.png"
    PIL.Image.fromarray(noise(40, 64, seed=9)).save(photo)
    out = tmp_path / "edit.png"
    given = [flag.format(zoo=root) for flag in flags]
    status = main(
        [
            "replace",
            str(photo),
            "--find",
            "a dog",
            "--with",
            "a fox",
            "-o",
            str(out),
            "--models",
            str(tiny_models),
            "--device",
            "cpu",
            "--seed",
            "1",
            "--steps",
            "2",
            "--box-threshold",
            "0",
            "--text-threshold",
            "0",
            "--select",
            "best",
            *given,
        ]
    )
    assert status == 0, capsys.readouterr().err
    sidecar = json.loads(out.with_suffix(".json").read_text())
    if "--fast" in flags:
        assert sidecar["parameters"]["fast"] is True and sidecar["parameters"]["steps"] == 2
        assert "fast" in sidecar["models"]
    if "{zoo}/sam3" in flags:
        assert "segmenter" not in sidecar["models"]
    again = tmp_path / "again.png"
    assert main(["replay", str(out.with_suffix(".json")), "-o", str(again)]) == 0, capsys.readouterr().err
    np.testing.assert_array_equal(np.asarray(PIL.Image.open(again)), np.asarray(PIL.Image.open(out)))


def test_cli_refuses_fast_with_too_many_steps_before_loading(tiny_models, tmp_path, capsys):
    from textinpaint.interfaces.cli import main

    with pytest.raises(SystemExit) as stop:
        main(
            ["replace", str(tmp_path / "x.png"), "--find", "a dog", "--with", "a fox", "-o", str(tmp_path / "o.png")]
            + ["--models", str(tiny_models), "--device", "cpu", "--fast", "--steps", "20"]
        )
    assert stop.value.code == 2 and "fast=True paints in 1 to 8 steps" in capsys.readouterr().err


def test_fast_repaints_a_background_under_the_depth_controlnet(zoo, tiny_models):
    _, written = zoo
    dog = scripted_detector(tiny_models, ["a dog"], [(0, 0.9, (0.4, 0.5, 0.3, 0.4))])
    pipeline = Pipeline(detector=dog, segmenter=BoxSegmenter(), models=tiny_models, device="cpu")
    image = noise(48, 80, seed=7)
    full = pipeline.replace_background(image, "a dog", "a beach", seed=0, steps=2)
    fast = pipeline.replace_background(image, "a dog", "a beach", seed=0, fast=True)
    assert fast.found and (np.asarray(fast.image) != np.asarray(full.image)).any()
    np.testing.assert_array_equal(np.asarray(fast.image)[~fast.mask], image[~fast.mask])
    assert fast.to_dict()["parameters"]["fast"] is True and "controlnet" in fast.to_dict()["models"]


def test_fast_copies_the_module_inside_a_compiled_unet_and_refuses_offload(zoo):
    _, written = zoo
    from textinpaint import Speed
    from textinpaint.backends.diffusion import DiffusersInpainter

    # Compiled at load (Speed(compile=True)): its own cached copy, never called here, so nothing compiles.
    pipeline = Pipeline(
        inpainter=written["inpainter/sd15"], fast=written["fast/lcm-sd15"], device="cpu", speed=Speed(compile=True)
    )
    compiled = pipeline.inpainter.pipe.unet
    assert hasattr(compiled, "_orig_mod")
    fused = pipeline.inpainter.with_extras(fast=pipeline.model("fast")).fast_unet()
    assert hasattr(fused, "_orig_mod") and fused._orig_mod is not compiled._orig_mod
    key = next(k for k in compiled._orig_mod.state_dict() if "attn1.to_q" in k)
    assert not torch.equal(fused._orig_mod.state_dict()[key], compiled._orig_mod.state_dict()[key])
    # A model offloaded by accelerate carries its hook; this test's own copy, loaded through the public loader.
    own = DiffusersInpainter.load(str(written["inpainter/sd15"]), torch.device("cpu"), torch.float32)
    own.pipe.unet._hf_hook = object()  # what accelerate's model offload attaches
    with pytest.raises(InvalidInputError, match="offload"):
        own.with_extras(fast=pipeline.model("fast")).fast_unet()


def test_non_commercial_weights_are_marked_where_users_choose_them(capsys):
    from textinpaint.interfaces.cli import main

    with pytest.raises(SystemExit):
        main(["replace", "--help"])
    import re

    help_text = re.sub(r"(?<=[a-z]-) ", "", " ".join(capsys.readouterr().out.split()))  # undo argparse's wrapping
    assert "flux-fill (non-commercial weights)" in help_text and "sd15," in help_text
    flagged = {model.name for stage in STAGES.values() for model in stage.models if model.non_commercial}
    assert flagged == {"flux-fill", "depth-anything-base"}


@pytest.mark.parametrize("name", ["sam2.1-tiny"])  # SAM-HQ: tests/test_sam_hq.py
def test_segmenters_encode_a_batch_of_pictures_once(zoo, tiny_models, monkeypatch, name):
    _, written = zoo
    pipeline = Pipeline(
        segmenter=written[f"segmenter/{name}"], inpainter=ConstantFiller(), models=tiny_models, device="cpu"
    )
    encoder = pipeline.segmenter.model.vision_encoder
    calls = []
    original = encoder.forward
    monkeypatch.setattr(encoder, "forward", lambda *a, **k: calls.append(1) or original(*a, **k))
    images = [noise(48, 64, seed=i) for i in range(3)]
    edits = pipeline.replace(images, "a dog", "a fox", box_threshold=0.0, text_threshold=0.0, select="best")
    assert calls == [1], "one encoder pass for the three pictures"
    for image, edit in zip(images, edits):
        assert edit.detections.mask.shape[1:] == (48, 64)
        np.testing.assert_array_equal(np.asarray(edit.image)[~edit.mask], image[~edit.mask])


def test_a_version_2_flux_sidecar_is_migrated_and_replays_bit_for_bit(zoo, tiny_models):
    from textinpaint.abilities import SD_GUIDANCE, SD_NEGATIVE_PROMPT

    pipeline = _painter_pipeline(zoo, tiny_models, "flux-fill")
    mask = np.zeros((32, 48), bool)
    mask[8:20, 10:30] = True
    image = noise(32, 48)
    edit = pipeline.inpaint(image, mask, "a red car", seed=4, steps=2)
    current = edit.to_dict()
    assert current["version"] == 3 and current["parameters"]["guidance"] == 30.0
    # What release 2 wrote for the same edit: the values given, not the values FLUX used.
    old = {
        **current,
        "version": 2,
        "parameters": {**current["parameters"], "guidance": SD_GUIDANCE, "negative_prompt": SD_NEGATIVE_PROMPT},
    }
    migrated = textinpaint.read_sidecar(old)
    assert migrated["version"] == 3 and migrated["parameters"] == current["parameters"]
    again = textinpaint.replay(old, image=image, pipeline=pipeline)
    np.testing.assert_array_equal(np.asarray(again.image), np.asarray(edit.image))
