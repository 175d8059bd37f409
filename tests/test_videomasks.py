"""Per-frame masks of tracked instances: one bit a pixel, stable ids, COCO run-length and PNG export."""

from __future__ import annotations

import json

import numpy as np
import PIL.Image
import pytest

from textinpaint import InvalidInputError, OutputRefusedError
from textinpaint.videomasks import VideoMasks, VideoMasksBuilder, load_video_masks


def tracked(frames=6, height=30, width=41, seed=0):
    rng = np.random.default_rng(seed)
    stacks = [rng.random((2, height, width)) > 0.6 for _ in range(frames)]
    stacks[2][1] = False  # instance 9 is off frame 4
    builder = VideoMasksBuilder(height=height, width=width, ids=[3, 9], phrases=["the dog", "the cat"])
    for i, stack in enumerate(stacks):
        builder.add(2 * i, stack, [0.9, np.nan if i == 2 else 0.4])
    return builder.build(), stacks


def test_masks_are_stored_one_bit_a_pixel_and_read_back_exactly():
    masks, stacks = tracked()
    assert masks.packed.dtype == np.uint8 and masks.packed.shape == (6, 2, (30 * 41 + 7) // 8)
    assert masks.frames == (0, 2, 4, 6, 8, 10) and masks.ids == (3, 9) and len(masks) == 6
    for i, stack in enumerate(stacks):
        np.testing.assert_array_equal(masks.mask(2 * i, 3), stack[0])
        np.testing.assert_array_equal(masks.mask(2 * i, 9), stack[1])
        np.testing.assert_array_equal(masks.mask(2 * i), stack[0] | stack[1])
    assert masks.present()[2].tolist() == [True, False]


def test_coco_json_round_trip_and_pngs(tmp_path):
    masks, stacks = tracked()
    path = masks.save(tmp_path / "masks.json")
    document = json.loads(path.read_text())
    assert document["size"] == [30, 41] and document["ids"] == [3, 9]
    assert [e["id"] for e in document["frames"][2]["instances"]] == [3], "an absent instance is left out"
    again = load_video_masks(path)
    for frame in masks.frames:
        for instance in masks.ids:
            np.testing.assert_array_equal(again.mask(frame, instance), masks.mask(frame, instance))
    np.testing.assert_array_equal(np.isnan(again.scores), np.isnan(masks.scores))
    folder = masks.save(tmp_path / "frames")
    assert sorted(p.name for p in folder.iterdir()) == [f"{2 * i:06d}.png" for i in range(6)]
    with PIL.Image.open(folder / "000004.png") as image:
        np.testing.assert_array_equal(np.asarray(image.convert("L")) > 0, stacks[2][0] | stacks[2][1])
    masks.save(tmp_path / "masks.json")  # its own file: written again
    (tmp_path / "theirs.json").write_text('{"mine": true}')
    with pytest.raises(OutputRefusedError, match="not a masks document textinpaint wrote"):
        masks.save(tmp_path / "theirs.json")


def test_bad_masks_and_documents_are_typed_errors(tmp_path):
    masks, _ = tracked()
    with pytest.raises(InvalidInputError, match="frame 3 has no masks here"):
        masks.mask(3)
    with pytest.raises(InvalidInputError, match="instance must be one of the ids"):
        masks.mask(0, 4)
    builder = VideoMasksBuilder(height=4, width=4, ids=[1])
    with pytest.raises(InvalidInputError, match="must be \\(instances, H, W\\)"):
        builder.add(0, np.zeros((2, 4, 4), bool))
    builder.add(5, np.zeros((1, 4, 4), bool))
    with pytest.raises(InvalidInputError, match="in order"):
        builder.add(5, np.zeros((1, 4, 4), bool))
    with pytest.raises(InvalidInputError, match="ids must differ"):
        VideoMasksBuilder(height=4, width=4, ids=[1, 1])
    document = masks.to_coco()
    document["frames"][0]["instances"][0]["segmentation"]["counts"] = [5, 5]
    with pytest.raises(InvalidInputError, match="do not cover the frame"):
        VideoMasks.from_coco(document)
    for broken in ('{"format": "other"}', "[1, 2]", "{not json"):
        (tmp_path / "bad.json").write_text(broken)
        with pytest.raises((InvalidInputError, OSError)):
            load_video_masks(tmp_path / "bad.json")
    with pytest.raises(InvalidInputError, match=".json or into a folder"):
        masks.save(tmp_path / "masks.npz")


def test_a_strangers_document_cannot_ask_for_any_size():
    masks, _ = tracked()
    for field, value in (("size", [100000, 100000]), ("ids", list(range(1000)))):
        document = masks.to_coco()
        document[field] = value
        with pytest.raises(InvalidInputError):
            VideoMasks.from_coco(document)


def test_instances_may_join_as_they_appear_and_are_empty_where_absent(tmp_path):
    builder = VideoMasksBuilder(height=4, width=5, ids=[])
    first = np.zeros((1, 4, 5), bool)
    first[0, 0, 0] = True
    builder.add(0, first, np.array([0.9]), ids=[3], phrases=["a dog"])
    both = np.zeros((2, 4, 5), bool)
    both[0, 1, 1] = both[1, 2, 2] = True
    builder.add(1, both, np.array([0.8, 0.7]), ids=[7, 3], phrases=["a cat", "a dog"])
    builder.add(2, np.zeros((0, 4, 5), bool), np.zeros(0), ids=[])
    masks = builder.build()
    assert masks.ids == (3, 7) and masks.phrases == ("a dog", "a cat") and masks.frames == (0, 1, 2)
    assert masks.mask(0, 3)[0, 0] and not masks.mask(0, 7).any(), "7 had not appeared yet"
    assert masks.mask(1, 7)[1, 1] and masks.mask(1, 3)[2, 2] and not masks.mask(2).any()
    assert masks.scores[0, 0] == pytest.approx(0.9) and np.isnan(masks.scores[0, 1]) and np.isnan(masks.scores[2]).all()
    again = load_video_masks(masks.save(tmp_path / "m.json"))
    assert again.ids == masks.ids and (again.packed == masks.packed).all()
    with pytest.raises(InvalidInputError, match="instance ids must differ"):
        builder.add(3, np.zeros((2, 4, 5), bool), ids=[1, 1])
