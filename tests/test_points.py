"""Point prompts: clicks (positive and negative) with or without boxes or text, the embedding
cache that makes each further click cheap, the workflows, the sidecar and replay, the CLI."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

import numpy as np
import PIL.Image
import pytest
import supervision as sv
import torch
from conftest import ConstantFiller, noise
from test_replay import valid

from textinpaint import InvalidInputError, Pipeline, load_image, replay
from textinpaint.backends.segmentation import EMBEDDINGS, EmbeddingCache, Prompt
from textinpaint.interfaces.cli import main

RED, BLUE, GREY = (220, 30, 30), (30, 30, 220), (128, 128, 128)


def scene():
    """Grey 120x160 with a red square (20..60, 20..60) and a blue one (90..140, 50..100)."""
    picture = np.full((120, 160, 3), GREY, np.uint8)
    picture[20:60, 20:60] = RED
    picture[50:100, 90:140] = BLUE
    return picture


@dataclass
class ColourSegmenter:
    """Stands in for SAM: a click cuts out the region of the clicked pixel's colour (within the
    box when one is given); a negative click takes its colour's region away again."""

    calls: list = field(default_factory=list)

    def _region(self, picture, point):
        x, y = int(point[0]), int(point[1])
        return (picture.rgb == picture.rgb[min(y, picture.height - 1), min(x, picture.width - 1)]).all(axis=2)

    def prompted(self, picture, prompts):
        self.calls.append(len(prompts))
        masks = []
        for prompt in prompts:
            mask = np.zeros((picture.height, picture.width), bool)
            points = [] if prompt.points is None else list(prompt.points)
            labels = [1] * len(points) if prompt.labels is None else list(prompt.labels)
            for point, label in zip(points, labels):
                region = self._region(picture, point)
                mask = mask | region if label == 1 else mask & ~region
            if prompt.box is not None:
                x0, y0, x1, y1 = (int(v) for v in prompt.box)
                inside = np.zeros_like(mask)
                inside[y0:y1, x0:x1] = True
                mask = (mask if prompt.points is not None else inside) & inside
            masks.append(mask)
        return np.stack(masks), np.full(len(prompts), 0.9, np.float32)

    def masks(self, picture, xyxy):
        return self.prompted(picture, [Prompt(box=b) for b in xyxy])[0]

    def masks_many(self, pictures, boxes):
        return [self.masks(p, b) for p, b in zip(pictures, boxes)]


@pytest.fixture
def clicky(tiny_models):
    return Pipeline(segmenter=ColourSegmenter(), inpainter=ConstantFiller(), models=tiny_models, device="cpu")


# ---- the API -----------------------------------------------------------------------------------


def test_a_click_cuts_out_the_object_under_it(clicky):
    found = clicky.segment(scene(), points=[(30, 30)])
    assert len(found) == 1 and found.data["phrase"].tolist() == ["points"]
    assert found.mask[0].sum() == 40 * 40 and found.mask[0][30, 30]
    np.testing.assert_array_equal(found.xyxy[0], [20, 20, 60, 60])
    both = clicky.segment(scene(), points=[(30, 30), (100, 60)])
    assert both.mask[0].sum() == 40 * 40 + 50 * 50


def test_a_negative_click_takes_its_region_away(clicky):
    kept = clicky.segment(scene(), points=[(30, 30), (100, 60), (100, 60)], labels=[1, 1, 0])
    assert kept.mask[0].sum() == 40 * 40 and not kept.mask[0][60, 100]


def test_boxes_and_a_box_refined_by_clicks(clicky):
    boxes = clicky.segment(scene(), boxes=[(0, 0, 80, 80), (80, 40, 160, 120)])
    assert boxes.mask.shape == (2, 120, 160) and boxes.data["phrase"].tolist() == ["box", "box"]
    refined = clicky.segment(scene(), boxes=[(0, 0, 80, 80)], points=[(30, 30)])
    assert refined.mask[0].sum() == 40 * 40
    detections = sv.Detections(xyxy=np.array([[0.0, 0.0, 80.0, 80.0]]), confidence=np.array([0.7]))
    again = clicky.segment(scene(), detections, points=[(30, 30)])
    np.testing.assert_array_equal(again.mask, refined.mask)
    assert again.confidence.tolist() == pytest.approx([0.7])


@pytest.mark.parametrize(
    "arguments,message",
    [
        ({}, "needs a prompt"),
        ({"points": [(500, 10)]}, "must lie in the image"),
        ({"points": [(-1, 10)]}, "must lie in the image"),
        ({"points": [(10, 10)], "labels": [0]}, "at least one point on the object"),
        ({"points": [(10, 10)], "labels": [1, 0]}, "one 1 .* per point"),
        ({"points": [(10, 10)], "labels": [2]}, "one 1 .* per point"),
        ({"points": [(10, float("nan"))]}, "finite numbers"),
        ({"points": [[1, 2, 3]]}, r"\(x, y\) pairs"),
        ({"points": "10,10"}, r"\(x, y\) pairs"),
        ({"labels": [1]}, "labels were given without points"),
        ({"boxes": [(10, 10, 5, 20)]}, "x0 < x1"),
        ({"boxes": [(0, 0, 9, 9), (1, 1, 8, 8)], "points": [(3, 3)]}, "points refine one box"),
    ],
)
def test_bad_prompts_are_typed_errors(clicky, arguments, message):
    with pytest.raises(InvalidInputError, match=message):
        clicky.segment(scene(), **arguments)


def test_detections_and_boxes_together_are_refused(clicky):
    detections = sv.Detections(xyxy=np.array([[0.0, 0.0, 80.0, 80.0]]))
    with pytest.raises(InvalidInputError, match="not both"):
        clicky.segment(scene(), detections, boxes=[(0, 0, 5, 5)])


# ---- workflows ---------------------------------------------------------------------------------


def test_replace_with_points_and_no_text(clicky):
    edit = clicky.replace(scene(), points=[(30, 30)], with_="a red vespa", dilate=0, feather=0, seed=1)
    painted = np.asarray(edit.image)
    assert edit.found and edit.selected == [0] and edit.detections.data["phrase"].tolist() == ["points"]
    assert (painted[20:60, 20:60] == [255, 0, 255]).all()
    np.testing.assert_array_equal(painted[~edit.mask], scene()[~edit.mask])
    assert not edit.mask[60:, :].any(), "only the clicked square"
    parameters = valid(edit.to_dict())["parameters"]
    assert parameters["find"] is None and parameters["points"] == [[30.0, 30.0]] and parameters["labels"] == [1]


def test_text_and_points_refine_the_selected_match(tiny_models, clicky):
    from conftest import scripted_detector

    # The detector finds one loose box around the red square and much of the grey around it.
    detector = scripted_detector(tiny_models, ["square"], [(0, 0.9, (0.25, 0.35, 0.5, 0.7))])
    pipe = Pipeline(detector=detector, segmenter=ColourSegmenter(), inpainter=ConstantFiller(), device="cpu")
    loose = pipe.replace(scene(), "square", "a box", dilate=0, feather=0, seed=1)
    tight = pipe.replace(scene(), "square", "a box", points=[(30, 30)], dilate=0, feather=0, seed=1)
    assert loose.mask.sum() > tight.mask.sum() == 40 * 40
    assert tight.detections.mask[0].sum() == 40 * 40


def test_remove_and_background_take_points(clicky):
    removed = clicky.remove(scene(), points=[(100, 60)], dilate=0, feather=0)
    assert removed.mask[60, 100] and not removed.mask[30, 30]
    kept = clicky.replace_background(scene(), None, "a beach", points=[(30, 30)], seed=1, depth=False, matte=False)
    assert not kept.mask[30, 30] and kept.mask[110, 5], "the clicked subject stays, the rest is repainted"
    np.testing.assert_array_equal(np.asarray(kept.image)[20:60, 20:60], scene()[20:60, 20:60])
    assert valid(kept.to_dict())["parameters"]["points"] == [[30.0, 30.0]]


def test_points_are_for_one_image_and_need_mask_mode(clicky):
    with pytest.raises(InvalidInputError, match="one image"):
        clicky.replace([scene(), scene()], points=[(30, 30)], with_="x")
    with pytest.raises(InvalidInputError, match="mask_mode='box'"):
        clicky.replace(scene(), points=[(30, 30)], with_="x", mask_mode="box")
    with pytest.raises(InvalidInputError, match="find .* points"):
        clicky.replace(scene(), with_="x")
    with pytest.raises(InvalidInputError, match="with_ is required"):
        clicky.replace(scene(), points=[(30, 30)])


# ---- the real (tiny) SAM: the transformers reference, and the embedding cache ------------------


def encoder_calls(monkeypatch, segmenter):
    calls = []
    module = segmenter.model.vision_encoder
    original = module.forward
    monkeypatch.setattr(module, "forward", lambda *a, **k: calls.append(1) or original(*a, **k))
    return calls


def test_clicks_give_what_transformers_sam_gives(tiny_models):
    from transformers import SamModel, SamProcessor

    segmenter = Pipeline(models=tiny_models, device="cpu").segmenter
    image = noise(70, 90, seed=3)
    points, labels = [[20.0, 30.0], [60.0, 40.0]], [1, 0]
    masks, _ = segmenter.prompted(load_image(image), [Prompt(points=np.array(points), labels=np.array(labels))])
    processor = SamProcessor.from_pretrained(tiny_models / "segmenter")
    model = SamModel.from_pretrained(tiny_models / "segmenter").eval()
    inputs = processor(images=image, input_points=[[points]], input_labels=[[labels]], return_tensors="pt")
    with torch.no_grad():
        outputs = model(**inputs, multimask_output=False)
    expected = processor.image_processor.post_process_masks(
        outputs.pred_masks, inputs["original_sizes"], inputs["reshaped_input_sizes"]
    )[0][0, 0].numpy()
    np.testing.assert_array_equal(masks[0], expected)


def test_a_single_click_keeps_the_best_of_samss_three_masks(tiny_models, monkeypatch):
    segmenter = Pipeline(models=tiny_models, device="cpu").segmenter
    seen = []
    original = segmenter.model.forward

    def spy(*args, **kwargs):
        outputs = original(*args, **kwargs)
        if kwargs.get("image_embeddings") is not None:
            seen.append((kwargs["multimask_output"], outputs.pred_masks.shape, outputs.iou_scores.clone()))
        return outputs

    monkeypatch.setattr(segmenter.model, "forward", spy)
    _, scores = segmenter.prompted(load_image(noise(50, 60)), [Prompt(points=np.array([[10.0, 10.0]]))])
    multimask, shape, iou = seen[0]
    assert multimask and shape[2] == 3
    assert scores[0] == pytest.approx(float(iou[0, 0].max()))


def test_the_image_is_encoded_once_for_every_click(tiny_models, monkeypatch):
    EMBEDDINGS.clear()
    pipe = Pipeline(models=tiny_models, device="cpu")
    calls = encoder_calls(monkeypatch, pipe.segmenter)
    image = noise(50, 70, seed=8)
    for click in [(10, 10), (20, 30), (40, 20)]:
        pipe.segment(image, points=[click])
    pipe.segment(image, boxes=[(5, 5, 30, 30)], points=[(10, 10)])
    assert len(calls) == 1
    pipe.segment(noise(50, 70, seed=9), points=[(10, 10)])
    assert len(calls) == 2, "another picture is encoded"


def test_the_cache_is_bounded_thread_safe_and_dies_with_its_model():
    cache = EmbeddingCache(size=2)

    class Model:
        pass

    model = Model()
    encodes = []

    def encode(tag):
        encodes.append(tag)
        return tag

    pictures = [load_image(noise(8, 8, seed=i)) for i in range(3)]
    for picture in pictures:
        cache.get(model, picture, lambda p=picture: encode(id(p)))
    assert len(encodes) == 3
    cache.get(model, pictures[0], lambda: encode("again"))
    assert encodes[-1] == "again", "the oldest entry went when the third came"
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get(model, pictures[2], lambda: encode("x"))))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len(set(map(str, results))) == 1
    other = Model()
    cache.get(other, pictures[2], lambda: encode("other model"))
    assert encodes[-1] == "other model", "an entry is per model"


def test_a_clicked_edit_replays_bit_for_bit_from_the_cli(tiny_models, tmp_path, capsys):
    PIL.Image.fromarray(scene()).save(tmp_path / "in.png")
    out = tmp_path / "out.png"
    args = ["replace", tmp_path / "in.png", "-o", out, "--with", "a red vespa", "--point", "30,30"]
    args += ["--negative-point", "100,60", "--models", tiny_models, "--device", "cpu", "--steps", "2", "--seed", "4"]
    assert main([str(a) for a in args]) == 0
    document = valid(json.loads(out.with_suffix(".json").read_text()))
    assert document["parameters"]["points"] == [[30.0, 30.0], [100.0, 60.0]]
    assert document["parameters"]["labels"] == [1, 0] and document["parameters"]["find"] is None
    capsys.readouterr()
    again = replay(out.with_suffix(".json"))
    with PIL.Image.open(out) as written:
        np.testing.assert_array_equal(np.asarray(again.image), np.asarray(written))


def test_the_cli_needs_text_or_a_point(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["replace", str(tmp_path), "-o", str(tmp_path / "o"), "--with", "x"])
    assert stopped.value.code == 2 and "--point" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        main(["replace", str(tmp_path), "-o", str(tmp_path / "o"), "--with", "x", "--point", "nope"])
    assert stopped.value.code == 2 and "X,Y" in capsys.readouterr().err
