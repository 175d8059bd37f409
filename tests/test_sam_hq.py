"""SAM-HQ as a segmenter backend: one stage-table entry and one loader file, through the same API."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ConstantFiller, noise

from textinpaint import Pipeline
from textinpaint.backends.sam_hq import SamHQ
from textinpaint.models import backend_for
from textinpaint.testing import write_segmenter_hq


@pytest.fixture(scope="module")
def hq_folder(tmp_path_factory):
    return write_segmenter_hq(tmp_path_factory.mktemp("sam-hq") / "segmenter")


def test_a_sam_hq_folder_is_read_as_sam_hq(hq_folder):
    assert backend_for("segmenter", str(hq_folder)).name == "sam-hq"
    assert Pipeline(segmenter="hq-huge", device="cpu").source("segmenter") == "syscv-community/sam-hq-vit-huge"


@pytest.mark.parametrize("height,width", [(64, 64), (37, 90), (3, 200)])
def test_sam_hq_masks_every_box_at_the_input_resolution(hq_folder, tiny_models, height, width):
    pipeline = Pipeline(segmenter=hq_folder, models=tiny_models, device="cpu")
    assert isinstance(pipeline.segmenter, SamHQ)
    image = noise(height, width)
    found = pipeline.detect(image, "a dog. the red car", box_threshold=0.0, text_threshold=0.0)
    cut = pipeline.segment(image, found)
    assert cut.mask.shape == (len(found), height, width) and cut.mask.dtype == bool


def test_sam_hq_encodes_all_images_once_and_edits_like_sam(hq_folder, tiny_models, monkeypatch):
    pipeline = Pipeline(segmenter=hq_folder, inpainter=ConstantFiller(), models=tiny_models, device="cpu")
    encoder = pipeline.segmenter.model.vision_encoder
    calls = []
    original = encoder.forward
    monkeypatch.setattr(encoder, "forward", lambda *a, **k: calls.append(1) or original(*a, **k))
    images = [noise(48, 64, seed=i) for i in range(3)]
    edits = pipeline.replace(images, "a dog", "a fox", box_threshold=0.0, text_threshold=0.0, select="best")
    assert calls == [1], "one encoder pass for the three images"
    for image, edit in zip(images, edits):
        assert edit.found and edit.detections.mask.shape[1:] == (48, 64)
        np.testing.assert_array_equal(np.asarray(edit.image)[~edit.mask], image[~edit.mask])
    assert edits[0].to_dict()["models"]["segmenter"]["source"] == str(hq_folder.resolve())


def test_sam_hq_takes_clicks_and_keeps_its_embedding(hq_folder, tiny_models, monkeypatch):
    from textinpaint.backends.segmentation import EMBEDDINGS

    EMBEDDINGS.clear()
    pipeline = Pipeline(segmenter=hq_folder, models=tiny_models, device="cpu")
    encoder = pipeline.segmenter.model.vision_encoder
    calls = []
    original = encoder.forward
    monkeypatch.setattr(encoder, "forward", lambda *a, **k: calls.append(1) or original(*a, **k))
    image = noise(40, 56, seed=2)
    one = pipeline.segment(image, points=[(10, 12)])
    two = pipeline.segment(image, boxes=[(5, 5, 40, 30)], points=[(10, 12), (30, 20)], labels=[1, 0])
    assert one.mask.shape == two.mask.shape == (1, 40, 56) and calls == [1]
