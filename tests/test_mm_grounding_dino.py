"""MM-GroundingDINO as a detector: a stage-table entry only (GroundingDINO's backend loads it)."""

from __future__ import annotations

import pytest
from conftest import noise

from textinpaint import Pipeline
from textinpaint.models import backend_for
from textinpaint.testing import seeded, write_detector


@pytest.fixture(scope="module")
def mm_folder(tmp_path_factory):
    return seeded(write_detector)(tmp_path_factory.mktemp("mm") / "detector", kind="mm-grounding-dino")


def test_short_names_and_folders_reach_the_grounding_dino_backend(mm_folder):
    assert backend_for("detector", str(mm_folder)).name == "grounding-dino"
    assert Pipeline(detector="mm-tiny", device="cpu").source("detector") == (
        "openmmlab-community/mm_grounding_dino_tiny_o365v1_goldg_v3det"
    )


def test_mm_grounding_dino_keeps_the_phrase_guarantee_and_batches(mm_folder, tiny_models):
    pipeline = Pipeline(detector=mm_folder, models=tiny_models, device="cpu")
    assert type(pipeline.detector.model).__name__ == "MMGroundingDinoForObjectDetection"
    phrases = ["the red car", "a dog"]
    found = pipeline.detect(noise(50, 70), phrases, box_threshold=0.0, text_threshold=0.0)
    assert len(found) and set(found.data["phrase"]) <= set(phrases)
    assert all(phrases[c] == p for c, p in zip(found.class_id, found.data["phrase"]))
    edits = pipeline.replace(
        [noise(40, 40), noise(40, 40, seed=1)],
        phrases,
        "a fox",
        steps=1,
        seed=0,
        box_threshold=0.0,
        text_threshold=0.0,
        select="best",
    )
    assert all(edit.found for edit in edits)
