"""Few-step painting (``fast=True``): a distilled LoRA (LCM-LoRA) fused into a copy of the UNet.

LCM-LoRA (Luo et al., 2023) turns Stable Diffusion 1.5 or SDXL into a latent consistency model
that paints in 4 to 8 steps, with its own scheduler (``LCMScheduler``) and classifier-free guidance
off or low (1.0 to 2.0, its model card says); textinpaint uses 4 steps and guidance 1.0, which
also halves each step's work (no unconditional pass).

The LoRA is read here once, with diffusers' own reader (``lora_state_dict``: safetensors, never a
pickle). It is fused into a *copy* of the inpainter's UNet the first time a fast edit runs
(:meth:`textinpaint.backends.diffusion.DiffusersInpainter.fast_unet`), so the shared model, which other
threads may be painting with at full steps, is never changed; the copy costs one UNet of memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import MissingDependencyError, ModelKindError, WeightsNotFoundError

# What a few-step LoRA expects, used when the user leaves steps and guidance at their defaults.
FAST_STEPS = 4
FAST_GUIDANCE = 1.0
# The most steps a few-step LoRA is meant for (LCM-LoRA's card: 2 to 8).
FAST_MAX_STEPS = 8
_WEIGHTS = "pytorch_lora_weights.safetensors"


@dataclass(frozen=True)
class FewStepLora:
    """A few-step LoRA, read and ready to fuse.

    Attributes:
        source: where it was read from.
        state_dict: its UNet LoRA weights (diffusers' key layout), on the CPU.
        network_alphas: the LoRA alphas, when the file has them.
        scheduler: the diffusers scheduler class it was distilled for.
    """

    source: str
    state_dict: dict[str, torch.Tensor] = field(repr=False)
    network_alphas: dict[str, float] | None = field(default=None, repr=False)
    scheduler: str = "LCMScheduler"

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype) -> FewStepLora:
        """Read a LoRA from a Hub id, a folder holding ``pytorch_lora_weights.safetensors``, or that file."""
        from diffusers.loaders import StableDiffusionLoraLoaderMixin

        path = Path(source)
        location, options = (str(path.parent), {"weight_name": path.name}) if path.is_file() else (source, {})
        if path.is_dir() and not (path / _WEIGHTS).is_file() and not list(path.glob("*.safetensors")):
            raise WeightsNotFoundError("fast", source, f"the folder holds no {_WEIGHTS}")
        try:
            state, alphas = StableDiffusionLoraLoaderMixin.lora_state_dict(location, **options)
        except (OSError, ValueError, KeyError) as error:
            raise ModelKindError(f"fast={source!r} is not a LoRA diffusers can read ({error})") from error
        text_keys = [key for key in state if key.startswith(("text_encoder", "te_", "lora_te"))]
        if text_keys:
            raise ModelKindError(
                f"fast={source!r} also changes the text encoder ({text_keys[0]}, ...); textinpaint fuses "
                "UNet LoRAs only, as few-step LoRAs are"
            )
        if not state:
            raise ModelKindError(f"fast={source!r} holds no LoRA weights")
        return cls(source, {k: v.to("cpu") for k, v in state.items()}, alphas)

    def cross_attention_width(self) -> int | None:
        """How wide the text features the LoRA's cross-attention reads are (its base model's
        architecture: 768 for SD 1.5, 1024 for SD 2, 2048 for SDXL), read off its weights."""
        for key, tensor in self.state_dict.items():
            if "attn2.to_k" in key and any(part in key for part in ("lora.down", "lora_A", "lora_down")):
                return int(tensor.shape[-1])
        return None

    def fuse_into(self, unet: Any, pipeline_class: Any) -> None:
        """Fuse into ``unet`` (a copy: this changes its weights) and drop the LoRA layers.

        Raises:
            ModelKindError: the LoRA was made for another architecture: its cross-attention width
                differs from the UNet's config (an SD 1.5 LoRA on SD 2, say).
        """
        width, expected = self.cross_attention_width(), unet.config.get("cross_attention_dim")
        if width is not None and isinstance(expected, int) and width != expected:
            raise ModelKindError(
                f"the few-step LoRA {self.source!r} does not fit this inpainter: it was made for a UNet whose "
                f"cross-attention reads {width}-wide "
                f"text features; this inpainter's reads {expected} (LCM-LoRAs exist for SD 1.5, 768, and SDXL, "
                "2048; SD 2 has none): leave fast=False"
            )
        try:
            pipeline_class.load_lora_into_unet(
                dict(self.state_dict), network_alphas=self.network_alphas, unet=unet, adapter_name="fast"
            )
        except ValueError as error:
            if "PEFT" in str(error):
                raise MissingDependencyError(
                    'fast=True loads a LoRA, which needs peft: pip install "textinpaint[fast]"'
                ) from error
            raise ModelKindError(f"the few-step LoRA {self.source!r} does not fit this inpainter ({error})") from error
        except RuntimeError as error:  # size mismatch: a LoRA for another base model
            raise ModelKindError(
                f"the few-step LoRA {self.source!r} does not fit this inpainter's UNet; LCM-LoRAs exist for "
                f"SD 1.5 (lcm-sd15) and SDXL (lcm-sdxl) ({str(error).splitlines()[0]})"
            ) from error
        if not getattr(unet, "peft_config", None):
            raise ModelKindError(f"the few-step LoRA {self.source!r} matched none of this inpainter's UNet layers")
        unet.fuse_lora(lora_scale=1.0)
        unet.unload_lora()
