"""One versioned sidecar for every subcommand and the API; `replay` makes each edit again bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import PIL.Image
import pytest
from conftest import ConstantFiller, noise

import textinpaint
from textinpaint import InvalidInputError, Pipeline, read_sidecar, replay
from textinpaint.interfaces.cli import main

FIND = ["--box-threshold", "0", "--text-threshold", "0", "--device", "cpu"]
PAINT = ["--steps", "2", "--guidance", "3"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replay-in")
    for i, (height, width) in enumerate([(48, 64), (48, 64), (48, 64), (40, 56)]):
        PIL.Image.fromarray(noise(height, width, seed=10 + i)).save(folder / f"p{i}.png")
    mask = np.zeros((48, 64), np.uint8)
    mask[10:30, 20:40] = 255
    PIL.Image.fromarray(mask).save(folder / "subject.png")
    return folder


def cli(capsys, *args):
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert status in (0, 3), captured.err
    return status, captured.out, captured.err


def pixels(path):
    with PIL.Image.open(path) as image:
        return np.asarray(image).copy()


SCHEMA = json.loads((Path(textinpaint.__file__).parent / "sidecar.schema.json").read_text())


def valid(document):
    """The document follows the shipped JSON Schema (and is strict JSON)."""
    jsonschema.validate(json.loads(json.dumps(document, allow_nan=False)), SCHEMA)
    return document


def replayed_equals_written(capsys, sidecar, written, tmp_path):
    """`textinpaint replay SIDECAR -o OUT` writes exactly the pixels the first run wrote."""
    out = tmp_path / f"again-{sidecar.stem}.png"
    status, stdout, _ = cli(capsys, "replay", sidecar, "-o", out)
    assert status == 0 and f"wrote {out}" in stdout
    np.testing.assert_array_equal(pixels(out), pixels(written))
    return out


@pytest.mark.parametrize(
    "command",
    [
        ["replace", "--find", "a dog", "--with", "a cat", *PAINT, "--seed", "3", *FIND],
        ["replace", "--find", "a dog", "--with", "a cat", *PAINT, "--mask-mode", "box", "--select", "best", *FIND],
        [
            "replace",
            "--find",
            "a dog",
            "--with",
            "a cat",
            *PAINT,
            "--refine",
            "--upscale",
            "2",
            "--scheduler",
            "euler a",
            "--select",
            "best",
            *FIND,
        ],
        ["remove", "--find", "a dog", "--select", "best", *FIND],
        ["background", "--keep", "a dog", "--with", "a beach", *PAINT, "--seed", "2", *FIND],
        ["background", "--keep-mask", "SUBJECT", "--with", "a beach", *PAINT, "--no-depth", "--device", "cpu"],
        ["segment", "--find", "a dog. the red car", "--select", "0,1", *FIND],
    ],
    ids=["replace", "replace-box", "replace-refine-upscale", "remove", "background", "background-mask", "segment"],
)
def test_replay_of_each_editing_subcommand_gives_the_written_image(command, photos, tiny_models, tmp_path, capsys):
    command = [str(photos / "subject.png") if part == "SUBJECT" else part for part in command]
    out = tmp_path / "out.png"
    cli(capsys, command[0], photos / "p0.png", "-o", out, "--models", tiny_models, *command[1:])
    sidecar = tmp_path / "out.json"
    document = valid(json.loads(sidecar.read_text()))
    assert document["version"] == 3 and document["input"]["path"] == str((photos / "p0.png").resolve())
    assert document["versions"]["torch"] and document["device"] == "cpu" and document["dtype"] == "float32"
    assert all(entry["source"] for entry in document["models"].values())
    replayed_equals_written(capsys, sidecar, out, tmp_path)
    replayed_equals_written(capsys, out, out, tmp_path)  # the PNG carries its sidecar too


def test_replay_of_generate(tiny_models, tmp_path, capsys):
    out = tmp_path / "gen.png"
    cli(
        capsys,
        "generate",
        "a lighthouse",
        "-o",
        out,
        "--models",
        tiny_models,
        "--device",
        "cpu",
        "--size",
        "40x24",
        *PAINT,
    )
    document = valid(json.loads((tmp_path / "gen.json").read_text()))
    assert document["workflow"] == "generate" and document["input"] is None and document["seed"] is not None
    replayed_equals_written(capsys, tmp_path / "gen.json", out, tmp_path)


def test_replay_of_detect_gives_the_same_detections(photos, tiny_models, tmp_path, capsys):
    sidecar = tmp_path / "found.json"
    _, printed, _ = cli(
        capsys,
        "detect",
        photos / "p1.png",
        "--find",
        "a dog. the red car",
        "-o",
        sidecar,
        "--models",
        tiny_models,
        *FIND,
    )
    document = valid(json.loads(sidecar.read_text()))
    assert document["workflow"] == "detect" and document["detections"] == json.loads(printed)
    out = tmp_path / "again.json"
    cli(capsys, "replay", sidecar, "-o", out)
    assert json.loads(out.read_text())["detections"] == document["detections"]
    np.testing.assert_allclose(
        replay(sidecar).detections.xyxy, [row["xyxy"] for row in document["detections"]], atol=0.01
    )


def test_replay_of_a_batched_run_gives_each_written_image(photos, tiny_models, tmp_path, capsys):
    out = tmp_path / "batched"
    cli(
        capsys,
        "replace",
        *(photos / f"p{i}.png" for i in range(4)),
        "-o",
        out,
        "--models",
        tiny_models,
        "--find",
        "a dog",
        "--with",
        "a cat",
        *PAINT,
        "--batch-size",
        "3",
        *FIND,
    )
    documents = {i: valid(json.loads((out / f"p{i}.json").read_text())) for i in range(4)}
    assert documents[0]["batch"]["index"] == 0 and len(documents[0]["batch"]["inputs"]) == 3
    assert documents[0]["batch"]["seeds"] == [documents[i]["seed"] for i in range(3)]
    for i in range(4):
        replayed_equals_written(capsys, out / f"p{i}.json", out / f"p{i}.png", tmp_path)


def test_api_edits_replay_from_their_dicts_including_a_given_mask(pipe):
    image = noise(40, 52, seed=4)
    mask = np.zeros((40, 52), bool)
    mask[5:20, 10:30] = True
    edited = pipe.inpaint(image, mask, "a red door", steps=2, seed=8)
    painted = edited.image
    document = valid(edited.to_dict())
    assert document["workflow"] == "inpaint" and document["input"]["hash_of"] == "pixels"
    again = replay(document, image=image)
    np.testing.assert_array_equal(np.asarray(again.image), np.asarray(painted))
    edit = pipe.replace_background(image, None, "a forest", mask=mask, steps=2, seed=1, depth=False)
    again = replay(edit.to_dict(), image=image)
    np.testing.assert_array_equal(np.asarray(again.image), np.asarray(edit.image))


def test_replay_refuses_a_changed_or_missing_input(photos, tiny_models, tmp_path, capsys):
    source = tmp_path / "input.png"
    source.write_bytes((photos / "p0.png").read_bytes())
    cli(capsys, "remove", source, "-o", tmp_path / "out.png", "--models", tiny_models, "--find", "a dog", *FIND)
    sidecar = tmp_path / "out.json"
    PIL.Image.fromarray(noise(48, 64, seed=99)).save(source)
    with pytest.raises(InvalidInputError, match="differs from the one the sidecar records"):
        replay(sidecar)
    source.unlink()
    with pytest.raises(InvalidInputError, match="is not there; pass image="):
        replay(sidecar)
    edit = replay(sidecar, image=photos / "p0.png")
    np.testing.assert_array_equal(np.asarray(edit.image), pixels(tmp_path / "out.png"))


@pytest.mark.parametrize(
    "document,message",
    [
        ({"workflow": "replace", "version": 1}, "version 1; this textinpaint replays versions 2 and 3"),
        ({"workflow": "teleport", "version": 3}, "field workflow"),
        ([], "is not a textinpaint sidecar"),
    ],
)
def test_read_sidecar_refuses_what_it_cannot_replay(document, message, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InvalidInputError, match=message):
        read_sidecar(path)


def test_a_model_given_as_an_object_needs_the_pipeline_to_replay(tiny_models):
    pipeline = Pipeline(inpainter=ConstantFiller(), models=tiny_models, device="cpu")
    mask = np.ones((20, 20), bool)
    document = pipeline.inpaint(noise(20, 20), mask, "x", seed=1).to_dict()
    assert document["models"]["inpainter"]["source"] == "(object)"
    with pytest.raises(InvalidInputError, match="inpainter was given as an object; pass pipeline="):
        replay(document, image=noise(20, 20))
    again = replay(document, image=noise(20, 20), pipeline=pipeline)
    assert (np.asarray(again.image) == [255, 0, 255]).all()


def test_sidecars_are_strict_json_and_remove_reports_no_seed_it_did_not_use(pipe):
    edit = pipe.remove(noise(30, 30), "a dog", box_threshold=0.0, text_threshold=0.0, select="best")
    document = valid(edit.to_dict())
    assert edit.seed is None and document["seed"] is None and document["parameters"]["seed"] is None
    text = json.dumps(document, allow_nan=False)
    assert "NaN" not in text and "Infinity" not in text


def test_module_level_replay_is_exported():
    assert textinpaint.replay is replay and "replay" in textinpaint.__all__
