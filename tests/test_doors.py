"""Nothing lost and nothing injected at any door: one test per class of failure (the one writer,
the one sidecar reader, the report's escaping, manifests, numbers and text at the edges)."""

from __future__ import annotations

import json

import PIL.Image
import pytest
from conftest import ConstantFiller, noise, scripted_detector

import textinpaint
from textinpaint import InvalidInputError, OutputError, OutputRefusedError, Pipeline, read_sidecar, replay
from textinpaint.interfaces.cli import main
from textinpaint.interfaces.report import write_report
from textinpaint.outputs import Writer

FIND = ["--box-threshold", "0", "--text-threshold", "0", "--device", "cpu", "--steps", "1"]


def png(path, seed=0, size=(24, 32)):
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.fromarray(noise(*size, seed=seed)).save(path)
    return path


def digest(path):
    return path.read_bytes()


@pytest.fixture(scope="module")
def edited(tiny_models, tmp_path_factory):
    """One replace run through the CLI: its input folder and output folder."""
    root = tmp_path_factory.mktemp("doors")
    png(root / "in" / "a.png", 1)
    status = main(
        [
            "replace",
            str(root / "in"),
            "--find",
            "a dog",
            "--with",
            "a cat",
            "-o",
            str(root / "out"),
            "--models",
            str(tiny_models),
            "--seed",
            "3",
            *FIND,
        ]
    )
    assert status == 0
    return root


# ---- files destroyed ----------------------------------------------------------------------------


def test_files_destroyed_replay_never_writes_over_the_edits_input(edited, tmp_path, capsys):
    source = edited / "in" / "a.png"
    before = digest(source)
    assert main(["replay", str(edited / "out" / "a.json"), "-o", str(source), "--device", "cpu"]) == 1
    assert digest(source) == before
    assert "would overwrite an input" in capsys.readouterr().err


def test_files_destroyed_two_sidecars_of_one_name_replay_into_two_files(edited, tmp_path, capsys):
    other = tmp_path / "elsewhere"
    other.mkdir()
    document = json.loads((edited / "out" / "a.json").read_text())
    (other / "a.json").write_text(json.dumps(document))
    target = tmp_path / "again"
    assert main(["replay", str(edited / "out" / "a.json"), str(other / "a.json"), "-o", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {target / 'a.png'}" in out and f"wrote {target / 'a-2.png'}" in out
    assert sorted(p.name for p in target.iterdir()) == ["a-2.png", "a.png"]


@pytest.mark.parametrize("victim", ["image", "sidecar", "input", "foreign"])
def test_files_destroyed_the_report_never_writes_over_what_it_did_not_make(edited, victim, capsys):
    target = {
        "image": edited / "out" / "a.png",
        "sidecar": edited / "out" / "a.json",
        "input": edited / "in" / "a.png",
        "foreign": edited / "notes.html",
    }[victim]
    if victim == "foreign":
        target.write_text("<p>my notes</p>")
    before = digest(target)
    assert main(["report", str(edited / "out"), "-o", str(target)]) == 1
    assert digest(target) == before
    assert "textinpaint: error:" in capsys.readouterr().err


def test_files_destroyed_a_cli_output_that_exists_and_is_not_textinpaints_is_kept(tiny_models, tmp_path, capsys):
    source = png(tmp_path / "a.png", 2)
    mine = png(tmp_path / "mine.png", 3)
    before = digest(mine)
    status = main(
        [
            "replace",
            str(source),
            "--find",
            "a dog",
            "--with",
            "a cat",
            "-o",
            str(mine),
            "--models",
            str(tiny_models),
            *FIND,
        ]
    )
    assert status == 1 and digest(mine) == before
    assert "is not an image textinpaint wrote" in capsys.readouterr().err


def test_files_destroyed_a_folder_that_cannot_be_written_is_a_typed_error_not_a_traceback(tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the output folder would go")  # unwritable for root too
    with pytest.raises(OutputError, match="could not write"):
        Writer().json(blocker / "x.json", {"workflow": "replace", "version": 3})
    source = png(tmp_path / "a.png")
    assert main(["segment", str(source), "--find", "x", "-o", str(blocker / "out"), "--device", "cpu"]) in (1, 2)
    assert "Traceback" not in capsys.readouterr().err


def test_files_destroyed_the_writer_refuses_an_input_by_a_link_and_a_second_write_of_one_name(tmp_path):
    source = png(tmp_path / "a.png")
    link = tmp_path / "link.png"
    link.symlink_to(source)
    writer = Writer([source])
    with pytest.raises(OutputRefusedError, match="would overwrite an input"):
        writer.check(link)
    image = PIL.Image.fromarray(noise(4, 4))
    writer.image(image, tmp_path / "out.png", made="mask")
    with pytest.raises(OutputRefusedError, match="two outputs of this run"):
        writer.image(image, tmp_path / "out.png", made="mask")
    assert writer.fresh(tmp_path / "out.png").name == "out-2.png"


# ---- script injection ---------------------------------------------------------------------------


def test_script_injection_no_value_from_a_sidecar_becomes_markup(edited, tmp_path):
    document = json.loads((edited / "out" / "a.json").read_text())
    document["parameters"]["with_"] = "<script>alert(1)</script>"
    folder = tmp_path / "crafted"
    folder.mkdir()
    (folder / "<b>bold<b>.json").write_text(json.dumps(document))
    broken = {
        **document,
        "verification": {"score": 0.5, "parts": {"<img src=x onerror=alert(2)>": 0.5}, "unchecked": {}},
    }
    (folder / "parts.json").write_text(json.dumps(broken))  # unreadable: its message quotes the part's name
    (folder / "failures.json").write_text(
        json.dumps({"failures": [{"input": "<svg onload=alert(3)>", "message": "<i>x"}]})
    )
    page = write_report(folder).read_text()
    for markup in ("<script>alert", "<img src=x", "<svg", "<b>bold", "<i>x"):
        assert markup not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# ---- sidecars are input from strangers ---------------------------------------------------------


def _nested(depth):
    value: list = ["x"]
    for _ in range(depth):
        value = [value]
    return value


def _sidecar(edited):
    return json.loads((edited / "out" / "a.json").read_text())


@pytest.mark.parametrize(
    "change,field",
    [
        (lambda d: d.pop("models"), "models"),
        (lambda d: d["parameters"].update(colour="red"), "parameters"),
        (lambda d: d.update(seed="three"), "seed"),
        (lambda d: d.update(chosen=-1), "chosen"),
        (lambda d: d["input"].update(sha256=None), "input"),
        (lambda d: d["input"].update(hash_of="magic"), "input"),
        (lambda d: d.update(workflow=["replace"]), "workflow"),
        (lambda d: d["parameters"].update(find=_nested(40)), "deeper"),
    ],
)
def test_sidecars_from_strangers_get_a_typed_error_naming_the_field(edited, change, field):
    document = _sidecar(edited)
    change(document)
    with pytest.raises(InvalidInputError, match=field):
        read_sidecar(document)


def test_sidecars_from_strangers_a_chosen_candidate_beyond_the_tries_is_a_typed_error(edited):
    document = _sidecar(edited)
    document["chosen"] = 5
    with pytest.raises(InvalidInputError, match="candidate 5"):
        replay(document, device="cpu")


def test_sidecars_from_strangers_the_input_check_cannot_be_skipped(edited):
    document = _sidecar(edited)
    with pytest.raises(InvalidInputError, match="pass image= as the path"):
        replay(document, image=noise(24, 32))  # a picture, where the sidecar holds the file's hash
    with pytest.raises(InvalidInputError, match="differs"):
        replay(document, image=png(edited / "other.png", 9))


def test_sidecars_from_strangers_a_malformed_one_is_listed_as_unreadable_in_the_report(edited, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = _sidecar(edited)
    (folder / "good.json").write_text(json.dumps(good))
    (folder / "bad.json").write_text(json.dumps({**good, "seed": "x"}))
    (folder / "failures.json").write_text(json.dumps({"failures": ["not a row"]}))
    page = write_report(folder).read_text()
    assert (
        page.count('class="item" data-status="unreadable"') == 2 and page.count('class="item" data-status="done"') == 1
    )


def test_sidecars_from_strangers_the_report_decodes_under_the_editing_pixel_limit(edited, tmp_path):
    folder = tmp_path / "bomb"
    folder.mkdir()
    document = _sidecar(edited)
    big = tmp_path / "big.png"
    PIL.Image.new("L", (12000, 12000)).save(big)  # 144 MP of zeros: a small file
    document["output"] = str(big)
    (folder / "a.json").write_text(json.dumps(document))
    page = write_report(folder).read_text()
    assert "output: not found" in page


# ---- Ray manifests ------------------------------------------------------------------------------


@pytest.mark.parametrize("cell,message", [("abc", "seed"), ("inf", "seed"), ("1.5", "seed"), ("-3", "seed")])
def test_ray_manifests_a_bad_seed_cell_is_a_typed_error_naming_the_row(tmp_path, cell, message):
    from textinpaint.interfaces.distributed import plan_tasks

    png(tmp_path / "a.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,seed\n{tmp_path / 'a.png'},{cell}\n")
    with pytest.raises(InvalidInputError, match=rf"row 1: {message}"):
        plan_tasks([str(manifest)], tmp_path / "out")


@pytest.mark.parametrize("cell", [".", "dir/", ".."])
def test_ray_manifests_a_path_cell_that_names_no_file_is_a_typed_error(tmp_path, cell):
    from textinpaint.interfaces.distributed import plan_tasks

    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path\n{cell}\n")
    with pytest.raises(InvalidInputError, match="path must name a picture file"):
        plan_tasks([str(manifest)], tmp_path / "out")


def test_ray_manifests_bad_options_are_refused_before_a_cluster_starts(tmp_path, monkeypatch):
    import textinpaint.interfaces.distributed as distributed

    monkeypatch.setattr(distributed, "require_ray", lambda: pytest.fail("a cluster was asked for"))
    with pytest.raises(InvalidInputError, match="seed"):
        distributed.run([tmp_path], "replace", {"find": "dog", "with_": "cat", "seed": float("nan")}, tmp_path / "o")


# ---- numbers and text at the edges --------------------------------------------------------------


@pytest.mark.parametrize(
    "options,argument",
    [({"points": [(10**400, 1)]}, "points"), ({"min_score": 10**400}, "min_score"), ({"seed": 2**32 + 5}, "seed")],
)
def test_numbers_at_the_edges_are_typed_errors(options, argument):
    with pytest.raises(InvalidInputError, match=argument):
        textinpaint.options.split(options, textinpaint.options.ReplaceArgs, "replace")


def test_text_at_the_edges_a_long_with_under_verify_is_refused_naming_with(tiny_models):
    pipeline = Pipeline(models=tiny_models, device="cpu", inpainter=ConstantFiller())
    long = " ".join(["word"] * 400)
    with pytest.raises(InvalidInputError, match="^with_: the phrase"):
        pipeline.replace(noise(24, 32), "a dog", long, verify=True, box_threshold=0.0, text_threshold=0.0)


def test_text_at_the_edges_class_id_is_the_phrases_place_in_the_query_as_written(tiny_models):
    detector = scripted_detector(tiny_models, ["dog", "cat"], [(1, 0.9, (0.5, 0.5, 0.4, 0.4))])
    pipeline = Pipeline(detector=detector, models=tiny_models, device="cpu")
    found = pipeline.detect(noise(40, 40), ["dog", "dog", "cat", "dog"], box_threshold=0.3, text_threshold=0.2)
    assert list(found.data["phrase"]) == ["cat"] and list(found.class_id) == [2]


# ---- broken promises ----------------------------------------------------------------------------


def test_broken_promises_background_with_clicks_and_no_keep_works(tiny_models):
    pipeline = Pipeline(models=tiny_models, device="cpu", inpainter=ConstantFiller())
    edit = pipeline.replace_background(noise(40, 40), points=[(20, 20)], with_="a beach", depth=False, steps=1)
    assert edit.found and edit.image.size == (40, 40)


@pytest.mark.heavy  # a fresh interpreter runs it (seconds)
def test_broken_promises_models_into_a_closed_pipe_exits_quietly():
    import subprocess
    import sys

    result = subprocess.run(
        f"{sys.executable} -m textinpaint models | head -1", shell=True, capture_output=True, text=True
    )
    assert result.stdout.strip() and "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


def test_where_references_disagree_a_box_with_only_a_negative_click_is_taken(tiny_models):
    pipeline = Pipeline(models=tiny_models, device="cpu")
    cut = pipeline.segment(noise(40, 40), boxes=[(5, 5, 30, 30)], points=[(15, 15)], labels=[0])
    assert cut.mask.shape == (1, 40, 40)
    with pytest.raises(InvalidInputError, match="without a box need at least one point on the object"):
        pipeline.segment(noise(40, 40), points=[(15, 15)], labels=[0])


def test_broken_promises_a_flagged_edit_is_redone_and_reported_on_an_identical_rerun(tiny_models, tmp_path, capsys):
    png(tmp_path / "in" / "a.png", 4, size=(40, 40))
    args = [
        "replace",
        str(tmp_path / "in"),
        "--find",
        "a dog",
        "--with",
        "a cat",
        "-o",
        str(tmp_path / "out"),
        "--models",
        str(tiny_models),
        "--seed",
        "1",
        "--min-score",
        "1.0",
        *FIND,
    ]
    first = main(args)
    summary = json.loads((tmp_path / "out" / "a.json").read_text())
    if not summary["flagged"]:
        pytest.skip("the tiny detector scored this edit 1.0")
    capsys.readouterr()
    assert first == 3 and main(args) == 3
    err = capsys.readouterr().err
    assert "a.png: flagged" in err and "skipped" not in err  # redone and reported again, not skipped


@pytest.mark.parametrize(
    "stage,folder,named",
    [
        ("detector", "remover", "a remover model"),
        ("inpainter", "fast", "a fast model"),
        ("controlnet", "fast", "a fast model"),
    ],
)
def test_broken_promises_a_folder_of_another_stage_is_named_for_what_it_holds(tiny_models, stage, folder, named):
    with pytest.raises(textinpaint.ModelKindError, match=named):
        Pipeline(**{stage: tiny_models / folder}, device="cpu").model(stage)


def test_sidecars_from_strangers_cannot_name_a_file_to_read_as_a_mask(edited):
    document = _sidecar(edited)
    document["parameters"]["mask"] = "/etc/hostname"
    with pytest.raises(InvalidInputError, match="field parameters: replace takes no mask"):
        read_sidecar(document)


def test_files_destroyed_an_output_folder_that_is_the_input_folder_is_refused(tmp_path, capsys):
    png(tmp_path / "same" / "a.png")
    before = digest(tmp_path / "same" / "a.png")
    assert main(["replace", str(tmp_path / "same"), "--find", "x", "--with", "y", "-o", str(tmp_path / "same")]) == 1
    assert "is an input folder" in capsys.readouterr().err and digest(tmp_path / "same" / "a.png") == before


def test_files_destroyed_download_never_writes_into_a_folder_it_did_not_make(tmp_path, monkeypatch):
    import huggingface_hub

    import textinpaint.models as models

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "config.json").write_text("{}")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo, allow_patterns=None: str(cache))
    monkeypatch.setattr(models, "hub_reachable", lambda *a, **k: True)  # the tests run offline
    mine = tmp_path / "models" / "detector"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("my notes")
    with pytest.raises(OutputRefusedError, match="not a model folder"):
        models.download("detector", "IDEA-Research/grounding-dino-tiny", mine)
    assert (mine / "notes.txt").read_text() == "my notes" and not (mine / "config.json").exists()
    fresh = tmp_path / "models" / "segmenter"
    assert models.download("segmenter", "facebook/sam-vit-base", fresh) == str(fresh)
    assert (fresh / "config.json").is_file()


def test_files_destroyed_the_ray_engine_refuses_an_output_that_is_its_input_before_any_cluster(tmp_path):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    from textinpaint.interfaces.distributed import run

    source = png(tmp_path / "a.png")
    before = digest(source)
    summary = run([source], "replace", {"find": "dog", "with_": "cat"}, source)
    assert [o.status for o in summary.outcomes] == ["failed"]
    assert "would overwrite an input" in summary.outcomes[0].message and digest(source) == before
    manifest = tmp_path / "m.csv"
    png(tmp_path / "b.png", 2)
    manifest.write_text(f"path\n{tmp_path / 'b.png'}\n")
    named = tmp_path / "out"
    named.mkdir()
    (named / "b.png").write_bytes(digest(source))  # a stranger's file where the row's output goes
    summary = run([str(manifest)], "replace", {"find": "dog", "with_": "cat"}, named)
    assert [o.status for o in summary.outcomes] == ["failed"] and "not an image textinpaint wrote" in summary.outcomes[
        0
    ].message
    assert digest(named / "b.png") == before
