"""Depth maps (DPT or Depth Anything, through transformers) as a ControlNet condition.

A :class:`DepthControlled` filler wraps the diffusers inpainter: it estimates the depth of the
crop it is given and paints under a depth ControlNet, so a regenerated scene keeps the input's
perspective and the subject's place in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import PIL.Image
import torch

from ..inpainting import ControlFiller, FillRequest
from ..options import DEFAULT_CONTROLNET_SCALE


@dataclass(frozen=True)
class DepthEstimator:
    """A loaded monocular depth model (any ``AutoModelForDepthEstimation``: DPT, Depth Anything)."""

    processor: Any  # a transformers image processor
    model: torch.nn.Module
    device: torch.device
    dtype: torch.dtype

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype) -> DepthEstimator:
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        processor = AutoImageProcessor.from_pretrained(source)
        model = AutoModelForDepthEstimation.from_pretrained(source, dtype=dtype).to(device).eval()
        return cls(processor, model, device, dtype)

    @torch.inference_mode()
    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Relative depth of an HxWx3 ``uint8`` image.

        Returns:
            HxW float32 in [0, 1], near = 1 (the convention depth ControlNets are trained on).
        """
        height, width = rgb.shape[:2]
        inputs = self.processor(images=PIL.Image.fromarray(rgb), return_tensors="pt")
        outputs = self.model(pixel_values=inputs["pixel_values"].to(self.device, self.dtype))
        depth = self.processor.post_process_depth_estimation(outputs, target_sizes=[(height, width)])[0]
        depth = depth["predicted_depth"].float().cpu().numpy().reshape(height, width)  # 1-px sides get squeezed
        low, high = float(depth.min()), float(depth.max())
        return ((depth - low) / (high - low) if high > low else np.zeros_like(depth)).astype(np.float32)


def depth_image(depth: np.ndarray) -> np.ndarray:
    """A depth map in [0, 1] as the HxWx3 ``uint8`` picture a depth ControlNet takes."""
    return np.repeat(np.rint(depth * 255.0).astype(np.uint8)[..., None], 3, axis=2)


@dataclass(frozen=True)
class DepthControlled:
    """A :class:`~textinpaint.inpainting.Filler` that paints under a depth map of each crop, through
    any :class:`~textinpaint.inpainting.ControlFiller` (the diffusers inpainter with its ControlNet)."""

    inpainter: ControlFiller
    depth: DepthEstimator
    controlnet_scale: float = DEFAULT_CONTROLNET_SCALE

    @property
    def native_size(self) -> int:
        return self.inpainter.native_size

    def __call__(self, crop: np.ndarray, mask: np.ndarray, request: FillRequest) -> np.ndarray:
        return self.fill_many([crop], [mask], [request])[0]

    def fill_many(
        self, crops: list[np.ndarray], masks: list[np.ndarray], requests: list[FillRequest]
    ) -> list[np.ndarray]:
        controls = [depth_image(self.depth(crop)) for crop in crops]
        return self.inpainter.fill_controlled(crops, masks, requests, controls, self.controlnet_scale)
