"""Edits that check themselves: verification parts and score, best of N in one batched run,
min_score flags, replay of a best-of-N edit, the CLI's summary and exit status."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import PIL.Image
import pytest
import supervision as sv
from conftest import noise
from test_replay import valid

from textinpaint import InvalidInputError, Pipeline, replay
from textinpaint.interfaces.cli import main
from textinpaint.options import MAX_TRIES, CheckOptions
from textinpaint.verify import (
    UNCHECKABLE,
    Check,
    check_edits,
    combine,
    gone,
    head_word,
    kept,
    present,
    unchecked_parts,
    window,
)

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


@dataclass
class ColourDetector:
    """Finds a phrase where the picture has pixels of its colour: the box of those pixels, at a
    fixed confidence. Records every call (how many pictures, which phrases)."""

    colours: dict
    confidence: float = 0.8
    calls: list = field(default_factory=list)

    def detect_many(self, pictures, phrases, *, box_threshold, text_threshold, nms_iou):
        self.calls.append((len(pictures), list(phrases), [(p.width, p.height) for p in pictures]))
        results = []
        for picture in pictures:
            boxes, scores, ids = [], [], []
            for k, phrase in enumerate(phrases):
                colour = self.colours.get(phrase)
                hit = None if colour is None else (picture.rgb == colour).all(axis=2)
                if hit is not None and hit.any():
                    ys, xs = np.nonzero(hit)
                    boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
                    scores.append(self.confidence)
                    ids.append(k)
            found = sv.Detections(
                xyxy=np.array(boxes, np.float32).reshape(-1, 4),
                confidence=np.array(scores, np.float32),
                class_id=np.array(ids, int),
            )
            found.data["phrase"] = np.array([phrases[i] for i in ids], dtype=object)
            found.data["class_name"] = found.data["phrase"]
            results.append(found)
        return results


@dataclass
class SeedFiller:
    """A batch filler that paints red for the seeds in ``good`` and green for the others."""

    good: set
    native_size: int = 64
    batches: list = field(default_factory=list)

    def fill_many(self, crops, masks, requests):
        self.batches.append([r.seed for r in requests])
        return [self._paint(crop, request) for crop, request in zip(crops, requests)]

    def __call__(self, crop, mask, request):
        return self.fill_many([crop], [mask], [request])[0]

    def _paint(self, crop, request):
        colour = RED if request.seed in self.good else GREEN
        return np.broadcast_to(np.array(colour, np.uint8), crop.shape).copy()


def scene():
    """A grey 128x128 picture with a blue 40x40 "dog" at (40, 40)-(80, 80)."""
    picture = np.full((128, 128, 3), 200, np.uint8)
    picture[40:80, 40:80] = BLUE
    return picture


def scripted_pipeline(tiny_models, good=(), colours=None):
    detector = ColourDetector(colours or {"dog": BLUE, "a fox": RED})
    filler = SeedFiller(set(good))
    return Pipeline(detector=detector, inpainter=filler, models=tiny_models, device="cpu"), detector, filler


# ---- the parts, on made-up detections ----------------------------------------------------------


def test_present_is_confidence_times_the_share_of_the_target_covered():
    target = np.array([[0.0, 0.0, 10.0, 10.0]])
    assert present(np.array([[0.0, 0.0, 5.0, 10.0]]), np.array([0.8]), target) == pytest.approx(0.4)
    assert present(np.array([[-5.0, -5.0, 20.0, 20.0]]), np.array([0.6]), target) == pytest.approx(0.6)
    # The best match counts; two targets: the worse-covered one decides.
    boxes = np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 25.0, 10.0]])
    two = np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]])
    assert present(boxes, np.array([0.9, 0.9]), two) == pytest.approx(0.45)
    assert present(np.zeros((0, 4)), np.zeros(0), target) == 0.0


def test_gone_is_one_minus_the_strongest_match_inside():
    target = np.array([[0.0, 0.0, 10.0, 10.0]])
    assert gone(np.array([[2.0, 2.0, 8.0, 8.0]]), np.array([0.7]), target) == pytest.approx(0.3)
    assert gone(np.array([[5.0, 0.0, 15.0, 10.0]]), np.array([0.8]), target) == pytest.approx(0.6)
    assert gone(np.array([[50.0, 50.0, 60.0, 60.0]]), np.array([0.99]), target) == pytest.approx(1.0)
    assert gone(np.zeros((0, 4)), np.zeros(0), target) == 1.0


def test_kept_is_confidence_times_iou_with_the_subject():
    target = np.array([[0.0, 0.0, 10.0, 10.0]])
    assert kept(np.array([[0.0, 0.0, 10.0, 10.0]]), np.array([0.9]), target) == pytest.approx(0.9)
    assert kept(np.array([[0.0, 0.0, 10.0, 5.0]]), np.array([1.0]), target) == pytest.approx(0.5)
    assert kept(np.zeros((0, 4)), np.zeros(0), target) == 0.0


def test_the_score_is_the_lowest_checked_part():
    assert combine({"present": 0.7, "gone": 0.4}).score == 0.4
    assert combine({"present": None, "gone": 0.9}).score == 0.9
    assert combine({"present": None, "gone": None}).score is None
    assert combine({"kept": 0.123456}).parts == {"kept": 0.1235}


@pytest.mark.parametrize(
    "phrase,head",
    [
        ("the red car", "car"),
        ("the man in the red shirt", "man"),
        ("a dog with a hat", "dog"),
        ("in the style of Monet", None),
        ("gold", "gold"),
        ("3.5 inch screws", "screws"),
    ],
)
def test_head_word(phrase, head):
    assert head_word(phrase) == head


@pytest.mark.parametrize(
    "find,with_,unchecked",
    [
        (["the red car"], "a vintage blue pickup truck", set()),
        (["the red car"], "a red bus", set()),  # a shared colour is not the same thing
        (["the red car"], "a blue car", {"gone"}),
        (["cars"], "a blue car", {"gone"}),
        (["the car"], "three shiny cars", {"gone"}),
        (["dog", "the chair"], "a chair made of gold", {"gone"}),
        (["the chair"], "made of marble", {"present"}),
        (["the chair"], "gold", {"present"}),
        (["the chair"], "in the style of van gogh", {"present"}),
        (["the car"], "bright red", {"present"}),
        (["the car"], "a watercolor", {"present"}),
        (["the vase"], "a glass bowl", set()),
    ],
)
def test_what_the_text_cannot_check_is_named_not_scored(find, with_, unchecked):
    assert set(unchecked_parts(find, with_)) == unchecked


def test_uncheckable_words_are_looks_not_things():
    assert {"style", "gold", "red", "wooden"} <= UNCHECKABLE
    assert not {"car", "dog", "truck", "glasses"} & UNCHECKABLE


def test_the_window_grows_the_targets_and_stays_inside():
    assert window(np.array([[40.0, 40.0, 80.0, 80.0]]), 128, 128) == (24, 24, 96, 96)
    assert window(np.array([[0.0, 0.0, 100.0, 20.0]]), 110, 128) == (0, 0, 110, 36)


def test_checks_look_at_windows_and_map_boxes_back(tiny_models):
    detector = ColourDetector({"a fox": RED, "dog": BLUE})
    pictures = []
    for colour in (RED, GREEN, RED):
        picture = np.full((128, 128, 3), 200, np.uint8)
        picture[40:80, 40:80] = colour
        pictures.append(picture)
    # A blue "dog" outside the window (top-left corner) must not count against `gone`.
    pictures[2][0:10, 0:10] = BLUE
    target = np.array([[40.0, 40.0, 80.0, 80.0]])

    def detect(windows, phrases):
        return detector.detect_many(windows, phrases, box_threshold=0.1, text_threshold=0.1, nms_iou=0.8)

    checks = [Check(p, target) for p in pictures]
    verdicts = check_edits(detect, checks, find=["dog"], with_="a fox")
    assert [v.parts for v in verdicts] == [
        {"present": 0.8, "gone": 1.0},
        {"present": 0.0, "gone": 1.0},
        {"present": 0.8, "gone": 1.0},
    ]
    assert [v.score for v in verdicts] == [0.8, 0.0, 0.8]
    # One detector call per text, over every window together; windows, not whole pictures.
    assert [(n, phrases) for n, phrases, _ in detector.calls] == [(3, ["a fox"]), (3, ["dog"])]
    assert detector.calls[0][2] == [(72, 72)] * 3
    # The whole picture for a kept subject.
    whole = check_edits(detect, [Check(pictures[2], np.array([[0.0, 0.0, 10.0, 10.0]]), whole=True)], keep=["dog"])
    assert whole[0].parts == {"kept": 0.8} and detector.calls[-1][2] == [(128, 128)]


def test_a_part_the_text_cannot_check_is_none_with_the_reason_and_no_detector_call():
    calls = []

    def detect(windows, phrases):
        calls.append(phrases)
        return [sv.Detections.empty() for _ in windows]

    check = Check(scene(), np.array([[40.0, 40.0, 80.0, 80.0]]))
    verdict = check_edits(detect, [check], find=["the car"], with_="a blue car")[0]
    assert verdict.parts == {"present": 0.0, "gone": None}
    assert "car" in verdict.unchecked["gone"] and calls == [["a blue car"]]
    style = check_edits(detect, [check], find=["the car"], with_="in the style of Monet")[0]
    assert style.parts == {"present": None, "gone": 1.0} and style.score == 1.0
    mask = check_edits(detect, [check], keep=[])[0]
    assert mask.score is None and mask.parts == {"kept": None} and "mask" in mask.unchecked["kept"]


# ---- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options,argument",
    [
        ({"tries": 0}, "tries"),
        ({"tries": MAX_TRIES + 1}, "tries"),
        ({"tries": 2.0}, "tries"),
        ({"tries": True}, "tries"),
        ({"min_score": -0.1}, "min_score"),
        ({"min_score": 1.5}, "min_score"),
        ({"min_score": math.nan}, "min_score"),
        ({"min_score": "0.5"}, "min_score"),
        ({"verify": "yes"}, "verify"),
    ],
)
def test_bad_check_options_are_typed_errors_naming_the_argument(options, argument, tiny_models):
    with pytest.raises(InvalidInputError, match=argument):
        CheckOptions(**options)
    pipe, detector, filler = scripted_pipeline(tiny_models)
    with pytest.raises(InvalidInputError, match=argument):
        pipe.replace(scene(), "dog", "a fox", **options)
    assert detector.calls == [] and filler.batches == []  # refused before any work


def test_check_options_turn_verification_on():
    assert not CheckOptions().active
    assert CheckOptions(verify=True).active and CheckOptions(tries=2).active and CheckOptions(min_score=0).active


# ---- workflows ---------------------------------------------------------------------------------


def test_without_checking_nothing_extra_runs(tiny_models):
    pipe, detector, filler = scripted_pipeline(tiny_models, good={5})
    edit = pipe.replace(scene(), "dog", "a fox", seed=5, mask_mode="box")
    assert edit.verification is None and edit.candidates == [] and not edit.flagged
    assert len(detector.calls) == 1 and filler.batches == [[5]]
    document = valid(edit.to_dict())
    assert document["verification"] is None and document["chosen"] is None and document["candidates"] == []


def test_verify_scores_a_replacement(tiny_models):
    pipe, detector, _ = scripted_pipeline(tiny_models, good={5})
    good = pipe.replace(scene(), "dog", "a fox", seed=5, mask_mode="box", verify=True)
    assert good.verification.parts == {"present": 0.8, "gone": 1.0} and good.verification.score == 0.8
    bad = pipe.replace(scene(), "dog", "a fox", seed=6, mask_mode="box", verify=True)
    assert bad.verification.parts == {"present": 0.0, "gone": 1.0} and bad.verification.score == 0.0
    assert "verify" in good.timings
    assert valid(good.to_dict())["verification"] == {
        "score": 0.8,
        "parts": {"present": 0.8, "gone": 1.0},
        "unchecked": {},
    }


def test_best_of_n_keeps_the_best_from_one_batched_run(tiny_models):
    pipe, detector, filler = scripted_pipeline(tiny_models, good={12})
    edit = pipe.replace(scene(), "dog", "a fox", seed=10, tries=4, mask_mode="box")
    assert filler.batches == [[10, 11, 12, 13]]  # one batch: every candidate together
    assert edit.seed == 12 and edit.verification.score == 0.8
    assert [(c.seed, c.score) for c in edit.candidates] == [(10, 0.0), (11, 0.0), (13, 0.0)]
    painted = np.asarray(edit.image)
    assert (painted[40:80, 40:80] == RED).all()
    np.testing.assert_array_equal(painted[~edit.mask], scene()[~edit.mask])
    # Verified together: the find pass, then one pass per text over the 4 candidates.
    assert [n for n, *_ in detector.calls] == [1, 4, 4]
    document = valid(edit.to_dict())
    assert document["parameters"]["seed"] == 10 and document["seed"] == 12 and document["chosen"] == 2
    assert document["parameters"]["tries"] == 4


def test_best_of_n_breaks_ties_by_the_lowest_seed(tiny_models):
    pipe, _, _ = scripted_pipeline(tiny_models, good={21, 22})
    assert pipe.replace(scene(), "dog", "a fox", seed=20, tries=3, mask_mode="box").seed == 21
    pipe, _, _ = scripted_pipeline(tiny_models, good=set())
    assert pipe.replace(scene(), "dog", "a fox", seed=20, tries=3, mask_mode="box").seed == 20


def test_best_of_n_seeds_wrap_around(tiny_models):
    pipe, _, filler = scripted_pipeline(tiny_models, good={0})
    edit = pipe.replace(scene(), "dog", "a fox", seed=2**32 - 1, tries=2, mask_mode="box")
    assert filler.batches == [[2**32 - 1, 0]] and edit.seed == 0


def test_a_list_of_images_with_tries_is_one_batch(tiny_models):
    pipe, _, filler = scripted_pipeline(tiny_models, good={3, 8})
    flipped = scene()[::-1].copy()
    edits = pipe.replace([scene(), flipped], "dog", "a fox", seed=[1, 7], tries=3, mask_mode="box")
    assert filler.batches == [[1, 2, 3, 7, 8, 9]]
    assert [e.seed for e in edits] == [3, 8]


def test_min_score_flags_but_still_returns_the_edit(tiny_models):
    pipe, _, _ = scripted_pipeline(tiny_models, good=set())
    edit = pipe.replace(scene(), "dog", "a fox", seed=1, min_score=0.5, mask_mode="box")
    assert edit.flagged and edit.found and edit.verification.score == 0.0
    assert (np.asarray(edit.image)[40:80, 40:80] == GREEN).all()
    assert valid(edit.to_dict())["flagged"] is True
    pipe, _, _ = scripted_pipeline(tiny_models, good={1})
    assert not pipe.replace(scene(), "dog", "a fox", seed=1, min_score=0.5, mask_mode="box").flagged
    # An edit that cannot be checked is not flagged: it has no score.
    pipe, _, _ = scripted_pipeline(tiny_models, colours={"dog": BLUE})
    styled = pipe.replace(scene(), "dog", "painted like the dog", seed=1, min_score=0.5, mask_mode="box")
    assert styled.verification.parts == {"present": None, "gone": None}
    assert styled.verification.score is None and not styled.flagged


def test_nothing_found_is_not_verified(tiny_models):
    pipe, detector, _ = scripted_pipeline(tiny_models)
    edit = pipe.replace(np.full((64, 64, 3), 200, np.uint8), "dog", "a fox", verify=True, tries=3)
    assert not edit.found and edit.verification is None and not edit.flagged and len(detector.calls) == 1


def test_replay_of_best_of_n_is_exact_without_the_search(tiny_models):
    pipe, detector, filler = scripted_pipeline(tiny_models, good={12})
    edit = pipe.replace(scene(), "dog", "a fox", seed=10, tries=4, mask_mode="box")
    detector.calls.clear()
    filler.batches.clear()
    again = replay(edit.to_dict(), image=scene(), pipeline=pipe)
    np.testing.assert_array_equal(np.asarray(again.image), np.asarray(edit.image))
    assert again.seed == 12 and again.verification == edit.verification
    assert filler.batches == [[10, 11, 12, 13]]  # the same batched run
    assert [n for n, *_ in detector.calls] == [1, 1, 1]  # only the kept candidate is verified
    assert again.to_dict()["chosen"] == 2


def test_replay_of_a_batched_best_of_n(tiny_models, tmp_path):
    pipe, _, _ = scripted_pipeline(tiny_models, good={2, 9})
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    PIL.Image.fromarray(scene()).save(paths[0])
    PIL.Image.fromarray(scene()[:, ::-1].copy()).save(paths[1])
    edits = pipe.replace([str(p) for p in paths], "dog", "a fox", seed=[1, 7], tries=3, mask_mode="box")
    assert [e.seed for e in edits] == [2, 9]
    for edit in edits:
        again = replay(edit.to_dict(), pipeline=pipe)
        assert again.seed == edit.seed
        np.testing.assert_array_equal(np.asarray(again.image), np.asarray(edit.image))


def test_remove_checks_that_the_object_is_gone(tiny_models):
    pipe, _, _ = scripted_pipeline(tiny_models)
    edit = pipe.remove(scene(), "dog", verify=True, mask_mode="box")
    assert list(edit.verification.parts) == ["gone"]
    assert edit.verification.score == 1.0 - 0.8 * float(
        (np.asarray(edit.image)[40:80, 40:80] == BLUE).all(axis=2).any()
    )
    assert valid(edit.to_dict())["parameters"]["verify"] is True


def test_remove_refuses_tries(tiny_models):
    pipe, _, _ = scripted_pipeline(tiny_models)
    with pytest.raises(TypeError):
        pipe.remove(scene(), "dog", tries=2)  # type: ignore[call-arg]  # the point of the test
    with pytest.raises(InvalidInputError, match="tries=3"):
        pipe.replace(scene(), "dog", "", tries=3)


def test_background_checks_the_subject_is_kept(tiny_models):
    pipe, detector, filler = scripted_pipeline(tiny_models, good={4})
    edit = pipe.replace_background(scene(), "dog", "a beach", seed=3, tries=2, depth=False, matte=False)
    assert edit.verification.parts == {"kept": 0.8} and edit.seed == 3  # a tie: the lowest seed
    assert filler.batches == [[3, 4]] and detector.calls[-1][2] == [(128, 128)] * 2
    mask = (scene() == BLUE).all(axis=2)
    given = pipe.replace_background(scene(), None, "a beach", mask=mask, seed=3, verify=True, depth=False, matte=False)
    assert given.verification.score is None and "mask" in given.verification.unchecked["kept"]
    valid(given.to_dict())


# ---- the command line --------------------------------------------------------------------------


def test_cli_flags_low_scores_with_exit_status_3(tiny_models, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        PIL.Image.fromarray(noise(48, 64, seed=i)).save(folder / f"p{i}.png")
    out = tmp_path / "out"
    args = ["replace", folder, "-o", out, "--find", "thing", "--with", "a fox", "--models", tiny_models]
    args += ["--box-threshold", "0", "--text-threshold", "0", "--device", "cpu", "--steps", "2", "--seed", "1"]
    status = main([str(a) for a in [*args, "--tries", "2", "--min-score", "1"]])
    captured = capsys.readouterr()
    assert status == 3, captured.err
    assert "2 flagged" in captured.err and captured.err.count("  flagged: ") == 2
    assert "best of 2" in captured.out and "FLAGGED" in captured.out
    document = json.loads((out / "p0.json").read_text())
    valid(document)
    assert document["flagged"] and document["verification"]["score"] < 1
    assert document["seed"] in (1, 2) and len(document["candidates"]) == 1
    assert (out / "p0.png").is_file()


@pytest.mark.parametrize(
    "flag,value",
    [("--tries", "0"), ("--tries", str(MAX_TRIES + 1)), ("--min-score", "2"), ("--min-score", "nan")],
)
def test_cli_refuses_bad_check_options_as_usage_errors(tiny_models, tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as stopped:
        main(["replace", str(tmp_path), "-o", str(tmp_path / "o"), "--find", "a", "--with", "b", flag, value])
    assert stopped.value.code == 2
    assert flag.strip("-").replace("-", "_") in capsys.readouterr().err


# ---- with the real (tiny) diffusers inpainter and detector -------------------------------------


def test_best_of_n_with_the_diffusers_inpainter_is_one_unet_run(tiny_models, monkeypatch):
    from test_batching import count_calls

    pipeline = Pipeline(models=tiny_models, device="cpu")
    unet = count_calls(monkeypatch, pipeline.inpainter.pipe.unet)
    image = noise(64, 64, seed=5)
    options = dict(mask_mode="box", steps=2, guidance=3.0, seed=3, box_threshold=0.0, text_threshold=0.0)
    edit = pipeline.replace(image, "a dog", "a cat", tries=3, **options)
    assert unet == [6, 6], "2 steps, the 3 candidates together (x2 for classifier-free guidance)"
    assert edit.seed in (3, 4, 5) and sorted([edit.seed, *(c.seed for c in edit.candidates)]) == [3, 4, 5]
    np.testing.assert_array_equal(np.asarray(edit.image)[~edit.mask], image[~edit.mask])
    unet.clear()
    again = replay(edit.to_dict(), image=image)
    assert unet == [6, 6]
    np.testing.assert_array_equal(np.asarray(again.image), np.asarray(edit.image))


def test_cli_best_of_n_replays_bit_for_bit(tiny_models, tmp_path, capsys):
    from test_replay import replayed_equals_written

    PIL.Image.fromarray(noise(48, 64, seed=3)).save(tmp_path / "p.png")
    out = tmp_path / "out.png"
    args = ["replace", tmp_path / "p.png", "-o", out, "--find", "thing", "--with", "a fox", "--models", tiny_models]
    args += ["--box-threshold", "0", "--text-threshold", "0", "--device", "cpu", "--steps", "2", "--tries", "3"]
    assert main([str(a) for a in args]) == 0
    capsys.readouterr()
    document = valid(json.loads(out.with_suffix(".json").read_text()))
    assert document["chosen"] in (0, 1, 2) and len(document["candidates"]) == 2
    assert document["seed"] == (document["parameters"]["seed"] + document["chosen"]) % 2**32
    replayed_equals_written(capsys, out.with_suffix(".json"), out, tmp_path)
