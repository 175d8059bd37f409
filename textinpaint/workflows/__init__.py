"""The workflows, one file each, and the one table of them.

Each workflow is a plain function whose first argument is the model container
(:class:`~textinpaint.container.Models`) and which returns an :class:`~textinpaint.Edit`; each
file reads top to bottom as numbered calls of the shared steps (:mod:`textinpaint.workflows.steps`).
:data:`WORKFLOWS` is the only place a workflow is known by name: the CLI's commands, replay, the
Ray engine, the report and the sidecar schema read it. :class:`~textinpaint.Pipeline` attaches
the functions as methods, and the package exposes them on a shared default pipeline.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..options import (
    CutoutArgs,
    DetectArgs,
    GenerateArgs,
    InpaintArgs,
    RemoveArgs,
    ReplaceArgs,
    ReplaceBackgroundArgs,
    SegmentArgs,
    VideoBackgroundArgs,
    VideoRemoveArgs,
    VideoReplaceArgs,
)


@dataclass(frozen=True)
class Workflow:
    """One workflow, as every interface knows it.

    Attributes:
        name: its name in sidecars (``"replace_background"``).
        where: ``"module:function"`` in this folder; :attr:`function` imports it when first asked
            (so the CLI's ``--help`` loads no model library).
        args: the TypedDict of its options (:mod:`textinpaint.options`).
        inputs: its positional arguments after the image, by name (``("find", "with_")``).
        stages: the stages it may load (the CLI offers a model flag for each).
        command: its CLI subcommand.
        batchable: it takes a list of images (one batched pass per model).
        image: it takes an input image (``generate`` does not).
        mask: it records a mask the user gave (``inpaint``, ``remove``, ``background`` with ``mask=``),
            which replay passes back as ``mask``.
        output: what its written output is: the edited ``"image"``, the ``"mask"`` picture, or
            only the ``"detections"`` (a JSON sidecar).
        ray: it runs on the Ray engine (``--engine ray``, :func:`textinpaint.interfaces.distributed.run`).
    """

    name: str
    where: str
    args: type
    inputs: tuple[str, ...]
    stages: tuple[str, ...]
    command: str
    batchable: bool = False
    image: bool = True
    mask: bool = False
    output: Literal["image", "mask", "detections"] = "image"
    ray: bool = False

    @property
    def function(self) -> Callable[..., Any]:
        """``function(models, *inputs, **options)``, returning an :class:`~textinpaint.Edit` (a list
        for a list of images when ``batchable``); imported now."""
        module, _, attribute = self.where.partition(":")
        function: Callable[..., Any] = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
        return function


WORKFLOWS: dict[str, Workflow] = {
    w.name: w
    for w in (
        Workflow(
            "replace",
            "replace:replace",
            ReplaceArgs,
            ("find", "with_"),
            ("detector", "segmenter", "inpainter", "upscaler", "fast"),
            "replace",
            batchable=True,
            ray=True,
            mask=True,
        ),
        Workflow(
            "remove",
            "remove:remove",
            RemoveArgs,
            ("find",),
            ("detector", "segmenter", "remover"),
            "remove",
            batchable=True,
            ray=True,
            mask=True,
        ),
        Workflow(
            "replace_background",
            "background:replace_background",
            ReplaceBackgroundArgs,
            ("keep", "with_"),
            ("subject", "detector", "segmenter", "matte", "inpainter", "controlnet", "depth", "upscaler", "fast"),
            "background",
            batchable=True,
            ray=True,
            mask=True,
        ),
        Workflow(
            "cutout",
            "cutout:cutout",
            CutoutArgs,
            ("keep",),
            ("subject", "detector", "segmenter", "matte"),
            "cutout",
            batchable=True,
            ray=True,
            mask=True,
        ),
        Workflow(
            "inpaint",
            "inpaint:inpaint",
            InpaintArgs,
            ("mask", "prompt"),
            ("inpainter", "upscaler", "fast"),
            "inpaint",
            mask=True,
        ),
        Workflow(
            "generate",
            "generate:generate",
            GenerateArgs,
            ("prompt",),
            ("inpainter", "upscaler", "fast"),
            "generate",
            image=False,
        ),
        Workflow(
            "segment",
            "find:find_masks",
            SegmentArgs,
            ("find",),
            ("detector", "segmenter"),
            "segment",
            output="mask",
            ray=True,
        ),
        Workflow("detect", "find:find_boxes", DetectArgs, ("find",), ("detector",), "detect", output="detections"),
    )
}

# The CLI's subcommand -> the workflow it runs.
COMMANDS: dict[str, Workflow] = {w.command: w for w in WORKFLOWS.values()}

# The video workflows (video.py) that write a clip and its sidecar, by their sidecar name: a
# sidecar naming one is read against video_sidecar.schema.json and replays with
# textinpaint.interfaces.sidecars.replay_video. Their inputs come after the clip; their command
# is their action word (``textinpaint video remove``, the app's Video tab).
_VIDEO_INPUTS = ("points", "labels", "box", "masks", "masks_in_memory", "frame", "codec", "start", "end", "every")
_WINDOWS = ("with_", "window", "overlap")
VIDEO_WORKFLOWS: dict[str, Workflow] = {
    w.name: w
    for w in (
        Workflow(
            "video remove",
            "video:remove",
            VideoRemoveArgs,
            ("find", *_VIDEO_INPUTS, *_WINDOWS, "per_frame"),
            ("detector", "tracker", "video_painter", "remover"),
            "remove",
        ),
        Workflow(
            "video replace",
            "video:replace",
            VideoReplaceArgs,
            ("find", *_VIDEO_INPUTS, *_WINDOWS),
            ("detector", "tracker", "video_painter"),
            "replace",
        ),
        Workflow(
            "video replace_background",
            "video:replace_background",
            VideoBackgroundArgs,
            ("keep", *_VIDEO_INPUTS, *_WINDOWS),
            ("detector", "subject", "tracker", "video_painter"),
            "background",
        ),
    )
}


def workflow(name: object) -> Workflow:
    """The workflow a sidecar or a caller names.

    Raises:
        InvalidInputError: no workflow of that name.
    """
    from ..errors import InvalidInputError

    if not isinstance(name, str) or name not in WORKFLOWS:
        raise InvalidInputError(f"workflow must be one of {list(WORKFLOWS)}; got {name!r}")
    return WORKFLOWS[name]
