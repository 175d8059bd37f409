"""SAM 3's video model as the tracker stage: it finds every instance of the text itself, on every
frame, and keeps each one's id across frames (transformers ``Sam3VideoModel``, streamed).

Where the SAM 2.1 tracker follows what was marked on one frame (the detector's boxes, clicks, a
box), this one is given the phrases: each frame goes through SAM 3's detector and its tracker
together, matched detections keep their instance's id, and a new instance joins the masks the
frame it appears. It takes no clicks or boxes (``follows_text``: the video workflows hand it the
text and skip the image detector).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch


@dataclass(frozen=True)
class Sam3VideoTracker:
    """A loaded SAM 3 video model: :meth:`follow` finds and follows phrases frame by frame."""

    processor: Any  # a transformers Sam3VideoProcessor
    model: torch.nn.Module
    device: torch.device
    dtype: torch.dtype
    follows_text: ClassVar[bool] = True  # the workflows give it text, not marks on one frame

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype) -> Sam3VideoTracker:
        from transformers import Sam3VideoModel, Sam3VideoProcessor

        processor = Sam3VideoProcessor.from_pretrained(source)
        model: torch.nn.Module = Sam3VideoModel.from_pretrained(source, dtype=dtype)
        return cls(processor, model.to(device).eval(), device, dtype)

    def follow(self, phrases: list[str]) -> TextSession:
        """A streaming session finding ``phrases`` on each frame it is given, in order."""
        session = self.processor.init_video_session(inference_device=self.device, dtype=self.dtype)
        session = self.processor.add_text_prompt(inference_session=session, text=phrases)
        return TextSession(self, session)


class TextSession:
    """One clip's SAM 3 video session: :meth:`step` takes the next frame and returns its instances."""

    def __init__(self, tracker: Sam3VideoTracker, session: Any) -> None:
        self.tracker, self.session = tracker, session

    def step(self, rgb: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray, list[str]]:
        """The instances on this frame (HxWx3 ``uint8``): their ids (stable across frames), masks
        (N, H, W) ``bool``, scores (N,) ``float32`` and phrases."""
        processor, model = self.tracker.processor, self.tracker.model
        inputs = processor(  # channels last, said outright: a 1-pixel-high frame reads as channels first
            images=rgb, device=self.tracker.device, return_tensors="pt", input_data_format="channels_last"
        )
        with torch.inference_mode():
            outputs = model(
                inference_session=self.session, frame=inputs.pixel_values[0].to(self.tracker.dtype), reverse=False
            )
        found = processor.postprocess_outputs(self.session, outputs, original_sizes=inputs.original_sizes)
        ids = [int(i) for i in found["object_ids"].tolist()]
        named = {int(i): phrase for phrase, members in found["prompt_to_obj_ids"].items() for i in members}
        masks = found["masks"].to("cpu").numpy().astype(bool).reshape(len(ids), *rgb.shape[:2])
        scores = found["scores"].to("cpu", torch.float32).numpy()
        return ids, masks, scores, [named.get(i, "") for i in ids]


def write_tiny(folder: Path, *, seed: int) -> Path:
    """A SAM 3 video model on 56-px frames, saved by transformers: SAM 3's detector with a 2-layer
        ViT, CLIP text encoder, DETR encoder and decoder, all of width 128 (8 queries), and the
        tracker's decoder and one memory-attention layer of width 128, 3 memories. Every threshold is
        0 and there is no hot start, so the random weights find something on the first frame; at most 4
    instances are followed, so later frames keep them rather than add new ones.

        (The tracker's memory attention takes 64-channel memories and splits object pointers into
        memory-width tokens, so its width, which is the detector's feature width, must be 128.)
    """
    from transformers import (
        CLIPTokenizer,
        Sam2VideoVideoProcessor,
        Sam3Config,
        Sam3TrackerVideoConfig,
        Sam3VideoConfig,
        Sam3VideoModel,
        Sam3VideoProcessor,
    )
    from transformers.models.sam3.configuration_sam3 import (
        Sam3DETRDecoderConfig,
        Sam3DETREncoderConfig,
        Sam3GeometryEncoderConfig,
        Sam3MaskDecoderConfig,
        Sam3VisionConfig,
    )
    from transformers.models.sam3.image_processing_sam3 import Sam3ImageProcessor
    from transformers.models.sam3_tracker_video.configuration_sam3_tracker_video import (
        Sam3TrackerVideoMaskDecoderConfig,
        Sam3TrackerVideoPromptEncoderConfig,
    )

    from ..testing import clip_vocab, tiny_clip_text, tiny_sam3_backbone

    width, vocab = 128, clip_vocab()
    layer: dict[str, Any] = dict(hidden_size=width, num_attention_heads=4, intermediate_size=64)
    backbone = tiny_sam3_backbone(width)

    def vision() -> Sam3VisionConfig:  # features at 16, 8, 4 and 2 px a side
        return Sam3VisionConfig(
            backbone_config=backbone,
            fpn_hidden_size=width,
            scale_factors=[4.0, 2.0, 1.0, 0.5],
            backbone_feature_sizes=[[16, 16], [8, 8], [4, 4]],
        )

    detector = Sam3Config(
        vision_config=vision(),
        text_config=tiny_clip_text(width, len(vocab)),
        geometry_encoder_config=Sam3GeometryEncoderConfig(**layer, num_layers=1),
        detr_encoder_config=Sam3DETREncoderConfig(**layer, num_layers=1),
        detr_decoder_config=Sam3DETRDecoderConfig(**layer, num_layers=1, num_queries=8),
        mask_decoder_config=Sam3MaskDecoderConfig(hidden_size=width, num_upsampling_stages=2),
    )
    tracker = Sam3TrackerVideoConfig(  # type: ignore[call-arg]  # image_size is a config field its stub omits; without it the clip runs at 1008 px
        image_size=56,
        vision_config=vision(),
        prompt_encoder_config=Sam3TrackerVideoPromptEncoderConfig(
            hidden_size=width, image_size=56, patch_size=14, mask_input_channels=8
        ),
        mask_decoder_config=Sam3TrackerVideoMaskDecoderConfig(
            hidden_size=width, mlp_dim=64, num_hidden_layers=2, num_attention_heads=4, iou_head_hidden_dim=32
        ),
        num_maskmem=3,
        memory_attention_hidden_size=width,
        memory_attention_num_layers=1,
        memory_attention_num_attention_heads=1,
        memory_attention_feed_forward_hidden_size=64,
        memory_attention_rope_feat_sizes=[4, 4],
        memory_encoder_hidden_size=width,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=width,
        memory_fuser_embed_dim=width,
        memory_fuser_intermediate_dim=64,
    )
    config = Sam3VideoConfig(
        detector_config=detector.to_dict(),
        tracker_config=tracker.to_dict(),
        low_res_mask_size=16,
        hotstart_delay=0,
        hotstart_unmatch_thresh=0,
        hotstart_dup_thresh=0,
        score_threshold_detection=0.0,
        new_det_thresh=0.0,
        max_num_objects=4,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        Sam3VideoModel(config).eval().save_pretrained(folder)
    Sam3VideoProcessor(
        image_processor=Sam3ImageProcessor(size={"height": 56, "width": 56}, mask_size={"height": 16, "width": 16}),
        video_processor=Sam2VideoVideoProcessor(size={"height": 56, "width": 56}),
        tokenizer=CLIPTokenizer(vocab=vocab, merges=[], model_max_length=32),
    ).save_pretrained(folder)
    return folder
