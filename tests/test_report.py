"""The contact sheet of a batch: `textinpaint report OUTDIR` lists every sidecar and failure,
problems first, with thumbnails, and filters to the flagged and failed ones (Chromium)."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil

import numpy as np
import PIL.Image
import pytest
from test_verify import BLUE, scene, scripted_pipeline

from textinpaint import InvalidInputError
from textinpaint.interfaces.batch import plan, run, write_failures
from textinpaint.interfaces.cli import main
from textinpaint.interfaces.report import OUTLINE, collect_items, thumbnails, write_report
from textinpaint.outputs import save_image, write_json

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def batch_folder(tiny_models, tmp_path_factory):
    """An output folder as the CLI leaves it: 2 done, 2 flagged, 1 nothing found, 1 failed, plus
    a JSON file that is not a sidecar."""
    root = tmp_path_factory.mktemp("report")
    inputs = root / "in"
    inputs.mkdir()
    for name in ("good1", "good2", "bad1", "bad2"):
        PIL.Image.fromarray(scene()).save(inputs / f"{name}.png")
    PIL.Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(inputs / "empty.png")
    (inputs / "corrupt.png").write_bytes(b"not a png at all")
    pipe, _, _ = scripted_pipeline(tiny_models, good={5})
    out = root / "out"

    def work(job):
        seed = 5 if job.source.stem.startswith("good") else 6
        edit = pipe.replace(str(job.source), "dog", "a fox", seed=seed, min_score=0.5, mask_mode="box")
        if not edit.found:
            return {**edit.to_dict(), "output": None}
        sidecar = {**edit.to_dict(), "output": str(job.output)}
        save_image(edit.image, job.output, sidecar)
        return sidecar

    summary = run(plan([inputs], out), work, quiet=True)
    assert summary.count("failed") == 1 and summary.count("flagged") == 2 and summary.exit_code == 1
    write_failures(out, summary)
    write_json(out / "notes.json", {"not": "a sidecar"})
    return out


def statuses(document: str) -> list[str]:
    return re.findall(r'<article class="item" data-status="(\w+)"', document)


def test_the_failures_table_is_written_and_cleared(batch_folder, tmp_path):
    rows = json.loads((batch_folder / "failures.json").read_text())["failures"]
    assert len(rows) == 1 and rows[0]["input"].endswith("corrupt.png") and rows[0]["error"] == "ImageLoadError"
    from textinpaint.interfaces.batch import Summary

    copy = tmp_path / "copy"
    shutil.copytree(batch_folder, copy)
    assert write_failures(copy, Summary()) is None and not (copy / "failures.json").exists()


def test_the_report_lists_every_item_problems_first(batch_folder, tmp_path):
    target = write_report(batch_folder, tmp_path / "sheet.html")
    document = target.read_text()
    assert statuses(document) == ["failed", "flagged", "flagged", "nothing", "done", "done"]
    assert "6 items: 1 failed, 2 flagged, 1 nothing, 2 done" in document
    assert "corrupt.png" in document and "ImageLoadError" in document and "notes" not in document
    assert document.count("score 0.00 (present 0.00, gone 1.00)") == 2
    assert document.count("score 0.80 (present 0.80, gone 1.00)") == 2
    # Self-contained: every picture is embedded; nothing is fetched.
    assert document.count('src="data:image/jpeg;base64,') == 5 * 3 - 2  # nothing found: no output, no changes
    assert "http://" not in document and "https://" not in document


def test_the_default_report_goes_into_the_folder_and_the_cli_writes_it(batch_folder, capsys):
    assert main(["report", str(batch_folder)]) == 0
    assert f"wrote {batch_folder / 'report.html'}" in capsys.readouterr().out
    assert (batch_folder / "report.html").is_file()


def test_a_bad_folder_is_a_typed_error(tmp_path, capsys):
    with pytest.raises(InvalidInputError, match="folder"):
        write_report(tmp_path / "missing")
    assert main(["report", str(tmp_path / "missing")]) == 1
    assert "folder must be a folder" in capsys.readouterr().err


def test_the_report_needs_no_model_options(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "--device" not in capsys.readouterr().out


def decode(uri: str) -> np.ndarray:
    with PIL.Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def test_the_changes_thumbnail_outlines_what_differs(tmp_path):
    source, output = scene(), scene()
    output[40:80, 40:80] = (0, 255, 0)
    PIL.Image.fromarray(source).save(tmp_path / "in.png")
    PIL.Image.fromarray(output).save(tmp_path / "out.png")
    made = thumbnails({"input": {"path": str(tmp_path / "in.png")}, "output": str(tmp_path / "out.png")})
    changes = decode(made["changes"])
    assert changes.shape == (128, 128, 3)
    assert np.abs(changes[40, 60] - OUTLINE).max() < 60  # on the outline
    assert np.abs(changes[10, 10] - np.array([120, 120, 120])).max() < 20  # dimmed, untouched
    assert np.abs(decode(made["output"])[60, 60] - [0, 255, 0]).max() < 40
    gone = thumbnails({"input": {"path": str(tmp_path / "nothing.png")}, "output": str(tmp_path / "out.png")})
    assert gone["input"] is None and gone["changes"] is None and gone["output"] is not None


def test_large_pictures_become_small_thumbnails(tmp_path):
    big = np.zeros((600, 1000, 3), np.uint8)
    big[:, :, 2] = 255
    PIL.Image.fromarray(big).save(tmp_path / "big.png")
    made = thumbnails({"input": {"path": str(tmp_path / "big.png")}, "output": None})
    assert decode(made["input"]).shape == (154, 256, 3)
    assert np.abs(decode(made["input"])[50, 50] - BLUE).max() < 30


def test_collect_orders_by_status_then_score(batch_folder):
    items = collect_items(batch_folder)
    assert [i.status for i in items][:3] == ["failed", "flagged", "flagged"]
    assert [i.score for i in items if i.status == "done"] == [0.8, 0.8]


@pytest.mark.heavy
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine: apt-get install chromium (.ci/run does)")
def test_the_page_shows_every_item_and_filters_the_problems(batch_folder, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from test_app import BROWSER_ARGS

    target = write_report(batch_folder, tmp_path / "sheet.html")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            page.goto(target.as_uri())
            items = page.locator("article.item")
            assert items.count() == 6
            assert page.locator("article.item:visible").count() == 6
            assert page.locator("#shown").inner_text() == "6"
            loaded = page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
            assert loaded and page.locator("img").count() == 13
            page.locator("#only-problems").check()
            visible = page.locator("article.item:visible")
            assert visible.count() == 3
            assert sorted(visible.nth(i).get_attribute("data-status") for i in range(3)) == [
                "failed",
                "flagged",
                "flagged",
            ]
            assert page.locator("#shown").inner_text() == "3"
            page.locator("#only-problems").uncheck()
            assert page.locator("article.item:visible").count() == 6
        finally:
            browser.close()


@pytest.mark.heavy
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine: apt-get install chromium (.ci/run does)")
def test_script_injection_a_crafted_sidecar_runs_no_script_and_adds_no_element_in_the_browser(batch_folder, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from test_app import BROWSER_ARGS

    folder = tmp_path / "crafted"
    folder.mkdir()
    document = json.loads(next(batch_folder.rglob("*.json")).read_text())
    if "workflow" not in document:
        document = json.loads(next(p for p in batch_folder.rglob("*.json") if p.name != "failures.json").read_text())
    attack = "<script>window.pwned = 1</script><img src=x onerror='window.pwned = 2'><b id=injected>x</b>"
    document["parameters"]["with_"] = attack
    (folder / "<b id=named>x<b>.json").write_text(json.dumps(document))
    broken = {**document, "verification": {"score": 0.5, "parts": {attack: 0.5}, "unchecked": {}}}
    (folder / "broken.json").write_text(json.dumps(broken))
    (folder / "failures.json").write_text(json.dumps({"failures": [{"input": attack, "message": attack}]}))
    target = write_report(folder, tmp_path / "sheet.html")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            page.goto(target.as_uri())
            page.wait_for_load_state("load")
            assert page.evaluate("window.pwned === undefined"), "a script from a sidecar ran"
            assert page.locator("#injected, #named").count() == 0, "an element from a sidecar appeared"
            assert page.locator("article.item").count() == 3
            assert page.locator("script").count() == 1  # the page's own filter
        finally:
            browser.close()
