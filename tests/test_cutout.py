"""Cutouts and new backgrounds without naming the subject: the subject stage (rembg), the matte
stage (ViTMatte), the cutout workflow and soft compositing, on tiny models in the real formats."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import PIL.Image
import pytest
import torch
from conftest import noise

from textinpaint import Pipeline
from textinpaint.errors import (
    InvalidInputError,
    ModelKindError,
    ModelsMissingError,
    NothingFoundError,
    TextInpaintError,
    WeightsNotFoundError,
)
from textinpaint.masks import alpha_blend, trimap

rembg = pytest.importorskip("rembg")


def disc_picture(height: int = 120, width: int = 160, radius: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """A light disc on a dark ground (the tiny subject model reads brighter as more salient)."""
    rgb = np.full((height, width, 3), 30, np.uint8)
    yy, xx = np.mgrid[:height, :width]
    disc = (yy - height // 2) ** 2 + (xx - width // 2) ** 2 < radius**2
    rgb[disc] = (220, 200, 180)
    rgb[disc & ((xx + yy) % 7 == 0)] = (250, 240, 90)  # some texture inside
    return rgb, disc


@pytest.fixture(scope="module")
def plain(tiny_models):
    """The tiny models without matting, for the paths where it is off by default."""
    return Pipeline(models=tiny_models, device="cpu", matte=None)


# ---- the subject stage equals rembg on the same ONNX ----------------------------------------


@pytest.mark.parametrize("shape", [(120, 160), (61, 97), (1, 1), (3, 2000), (2000, 3), (17, 5)])
def test_the_subject_mask_equals_rembgs_remove_only_mask_on_the_same_session(pipe, shape):
    rgb = noise(*shape, seed=sum(shape))
    found = pipe.salient(rgb)
    ours = found.data["alpha"][0]
    reference = np.asarray(
        rembg.remove(PIL.Image.fromarray(rgb), session=pipe.model("subject").session, only_mask=True)
    )
    assert ours.shape == shape and ours.dtype == np.uint8
    assert int((ours != reference).sum()) == 0
    if len(found):
        assert (found.mask[0] == (ours >= 128)).all()


def test_a_custom_onnx_file_runs_as_rembgs_own_custom_session(tiny_models, tmp_path, monkeypatch):
    """rembg's u2net_custom session, created by rembg itself from the file, gives the same mask."""
    home = tmp_path / "rembg-home"
    home.mkdir()
    custom = home / "my-salient.onnx"
    shutil.copy(next((tiny_models / "subject").glob("*.onnx")), custom)
    monkeypatch.setenv("REMBG_HOME", str(home))
    theirs = rembg.new_session("u2net_custom", model_path=str(custom), providers=["CPUExecutionProvider"])
    ours = Pipeline(subject=custom, device="cpu")
    for seed in range(3):
        rgb = noise(90, 130, seed=seed)
        reference = np.asarray(rembg.remove(PIL.Image.fromarray(rgb), session=theirs, only_mask=True))
        assert int((ours.salient(rgb).data["alpha"][0] != reference).sum()) == 0


def test_the_tiny_subject_model_finds_a_light_object_on_a_dark_ground(pipe):
    rgb, disc = disc_picture()
    found = pipe.salient(rgb)
    assert len(found) == 1 and found.data["phrase"][0] == "subject"
    assert int((found.mask[0] != disc).sum()) == 0
    ys, xs = np.nonzero(disc)
    assert tuple(found.xyxy[0]) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


# ---- the matte stage equals ViTMatte on the same crop and trimap ----------------------------


def test_the_matte_equals_vitmattes_processor_and_model_on_the_same_crop_and_trimap(pipe, tiny_models):
    from transformers import VitMatteForImageMatting, VitMatteImageProcessor

    rgb, disc = disc_picture()
    band = 6
    sure = trimap(disc, band)
    unknown = sure == 128
    ys, xs = np.nonzero(unknown)
    y0, x0 = max(0, ys.min() - band), max(0, xs.min() - band)
    y1, x1 = min(120, ys.max() + 1 + band), min(160, xs.max() + 1 + band)
    processor = VitMatteImageProcessor.from_pretrained(tiny_models / "matte")
    model = VitMatteForImageMatting.from_pretrained(tiny_models / "matte").eval()
    inputs = processor(
        images=PIL.Image.fromarray(rgb[y0:y1, x0:x1]),
        trimaps=PIL.Image.fromarray(sure[y0:y1, x0:x1]),
        return_tensors="pt",
    )
    with torch.no_grad():
        reference = model(**inputs).alphas[0, 0, : y1 - y0, : x1 - x0].numpy()
    raw = pipe.model("matte")(rgb[y0:y1, x0:x1], sure[y0:y1, x0:x1])
    assert np.abs(raw - reference).max() <= 1 / 255
    alpha = pipe.matte(rgb, disc, band=band)
    expected = sure.copy()
    expected[y0:y1, x0:x1][unknown[y0:y1, x0:x1]] = np.rint(reference[unknown[y0:y1, x0:x1]] * 255)
    assert np.abs(alpha.astype(int) - expected.astype(int)).max() <= 1
    assert (alpha[sure == 255] == 255).all() and (alpha[sure == 0] == 0).all()


def test_a_large_crop_is_matted_in_tiles_at_full_resolution(pipe):
    from textinpaint.backends import matting

    rgb = noise(1700, 260, seed=3)
    mask = np.zeros((1700, 260), bool)
    mask[100:1600, 60:200] = True
    alpha = pipe.matte(rgb, mask, band=8)
    sure = trimap(mask, 8)
    assert alpha.shape == (1700, 260)
    assert (alpha[sure == 255] == 255).all() and (alpha[sure == 0] == 0).all()
    assert ((alpha[sure == 128] > 0) & (alpha[sure == 128] < 255)).all()
    assert 1700 > matting.MAX_SIDE  # the tiled path ran


# ---- the cutout workflow ----------------------------------------------------------------------


def test_cutout_of_the_salient_subject_is_rgba_soft_along_the_edge_and_exact_where_opaque(pipe):
    rgb, disc = disc_picture()
    edit = pipe.cutout(rgb)
    assert edit.image.mode == "RGBA" and edit.image.size == (160, 120)
    pixels = np.asarray(edit.image)
    assert (pixels[..., 3] == edit.alpha).all()
    soft = (edit.alpha > 0) & (edit.alpha < 255)
    assert soft.any(), "matting is on (its weights are in the models folder): the edge is soft"
    opaque = edit.alpha == 255
    assert opaque.sum() > 1000 and (pixels[..., :3][opaque] == rgb[opaque]).all()
    assert (edit.alpha[~trimap(disc, 6)[..., None].any(axis=-1)] == 0).all()
    assert (edit.mask == (edit.alpha < 255)).all()
    assert edit.record.parameters["matte"] == "vitmatte"
    assert set(edit.record.models) == {"subject", "matte"}


def test_cutout_without_matting_is_the_subject_models_own_soft_mask(pipe):
    rgb, _ = disc_picture()
    edit = pipe.cutout(rgb, matte=False)
    assert (edit.alpha == pipe.salient(rgb).data["alpha"][0]).all()
    assert edit.record.parameters["matte"] is False and set(edit.record.models) == {"subject"}


def test_cutout_keeps_the_inputs_icc_profile_and_exif(pipe, tmp_path):
    rgb, _ = disc_picture()
    exif = PIL.Image.Exif()
    exif[0x010E] = "a lamp"  # ImageDescription
    path = tmp_path / "lamp.png"
    PIL.Image.fromarray(rgb).save(path, icc_profile=b"fake-icc-profile", exif=exif.tobytes())
    edit = pipe.cutout(str(path))
    assert edit.image.info.get("icc_profile") == b"fake-icc-profile"
    assert b"a lamp" in edit.image.info["exif"]
    edit.save(tmp_path / "out.png")
    with PIL.Image.open(tmp_path / "out.png") as written:
        assert written.mode == "RGBA" and written.info.get("icc_profile") == b"fake-icc-profile"
        assert (np.asarray(written) == np.asarray(edit.image)).all()


def test_cutout_on_a_colour_and_cropped_to_the_subject(pipe):
    rgb, disc = disc_picture()
    edit = pipe.cutout(rgb, background_colour="#20a0ff", crop_to_subject=True)
    alpha = edit.alpha
    ys, xs = np.nonzero(alpha)
    box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    assert edit.image.mode == "RGB" and edit.image.size == (box[2] - box[0], box[3] - box[1])
    expected = alpha_blend(rgb, (32, 160, 255), alpha)[box[1] : box[3], box[0] : box[2]]
    assert (np.asarray(edit.image) == expected).all()
    assert edit.mask.shape == expected.shape[:2]
    assert pipe.cutout(rgb, background_colour=(0, 0, 0), matte=False).image.mode == "RGB"


@pytest.mark.parametrize(
    "options",
    [
        {"background_colour": "no-such-colour"},
        {"background_colour": (1, 2)},
        {"background_colour": (0, 0, 256)},
        {"matte": "yes"},
        {"matte": 1},
        {"matte_band": 0},
        {"crop_to_subject": "yes"},
    ],
)
def test_bad_cutout_options_are_typed_errors_naming_the_option(pipe, options):
    with pytest.raises(InvalidInputError, match=next(iter(options))):
        pipe.cutout(noise(20, 20), **options)


def test_cutout_by_text_clicks_or_mask_works_as_in_the_other_workflows(pipe):
    rgb, disc = disc_picture()
    by_mask = pipe.cutout(rgb, mask=disc, matte=False)
    assert (by_mask.alpha == np.where(disc, 255, 0)).all()
    assert by_mask.record.mask is not None and set(by_mask.record.models) == set()
    soft = pipe.cutout(rgb, mask=disc)
    assert set(soft.record.models) == {"matte"} and ((soft.alpha > 0) & (soft.alpha < 255)).any()
    clicked = pipe.cutout(rgb, points=[(80, 60)], matte=False)
    assert set(clicked.record.models) == {"segmenter"}
    assert clicked.alpha.dtype == np.uint8 and clicked.alpha.shape == (120, 160)
    with pytest.raises(InvalidInputError, match="not both"):
        pipe.cutout(rgb, "the lamp", mask=disc)


def test_an_empty_subject_is_a_defined_result_or_with_strict_a_typed_error(tiny_models, tmp_path):
    """A model that sees nothing stand out (a flat prediction, which rembg's min-max scaling
    would divide 0 by 0 on) finds no subject."""
    from onnx import TensorProto, helper

    blind = _onnx_with(
        tmp_path,
        "blind.onnx",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, "h", "w"])],
        [
            helper.make_node("ReduceMean", ["x"], ["m"], axes=[1], keepdims=1),
            helper.make_node("Constant", [], ["zero"], value_float=0.0),
            helper.make_node("Mul", ["m", "zero"], ["y"]),
        ],
    )
    seeing_nothing = Pipeline(models=tiny_models, subject=blind, device="cpu")
    picture = noise(40, 50)
    assert len(seeing_nothing.salient(picture)) == 0
    edit = seeing_nothing.cutout(picture)
    assert edit.found is False
    assert (np.asarray(edit.image)[..., 3] == 0).all() and (edit.alpha == 0).all()
    with pytest.raises(NothingFoundError, match="no salient subject"):
        seeing_nothing.cutout(picture, strict=True)
    background = seeing_nothing.replace_background(picture, with_="a beach", seed=0, depth=False)
    assert background.found is False and (np.asarray(background.image) == picture).all()


@pytest.mark.parametrize("shape", [(1, 1), (3, 2000), (2000, 3)])
def test_tiny_and_thin_pictures_cut_out_to_their_own_size(pipe, shape):
    rgb = noise(*shape, seed=5)
    edit = pipe.cutout(rgb)
    assert edit.image.size == (shape[1], shape[0]) and edit.alpha.shape == shape
    opaque = edit.alpha == 255
    assert (np.asarray(edit.image)[..., :3][opaque] == rgb[opaque]).all()


def test_a_batch_of_cutouts_equals_one_by_one(pipe):
    pictures = [disc_picture()[0], noise(50, 70, seed=1)]
    together = pipe.cutout(pictures)
    for picture, edit in zip(pictures, together):
        assert (np.asarray(edit.image) == np.asarray(pipe.cutout(picture).image)).all()


# ---- a new background without naming the subject, with soft compositing ---------------------


class Solid:
    """A filler painting one flat colour: what the compositing does is then known exactly."""

    native_size = 64

    def __call__(self, crop, mask, request):
        return np.broadcast_to(np.array([10, 200, 40], np.uint8), crop.shape).copy()


def test_a_new_background_without_a_subject_lays_the_input_over_it_by_the_matte(tiny_models):
    rgb, disc = disc_picture()
    solid = Pipeline(models=tiny_models, device="cpu", inpainter=Solid())
    edit = solid.replace_background(rgb, with_="a beach at dusk", seed=0, depth=False)
    alpha = solid.matte(rgb, solid.salient(rgb).mask[0])
    assert ((alpha > 0) & (alpha < 255)).any()
    expected = alpha_blend(rgb, np.broadcast_to(np.array([10, 200, 40], np.uint8), rgb.shape), alpha)
    assert (np.asarray(edit.image) == expected).all()
    assert (edit.mask == (alpha < 255)).all()
    opaque = alpha == 255
    assert (np.asarray(edit.image)[opaque] == rgb[opaque]).all()
    assert edit.record.parameters["matte"] == "vitmatte" and edit.record.parameters["keep"] is None
    assert {"subject", "matte", "inpainter"} <= set(edit.record.models)


def test_a_new_background_with_matting_off_keeps_the_seam_behaviour(tiny_models):
    rgb, disc = disc_picture()
    solid = Pipeline(models=tiny_models, device="cpu", inpainter=Solid())
    edit = solid.replace_background(rgb, with_="a beach", seed=0, depth=False, matte=False)
    assert (np.asarray(edit.image)[disc] == rgb[disc]).all()
    assert edit.record.parameters["matte"] is False and "matte" not in edit.record.models


def test_promptless_background_on_the_real_painter_keeps_the_subject_bit_for_bit(pipe):
    rgb, _ = disc_picture()
    edit = pipe.replace_background(rgb, with_="a beach at dusk", seed=0)
    alpha = pipe.matte(rgb, pipe.salient(rgb).mask[0])
    opaque = alpha == 255
    assert opaque.sum() > 1000 and (np.asarray(edit.image)[opaque] == rgb[opaque]).all()
    assert (np.asarray(edit.image)[~edit.mask] == rgb[~edit.mask]).all()


# ---- weights: missing, wrong, tiny models, download --------------------------------------------


def test_a_short_name_not_downloaded_is_one_typed_message_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("REMBG_HOME", str(tmp_path / "empty-home"))
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "empty-home"))
    bare = Pipeline(subject="u2netp", device="cpu")
    with pytest.raises(ModelsMissingError, match="subject rembg:u2netp"):
        bare.cutout(noise(20, 20))
    assert bare.available("subject") is False
    from textinpaint.models import download

    with pytest.raises(WeightsNotFoundError, match="cannot be reached"):
        download("subject", "rembg:u2netp")


def test_a_model_in_rembgs_folder_is_found_there(tiny_models, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "models" / "u2netp").mkdir(parents=True)
    shutil.copy(next((tiny_models / "subject").glob("*.onnx")), home / "models" / "u2netp" / "u2netp.onnx")
    monkeypatch.setenv("REMBG_HOME", str(home))
    monkeypatch.delenv("U2NET_HOME", raising=False)
    found = Pipeline(subject="u2netp", device="cpu")
    assert found.available("subject")
    assert found.salient(disc_picture()[0]).data["alpha"].shape == (1, 120, 160)
    from textinpaint.models import download

    target = download("subject", "rembg:u2netp", tmp_path / "models" / "subject")
    assert Path(target).read_bytes() == (home / "models" / "u2netp" / "u2netp.onnx").read_bytes()
    assert download("subject", "rembg:u2netp", tmp_path / "models" / "subject") == target  # again: same file
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "u2netp.onnx").write_bytes(b"someone else's file")
    with pytest.raises(TextInpaintError, match="did not make"):
        download("subject", "rembg:u2netp", tmp_path / "theirs")
    assert (tmp_path / "theirs" / "u2netp.onnx").read_bytes() == b"someone else's file"


def _onnx_with(tmp_path: Path, name: str, inputs: list, outputs: list, nodes: list) -> Path:
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "wrong", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def test_a_wrong_onnx_file_is_a_typed_error_never_a_raw_onnxruntime_one(tmp_path):
    from onnx import TensorProto, helper

    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07not a protobuf at all" * 10)
    with pytest.raises(ModelKindError, match="not an ONNX model"):
        Pipeline(subject=garbage, device="cpu").salient(noise(20, 20))
    flat = _onnx_with(
        tmp_path,
        "flat.onnx",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "n"])],
        [helper.make_node("Flatten", ["x"], ["y"])],
    )
    with pytest.raises(ModelKindError, match="not a salient-object model"):
        Pipeline(subject=flat, device="cpu").salient(noise(20, 20))
    fixed = _onnx_with(
        tmp_path,
        "fixed.onnx",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 100, 100])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 100, 100])],
        [helper.make_node("ReduceMean", ["x"], ["y"], axes=[1], keepdims=1)],
    )
    with pytest.raises(ModelKindError, match="could not run"):
        Pipeline(subject=fixed, device="cpu").salient(noise(20, 20))
    other = tmp_path / "weights.bin"
    other.write_bytes(b"x")
    with pytest.raises(ModelKindError, match="is a file"):
        Pipeline(subject=other, device="cpu").salient(noise(20, 20))


def test_a_folder_without_an_onnx_file_is_a_typed_error(tmp_path):
    (tmp_path / "subject").mkdir()
    with pytest.raises(WeightsNotFoundError):
        Pipeline(subject=tmp_path / "subject", device="cpu").salient(noise(20, 20))


def test_tiny_models_write_the_subject_and_matte_stages_and_the_zoo_every_short_name(tmp_path):
    from textinpaint.stages import STAGES
    from textinpaint.testing import write_zoo

    written = write_zoo(tmp_path, seed=0)
    for stage in ("subject", "matte"):
        for model in STAGES[stage].models:
            folder = written[f"{stage}/{model.name}"]
            one = Pipeline(**{stage: folder}, device="cpu")
            if stage == "subject":
                assert one.salient(disc_picture()[0]).data["alpha"].shape == (1, 120, 160)
            else:
                rgb, disc = disc_picture()
                assert one.matte(rgb, disc).shape == (120, 160)


# ---- the command line, replay and the sidecar ------------------------------------------------


def cli(*args: str) -> SimpleNamespace:
    """The command line in this process (its exit status and what it printed)."""
    from textinpaint.interfaces.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(args))
        except SystemExit as exit_:  # --help, and argparse's usage errors
            status = int(exit_.code or 0)
    return SimpleNamespace(returncode=status, stdout=out.getvalue(), stderr=err.getvalue())


def test_the_cutout_command_writes_an_rgba_png_with_a_soft_edge_and_replays_it_bit_for_bit(tiny_models, tmp_path):
    rgb, _ = disc_picture()
    PIL.Image.fromarray(rgb).save(tmp_path / "lamp.png")
    done = cli("cutout", str(tmp_path / "lamp.png"), "-o", str(tmp_path / "cut.png"), "--models", str(tiny_models))
    assert done.returncode == 0, done.stderr
    with PIL.Image.open(tmp_path / "cut.png") as written:
        pixels = np.asarray(written)
    assert pixels.shape == (120, 160, 4)
    alpha = pixels[..., 3]
    assert ((alpha > 0) & (alpha < 255)).any()
    assert (pixels[..., :3][alpha == 255] == rgb[alpha == 255]).all()
    sidecar = json.loads((tmp_path / "cut.json").read_text())
    assert sidecar["workflow"] == "cutout" and sidecar["parameters"]["matte"] == "vitmatte"
    assert set(sidecar["models"]) == {"subject", "matte"}
    again = cli("replay", str(tmp_path / "cut.json"), "-o", str(tmp_path / "again.png"))
    assert again.returncode == 0, again.stderr
    with PIL.Image.open(tmp_path / "again.png") as replayed:
        assert (np.asarray(replayed) == pixels).all()


def test_the_background_command_needs_no_subject(tiny_models, tmp_path):
    rgb, _ = disc_picture()
    PIL.Image.fromarray(rgb).save(tmp_path / "lamp.png")
    done = cli(
        "background",
        str(tmp_path / "lamp.png"),
        "--with",
        "a beach at dusk",
        "--seed",
        "0",
        "-o",
        str(tmp_path / "new.png"),
        "--models",
        str(tiny_models),
    )
    assert done.returncode == 0, done.stderr
    sidecar = json.loads((tmp_path / "new.json").read_text())
    assert sidecar["parameters"]["keep"] is None and "subject" in sidecar["models"]
    with PIL.Image.open(tmp_path / "new.png") as written:
        assert written.size == (160, 120)


def test_cutout_folders_resume_and_go_on_past_a_bad_file(tiny_models, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        PIL.Image.fromarray(disc_picture(radius=30 + 5 * i)[0]).save(folder / f"p{i}.png")
    (folder / "broken.png").write_bytes(b"not a picture")
    args = ("cutout", str(folder), "-o", str(tmp_path / "out"), "--models", str(tiny_models), "--no-matte")
    first = cli(*args)
    assert first.returncode == 1 and "broken.png" in first.stderr + first.stdout
    assert sorted(p.name for p in (tmp_path / "out").glob("p*.png")) == ["p0.png", "p1.png"]
    stamp = (tmp_path / "out" / "p0.png").stat().st_mtime_ns
    second = cli(*args)
    assert (tmp_path / "out" / "p0.png").stat().st_mtime_ns == stamp
    assert "skipped" in second.stderr


def test_the_cutout_help_lists_its_options_and_examples():
    done = cli("cutout", "--help")
    assert done.returncode == 0
    for flag in ("--keep", "--matte", "--no-matte", "--matte-band", "--background-colour", "--crop-to-subject"):
        assert flag in done.stdout
    assert "textinpaint cutout product.jpg" in done.stdout


def test_the_sidecar_of_a_cutout_reads_back_and_replays_in_python(pipe):
    from textinpaint import replay

    rgb, _ = disc_picture()
    edit = pipe.cutout(rgb, background_colour="white")
    again = replay(edit.to_dict(), image=rgb, pipeline=pipe)
    assert (np.asarray(again.image) == np.asarray(edit.image)).all()


def test_a_promptless_background_replays_bit_for_bit(pipe):
    from textinpaint import replay

    rgb, _ = disc_picture()
    edit = pipe.replace_background(rgb, with_="a beach at dusk", seed=4, steps=2)
    document = edit.to_dict()
    assert document["parameters"]["matte"] == "vitmatte" and {"subject", "matte"} <= set(document["models"])
    again = replay(document, image=rgb, pipeline=pipe)
    assert (np.asarray(again.image) == np.asarray(edit.image)).all()


@pytest.mark.parametrize("shape", [(1, 1), (3, 300), (300, 3)])
def test_promptless_backgrounds_of_tiny_and_thin_pictures_are_defined(tiny_models, shape):
    solid = Pipeline(models=tiny_models, device="cpu", inpainter=Solid())
    rgb = noise(*shape, seed=9)
    edit = solid.replace_background(rgb, with_="a beach", seed=0, depth=False)
    assert edit.image.size == (shape[1], shape[0])
    kept = ~edit.mask
    assert (np.asarray(edit.image)[kept] == rgb[kept]).all()


def test_without_rembg_the_subject_stage_says_how_to_install_it(tiny_models, monkeypatch, capsys):
    import sys as system

    from textinpaint import MissingDependencyError
    from textinpaint.interfaces.cli import main
    from textinpaint.models import weights_status

    for module in ("rembg", "rembg.sessions"):
        monkeypatch.setitem(system.modules, module, None)  # as if the extra were not installed
    present, problem = weights_status("subject", "rembg:u2netp")
    assert not present and "pip install 'textinpaint[subject]'" in problem
    assert main(["models", "--json"]) == 0
    rows = [row for row in json.loads(capsys.readouterr().out) if row["stage"] == "subject"]
    assert rows and not any(row["cached"] for row in rows)
    with pytest.raises(MissingDependencyError, match=r"textinpaint\[subject\]"):
        Pipeline(subject="u2netp", device="cpu").cutout(noise(20, 20))


def test_a_failed_download_of_a_rembg_model_is_never_advised_a_hub_download(tmp_path, monkeypatch, capsys):
    from textinpaint.interfaces.cli import main

    monkeypatch.setenv("REMBG_HOME", str(tmp_path / "empty-home"))
    assert main(["download", "--stages", "subject"]) == 1
    said = capsys.readouterr().err
    assert "textinpaint download --stages subject" in said and "hf download" not in said
