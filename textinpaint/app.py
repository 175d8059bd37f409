"""A Gradio app for trying edits interactively (the ``app`` extra): ``textinpaint app``.

One :class:`~textinpaint.Pipeline` serves every request; models load once per process. Runs are
queued one at a time, and run buttons take every click (``trigger_mode="multiple"``; Gradio's
default drops clicks while a run is pending), so a second click waits its turn instead of being
lost. Errors show the library's message in the page.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image

from .errors import MissingDependencyError, TextInpaintError
from .masks import auto_dilation, auto_feather, blend_weights, distance_outside
from .options import BackgroundOptions, FindOptions, PaintOptions
from .outputs import save_image, write_json
from .pipeline import Pipeline
from .results import Edit, annotate
from .runtime import listening
from .schedulers import SCHEDULERS

_MODEL_DEFAULT = "model default"
_SCHEDULER_CHOICES = [_MODEL_DEFAULT, *SCHEDULERS]


def _gradio() -> Any:
    try:
        import gradio
    except ImportError as error:
        raise MissingDependencyError('the app needs Gradio: pip install "textinpaint[app]"') from error
    return gradio


def _friendly(function: Callable[..., Any]) -> Callable[..., Any]:
    """Show the library's own error message in the page, never a stack trace."""
    import functools

    gr = _gradio()

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (TextInpaintError, ValueError) as error:
            raise gr.Error(str(error)) from error

    return wrapper


def _need(image: PIL.Image.Image | None) -> PIL.Image.Image:
    if image is None:
        raise TextInpaintError("upload an image first")
    return image


def _region(detections: Any, chosen: list[str]) -> np.ndarray:
    indices = [int(label.split(":")[0]) for label in chosen or []]
    if detections is None or not indices:
        raise TextInpaintError("detect first, then tick at least one instance to edit")
    return detections.mask[indices].any(axis=0)


def _preview(image: PIL.Image.Image, region: np.ndarray, dilate: int, feather: int) -> PIL.Image.Image:
    """The input with the region that will change tinted: red where repainted, fading over the feather."""
    weights = blend_weights(distance_outside(region), int(dilate), int(feather))[..., None]
    rgb = np.asarray(image.convert("RGB")).astype(np.float32)
    return PIL.Image.fromarray((rgb * (1 - 0.6 * weights) + np.array([255, 0, 0]) * 0.6 * weights).astype(np.uint8))


def _save(edit: Edit) -> tuple[str, str]:
    """The result PNG (its sidecar inside as a text chunk) and the sidecar JSON, for download."""
    folder = Path(tempfile.mkdtemp(prefix="textinpaint-app-"))
    sidecar = edit.to_dict()
    save_image(edit.image, folder / "result.png", sidecar)
    write_json(folder / "result.json", sidecar)
    return str(folder / "result.png"), str(folder / "result.json")


def build_app(pipe: Pipeline) -> Any:
    """The Gradio Blocks app over ``pipe``; call ``.queue().launch()`` on it (see :func:`serve`)."""
    gr = _gradio()

    paint_defaults, find_defaults, scene_defaults = PaintOptions(), FindOptions(), BackgroundOptions()

    def painting_controls(prefix: str) -> dict[str, Any]:
        with gr.Accordion("Painting", open=True):
            return {
                "prompt": gr.Textbox(label="Prompt", elem_id=f"{prefix}-prompt"),
                "negative": gr.Textbox(label="Negative prompt", value=paint_defaults.negative_prompt),
                "steps": gr.Slider(
                    1, 100, value=paint_defaults.steps, step=1, label="Steps", elem_id=f"{prefix}-steps"
                ),
                "guidance": gr.Slider(0, 20, value=paint_defaults.guidance, step=0.5, label="Guidance"),
                "seed": gr.Number(value=-1, precision=0, label="Seed (-1: random)", elem_id=f"{prefix}-seed"),
                "scheduler": gr.Dropdown(_SCHEDULER_CHOICES, value=_MODEL_DEFAULT, label="Scheduler"),
            }

    def outputs(prefix: str) -> list[Any]:
        return [
            gr.ImageSlider(label="Before / after", type="pil", elem_id=f"{prefix}-result"),
            gr.File(label="Result (PNG)", elem_id=f"{prefix}-file"),
            gr.File(label="Sidecar (JSON)", elem_id=f"{prefix}-sidecar"),
        ]

    def detection_panel(prefix: str) -> dict[str, Any]:
        with gr.Row():
            image = gr.Image(label="Image", type="pil", sources=["upload"], elem_id=f"{prefix}-image")
            shown = gr.Image(label="Detections", interactive=False, elem_id=f"{prefix}-detections")
        find = gr.Textbox(label="Find", placeholder="the red car. a dog", elem_id=f"{prefix}-find")
        with gr.Row():
            box = gr.Slider(
                0,
                1,
                value=find_defaults.box_threshold,
                step=0.01,
                label="Box threshold",
                elem_id=f"{prefix}-box-threshold",
            )
            text = gr.Slider(
                0,
                1,
                value=find_defaults.text_threshold,
                step=0.01,
                label="Text threshold",
                elem_id=f"{prefix}-text-threshold",
            )
        button = gr.Button("Detect", elem_id=f"{prefix}-detect")
        instances = gr.CheckboxGroup(label="Instances to edit", choices=[], elem_id=f"{prefix}-instances")
        with gr.Row():
            dilate = gr.Slider(0, 128, value=8, step=1, label="Dilate (px)", elem_id=f"{prefix}-dilate")
            feather = gr.Slider(0, 64, value=4, step=1, label="Feather (px)", elem_id=f"{prefix}-feather")
        mask = gr.Image(label="Region to repaint", interactive=False, elem_id=f"{prefix}-mask")
        state = gr.State(None)

        @_friendly
        def on_detect(picture, query, box_threshold, text_threshold):
            picture = _need(picture)
            found = on_runner(
                lambda: pipe.segment(
                    picture, pipe.detect(picture, query, box_threshold=box_threshold, text_threshold=text_threshold)
                )
            )
            if len(found) == 0:
                best = found.metadata.get("best_score")
                raise TextInpaintError(
                    f"nothing matching {query!r} was found (best score {best}); lower the box threshold"
                )
            labels = [f"{i}: {p} {c:.2f}" for i, (p, c) in enumerate(zip(found.data["phrase"], found.confidence))]
            grow = auto_dilation(picture.width, picture.height)
            region = found.mask.any(axis=0)
            return (
                annotate(picture, found),
                gr.update(choices=labels, value=labels),
                found,
                grow,
                auto_feather(grow),
                _preview(picture, region, grow, auto_feather(grow)),
            )

        @_friendly
        def on_mask(picture, found, chosen, grow, soft):
            if picture is None or found is None or not chosen:
                return None
            return _preview(picture, _region(found, chosen), grow, soft)

        button.click(on_detect, [image, find, box, text], [shown, instances, state, dilate, feather, mask])
        for control in (instances, dilate, feather):
            control.change(on_mask, [image, state, instances, dilate, feather], mask)
        return {
            "image": image,
            "find": find,
            "box": box,
            "text": text,
            "instances": instances,
            "dilate": dilate,
            "feather": feather,
            "state": state,
        }

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

    with gr.Blocks(title="textinpaint") as app:
        app.textinpaint_runner = runner  # shut down by close()
        gr.Markdown("# textinpaint\nFind an object by name, cut it out, repaint it at full resolution.")
        with gr.Tab("Replace"):
            panel = detection_panel("replace")
            paint = painting_controls("replace")
            run = gr.Button("Replace", variant="primary", elem_id="replace-run")
            result = outputs("replace")

            @_friendly
            def on_replace(
                picture,
                found,
                chosen,
                grow,
                soft,
                prompt,
                negative,
                steps,
                guidance,
                seed,
                scheduler,
                progress=gr.Progress(),
            ):
                picture = _need(picture)
                region = _region(found, chosen)
                options = dict(
                    negative_prompt=negative,
                    steps=int(steps),
                    guidance=float(guidance),
                    seed=None if seed is None or seed < 0 else int(seed),
                    dilate=int(grow),
                    feather=int(soft),
                    scheduler=None if scheduler == _MODEL_DEFAULT else scheduler,
                )
                edited = run_with_progress(progress, lambda: pipe.inpaint(picture, region, prompt, **options))
                chosen_indices = [int(label.split(":")[0]) for label in chosen]
                edit = dataclasses.replace(edited.info["edit"], detections=found, selected=chosen_indices)
                return ((picture, edited), *_save(edit))

            run.click(
                on_replace,
                [
                    panel["image"],
                    panel["state"],
                    panel["instances"],
                    panel["dilate"],
                    panel["feather"],
                    paint["prompt"],
                    paint["negative"],
                    paint["steps"],
                    paint["guidance"],
                    paint["seed"],
                    paint["scheduler"],
                ],
                result,
                trigger_mode="multiple",
            )

        with gr.Tab("Background"):
            with gr.Row():
                image = gr.Image(label="Image", type="pil", sources=["upload"], elem_id="background-image")
                keep = gr.Textbox(label="Keep", placeholder="the car", elem_id="background-keep")
            with gr.Row():
                depth = gr.Checkbox(value=True, label="Depth ControlNet")
                scale = gr.Slider(0, 2, value=scene_defaults.controlnet_scale, step=0.05, label="ControlNet scale")
            paint = painting_controls("background")
            run = gr.Button("Replace background", variant="primary", elem_id="background-run")
            result = outputs("background")

            @_friendly
            def on_background(
                picture,
                subject,
                use_depth,
                weight,
                prompt,
                negative,
                steps,
                guidance,
                seed,
                scheduler,
                progress=gr.Progress(),
            ):
                picture = _need(picture)
                options = dict(
                    depth=use_depth,
                    controlnet_scale=float(weight),
                    negative_prompt=negative,
                    steps=int(steps),
                    guidance=float(guidance),
                    seed=None if seed is None or seed < 0 else int(seed),
                    scheduler=None if scheduler == _MODEL_DEFAULT else scheduler,
                )
                edit = run_with_progress(progress, lambda: pipe.replace_background(picture, subject, prompt, **options))
                if not edit.found:
                    raise TextInpaintError(f"nothing matching {subject!r} was found to keep")
                return ((picture, edit.image), *_save(edit))

            run.click(
                on_background,
                [
                    image,
                    keep,
                    depth,
                    scale,
                    paint["prompt"],
                    paint["negative"],
                    paint["steps"],
                    paint["guidance"],
                    paint["seed"],
                    paint["scheduler"],
                ],
                result,
                trigger_mode="multiple",
            )

        with gr.Tab("Remove"):
            panel = detection_panel("remove")
            run = gr.Button("Remove", variant="primary", elem_id="remove-run")
            result = outputs("remove")

            @_friendly
            def on_remove(picture, query, box_threshold, text_threshold, chosen, grow, soft, progress=gr.Progress()):
                picture = _need(picture)
                selected = [int(label.split(":")[0]) for label in chosen or []]
                if not selected:
                    raise TextInpaintError("detect first, then tick at least one instance to remove")
                options = dict(
                    select=selected,
                    box_threshold=box_threshold,
                    text_threshold=text_threshold,
                    dilate=int(grow),
                    feather=int(soft),
                )
                edit = run_with_progress(progress, lambda: pipe.remove(picture, query, **options))
                return ((picture, edit.image), *_save(edit))

            run.click(
                on_remove,
                [
                    panel["image"],
                    panel["find"],
                    panel["box"],
                    panel["text"],
                    panel["instances"],
                    panel["dilate"],
                    panel["feather"],
                ],
                result,
                trigger_mode="multiple",
            )
    return app


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
