"""OWLv2 as a detector backend: one stage-table entry and one loader file (owl.py), same guarantees."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv
from conftest import ConstantFiller, noise

from textinpaint import Pipeline
from textinpaint.models import backend_for
from textinpaint.owl import Owl
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
    assert len(found) > 0 or min(height, width) < 8, "boxes only in a strip's padding are dropped"
    assert list(found.confidence) == sorted(found.confidence, reverse=True)
    assert set(found.data["phrase"]) <= set(PHRASES) and list(found.data["class_name"]) == list(found.data["phrase"])
    assert all(PHRASES[c] == p for c, p in zip(found.class_id, found.data["phrase"]))
    assert (
        (found.xyxy >= 0).all() and (found.xyxy[:, [0, 2]] <= width).all() and (found.xyxy[:, [1, 3]] <= height).all()
    )
    assert sv.Detections.merge([found, found]).xyxy.shape == (2 * len(found), 4)


def test_owlv2_reports_the_best_score_when_nothing_passes_and_runs_every_workflow(owl):
    nothing = owl.detect(noise(40, 40), PHRASES, box_threshold=1.0)
    if len(nothing) == 0:
        assert 0 <= nothing.metadata["best_score"] <= 1
    image = noise(40, 40)
    edits = owl.replace(
        [image, noise(40, 40, seed=1)], PHRASES, "a fox", select="best", box_threshold=0.0, mask_mode="box"
    )
    assert all(edit.found for edit in edits)
    np.testing.assert_array_equal(np.asarray(edits[0].image)[~edits[0].mask], image[~edits[0].mask])
    cut = owl.replace(image, PHRASES, "a fox", select="best", box_threshold=0.0)
    assert cut.detections.mask.shape[1:] == (40, 40)
