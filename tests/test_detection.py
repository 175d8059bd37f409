"""Detection: phrase parsing, one user phrase per box, thresholds, NMS, text windows."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv
from conftest import noise, scripted_detector

from textinpaint import InvalidInputError
from textinpaint.backends.detection import decode, parse_phrases
from textinpaint.images import load_image


@pytest.mark.parametrize(
    "find,phrases",
    [
        ("the red car", ["the red car"]),
        ("dog. cat", ["dog", "cat"]),
        ("dog . cat .", ["dog", "cat"]),
        (["dog", " cat "], ["dog", "cat"]),
        ("a 3.5 inch screw. nut", ["a 3.5 inch screw", "nut"]),
        ("dog. dog.  dog", ["dog"]),
        ("  many   spaces  ", ["many spaces"]),
        ("voiture rouge. 赤い車", ["voiture rouge", "赤い車"]),
    ],
)
def test_parse_phrases(find, phrases):
    assert parse_phrases(find) == phrases


@pytest.mark.parametrize("find", ["", "   ", ".", " . . ", [], ["", " "]])
def test_empty_query_is_refused_naming_the_argument(find):
    with pytest.raises(InvalidInputError, match="find"):
        parse_phrases(find)


def test_non_text_query_is_refused():
    with pytest.raises(InvalidInputError, match="find must be a string or a list of strings; got int"):
        parse_phrases(3)  # type: ignore[arg-type]


def test_decode_gives_each_box_the_phrase_whose_tokens_score_highest():
    probs = np.full((3, 10), 0.01)
    probs[0, [1, 2]] = [0.9, 0.8]  # phrase 0 = tokens 1, 2
    probs[1, [4, 5, 6]] = [0.3, 0.7, 0.6]  # phrase 1 = tokens 4..6
    probs[2, [1, 4, 5, 6]] = [0.4, 0.5, 0.6, 0.4]  # both phrases, phrase 1 better
    boxes = np.array([[0.5, 0.5, 0.2, 0.4], [0.1, 0.1, 0.2, 0.2], [0.9, 0.9, 0.4, 0.4]])
    detections, best = decode(probs, boxes, [[1, 2], [4, 5, 6]], ["dog", "red car"], 200, 100, 0.35, 0.25)
    assert list(detections.data["phrase"]) == ["dog", "red car", "red car"]
    assert list(detections.class_id) == [0, 1, 1]
    np.testing.assert_allclose(detections.confidence, [0.9, 0.7, 0.6], rtol=1e-6)
    np.testing.assert_allclose(detections.xyxy[0], [80, 30, 120, 70])
    np.testing.assert_allclose(detections.xyxy[1], [0, 0, 40, 20])  # clipped at the image edge
    np.testing.assert_allclose(detections.xyxy[2], [140, 70, 200, 100])
    assert best == pytest.approx(0.9)


def test_decode_thresholds():
    probs = np.full((2, 6), 0.01)
    probs[0, [1, 2]] = [0.9, 0.1]  # one strong token, weak phrase on average: mean 0.5
    probs[1, [1, 2]] = [0.3, 0.3]  # below the box threshold
    detections, best = decode(probs, np.full((2, 4), 0.5), [[1, 2]], ["red car"], 10, 10, 0.35, 0.6)
    assert len(detections) == 0 and best == pytest.approx(0.9)
    detections, _ = decode(probs, np.full((2, 4), 0.5), [[1, 2]], ["red car"], 10, 10, 0.35, 0.5)
    assert len(detections) == 1


def test_real_tiny_detector_returns_user_phrases_sorted_and_in_bounds(pipe):
    image = noise(123, 217)
    phrases = ["the red car", "a dog", "blue sky"]
    detections = pipe.detect(image, phrases, box_threshold=0.0, text_threshold=0.0)
    assert isinstance(detections, sv.Detections) and len(detections) > 0
    assert set(detections.data["phrase"]) <= set(phrases)
    assert all(phrases[c] == p for c, p in zip(detections.class_id, detections.data["phrase"]))
    assert list(detections.confidence) == sorted(detections.confidence, reverse=True)
    assert detections.xyxy.dtype == np.float32
    assert (detections.xyxy >= 0).all() and (detections.xyxy[:, [0, 2]] <= 217).all()
    assert (detections.xyxy[:, [1, 3]] <= 123).all()
    assert detections.metadata == {}, "no per-call metadata: results merge"
    assert list(detections.data["class_name"]) == list(detections.data["phrase"])


def test_threshold_one_finds_nothing_but_reports_the_best_score(pipe):
    detections = pipe.detect(noise(50, 60), "a dog", box_threshold=1.0)
    assert len(detections) == 0 and 0 < detections.metadata["best_score"] < 1.0
    assert detections.data["phrase"].shape == (0,) and detections.xyxy.shape == (0, 4)


def test_the_same_object_found_under_two_phrases_is_kept_once(tiny_models):
    phrases = ["dog", "cat"]
    entries = [(0, 0.6, (0.5, 0.5, 0.4, 0.4)), (1, 0.8, (0.5, 0.5, 0.41, 0.4)), (0, 0.7, (0.1, 0.1, 0.1, 0.1))]
    detector = scripted_detector(tiny_models, phrases, entries)
    found = detector.detect_many(
        [load_image(noise(100, 100))], phrases, box_threshold=0.35, text_threshold=0.25, nms_iou=0.8
    )[0]
    assert list(found.data["phrase"]) == ["cat", "dog"]
    np.testing.assert_allclose(found.confidence, [0.8, 0.7], rtol=1e-5)


def test_a_query_longer_than_the_text_window_runs_in_several_passes(tiny_models):
    phrases = ["red car", "blue truck", "dog", "cat", "tree"]
    entries = [(i, 0.5 + 0.08 * i, (0.1 + 0.2 * i, 0.5, 0.1, 0.1)) for i in range(5)]
    detector = scripted_detector(tiny_models, phrases, entries, max_text_len=9)
    found = detector.detect_many(
        [load_image(noise(100, 100))], phrases, box_threshold=0.3, text_threshold=0.2, nms_iou=0.8
    )[0]
    assert len(detector.model.calls) > 1, "the query did not fit one window"
    assert sorted(found.data["phrase"]) == sorted(phrases), "no phrase was truncated away"
    assert [phrases[c] for c in found.class_id] == list(found.data["phrase"])
    assert list(found.data["phrase"]) == phrases[::-1]  # sorted by score across passes


def test_a_single_phrase_longer_than_the_window_is_refused(tiny_models):
    detector = scripted_detector(tiny_models, ["x"], [], max_text_len=5)
    with pytest.raises(InvalidInputError, match="longer than the detector's text window of 5 tokens"):
        detector.detect_many(
            [load_image(noise(10, 10))],
            ["a very long red car phrase"],
            box_threshold=0.3,
            text_threshold=0.2,
            nms_iou=0.8,
        )


@pytest.mark.parametrize("argument", ["box_threshold", "text_threshold", "nms_iou"])
@pytest.mark.parametrize("value", [-0.1, 1.5, "0.3", None])
def test_thresholds_must_be_in_unit_range(pipe, argument, value):
    with pytest.raises(InvalidInputError, match=argument):
        pipe.detect(noise(10, 10), "dog", **{argument: value})
