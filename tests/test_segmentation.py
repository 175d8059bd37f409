"""Segmentation: masks at input resolution, the image encoded once for all boxes."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv
import torch
from conftest import noise

from textinpaint import InvalidInputError, load_image
from textinpaint.backends.detection import empty_detections


def boxes(count, width, height, seed=0):
    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 1, (count, 2, 2)) * [width, height]
    return np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1).astype(np.float32)


@pytest.mark.parametrize("width,height", [(70, 50), (31, 97), (640, 17)])
def test_masks_are_bool_at_input_resolution_one_per_box(pipe, width, height):
    detections = sv.Detections(xyxy=boxes(3, width, height), confidence=np.array([0.9, 0.8, 0.7], np.float32))
    segmented = pipe.segment(noise(height, width), detections)
    assert segmented.mask.shape == (3, height, width) and segmented.mask.dtype == bool
    np.testing.assert_array_equal(segmented.xyxy, detections.xyxy)
    assert detections.mask is None, "the caller's detections are not modified"


def test_image_is_encoded_once_for_many_boxes(pipe, monkeypatch):
    model = pipe.segmenter.model
    encodes, decodes = [], []
    original_encode, original_forward = model.get_image_embeddings, model.forward
    monkeypatch.setattr(model, "get_image_embeddings", lambda *a, **k: encodes.append(1) or original_encode(*a, **k))
    monkeypatch.setattr(
        model, "forward", lambda *a, **k: decodes.append(len(k["input_boxes"][0])) or original_forward(*a, **k)
    )
    segmented = pipe.segment(noise(60, 80), sv.Detections(xyxy=boxes(100, 80, 60)))
    assert len(encodes) == 1 and decodes == [64, 36]
    assert segmented.mask.shape == (100, 60, 80)


def test_each_box_is_decoded_as_if_alone(pipe):
    image = noise(60, 80)
    many = boxes(5, 80, 60)
    together = pipe.segment(image, sv.Detections(xyxy=many)).mask
    alone = pipe.segment(image, sv.Detections(xyxy=many[3:4])).mask
    np.testing.assert_array_equal(together[3], alone[0])


def test_no_detections_give_an_empty_mask_stack(pipe):
    segmented = pipe.segment(noise(20, 30), empty_detections())
    assert segmented.mask.shape == (0, 20, 30)


def test_detections_must_be_supervision_detections(pipe):
    with pytest.raises(InvalidInputError, match="detections must be a supervision.Detections; got list"):
        pipe.segment(noise(20, 30), [[0, 0, 5, 5]])  # type: ignore[arg-type]


def test_masks_are_upscaled_on_the_models_device_and_moved_once_as_bool(tiny_models, monkeypatch):
    """SAM's logits are resized and thresholded where the model runs; the one transfer to the host
    is of the final bool masks (on a GPU: N x H x W bytes, not float32 logits)."""
    from textinpaint import Pipeline

    segmenter = Pipeline(models=tiny_models, device="cpu").segmenter
    moved = []
    original = torch.Tensor.cpu

    def recording(tensor, *args, **kwargs):
        moved.append(tensor.dtype)
        return original(tensor, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "cpu", recording)
    masks = segmenter.masks(load_image(noise(50, 70)), np.array([[5.0, 5.0, 30.0, 40.0], [10.0, 0.0, 60.0, 20.0]]))
    assert masks.shape == (2, 50, 70) and masks.dtype == bool
    assert moved == [torch.bool]


def test_compiling_sams_image_encoder_is_an_option(tiny_models, monkeypatch):
    from textinpaint import Pipeline, Speed

    compiled = []
    monkeypatch.setattr(torch, "compile", lambda module, **kw: compiled.append(module) or module)
    plain = Pipeline(models=tiny_models, device="cpu").segmenter
    assert compiled == []
    fast = Pipeline(models=tiny_models, device="cpu", speed=Speed(compile_segmenter=True)).segmenter
    assert fast is not plain and compiled == [fast.model.vision_encoder]
    box = np.array([[5.0, 5.0, 30.0, 40.0]])
    np.testing.assert_array_equal(
        fast.masks(load_image(noise(50, 70)), box), plain.masks(load_image(noise(50, 70)), box)
    )
    # The inpainter is not touched by the segmenter's setting.
    assert Pipeline(models=tiny_models, device="cpu", speed=Speed(compile_segmenter=True)).inpainter is not None
    assert len(compiled) == 1
