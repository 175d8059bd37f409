"""The web app end to end in a real headless Chromium, on the tiny models."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time

import numpy as np
import PIL.Image
import pytest
from conftest import noise, open_settings

gradio = pytest.importorskip("gradio", reason="the app extra (gradio) is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.heavy,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine: apt-get install chromium (.ci/run does)"),
]
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(tiny_models):
    from textinpaint import Pipeline
    from textinpaint.interfaces.app import close, serve

    port = free_port()
    pipeline = Pipeline(models=tiny_models, device="cpu")
    in_flight = track_calls(pipeline)
    app = serve(pipeline, port=port, block=False)
    yield f"http://127.0.0.1:{port}", pipeline
    # Let every run the page started finish before the process may exit: a worker thread still
    # inside torch at interpreter shutdown aborts the process ("terminate called ..."), exit 134.
    deadline = time.monotonic() + 120
    while in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    close(app)
    assert not in_flight, "a run was still going when the app closed"


def track_calls(pipeline) -> set:
    """Wrap the pipeline's entry points so the set returned holds the calls still running."""
    running: set = set()
    lock = threading.Lock()
    for name in ("detect", "segment", "inpaint", "replace", "remove", "replace_background", "cutout"):
        method = getattr(pipeline, name)

        def counted(*args, _method=method, **kwargs):
            token = object()
            with lock:
                running.add(token)
            try:
                return _method(*args, **kwargs)
            finally:
                with lock:
                    running.discard(token)

        setattr(pipeline, name, counted)
    return running


@pytest.fixture(scope="module")
def app_url(served):
    return served[0]


@pytest.fixture(scope="module")
def page(app_url):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def upload_and_detect(page, url, photo, find):
    """Open the app, upload ``photo``, look for ``find`` with no box threshold; the instance boxes."""
    page.goto(url)
    open_settings(page)
    page.locator("#replace-image input[type=file]").set_input_files(str(photo))
    page.locator("#replace-find textarea, #replace-find input").first.fill(find)
    page.locator("#replace-box-threshold input[type=number]").fill("0")
    page.locator("#replace-box-threshold input[type=number]").press("Enter")
    page.locator("#replace-detect").click()
    boxes = page.locator("#replace-instances input[type=checkbox]")
    boxes.first.wait_for()
    return boxes


def test_upload_detect_select_run_and_download(page, app_url, tmp_path):
    photo = tmp_path / "street.png"
    PIL.Image.fromarray(noise(70, 110)).save(photo)
    boxes = upload_and_detect(page, app_url, photo, "the red car. a dog")
    count = boxes.count()
    assert count >= 2, "several instances were found on the noise picture"
    boxes.nth(count - 1).uncheck()  # pick instances: all but the last
    page.locator("#replace-mask img").first.wait_for()
    page.locator("#replace-prompt textarea, #replace-prompt input").first.fill("a blue truck")
    page.locator("#replace-steps input[type=number]").fill("2")
    page.locator("#replace-steps input[type=number]").press("Enter")
    page.locator("#replace-seed input").fill("7")
    page.locator("#replace-run").click()
    link = page.locator("#replace-sidecar a").first
    link.wait_for(timeout=120_000)
    with page.expect_download() as download:
        link.click()
    sidecar = json.loads(open(download.value.path()).read())
    assert sidecar["parameters"]["seed"] == 7 and sidecar["parameters"]["prompt"] == "a blue truck"
    assert len(sidecar["selected"]) == count - 1 and sidecar["version"] == 3 and sidecar["mask"]
    with page.expect_download() as download:
        page.locator("#replace-file a").first.click()
    result = PIL.Image.open(download.value.path())
    assert result.size == (110, 70)
    shown = page.locator("#replace-result img")
    assert shown.count() >= 1
    sizes = shown.evaluate_all("images => images.map(i => [i.naturalWidth, i.naturalHeight])")
    assert [110, 70] in sizes, "the before/after view shows the result at the input's size"


def test_the_fast_box_paints_in_few_steps(page, app_url, tmp_path):
    photo = tmp_path / "fast.png"
    PIL.Image.fromarray(noise(64, 80, seed=5)).save(photo)
    upload_and_detect(page, app_url, photo, "a dog")
    page.locator("#replace-mask img").first.wait_for()
    page.locator("#replace-prompt textarea, #replace-prompt input").first.fill("a fox")
    page.locator("#replace-fast input[type=checkbox]").check()
    page.locator("#replace-seed input").fill("3")
    page.locator("#replace-run").click()
    link = page.locator("#replace-sidecar a").first
    link.wait_for(timeout=120_000)
    with page.expect_download() as download:
        link.click()
    sidecar = json.loads(open(download.value.path()).read())
    assert sidecar["parameters"]["fast"] is True and sidecar["parameters"]["steps"] == 4
    assert "fast" in sidecar["models"]


def test_a_bad_request_shows_the_library_message_not_a_traceback(page, app_url):
    page.goto(app_url)
    page.locator("#replace-detect").click()
    message = page.get_by_text("upload an image first")
    message.first.wait_for()
    assert page.get_by_text("Traceback").count() == 0


def test_the_background_tab_runs(page, app_url, tmp_path):
    photo = tmp_path / "car.png"
    PIL.Image.fromarray(noise(64, 96, seed=3)).save(photo)
    page.goto(app_url)
    page.get_by_role("tab", name="Background").click()
    open_settings(page)
    page.locator("#background-image input[type=file]").set_input_files(str(photo))
    page.locator("#background-keep textarea, #background-keep input").first.fill("the car")
    page.locator("#background-prompt textarea, #background-prompt input").first.fill("a beach")
    page.locator("#background-steps input[type=number]").fill("1")
    page.locator("#background-steps input[type=number]").press("Enter")
    page.locator("#background-run").click()
    page.locator("#background-file a").first.wait_for(timeout=120_000)
    assert np.asarray(PIL.Image.open(photo)).shape == (64, 96, 3)


def disc_photo(path):
    """A light disc on a dark ground: the tiny subject model's salient subject."""
    rgb = np.full((60, 80, 3), 30, np.uint8)
    yy, xx = np.mgrid[:60, :80]
    rgb[(yy - 30) ** 2 + (xx - 40) ** 2 < 20**2] = (220, 200, 180)
    PIL.Image.fromarray(rgb).save(path)
    return rgb


def test_the_background_tab_paints_with_no_subject_typed(page, app_url, tmp_path):
    photo = tmp_path / "lamp.png"
    disc_photo(photo)
    page.goto(app_url)
    page.get_by_role("tab", name="Background").click()
    open_settings(page)
    page.locator("#background-image input[type=file]").set_input_files(str(photo))
    page.locator("#background-prompt textarea, #background-prompt input").first.fill("a beach")
    page.locator("#background-steps input[type=number]").fill("1")
    page.locator("#background-steps input[type=number]").press("Enter")
    page.locator("#background-run").click()
    link = page.locator("#background-sidecar a").first
    link.wait_for(timeout=120_000)
    with page.expect_download() as download:
        link.click()
    sidecar = json.loads(open(download.value.path()).read())
    assert sidecar["parameters"]["keep"] is None and "subject" in sidecar["models"]


def test_the_cutout_tab_writes_an_rgba_png_with_a_soft_edge(page, app_url, tmp_path):
    photo = tmp_path / "lamp.png"
    rgb = disc_photo(photo)
    page.goto(app_url)
    page.get_by_role("tab", name="Cutout").click()
    page.locator("#cutout-image input[type=file]").set_input_files(str(photo))
    page.locator("#cutout-run").click()
    link = page.locator("#cutout-file a").first
    link.wait_for(timeout=120_000)
    with page.expect_download() as download:
        link.click()
    pixels = np.asarray(PIL.Image.open(download.value.path()))
    assert pixels.shape == (60, 80, 4)
    alpha = pixels[..., 3]
    assert ((alpha > 0) & (alpha < 255)).any() and (pixels[..., :3][alpha == 255] == rgb[alpha == 255]).all()


def test_a_second_click_while_running_is_queued_not_lost(page, served, tmp_path, monkeypatch):
    import time

    url, pipeline = served
    runs = []
    original = pipeline.inpaint

    def slow_inpaint(*args, **kwargs):
        runs.append(time.perf_counter())
        time.sleep(1.0)  # long enough for the second click to arrive while this one runs
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline, "inpaint", slow_inpaint)
    photo = tmp_path / "twice.png"
    PIL.Image.fromarray(noise(40, 60, seed=5)).save(photo)
    upload_and_detect(page, url, photo, "a dog")
    page.locator("#replace-prompt textarea, #replace-prompt input").first.fill("a cat")
    page.locator("#replace-steps input[type=number]").fill("1")
    page.locator("#replace-steps input[type=number]").press("Enter")
    page.locator("#replace-run").click()
    page.wait_for_timeout(300)
    page.locator("#replace-run").click()
    deadline = time.time() + 120
    while len(runs) < 2 and time.time() < deadline:
        page.wait_for_timeout(200)
    assert len(runs) == 2, "both clicks ran"
    assert runs[1] - runs[0] >= 1.0, "one after the other: the second waited in the queue"


# ---- the layout: the main flow of every tab in one 1400x900 screen -------------------------------

MAIN_FLOW = {
    "Replace": [
        "#replace-image",
        "#replace-find",
        "#replace-detect",
        "#replace-prompt",
        "#replace-run",
        "#replace-result",
    ],
    "Background": [
        "#background-image",
        "#background-keep",
        "#background-prompt",
        "#background-run",
        "#background-result",
    ],
    "Cutout": ["#cutout-image", "#cutout-keep", "#cutout-run", "#cutout-result"],
    "Remove": ["#remove-image", "#remove-find", "#remove-detect", "#remove-run", "#remove-result"],
    "Video": ["#video-clip", "#video-find", "#video-track", "#video-run", "#video-result"],
}


@pytest.mark.parametrize("tab", list(MAIN_FLOW))
def test_every_tabs_main_flow_fits_a_1400_by_900_window(page, app_url, tab):
    before = page.viewport_size
    page.set_viewport_size({"width": 1400, "height": 900})
    try:
        page.goto(app_url)
        page.get_by_role("tab", name=tab).click()
        page.locator(MAIN_FLOW[tab][0]).wait_for()
        boxes = {css: page.locator(css).first.bounding_box() for css in MAIN_FLOW[tab]}
        scrolled = page.evaluate("() => [window.scrollX, window.scrollY]")
    finally:
        page.set_viewport_size(before)
    assert scrolled == [0, 0]
    for css, box in boxes.items():
        assert box is not None, f"{css} is not shown"
        assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= 1400, (css, box)
        assert box["y"] + box["height"] <= 900, f"{tab}: {css} ends at {box['y'] + box['height']:.0f} px, below 900"
    # two columns: the result sits beside the picture, not under it
    picture, result = boxes[MAIN_FLOW[tab][0]], boxes[MAIN_FLOW[tab][-1]]
    assert result["x"] >= picture["x"] + picture["width"] - 1


def test_downloads_are_named_after_the_input_and_the_result_can_be_edited_again(page, app_url, tmp_path):
    photo = tmp_path / "lamp.png"
    disc_photo(photo)
    page.goto(app_url)
    page.get_by_role("tab", name="Cutout").click()
    page.locator("#cutout-image input[type=file]").set_input_files(str(photo))
    page.locator("#cutout-run").click()
    link = page.locator("#cutout-file a").first
    link.wait_for(timeout=120_000)
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "lamp-cutout.png"
    page.locator("#cutout-again").click()
    page.wait_for_timeout(1500)
    shown = page.locator("#cutout-image img")
    shown.first.wait_for()
    assert "result" in (shown.first.get_attribute("src") or "")


def test_the_page_offers_the_models_on_this_machine(page, app_url, served):
    page.goto(app_url)
    for stage in ("detector", "segmenter", "inpainter"):
        page.locator(f"#model-{stage}").wait_for()
        assert page.locator(f"#model-{stage}").count() == 1
        assert served[1].source(stage) in page.locator(f"#model-{stage} input").first.input_value()


# ---- what the page draws and picks (no browser) -----------------------------------------------


def test_labels_carry_the_checkbox_indices_unticked_detections_are_not_drawn_and_a_click_picks_the_smallest():
    import supervision as sv

    from textinpaint.interfaces.app import _marked, _smallest_under

    big = np.zeros((60, 80), bool)
    big[5:55, 5:75] = True
    small = np.zeros((60, 80), bool)
    small[20:30, 30:40] = True
    found = sv.Detections(
        xyxy=np.array([[5, 5, 75, 55], [30, 20, 40, 30]], np.float32),
        mask=np.stack([big, small]),
        confidence=np.array([0.9, 0.8], np.float32),
        class_id=np.array([0, 0]),
        data={"phrase": np.array(["table", "cup"])},
    )
    picture = PIL.Image.fromarray(np.full((60, 80, 3), 128, np.uint8))
    assert _smallest_under(found, 35, 25) == 1 and _smallest_under(found, 10, 10) == 0
    assert _smallest_under(found, 78, 58) is None
    only_cup = np.asarray(_marked(picture, found, [], ["1: cup 0.80"]))
    both = np.asarray(_marked(picture, found, [], ["0: table 0.90", "1: cup 0.80"]))
    none = np.asarray(_marked(picture, found, [], []))
    assert (none == 128).all(), "nothing ticked: nothing drawn"
    assert (only_cup[8, 8] == 128).all() and not (both[8, 8] == 128).all(), "the unticked table is not drawn"


def test_the_video_tab_tracks_shows_the_masks_on_a_scrub_bar_then_removes_with_those_masks(page, app_url, tmp_path):
    pytest.importorskip("av")
    from textinpaint.testing import write_clip
    from textinpaint.videos import read_frames

    clip = write_clip(tmp_path / "street.mp4", frames=9)
    page.goto(app_url)
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-run").click()
    page.get_by_text("track something first").first.wait_for()
    page.locator("#video-clip input[type=file]").set_input_files(str(clip))
    page.locator("#video-shown img").first.wait_for()
    first = page.locator("#video-shown img").first.get_attribute("src")
    page.locator("#video-find textarea, #video-find input").first.fill("thing")
    open_settings(page)
    page.locator("#video-box-threshold input").first.fill("0")
    page.locator("#video-box-threshold input").first.press("Enter")
    page.locator("#video-track").click()
    page.wait_for_function(
        "(before) => { const i = document.querySelector('#video-shown img'); return i && i.src !== before; }",
        arg=first,
        timeout=120_000,
    )
    tracked = page.locator("#video-shown img").first.get_attribute("src")
    assert page.locator("#video-frame input[type=number]").first.get_attribute("max") == "8"
    page.locator("#video-frame input[type=number]").first.fill("6")
    page.locator("#video-frame input[type=number]").first.press("Enter")
    page.wait_for_function(
        "(before) => document.querySelector('#video-shown img').src !== before", arg=tracked, timeout=60_000
    )
    page.get_by_role("radio", name="remove").check()
    page.locator("#video-per-frame input[type=checkbox]").check()
    page.locator("#video-run").click()
    page.locator("#video-result img").first.wait_for(timeout=120_000)  # the painted frame the scrub bar shows
    link = page.locator("#video-file a").first
    link.wait_for(timeout=120_000)
    with page.expect_download() as download:
        link.click()
    frames = list(read_frames(download.value.path()))
    assert len(frames) == 9 and frames[0].rgb.shape == (48, 64, 3)
    sidecar = page.locator("#video-sidecar a").first
    with page.expect_download() as document:
        sidecar.click()
    written = json.loads(open(document.value.path()).read())
    assert written["workflow"] == "video remove" and written["parameters"]["per_frame"] is True
    assert written["parameters"]["masks_in_memory"] is True, "painted with exactly the masks shown"
    assert page.get_by_text("Traceback").count() == 0
