"""Original SAM .pth checkpoints (the sam-original extra): safe loading, same masks as Meta's predictor."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import supervision as sv
import torch
from conftest import noise

from textinpaint import ModelKindError, Pipeline, WeightsNotFoundError

segment_anything = pytest.importorskip("segment_anything")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A SAM with a 2-block ViT of width 32 (block 1 global), saved as a plain state dict."""
    from segment_anything.build_sam import _build_sam

    torch.manual_seed(0)
    model = _build_sam(encoder_embed_dim=32, encoder_depth=2, encoder_num_heads=2, encoder_global_attn_indexes=[1])
    path = tmp_path_factory.mktemp("sam") / "sam_tiny.pth"
    torch.save(model.state_dict(), path)
    return path, model


def test_pth_checkpoint_gives_the_same_masks_as_meta_predictor(tiny_checkpoint):
    path, reference = tiny_checkpoint
    image = noise(90, 130)
    xyxy = np.array([[10, 10, 60, 70], [50, 20, 125, 85]], np.float32)
    segmented = Pipeline(segmenter=path, device="cpu").segment(image, sv.Detections(xyxy=xyxy))
    predictor = segment_anything.SamPredictor(reference.eval())
    predictor.set_image(image)
    boxes = predictor.transform.apply_boxes_torch(torch.as_tensor(xyxy), image.shape[:2])
    expected, _, _ = predictor.predict_torch(None, None, boxes=boxes, multimask_output=False)
    assert segmented.mask.shape == (2, 90, 130) and segmented.mask.dtype == bool
    np.testing.assert_array_equal(segmented.mask, expected[:, 0].numpy())


def test_architecture_is_read_off_the_weights(tiny_checkpoint):
    path, _ = tiny_checkpoint
    model = Pipeline(segmenter=path, device="cpu").segmenter.model
    encoder = model.image_encoder
    assert len(encoder.blocks) == 2 and encoder.blocks[0].window_size == 14 and encoder.blocks[1].window_size == 0


class Payload:
    """Unpickling this would run code; weights_only=True must refuse it."""

    ran = []

    def __reduce__(self):
        return (Payload.ran.append, ("code ran",))


def test_a_checkpoint_holding_pickled_code_is_refused_without_running_it(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"image_encoder.patch_embed.proj.weight": Payload()}, path)
    with pytest.raises(ModelKindError, match="weights_only=True"):
        Pipeline(segmenter=path, device="cpu").segmenter
    assert Payload.ran == []


def test_a_state_dict_of_non_tensors_is_refused(tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({"image_encoder.patch_embed.proj.weight": collections.Counter(a=1)}, path)
    with pytest.raises(ModelKindError, match="does not hold SAM weights"):
        Pipeline(segmenter=path, device="cpu").segmenter


def test_a_pth_that_is_not_sam_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(ModelKindError, match="does not hold SAM weights"):
        Pipeline(segmenter=path, device="cpu").segmenter


def test_a_missing_pth_is_a_weights_error(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="missing.pth"):
        Pipeline(segmenter=tmp_path / "missing.pth", device="cpu").segmenter


@pytest.mark.parametrize(
    "points,labels,box",
    [
        ([[40.0, 30.0]], [1], None),  # one click: the best of three masks
        ([[40.0, 30.0], [100.0, 60.0]], [1, 0], None),
        ([[30.0, 40.0]], [1], [10.0, 10.0, 60.0, 70.0]),  # a box refined by a click
    ],
)
def test_clicks_give_what_meta_predictor_gives(tiny_checkpoint, points, labels, box):
    from textinpaint import load_image
    from textinpaint.backends.segmentation import Prompt

    path, reference = tiny_checkpoint
    image = noise(90, 130)
    segmenter = Pipeline(segmenter=path, device="cpu").segmenter
    prompt = Prompt(box=None if box is None else np.array(box), points=np.array(points), labels=np.array(labels))
    masks, scores = segmenter.prompted(load_image(image), [prompt])
    predictor = segment_anything.SamPredictor(reference.eval())
    predictor.set_image(image)
    single = box is None and len(points) == 1
    expected, expected_scores, _ = predictor.predict(
        np.array(points), np.array(labels), box=None if box is None else np.array(box), multimask_output=single
    )
    best = int(np.argmax(expected_scores)) if single else 0
    np.testing.assert_array_equal(masks[0], expected[best])
    assert scores[0] == pytest.approx(expected_scores[best], abs=1e-5)
