"""Following objects through a clip: SAM 2.1's video model (through transformers), streamed.

``Sam2VideoProcessor`` + ``Sam2VideoModel`` as the transformers docs run them in streaming mode:
a session with no video, each frame handed over as it is decoded, the prompts (boxes or clicks,
one object id each) added on the frame they were given on, and each frame's masks read back
before the next one is decoded. The memory bank keeps the last frames' features, so memory does
not grow with the clip's frames beyond the session's own bookkeeping. Streaming equals the
session's offline propagation (``propagate_in_video_iterator``) on the same weights; a test checks
it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class TrackPrompt:
    """What marks one object on the first tracked frame: a box (xyxy pixels) or clicks
    (``points`` Nx2 xy pixels with ``labels`` 1 = on it, 0 = not on it), and its id."""

    id: int
    box: tuple[float, float, float, float] | None = None
    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()


@dataclass(frozen=True)
class Sam2Tracker:
    """A loaded SAM 2.1 video model: :meth:`track` follows prompted objects frame by frame."""

    processor: Any  # a transformers Sam2VideoProcessor
    model: torch.nn.Module
    device: torch.device
    dtype: torch.dtype

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype) -> Sam2Tracker:
        from transformers import Sam2VideoModel, Sam2VideoProcessor

        processor = Sam2VideoProcessor.from_pretrained(source)
        model: torch.nn.Module = Sam2VideoModel.from_pretrained(source, dtype=dtype)
        return cls(processor, model.to(device).eval(), device, dtype)

    def start(self, prompts: list[TrackPrompt]) -> TrackSession:
        """A streaming session following ``prompts``, which mark objects on the first frame it is given."""
        return TrackSession(
            self, prompts, self.processor.init_video_session(inference_device=self.device, dtype=self.dtype)
        )

    def track(
        self, frames: Iterable[np.ndarray], prompts: list[TrackPrompt]
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """:meth:`TrackSession.step` over every frame (HxWx3 ``uint8``), the first carrying the prompts."""
        session = self.start(prompts)
        for rgb in frames:
            yield session.step(rgb)


class TrackSession:
    """One clip's tracking state: :meth:`step` takes the next frame and returns its masks."""

    def __init__(self, tracker: Sam2Tracker, prompts: list[TrackPrompt], session: Any) -> None:
        self.tracker, self.prompts, self.session, self.frames = tracker, prompts, session, 0
        # The session holds the boxed objects first, then the clicked ones: rows back in prompt order.
        held = [p.id for p in prompts if p.box is not None] + [p.id for p in prompts if p.box is None]
        self.order = [held.index(p.id) for p in prompts]

    @torch.inference_mode()
    def step(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The next frame (HxWx3 ``uint8``; the first one carries the prompts).

        Returns:
            (masks, scores): ``bool`` (objects, H, W) in the order of the prompts, and ``float32``
            (objects,) scores (the mean probability inside each mask; 0 when it is empty).
        """
        tracker = self.tracker
        # Channels last, said outright: a 1-pixel-high frame would be read as channels first.
        inputs = tracker.processor(
            images=rgb, device=tracker.device, return_tensors="pt", input_data_format="channels_last"
        )
        if self.frames == 0:
            self._prompt(inputs.original_sizes[0])
        self.frames += 1
        output = tracker.model(inference_session=self.session, frame=inputs.pixel_values[0].to(tracker.dtype))
        logits = tracker.processor.post_process_masks(
            [output.pred_masks], original_sizes=inputs.original_sizes, binarize=False
        )[0][:, 0]
        inside = logits > 0
        probability = torch.sigmoid(logits.float()) * inside
        scores = probability.flatten(1).sum(1) / inside.flatten(1).sum(1).clamp(min=1)
        return inside[self.order].cpu().numpy(), scores[self.order].cpu().numpy().astype(np.float32)

    def _prompt(self, size: Any) -> None:
        processor, session = self.tracker.processor, self.session
        boxed = [p for p in self.prompts if p.box is not None]
        clicked = [p for p in self.prompts if p.box is None]
        if boxed:
            processor.add_inputs_to_inference_session(
                inference_session=session,
                frame_idx=0,
                obj_ids=[p.id for p in boxed],
                input_boxes=[[list(p.box) for p in boxed if p.box is not None]],
                original_size=size,
            )
        if clicked:
            processor.add_inputs_to_inference_session(
                inference_session=session,
                frame_idx=0,
                obj_ids=[p.id for p in clicked],
                input_points=[[[list(point) for point in p.points] for p in clicked]],
                input_labels=[[list(p.labels) for p in clicked]],
                original_size=size,
            )


def write_tiny(folder: Path, *, seed: int) -> Path:
    """A SAM 2.1 video model on 64-px frames, saved by transformers: the image model's tiny
    Hiera (widths 12-96), FPN and decoder of width 128, one memory-attention layer, 3 memories.

    (The memory attention's cross-attention takes 64-channel memories whatever the config says,
    and object pointers are split into memory-width tokens: the hidden width must be a multiple
    of 64 above it, so 128.)
    """
    from transformers import (
        Sam2ImageProcessor,
        Sam2VideoConfig,
        Sam2VideoMaskDecoderConfig,
        Sam2VideoModel,
        Sam2VideoProcessor,
        Sam2VideoPromptEncoderConfig,
        Sam2VideoVideoProcessor,
    )

    from ..testing import tiny_sam2_vision

    config = Sam2VideoConfig(
        vision_config=tiny_sam2_vision(128),
        prompt_encoder_config=Sam2VideoPromptEncoderConfig(
            hidden_size=128, image_size=64, patch_size=16, mask_input_channels=8
        ),
        mask_decoder_config=Sam2VideoMaskDecoderConfig(
            hidden_size=128, mlp_dim=64, num_hidden_layers=2, num_attention_heads=4, iou_head_hidden_dim=32
        ),
        image_size=64,
        num_maskmem=3,
        memory_attention_hidden_size=128,
        memory_attention_num_layers=1,
        memory_attention_num_attention_heads=1,
        memory_attention_feed_forward_hidden_size=64,
        memory_attention_rope_feat_sizes=[4, 4],
        memory_encoder_hidden_size=128,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=128,
        memory_fuser_embed_dim=128,
        memory_fuser_intermediate_dim=64,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        Sam2VideoModel(config).eval().save_pretrained(folder)
    images = Sam2ImageProcessor(size={"height": 64, "width": 64}, mask_size={"height": 16, "width": 16})
    videos = Sam2VideoVideoProcessor(size={"height": 64, "width": 64})
    Sam2VideoProcessor(image_processor=images, video_processor=videos).save_pretrained(folder)
    return folder
