"""OWLv2 as a detector backend: one stage-table entry and one loader file (owl.py), same guarantees."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv
from conftest import ConstantFiller, noise

import textinpaint
from textinpaint import InvalidInputError, Pipeline
from textinpaint.backends.owl import Owl
from textinpaint.models import backend_for
from textinpaint.testing import write_owlv2

PHRASES = ["the red car", "a dog"]


@pytest.fixture(scope="module")
def owl(tmp_path_factory, tiny_models):
    folder = write_owlv2(tmp_path_factory.mktemp("owl") / "detector")
    return Pipeline(detector=folder, inpainter=ConstantFiller(), models=tiny_models, device="cpu")


def test_an_owlv2_folder_and_short_name_reach_the_owl_backend(owl):
    assert isinstance(owl.detector, Owl)
    assert backend_for("detector", owl.source("detector")).name == "owlv2"
    assert Pipeline(detector="owlv2", device="cpu").source("detector") == "google/owlv2-base-patch16-ensemble"


@pytest.mark.parametrize("height,width", [(50, 70), (3, 200), (64, 64), (1, 1)])
def test_owlv2_boxes_lie_in_the_image_and_name_a_given_phrase(owl, height, width):
    found = owl.detect(noise(height, width), PHRASES, box_threshold=0.0)
    assert list(found.confidence) == sorted(found.confidence, reverse=True)
    assert set(found.data["phrase"]) <= set(PHRASES) and list(found.data["class_name"]) == list(found.data["phrase"])
    assert all(PHRASES[c] == p for c, p in zip(found.class_id, found.data["phrase"]))
    assert (
        (found.xyxy >= 0).all() and (found.xyxy[:, [0, 2]] <= width).all() and (found.xyxy[:, [1, 3]] <= height).all()
    )
    assert sv.Detections.merge([found, found]).xyxy.shape == (2 * len(found), 4)


def scripted(owl, boxes, scores):
    """The loaded OWLv2 with its network replaced by fixed boxes (cx, cy, w, h of the padded square) and scores."""
    import dataclasses
    from types import SimpleNamespace

    import torch

    logits = torch.logit(torch.tensor([scores], dtype=torch.float32))
    outputs = SimpleNamespace(logits=logits, pred_boxes=torch.tensor([boxes], dtype=torch.float32))
    model = lambda **inputs: outputs
    return dataclasses.replace(owl.detector, model=model)


def test_owlv2_boxes_are_fractions_of_the_padded_square_and_padding_boxes_drop(owl):
    boxes = [(0.5, 0.3, 0.2, 0.2), (0.5, 0.9, 0.2, 0.1), (0.5, 0.31, 0.2, 0.2)]  # the 2nd lies in the padding
    scores = [(0.2, 0.7), (0.9, 0.1), (0.6, 0.1)]  # the 3rd overlaps the 1st: NMS keeps the better one
    detector = scripted(owl, boxes, scores)
    picture = textinpaint.load_image(noise(50, 70))  # padded to 70 x 70
    found = detector.detect_many([picture], PHRASES, box_threshold=0.3, text_threshold=0.0, nms_iou=0.5)[0]
    assert list(found.data["phrase"]) == ["a dog"]
    np.testing.assert_allclose(found.xyxy, [[28, 14, 42, 28]], atol=1e-4)
    np.testing.assert_allclose(found.confidence, [0.7], rtol=1e-5)
    nothing = detector.detect_many([picture], PHRASES, box_threshold=0.95, text_threshold=0.0, nms_iou=0.5)[0]
    assert len(nothing) == 0 and nothing.metadata["best_score"] == pytest.approx(0.9)


def test_owlv2_runs_every_workflow(owl):
    image = noise(40, 40)
    edits = owl.replace(
        [image, noise(40, 40, seed=1)], PHRASES, "a fox", select="best", box_threshold=0.0, mask_mode="box"
    )
    assert all(edit.found for edit in edits)
    np.testing.assert_array_equal(np.asarray(edits[0].image)[~edits[0].mask], image[~edits[0].mask])
    cut = owl.replace(image, PHRASES, "a fox", select="best", box_threshold=0.0)
    assert cut.detections.mask.shape[1:] == (40, 40)


def test_owlv2_refuses_a_phrase_longer_than_its_text_window_naming_the_argument(owl):
    window = owl.detector.processor.tokenizer.model_max_length
    long = " ".join(["dog"] * (window + 1))
    with pytest.raises(InvalidInputError, match="find: the phrase .* longer than OWLv2's text window"):
        owl.detect(noise(32, 32), long)
    with pytest.raises(InvalidInputError, match="with_: the phrase"):
        owl.replace(noise(32, 32), "a dog", long, verify=True, box_threshold=0.0)


def test_owlv2_names_each_box_by_the_argmax_of_its_logits_where_sigmoids_saturate(owl):
    import dataclasses
    from types import SimpleNamespace

    import torch

    logits = torch.tensor([[[30.0, 40.0]]])  # both sigmoids are 1.0 in float32; the logits differ
    outputs = SimpleNamespace(logits=logits, pred_boxes=torch.tensor([[(0.5, 0.5, 0.2, 0.2)]]))
    detector = dataclasses.replace(owl.detector, model=lambda **inputs: outputs)
    found = detector.detect_many(
        [textinpaint.load_image(noise(40, 40))], PHRASES, box_threshold=0.5, text_threshold=0.0, nms_iou=0.5
    )[0]
    assert list(found.data["phrase"]) == ["a dog"] and list(found.class_id) == [1]
