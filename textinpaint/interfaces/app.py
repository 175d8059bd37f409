"""A Gradio app for trying edits interactively (the ``app`` extra): ``textinpaint app``.

One :class:`~textinpaint.Pipeline` serves every request; models load once per process. Runs are
queued one at a time, and run buttons take every click (``trigger_mode="multiple"``; Gradio's
default drops clicks while a run is pending), so a second click waits its turn instead of being
lost. Errors show the library's message in the page.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image

from ..errors import MissingDependencyError, TextInpaintError
from ..events import listening
from ..images import load_image
from ..masks import auto_dilation, auto_feather, blend_weights, distance_outside
from ..options import BackgroundOptions, FindOptions, option_docs
from ..outputs import Writer
from ..pipeline import Pipeline
from ..results import Edit
from ..schedulers import SCHEDULERS
from ..stages import STAGES
from ..workflows import VIDEO_WORKFLOWS

_MODEL_DEFAULT = "model default"
_SCHEDULER_CHOICES = [_MODEL_DEFAULT, *SCHEDULERS]


def _gradio() -> Any:
    try:
        import gradio
    except ImportError as error:
        raise MissingDependencyError('the app needs Gradio: pip install "textinpaint[app]"') from error
    return gradio


logger = logging.getLogger(__name__)


def _friendly(function: Callable[..., Any]) -> Callable[..., Any]:
    """Show the library's own error message in the page, never a stack trace."""
    import functools

    gr = _gradio()

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (TextInpaintError, ValueError) as error:
            # One line in the server's log; the page shows the message. No chained traceback.
            logger.warning("app: %s: %s", type(error).__name__, error)
            raise gr.Error(str(error)) from None

    return wrapper


def _need(image: str | PIL.Image.Image | None) -> PIL.Image.Image:
    """The uploaded picture (a file path from the page), upright, with its ICC profile and EXIF."""
    if image is None:
        raise TextInpaintError("upload an image first")
    if isinstance(image, PIL.Image.Image):
        return image
    picture = load_image(image).to_pil()
    picture.filename = str(image)  # type: ignore[attr-defined]  # read by _save to name the downloads
    return picture


def _stem(picture: PIL.Image.Image) -> str:
    """The uploaded file's name without its suffix (the downloads are named after it)."""
    name = Path(getattr(picture, "filename", "") or "result").stem
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "result"


CLICK_ON, CLICK_OFF, CLICK_SELECT = "a point on the object", "a point off the object", "select or deselect a detection"
_ADD, _TAKE = (0, 255, 0), (255, 0, 0)  # brush colours: add to the region, take away from it


def _indices(chosen: list[str] | None) -> list[int]:
    return [int(label.split(":")[0]) for label in chosen or []]


def _strokes(brush: Any, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """What the brush painted: (added, taken away) as HxW ``bool``, from the editor's layers."""
    added = np.zeros((height, width), bool)
    taken = np.zeros((height, width), bool)
    for layer in (brush or {}).get("layers") or []:
        pixels = np.asarray(layer)
        if pixels.ndim != 3 or pixels.shape[:2] != (height, width):
            continue
        drawn = pixels[..., 3] > 0 if pixels.shape[2] == 4 else pixels.any(axis=2)
        red, green = pixels[..., 0].astype(int), pixels[..., 1].astype(int)
        added |= drawn & (green > red)
        taken |= drawn & (red >= green)
    return added, taken


def _compose(
    pipe: Pipeline, picture: PIL.Image.Image, found: Any, chosen: list[str], clicks: list, brush: Any
) -> np.ndarray:
    """The region to edit: the ticked detections, plus the object the clicks mark (SAM, from the
    cached embedding), plus what the brush added, minus what it took away."""
    region = np.zeros((picture.height, picture.width), bool)
    indices = _indices(chosen)
    if found is not None and indices and found.mask is not None:
        region |= found.mask[indices].any(axis=0)
    if any(label == 1 for _, _, label in clicks or []):
        marked = pipe.segment(picture, points=[(x, y) for x, y, _ in clicks], labels=[label for *_, label in clicks])
        region |= marked.mask[0]
    added, taken = _strokes(brush, picture.width, picture.height)
    return (region | added) & ~taken


def _region(
    pipe: Pipeline, picture: PIL.Image.Image, found: Any, chosen: list[str], clicks: list, brush: Any
) -> np.ndarray:
    region = _compose(pipe, picture, found, chosen, clicks, brush)
    if not region.any():
        raise TextInpaintError(
            "nothing to edit yet: detect and tick an instance, click on the object, or paint it with the brush"
        )
    return region


def _marked(picture: PIL.Image.Image, found: Any, clicks: list, chosen: list[str] | None = None) -> PIL.Image.Image:
    """The picture with the ticked detections drawn, labelled with the index their checkbox shows
    ("2: car 0.87"), and each click as a dot (green on, red off the object)."""
    import cv2

    ticked = list(range(len(found))) if found is not None and chosen is None else _indices(chosen)
    scene = picture.convert("RGB")
    if found is not None and ticked:
        import supervision as sv

        shown = found[np.array(ticked)]
        labels = [f"{i}: {found.data['phrase'][i]} {found.confidence[i]:.2f}" for i in ticked]
        if shown.mask is not None:
            scene = sv.MaskAnnotator().annotate(scene, shown)
        scene = sv.BoxAnnotator().annotate(scene, shown)
        scene = sv.LabelAnnotator().annotate(scene, shown, labels=labels)
    pixels = np.array(scene)
    radius = max(3, min(picture.width, picture.height) // 80)
    for x, y, label in clicks or []:
        cv2.circle(pixels, (int(x), int(y)), radius, _ADD if label == 1 else _TAKE, -1)
        cv2.circle(pixels, (int(x), int(y)), radius, (255, 255, 255), 1)
    return PIL.Image.fromarray(pixels)


def _preview(image: PIL.Image.Image, region: np.ndarray, dilate: int, feather: int) -> PIL.Image.Image:
    """The input with the region that will change tinted: red where repainted, fading over the feather."""
    weights = blend_weights(distance_outside(region), int(dilate), int(feather))[..., None]
    rgb = np.asarray(image.convert("RGB")).astype(np.float32)
    return PIL.Image.fromarray((rgb * (1 - 0.6 * weights) + np.array([255, 0, 0]) * 0.6 * weights).astype(np.uint8))


_SCRATCH: list[tempfile.TemporaryDirectory[str]] = []


def _scratch() -> Path:
    """A fresh folder for one download, inside the app's own temporary folder, which is removed
    when the process ends (so a long-running app does not leave a folder per edit in /tmp)."""
    if not _SCRATCH:
        _SCRATCH.append(tempfile.TemporaryDirectory(prefix="textinpaint-app-"))
    return Path(tempfile.mkdtemp(dir=_SCRATCH[0].name))


def _save(edit: Edit, picture: PIL.Image.Image) -> tuple[str, str]:
    """The result PNG (its sidecar inside as a text chunk) and the sidecar JSON, for download,
    named after the uploaded file (``street.png`` gives ``street-replace.png``)."""
    folder = _scratch()
    sidecar = edit.to_dict()
    writer = Writer()
    name = f"{_stem(picture)}-{sidecar['workflow']}"
    return str(writer.image(edit.image, folder / f"{name}.png", sidecar)), str(
        writer.json(folder / f"{name}.json", sidecar)
    )


def _smallest_under(found: Any, x: int, y: int) -> int | None:
    """The index of the smallest detection mask holding pixel (x, y): the object under a click."""
    if found is None or found.mask is None or not len(found):
        return None
    height, width = found.mask.shape[1:]
    hit = [i for i in range(len(found)) if found.mask[i][min(y, height - 1), min(x, width - 1)]]
    return min(hit, key=lambda i: int(found.mask[i].sum())) if hit else None


def _installed(pipe: Pipeline, stage: str) -> list[str]:
    """The models the page offers for ``stage``: the one in use, then every short name whose
    weights are on this machine (nothing is downloaded from the page)."""
    from ..models import weights_status

    current = pipe.source(stage)
    offered = [current]
    for model in STAGES[stage].models:
        if model.repo != current and weights_status(stage, model.repo)[0]:
            offered.append(model.name)
    return offered


def _switched(pipe: Pipeline, stage: str, choice: str) -> Pipeline:
    """A pipeline like ``pipe`` with another ``stage`` model (the others, device and dtype kept)."""
    names: dict[str, Any] = {s: pipe.source(s) for s in _CHOOSABLE}
    names[stage] = choice
    return Pipeline(**names, models=pipe.models, device=pipe.device, dtype=pipe.dtype, max_pixels=pipe.max_pixels)


# The stages whose model the page lets you choose.
_CHOOSABLE = ("detector", "segmenter", "inpainter")


def build_app(pipe: Pipeline) -> Any:
    """The Gradio Blocks app over ``pipe``; call ``.queue().launch()`` on it (see :func:`serve`).

    Every tab has two columns: the picture and the controls that pick what to edit on the left,
    the prompt, the run button and the result on the right; settings sit in closed accordions, so
    the main flow fits a 1400x900 window.
    """
    gr = _gradio()

    find_defaults, scene_defaults = FindOptions(), BackgroundOptions()
    docs = option_docs()  # each control's help: the option's one line, from its declaration
    # The inpainter's own defaults (None in the options means these; see textinpaint.abilities).
    default_steps, default_guidance, default_negative = pipe.abilities("inpainter").defaults()
    matte_here = pipe.available("matte")
    picture_height = 260

    def sampler(steps: float, guidance: float, fast: bool) -> dict[str, Any]:
        """Steps and guidance from the sliders; left at the model's defaults under Fast, None
        (the few-step LoRA's own)."""
        untouched = bool(fast) and int(steps) == default_steps and float(guidance) == default_guidance
        return {"steps": None, "guidance": None} if untouched else {"steps": int(steps), "guidance": float(guidance)}

    def painting_controls(prefix: str) -> dict[str, Any]:
        prompt = gr.Textbox(label="Prompt", lines=1, elem_id=f"{prefix}-prompt")
        with gr.Accordion("Painting settings", open=False):
            return {
                "prompt": prompt,
                "negative": gr.Textbox(label="Negative prompt", value=default_negative, info=docs["negative_prompt"]),
                "steps": gr.Slider(
                    1, 100, value=default_steps, step=1, label="Steps", elem_id=f"{prefix}-steps", info=docs["steps"]
                ),
                "guidance": gr.Slider(0, 20, value=default_guidance, step=0.5, label="Guidance", info=docs["guidance"]),
                "seed": gr.Number(
                    value=-1, precision=0, label="Seed (-1: random)", elem_id=f"{prefix}-seed", info=docs["seed"]
                ),
                "scheduler": gr.Dropdown(
                    _SCHEDULER_CHOICES, value=_MODEL_DEFAULT, label="Scheduler", info=docs["scheduler"]
                ),
                "fast": gr.Checkbox(
                    value=False,
                    label="Fast: 4 steps with an LCM-LoRA (steps and guidance at their defaults become 4 and 1.0)",
                    elem_id=f"{prefix}-fast",
                    info=docs["fast"],
                ),
            }

    def outputs(prefix: str, *, slider: bool = True) -> list[Any]:
        if slider:
            shown = gr.ImageSlider(
                label="Before / after", type="pil", height=picture_height, elem_id=f"{prefix}-result"
            )
        else:
            shown = gr.Image(
                label="Result",
                type="pil",
                image_mode="RGBA",
                format="png",
                height=picture_height,
                elem_id=f"{prefix}-result",
            )
        with gr.Row():
            files = [
                gr.File(label="Result (PNG)", elem_id=f"{prefix}-file"),
                gr.File(label="Sidecar (JSON)", elem_id=f"{prefix}-sidecar"),
            ]
        return [shown, *files]

    def detection_panel(prefix: str, *, find_label: str = "Find", find_id: str = "") -> dict[str, Any]:
        with gr.Row():
            image = gr.Image(
                label="Image", type="filepath", sources=["upload"], height=picture_height, elem_id=f"{prefix}-image"
            )
            shown = gr.Image(
                label="Click to add points or pick detections",
                type="pil",
                interactive=False,
                height=picture_height,
                elem_id=f"{prefix}-detections",
            )
        with gr.Row(equal_height=True):
            find = gr.Textbox(
                label=find_label, placeholder="the red car. a dog", scale=4, elem_id=find_id or f"{prefix}-find"
            )
            button = gr.Button("Detect", scale=1, elem_id=f"{prefix}-detect")
        instances = gr.CheckboxGroup(label="Instances to edit", choices=[], elem_id=f"{prefix}-instances")
        with gr.Accordion("Clicks and brush", open=False):
            with gr.Row():
                mode = gr.Radio(
                    [CLICK_ON, CLICK_OFF, CLICK_SELECT],
                    value=CLICK_ON,
                    label="A click on the picture adds",
                    elem_id=f"{prefix}-click-mode",
                )
                undo = gr.Button("Undo last click", elem_id=f"{prefix}-undo")
            brush = gr.ImageEditor(
                label="Brush: green adds to the region, red takes away (the editor's undo takes back a stroke)",
                type="numpy",
                sources=(),
                transforms=(),
                layers=False,
                brush=gr.Brush(colors=["#00ff00", "#ff0000"], color_mode="fixed", default_size=12),
                elem_id=f"{prefix}-brush",
            )
        with gr.Accordion("Detection thresholds", open=False):
            with gr.Row():
                box = gr.Slider(
                    0,
                    1,
                    value=find_defaults.box_threshold,
                    step=0.01,
                    label="Box threshold",
                    elem_id=f"{prefix}-box-threshold",
                    info=docs["box_threshold"],
                )
                text = gr.Slider(
                    0,
                    1,
                    value=find_defaults.text_threshold,
                    step=0.01,
                    label="Text threshold",
                    elem_id=f"{prefix}-text-threshold",
                    info=docs["text_threshold"],
                )
        with gr.Accordion("Region: grow, feather, preview", open=False):
            with gr.Row():
                dilate = gr.Slider(
                    0, 128, value=8, step=1, label="Dilate (px)", elem_id=f"{prefix}-dilate", info=docs["dilate"]
                )
                feather = gr.Slider(
                    0, 64, value=4, step=1, label="Feather (px)", elem_id=f"{prefix}-feather", info=docs["feather"]
                )
            mask = gr.Image(label="Region", interactive=False, height=picture_height, elem_id=f"{prefix}-mask")
        state = gr.State(None)
        clicks = gr.State([])
        history = gr.State([])

        def preview(picture, found, chosen, points, painted, grow, soft):
            region = on_runner(lambda: _compose(pipe, picture, found, chosen, points, painted))
            return _preview(picture, region, grow, soft) if region.any() else None

        @_friendly
        def on_upload(path):
            if path is None:
                return None, None, gr.update(choices=[], value=[]), [], [], None, None
            picture = _need(path)
            background = {"background": np.asarray(picture.convert("RGB")), "layers": [], "composite": None}
            return picture, None, gr.update(choices=[], value=[]), [], [], background, None

        @_friendly
        def on_detect(path, query, box_threshold, text_threshold, points):
            picture = _need(path)
            found = on_runner(
                lambda: pipe.segment(
                    picture, pipe.detect(picture, query, box_threshold=box_threshold, text_threshold=text_threshold)
                )
            )
            if len(found) == 0:
                best = found.metadata.get("best_score")
                best_text = "none" if best is None else f"{best:.2f}"
                raise TextInpaintError(
                    f"nothing matching {query!r} was found (best score {best_text}); lower the box threshold"
                )
            labels = [f"{i}: {p} {c:.2f}" for i, (p, c) in enumerate(zip(found.data["phrase"], found.confidence))]
            grow = auto_dilation(picture.width, picture.height)
            region = found.mask.any(axis=0)
            return (
                _marked(picture, found, points, labels),
                gr.update(choices=labels, value=labels),
                found,
                grow,
                auto_feather(grow),
                _preview(picture, region, grow, auto_feather(grow)),
            )

        @_friendly
        def on_click(path, found, chosen, points, done, how, painted, grow, soft, evt: Any):
            picture = _need(path)
            x, y = (int(v) for v in evt.index[:2])
            chosen, points, done = list(chosen or []), list(points or []), list(done or [])
            if how == CLICK_SELECT:
                under = _smallest_under(found, x, y)
                if under is None:
                    raise TextInpaintError("no detection there: click inside an outlined object, or detect first")
                labels = [f"{i}: {found.data['phrase'][i]} {found.confidence[i]:.2f}" for i in range(len(found))]
                label = labels[under]
                chosen = [c for c in chosen if c != label] if label in chosen else [*chosen, label]
                chosen.sort(key=lambda c: int(c.split(":")[0]))
                done.append(("toggle", label))
            else:
                points.append((x, y, 1 if how == CLICK_ON else 0))
                done.append(("click", None))
            # The ticks change only on a detection click (a change would also fire on_mask).
            ticks = gr.update(value=chosen) if how == CLICK_SELECT else gr.skip()
            return (
                ticks,
                points,
                done,
                _marked(picture, found, points, chosen),
                preview(picture, found, chosen, points, painted, grow, soft),
            )

        @_friendly
        def on_undo(path, found, chosen, points, done, painted, grow, soft):
            chosen, points, done = list(chosen or []), list(points or []), list(done or [])
            if not done:
                raise TextInpaintError("nothing to undo")
            kind, label = done.pop()
            if kind == "click":
                points.pop()
            else:
                chosen = [c for c in chosen if c != label] if label in chosen else [*chosen, label]
            picture = _need(path)
            return (
                gr.update(value=chosen) if kind == "toggle" else gr.skip(),
                points,
                done,
                _marked(picture, found, points, chosen),
                preview(picture, found, chosen, points, painted, grow, soft),
            )

        @_friendly
        def on_mask(path, found, chosen, points, painted, grow, soft):
            if path is None:
                return None, None
            picture = _need(path)
            return _marked(picture, found, points, chosen), preview(picture, found, chosen, points, painted, grow, soft)

        # Gradio hands the click's pixel to the argument annotated as SelectData.
        on_click.__annotations__["evt"] = gr.SelectData
        image.change(on_upload, [image], [shown, state, instances, clicks, history, brush, mask])
        button.click(on_detect, [image, find, box, text, clicks], [shown, instances, state, dilate, feather, mask])
        shown.select(
            on_click,
            [image, state, instances, clicks, history, mode, brush, dilate, feather],
            [instances, clicks, history, shown, mask],
        )
        undo.click(
            on_undo,
            [image, state, instances, clicks, history, brush, dilate, feather],
            [instances, clicks, history, shown, mask],
        )
        for control in (instances, dilate, feather):
            control.change(on_mask, [image, state, instances, clicks, brush, dilate, feather], [shown, mask])
        brush.change(on_mask, [image, state, instances, clicks, brush, dilate, feather], [shown, mask])
        return {
            "image": image,
            "find": find,
            "box": box,
            "text": text,
            "instances": instances,
            "dilate": dilate,
            "feather": feather,
            "state": state,
            "clicks": clicks,
            "brush": brush,
        }

    def edit_the_result(prefix: str, result: Any, image: Any) -> None:
        """A button that makes the result the tab's new input (edits in steps)."""
        again = gr.Button("Edit the result", elem_id=f"{prefix}-again")

        @_friendly
        def on_again(shown: Any) -> Any:
            after = shown[1] if isinstance(shown, (list, tuple)) else shown
            if after is None:
                raise TextInpaintError("no result yet: run an edit first")
            path = _scratch() / "result.png"
            (after if isinstance(after, PIL.Image.Image) else PIL.Image.open(after)).save(path)
            return str(path)

        again.click(on_again, [result], [image])

    # Every model call runs on this one thread of ours, not on Gradio's short-lived AnyIO worker
    # threads: a pool thread is joined when the interpreter exits, while a daemon worker that ran
    # torch could abort the process at shutdown ("terminate called without an active exception").
    runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="textinpaint-app")

    def on_runner(work: Callable[[], Any]) -> Any:
        return runner.submit(work).result()

    def run_with_progress(progress: Any, work: Callable[[], Any]) -> Any:
        def listened() -> Any:
            with listening(lambda stage: progress(None, desc=stage)):
                return work()

        return on_runner(listened)

    def seed_of(seed: Any) -> int | None:
        return None if seed is None or seed < 0 else int(seed)

    with gr.Blocks(title="textinpaint") as app:
        app.textinpaint_runner = runner  # shut down by close()
        with gr.Row(equal_height=True):
            gr.Markdown("## textinpaint\nFind an object by name, cut it out, repaint it at full resolution.")
            choosers = {
                stage: gr.Dropdown(
                    _installed(pipe, stage),
                    value=pipe.source(stage),
                    label=stage.capitalize(),
                    info=f"the {stage} model, among those on this machine",
                    elem_id=f"model-{stage}",
                )
                for stage in _CHOOSABLE
            }

        def chooser(stage: str) -> Callable[[str], None]:
            @_friendly
            def on_choice(choice: str) -> None:
                nonlocal pipe
                if choice and choice != pipe.source(stage):
                    pipe = on_runner(lambda: _switched(pipe, stage, choice))
                    logger.info("the app now runs the %s %s", stage, choice)

            return on_choice

        for stage, dropdown in choosers.items():
            dropdown.change(chooser(stage), [dropdown], [])

        with gr.Tab("Replace"):
            with gr.Row():
                with gr.Column(scale=3):
                    panel = detection_panel("replace")
                with gr.Column(scale=2):
                    paint = painting_controls("replace")
                    run = gr.Button("Replace", variant="primary", elem_id="replace-run")
                    result = outputs("replace")
                    edit_the_result("replace", result[0], panel["image"])

            @_friendly
            def on_replace(
                path,
                found,
                chosen,
                points,
                painted,
                grow,
                soft,
                prompt,
                negative,
                steps,
                guidance,
                seed,
                scheduler,
                fast,
                progress=gr.Progress(),
            ):
                picture = _need(path)
                region = on_runner(lambda: _region(pipe, picture, found, chosen, points, painted))
                options = dict(
                    negative_prompt=negative,
                    **sampler(steps, guidance, fast),
                    seed=seed_of(seed),
                    dilate=int(grow),
                    feather=int(soft),
                    scheduler=None if scheduler == _MODEL_DEFAULT else scheduler,
                    fast=bool(fast),
                )
                edit = run_with_progress(progress, lambda: pipe.inpaint(picture, region, prompt, **options))
                if found is not None:
                    edit = dataclasses.replace(edit, detections=found, selected=_indices(chosen))
                return ((picture, edit.image), *_save(edit, picture))

            run.click(
                on_replace,
                [
                    panel["image"],
                    panel["state"],
                    panel["instances"],
                    panel["clicks"],
                    panel["brush"],
                    panel["dilate"],
                    panel["feather"],
                    paint["prompt"],
                    paint["negative"],
                    paint["steps"],
                    paint["guidance"],
                    paint["seed"],
                    paint["scheduler"],
                    paint["fast"],
                ],
                result,
                trigger_mode="multiple",
            )

        with gr.Tab("Background"):
            with gr.Row():
                with gr.Column(scale=3):
                    panel = detection_panel(
                        "background", find_label="Keep (empty: the salient subject)", find_id="background-keep"
                    )
                with gr.Column(scale=2):
                    paint = painting_controls("background")
                    run = gr.Button("Replace background", variant="primary", elem_id="background-run")
                    result = outputs("background")
                    edit_the_result("background", result[0], panel["image"])
                    with gr.Accordion("Scene settings", open=False):
                        soft_edges = gr.Checkbox(value=matte_here, label="Soft edges (ViTMatte)", info=docs["matte"])
                        depth = gr.Checkbox(value=True, label="Depth ControlNet", info=docs["depth"])
                        scale = gr.Slider(
                            0,
                            2,
                            value=scene_defaults.controlnet_scale,
                            step=0.05,
                            label="ControlNet scale",
                            info=docs["controlnet_scale"],
                        )

            @_friendly
            def on_background(
                path,
                subject,
                found,
                chosen,
                points,
                painted,
                soften,
                use_depth,
                weight,
                prompt,
                negative,
                steps,
                guidance,
                seed,
                scheduler,
                fast,
                progress=gr.Progress(),
            ):
                picture = _need(path)
                # The subject: what was ticked, clicked or brushed; else the text; else the salient one.
                region = on_runner(lambda: _compose(pipe, picture, found, chosen, points, painted))
                subject = (subject or "").strip() or None
                options: dict[str, Any] = dict(
                    matte=bool(soften),
                    depth=use_depth,
                    controlnet_scale=float(weight),
                    negative_prompt=negative,
                    **sampler(steps, guidance, fast),
                    seed=seed_of(seed),
                    scheduler=None if scheduler == _MODEL_DEFAULT else scheduler,
                    fast=bool(fast),
                )
                given = {"keep": None, "mask": region} if region.any() else {"keep": subject}
                edit = run_with_progress(
                    progress, lambda: pipe.replace_background(picture, with_=prompt, **given, **options)
                )
                if not edit.found:
                    what = "no salient subject" if subject is None else f"nothing matching {subject!r}"
                    raise TextInpaintError(f"{what} was found to keep")
                return ((picture, edit.image), *_save(edit, picture))

            run.click(
                on_background,
                [
                    panel["image"],
                    panel["find"],
                    panel["state"],
                    panel["instances"],
                    panel["clicks"],
                    panel["brush"],
                    soft_edges,
                    depth,
                    scale,
                    paint["prompt"],
                    paint["negative"],
                    paint["steps"],
                    paint["guidance"],
                    paint["seed"],
                    paint["scheduler"],
                    paint["fast"],
                ],
                result,
                trigger_mode="multiple",
            )

        with gr.Tab("Cutout"):
            with gr.Row():
                with gr.Column(scale=3):
                    image = gr.Image(
                        label="Image",
                        type="filepath",
                        sources=["upload"],
                        height=picture_height,
                        elem_id="cutout-image",
                    )
                    keep = gr.Textbox(
                        label="Cut out (empty: the salient subject)", placeholder="the person", elem_id="cutout-keep"
                    )
                    with gr.Accordion("Cutout settings", open=False):
                        soft_edges = gr.Checkbox(value=matte_here, label="Soft edges (ViTMatte)", info=docs["matte"])
                        on_colour = gr.Checkbox(value=False, label="On a colour", info=docs["background_colour"])
                        colour = gr.ColorPicker(value="#ffffff", label="Colour", elem_id="cutout-colour")
                        crop = gr.Checkbox(value=False, label="Crop to the subject", info=docs["crop_to_subject"])
                with gr.Column(scale=2):
                    run = gr.Button("Cut out", variant="primary", elem_id="cutout-run")
                    result = outputs("cutout", slider=False)
                    edit_the_result("cutout", result[0], image)

            @_friendly
            def on_cutout(path, subject, soften, coloured, chosen_colour, cropped, progress=gr.Progress()):
                picture = _need(path)
                subject = (subject or "").strip() or None
                options: dict[str, Any] = dict(
                    matte=bool(soften),
                    background_colour=chosen_colour if coloured else None,
                    crop_to_subject=bool(cropped),
                )
                edit = run_with_progress(progress, lambda: pipe.cutout(picture, subject, **options))
                if not edit.found:
                    what = "no salient subject" if subject is None else f"nothing matching {subject!r}"
                    raise TextInpaintError(f"{what} was found to cut out")
                return (edit.image, *_save(edit, picture))

            run.click(on_cutout, [image, keep, soft_edges, on_colour, colour, crop], result, trigger_mode="multiple")

        with gr.Tab("Remove"):
            with gr.Row():
                with gr.Column(scale=3):
                    panel = detection_panel("remove")
                with gr.Column(scale=2):
                    run = gr.Button("Remove", variant="primary", elem_id="remove-run")
                    result = outputs("remove")
                    edit_the_result("remove", result[0], panel["image"])

            @_friendly
            def on_remove(path, found, chosen, points, painted, grow, soft, progress=gr.Progress()):
                picture = _need(path)
                region = on_runner(lambda: _region(pipe, picture, found, chosen, points, painted))
                options = dict(mask=region, dilate=int(grow), feather=int(soft))
                edit = run_with_progress(progress, lambda: pipe.remove(picture, **options))
                if found is not None:
                    edit = dataclasses.replace(edit, detections=found, selected=_indices(chosen))
                return ((picture, edit.image), *_save(edit, picture))

            run.click(
                on_remove,
                [
                    panel["image"],
                    panel["state"],
                    panel["instances"],
                    panel["clicks"],
                    panel["brush"],
                    panel["dilate"],
                    panel["feather"],
                ],
                result,
                trigger_mode="multiple",
            )
        with gr.Tab("Video"):
            video_tab(gr, pipe, on_runner, run_with_progress, seed_of, picture_height)
    return app


def _frame_with_masks(clip: str, tracked: Any, index: int) -> PIL.Image.Image:
    """Frame ``index`` of ``clip``, upright, with the tracked masks drawn over it (the frame alone
    where nothing was tracked there)."""
    from ..results import annotate
    from ..videos import read_frames

    frame = next(read_frames(clip, start=index, end=index + 1), None)
    if frame is None:
        raise TextInpaintError(f"the clip has no frame {index}")
    if tracked is None or index not in tracked.frames:
        return PIL.Image.fromarray(frame.rgb)
    return annotate(frame.rgb, tracked.detections(index))


def video_tab(gr: Any, pipe: Pipeline, on_runner: Any, run_with_progress: Any, seed_of: Any, height: int) -> None:
    """The Video tab: follow what the text names through a clip, look at the masks frame by frame
    on a scrub bar, then remove, replace or re-background it with exactly those masks."""
    steps_default = pipe.abilities("video_painter").defaults()[0]
    with gr.Row():
        with gr.Column(scale=3):
            clip = gr.File(
                label="Clip", file_types=["video"], type="filepath", elem_id="video-clip", height=height - 60
            )
            shown = gr.Image(label="Tracked masks", type="pil", interactive=False, elem_id="video-shown", height=height)
            scrub = gr.Slider(0, 1, value=0, step=1, label="Frame", elem_id="video-frame")
            tracked = gr.State(None)
            painted = gr.State(None)  # the written clip, once painted
        with gr.Column(scale=2):
            with gr.Row(equal_height=True):
                find = gr.Textbox(label="Follow", placeholder="the person", lines=1, elem_id="video-find", scale=3)
                track = gr.Button("Track from this frame", elem_id="video-track", scale=1)
            with gr.Row(equal_height=True):
                action = gr.Radio([w.command for w in VIDEO_WORKFLOWS.values()], label="Then", elem_id="video-action")
                prompt = gr.Textbox(
                    label="With",
                    info="replace: what instead; background: the new scene; remove: what is behind it",
                    lines=1,
                    elem_id="video-prompt",
                )
            with gr.Accordion("Settings", open=False):
                box = gr.Number(
                    value=FindOptions().box_threshold, label="Box threshold", elem_id="video-box-threshold", minimum=0
                )
                per_frame = gr.Checkbox(
                    False, label="Remove frame by frame with LaMa (no GPU; flickers)", elem_id="video-per-frame"
                )
                steps = gr.Slider(1, 100, value=steps_default, step=1, label="Steps", elem_id="video-steps")
                seed = gr.Number(value=-1, precision=0, label="Seed (-1: random)", elem_id="video-seed")
            run = gr.Button("Paint", variant="primary", elem_id="video-run")
            result = gr.Image(
                label="Result (the frame shown)",
                type="pil",
                interactive=False,
                elem_id="video-result",
                height=height - 60,
            )
            with gr.Row():
                files = [gr.File(label="Clip", elem_id="video-file"), gr.File(label="Sidecar", elem_id="video-sidecar")]

    @_friendly
    def on_upload(path: str | None) -> tuple[Any, Any, Any, Any, Any]:
        if path is None:
            return None, None, gr.update(value=0, maximum=1), None, None
        from ..videos import probe

        info = on_runner(lambda: probe(path))
        first = _frame_with_masks(path, None, 0)
        return first, None, gr.update(value=0, maximum=max(1, info.frames - 1)), None, None

    @_friendly
    def on_track(path: str | None, text: str, threshold: float, index: float, progress: Any = gr.Progress()) -> Any:
        from ..workflows import video

        if path is None:
            raise TextInpaintError("upload a clip first")
        if not (text or "").strip():
            raise TextInpaintError("type what to follow through the clip")
        frame = int(index)
        masks = run_with_progress(
            progress, lambda: video.track(pipe, path, text, frame=frame, box_threshold=float(threshold))
        )
        if not masks.ids:
            raise TextInpaintError(f"nothing matching {text!r} on frame {frame}; lower the box threshold or scrub")
        return masks, _frame_with_masks(path, masks, frame)

    @_friendly
    def on_scrub(path: str | None, masks: Any, written: str | None, index: float) -> Any:
        if path is None:
            return None, None
        frame = int(index)
        after = None if written is None else on_runner(lambda: _frame_with_masks(written, None, frame))
        return on_runner(lambda: _frame_with_masks(path, masks, frame)), after

    @_friendly
    def on_paint(
        path: str | None,
        masks: Any,
        chosen: str,
        text: str,
        lamas: bool,
        count: float,
        drawn: Any,
        index: float,
        progress: Any = gr.Progress(),
    ) -> Any:
        if path is None or masks is None:
            raise TextInpaintError("track something first: the painting uses exactly the masks shown")
        if chosen is None:
            raise TextInpaintError(
                "choose what to do with it: " + ", ".join(w.command for w in VIDEO_WORKFLOWS.values())
            )
        flow = next(w for w in VIDEO_WORKFLOWS.values() if w.command == chosen)
        options: dict[str, Any] = {"masks": masks}
        if lamas and "per_frame" in flow.inputs:
            options["per_frame"] = True
        else:  # no prompt: the workflow's own default, or its own error naming with_
            given = {"with_": (text or "").strip() or None, "steps": int(count), "seed": seed_of(drawn)}
            options |= {k: v for k, v in given.items() if v is not None}
        target = _scratch() / f"{Path(path).stem}-{chosen}.mp4"
        edit = run_with_progress(progress, lambda: flow.function(pipe, path, output=target, **options))
        written = str(edit.output)
        return _frame_with_masks(written, None, int(index)), written, written, str(target.with_suffix(".json"))

    clip.change(on_upload, [clip], [shown, tracked, scrub, painted, result])
    track.click(on_track, [clip, find, box, scrub], [tracked, shown], trigger_mode="multiple")
    scrub.change(on_scrub, [clip, tracked, painted, scrub], [shown, result], trigger_mode="always_last")
    run.click(
        on_paint,
        [clip, tracked, action, prompt, per_frame, steps, seed, scrub],
        [result, painted, *files],
        trigger_mode="multiple",
    )


def close(app: Any) -> None:
    """Stop the server and the app's model thread (after the run in progress, if any)."""
    app.close()
    runner = getattr(app, "textinpaint_runner", None)
    if runner is not None:
        runner.shutdown(wait=True)


def serve(pipe: Pipeline, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False, block: bool = True) -> Any:
    """Start the app: bound to ``host`` (loopback by default), one job at a time, others queued."""
    app = build_app(pipe).queue(default_concurrency_limit=1)
    app.launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=not block,
        quiet=True,
        ssr_mode=False,
        show_error=True,
    )
    return app
