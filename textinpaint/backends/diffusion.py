"""Diffusers pipelines as fillers: inpaint a crop, optionally under a ControlNet, refine, upscale.

The shared pipeline is never called directly. Each call builds a light pipeline object over the
same modules (its own scheduler and call state), so one loaded model serves several threads; a
ControlNet pipeline is built the same way around the same UNet, VAE and text encoder.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import numpy as np
import PIL.Image
import torch

from ..abilities import Abilities
from ..errors import InvalidInputError, ModelKindError
from ..events import report_step
from ..inpainting import FillRequest, generation_size, resize, shrink_any
from ..models import variant_options
from ..options import Speed
from ..schedulers import SCHEDULERS, scheduler_key
from ..store import thread_copy
from .fast import FewStepLora

# diffusers pipelines carry their modules (unet, vae, scheduler...) as attributes registered at run
# time, which no type checker sees; they are typed Any here.
DiffusionPipeline = Any

logger = logging.getLogger(__name__)

# The refine pass repaints at this many times the first pass's side, with this little strength:
# enough resolution to add detail, little enough change to keep what the first pass painted.
REFINE_SCALE = 1.5
REFINE_STRENGTH = 0.3
# The x4 upscaler's attention grows fast with its input; inputs are capped at this side.
_UPSCALER_MAX_INPUT = 512
# Base inpainting pipeline class -> its ControlNet counterpart in diffusers.
_CONTROLNET_PIPELINES = {
    "StableDiffusionInpaintPipeline": "StableDiffusionControlNetInpaintPipeline",
    "StableDiffusionXLInpaintPipeline": "StableDiffusionXLControlNetInpaintPipeline",
}


def optimize(pipe: DiffusionPipeline, speed: Speed, device: torch.device) -> None:
    """Apply ``speed`` to a freshly loaded pipeline (never to one in use: it changes the modules)."""
    if speed.offload:
        if device.type != "cuda":
            raise InvalidInputError(f"offload=True needs a CUDA device; got device={device}")
        pipe.enable_model_cpu_offload(device=device)
    if speed.vae_tiling:
        pipe.vae.enable_tiling()
    if speed.channels_last:
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
    if speed.compile:
        pipe.unet = torch.compile(pipe.unet)
        pipe.vae.decoder = torch.compile(pipe.vae.decoder)


@dataclass(frozen=True)
class DiffusionPainter:
    """What every diffusers inpainting pipeline shares as a :class:`~textinpaint.inpainting.Filler`:
    crops grouped by size into batched runs, the refine and upscale passes, text to image.

    Each backend (:class:`DiffusersInpainter` for Stable Diffusion, :class:`~textinpaint.backends.flux.FluxInpainter`
    for FLUX.1 Fill) is a sibling subclass: it declares its :class:`~textinpaint.abilities.Abilities`
    and its model ``family``, and implements one denoising run (``_pass``), its ``native_size``
    and its side ``_grid``. ``upscaler`` is attached with :meth:`with_extras`.
    """

    pipe: DiffusionPipeline
    upscaler: DiffusionPipeline | None = None

    abilities: ClassVar[Abilities] = Abilities()
    # What with_extras may attach (each backend adds its own).
    extras: ClassVar[frozenset[str]] = frozenset({"upscaler"})

    @property
    def family(self) -> str | None:
        """The model family, read off the loaded pipeline's class (``"sd"``, ``"sdxl"``, ``"flux"``)."""
        from ..stages import STAGES

        kind = type(self.pipe).__name__
        for backend in STAGES["inpainter"].backends:
            found = backend.family(kind)
            if found is not None:
                return found
        return None

    def with_extras(self, **extras: Any) -> Any:
        """The same painter (same modules and caches) with the named extras attached (see ``extras``)."""
        unknown = set(extras) - self.extras
        if unknown:
            raise TypeError(f"with_extras takes {sorted(self.extras)}; got {sorted(unknown)}")
        return dataclasses.replace(self, **extras, **self._shared())

    def _shared(self) -> dict[str, Any]:
        """The fields a copy made by :meth:`with_extras` shares with this one (caches, locks)."""
        return {}

    @property
    def native_size(self) -> int:
        raise NotImplementedError

    @property
    def _grid(self) -> int:
        raise NotImplementedError

    def _pass(
        self,
        images: list[np.ndarray],
        masks: list[np.ndarray],
        requests: list[FillRequest],
        width: int,
        height: int,
        strength: float,
        *,
        controls: list[np.ndarray] | None = None,
        controlnet_scale: float = 1.0,
    ) -> list[np.ndarray]:
        """One denoising run over a batch at ``width`` x ``height``; returns ``uint8`` pictures of that size."""
        raise NotImplementedError

    def __call__(self, crop: np.ndarray, mask: np.ndarray, request: FillRequest) -> np.ndarray:
        """Paint ``crop`` (HxWx3 ``uint8``) where ``mask`` (HxW ``bool``) is True; returns the crop's shape."""
        return self.fill_many([crop], [mask], [request])[0]

    def fill_many(
        self, crops: list[np.ndarray], masks: list[np.ndarray], requests: list[FillRequest]
    ) -> list[np.ndarray]:
        """:meth:`__call__` for several crops: those painted at the same size with the same settings
        share one denoising run (one batch through the UNet), each with its own prompt and seed."""
        return self._fill(crops, masks, requests, [None] * len(crops), 1.0)

    def _fill(
        self,
        crops: list[np.ndarray],
        masks: list[np.ndarray],
        requests: list[FillRequest],
        controls: list[np.ndarray | None],
        controlnet_scale: float,
    ) -> list[np.ndarray]:
        sizes = [generation_size(m.shape[1], m.shape[0], self.native_size, self._grid) for m in masks]
        groups: dict[tuple, list[int]] = {}
        for i, request in enumerate(requests):
            key = (
                sizes[i],
                request.steps,
                request.guidance,
                request.strength,
                request.scheduler,
                request.fast,
                controls[i] is None,
            )
            groups.setdefault(key, []).append(i)
        results: list[np.ndarray | None] = [None] * len(crops)
        for ((gen_width, gen_height), *_), members in groups.items():
            first = requests[members[0]]
            group_controls = None
            if controls[members[0]] is not None:
                group_controls = [resize(controls[i], gen_width, gen_height) for i in members]  # type: ignore[arg-type]  # this group has controls
            painted = self._pass(
                [crops[i] for i in members],
                [masks[i] for i in members],
                [requests[i] for i in members],
                gen_width,
                gen_height,
                first.strength,
                controls=group_controls,
                controlnet_scale=controlnet_scale,
            )
            for i, picture in zip(members, painted):
                results[i] = self._finish(picture, masks[i], requests[i], controls[i], controlnet_scale)
        return results  # type: ignore[return-value]  # every slot was filled above

    def _finish(
        self,
        painted: np.ndarray,
        mask: np.ndarray,
        request: FillRequest,
        control: np.ndarray | None,
        controlnet_scale: float,
    ) -> np.ndarray:
        """The optional refine and upscale passes, then back to the crop's size."""
        height, width = mask.shape
        gen_height, gen_width = painted.shape[:2]
        if request.refine:
            scale = min(REFINE_SCALE, max(1.0, width / gen_width, height / gen_height))
            multiple = self._grid
            fine_width, fine_height = (
                round(gen_width * scale / multiple) * multiple,
                round(gen_height * scale / multiple) * multiple,
            )
            # diffusers runs steps * strength of the schedule: keep at least one.
            fine_request = dataclasses.replace(request, steps=max(request.steps, math.ceil(1 / REFINE_STRENGTH)))
            fine_controls = None if control is None else [resize(control, fine_width, fine_height)]
            painted = self._pass(
                [resize(painted, fine_width, fine_height)],
                [mask],
                [fine_request],
                fine_width,
                fine_height,
                REFINE_STRENGTH,
                controls=fine_controls,
                controlnet_scale=controlnet_scale,
            )[0]
        if request.upscale:
            painted = self._upscale(painted, request)
        return resize(painted, width, height)

    def generate(self, request: FillRequest, width: int, height: int) -> np.ndarray:
        """Text to image with the same weights: inpaint a blank canvas under a full mask.

        Returns:
            ``height`` x ``width`` x 3 ``uint8``.
        """
        multiple = self._grid
        gen_width, gen_height = (
            max(multiple, round(width / multiple) * multiple),
            max(multiple, round(height / multiple) * multiple),
        )
        canvas = np.full((gen_height, gen_width, 3), 127, np.uint8)
        full = np.ones((gen_height, gen_width), bool)
        painted = self._pass(
            [canvas], [full], [dataclasses.replace(request, strength=1.0)], gen_width, gen_height, 1.0
        )[0]
        if request.upscale:
            painted = self._upscale(painted, request)
        return resize(painted, width, height)

    def _upscale(self, painted: np.ndarray, request: FillRequest) -> np.ndarray:
        """Enlarge ``painted`` ``request.upscale`` times with the x4 diffusion upscaler."""
        if self.upscaler is None:
            raise InvalidInputError("upscale was asked for but no upscaler is attached")
        height, width = painted.shape[:2]
        # The x4 model always enlarges 4x: for 2x it is fed a half-size picture.
        shrink = max(4 / (request.upscale or 4), max(width, height) / _UPSCALER_MAX_INPUT)
        small = resize(painted, max(8, round(width / shrink)), max(8, round(height / shrink)))
        pipe = call_copy(self.upscaler, self.upscaler.scheduler.from_config(self.upscaler.scheduler.config))
        result = pipe(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or None,
            image=PIL.Image.fromarray(small),
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
            generator=torch.Generator("cpu").manual_seed(request.seed),
            output_type="np",
        ).images[0]
        return np.rint(np.clip(result, 0.0, 1.0) * 255.0).astype(np.uint8)


@dataclass(frozen=True)
class DiffusersInpainter(DiffusionPainter):
    """A diffusers Stable Diffusion inpainting pipeline (SD 1.5, SD 2, SDXL) as a
    :class:`~textinpaint.inpainting.Filler`.

    ``controlnet``, ``upscaler`` and ``fast`` are attached with :meth:`with_extras`; the copy
    shares every module with the original.
    """

    controlnet: torch.nn.Module | None = None
    fast: FewStepLora | None = None

    abilities: ClassVar[Abilities] = Abilities(
        name="Stable Diffusion",
        negative_prompt=True,
        scheduler=True,
        fast=True,
        control=True,
        upscale=True,
        generate=True,
        batch=True,
    )
    extras: ClassVar[frozenset[str]] = frozenset({"controlnet", "upscaler", "fast"})
    # SDXL pipelines cast their VAE to fp32 and back while encoding when it runs in fp16; that
    # changes a shared module, so such calls take turns.
    _lock: threading.Lock | None = field(default=None, compare=False)
    # A float32 copy of the VAE, made the first time a low-precision decode overflows.
    _fp32_vae_holder: list = field(default_factory=list, compare=False, repr=False)
    _fp32_vae_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    # UNet copies with a few-step LoRA fused in, one per LoRA (the shared UNet is never changed).
    _fast_unets: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(
        cls, source: str, device: torch.device, dtype: torch.dtype, speed: Speed | None = None
    ) -> DiffusersInpainter:
        from diffusers import AutoPipelineForInpainting

        pipe = AutoPipelineForInpainting.from_pretrained(
            source, dtype=dtype, **variant_options("inpainter", source, dtype)
        )
        if not (speed and speed.offload):
            pipe = pipe.to(device)
        if (
            type(pipe).__name__ not in _CONTROLNET_PIPELINES
            or type(getattr(pipe, "vae", None)).__name__ != "AutoencoderKL"
        ):
            raise ModelKindError(
                f"inpainter={source!r} loads as {type(pipe).__name__}; textinpaint paints with UNet-based "
                "Stable Diffusion inpainting pipelines (SD 1.5, SD 2, SDXL and their fine-tunes)"
            )
        pipe.set_progress_bar_config(disable=True)
        optimize(pipe, speed or Speed(), device)
        upcasts = "XL" in type(pipe).__name__ and pipe.vae.config.get("force_upcast", False)
        return cls(pipe, _lock=threading.Lock() if upcasts and dtype == torch.float16 else None)

    def _shared(self) -> dict[str, Any]:
        # the same lock, fp32 rescue and fused copies as the original
        return {
            "_fp32_vae_holder": self._fp32_vae_holder,
            "_fp32_vae_lock": self._fp32_vae_lock,
            "_fast_unets": self._fast_unets,
        }

    def fast_unet(self) -> torch.nn.Module:
        """A copy of the UNet with the attached few-step LoRA fused in, made once per LoRA.

        The shared UNet is never changed, so edits at full steps in other threads are unaffected.
        """
        if self.fast is None:
            raise InvalidInputError("fast=True needs a few-step LoRA attached (with_extras(fast=...))")
        shared = self.pipe.unet
        if getattr(shared, "_hf_hook", None) is not None:
            raise InvalidInputError(
                "fast=True fuses the LoRA into a copy of the UNet, which model offload (offload=True) "
                "cannot hold: use one or the other"
            )
        with self._fp32_vae_lock:
            unet = self._fast_unets.get(id(self.fast))
            if unet is None or unet[0] is not self.fast:
                compiled = hasattr(shared, "_orig_mod")  # torch.compile's wrapper: copy the module inside
                copied = copy.deepcopy(shared._orig_mod if compiled else shared)
                self.fast.fuse_into(copied, type(self.pipe))
                fused = torch.compile(copied.eval()) if compiled else copied.eval()
                unet = self._fast_unets[id(self.fast)] = (self.fast, fused)
            return cast(torch.nn.Module, unet[1])  # torch.compile of a module is a module

    @property
    def native_size(self) -> int:
        return int(self.pipe.unet.config.sample_size * self.pipe.vae_scale_factor)

    @property
    def _grid(self) -> int:
        """Sides are multiples of this: the VAE's factor, and 8 at least (the pipelines require it)."""
        return max(8, int(self.pipe.vae_scale_factor))

    def fill_controlled(
        self,
        crops: list[np.ndarray],
        masks: list[np.ndarray],
        requests: list[FillRequest],
        controls: list[np.ndarray],
        controlnet_scale: float,
    ) -> list[np.ndarray]:
        """:meth:`fill_many` under the attached ControlNet: ``controls`` are HxWx3 ``uint8``
        conditions (depth maps) aligned with the crops."""
        if self.controlnet is None:
            raise InvalidInputError("a control image was given but no ControlNet is attached (with_extras)")
        return self._fill(crops, masks, requests, list(controls), controlnet_scale)

    def _pass(
        self,
        images: list[np.ndarray],
        masks: list[np.ndarray],
        requests: list[FillRequest],
        width: int,
        height: int,
        strength: float,
        *,
        controls: list[np.ndarray] | None = None,
        controlnet_scale: float = 1.0,
    ) -> list[np.ndarray]:
        """One denoising run over a batch at ``width`` x ``height``; returns ``uint8`` pictures of that size."""
        pipe = self._pipeline_for_call(
            requests[0].scheduler, with_controlnet=controls is not None, fast=requests[0].fast
        )
        arguments = call_arguments(images, masks, requests, width, height, strength)
        arguments.update(negative_prompt=[r.negative_prompt for r in requests], output_type="latent")
        if controls is not None:
            arguments.update(
                control_image=[PIL.Image.fromarray(c) for c in controls], controlnet_conditioning_scale=controlnet_scale
            )
        report_steps(arguments)
        if self._lock is None:
            latents = pipe(**arguments).images
        else:
            with self._lock:
                latents = pipe(**arguments).images
        decoded = [self._decode(pipe, latents[i : i + 1]) for i in range(len(requests))]
        return [np.rint(np.clip(d, 0.0, 1.0) * 255.0).astype(np.uint8) for d in decoded]

    def _pipeline_for_call(
        self, scheduler: str | None = None, *, with_controlnet: bool = False, fast: bool = False
    ) -> DiffusionPipeline:
        """A new pipeline object over the same modules, with its own scheduler; with ``fast``,
        over the UNet with the few-step LoRA fused in and that LoRA's scheduler.

        (``DiffusionPipeline.from_pipe`` is not used: it casts the shared modules with ``.to()``.)
        """
        import diffusers

        config = self.pipe.scheduler.config
        extra_modules: dict[str, Any] = {}
        if fast:
            extra_modules["unet"] = self.fast_unet()
            fresh = getattr(diffusers, self.fast.scheduler).from_config(config)  # type: ignore[union-attr]  # fast_unet checked it
        elif scheduler is None:
            fresh = self.pipe.scheduler.from_config(config)
        else:
            class_name, extra = SCHEDULERS[scheduler_key(scheduler)]
            fresh = getattr(diffusers, class_name).from_config(config, **extra)
        if not with_controlnet:
            return call_copy(self.pipe, fresh, **extra_modules)
        controlnet_class = getattr(diffusers, _CONTROLNET_PIPELINES[type(self.pipe).__name__])
        return call_copy(self.pipe, fresh, cls=controlnet_class, controlnet=self.controlnet, **extra_modules)

    def _decode(self, pipe: DiffusionPipeline, latents: torch.Tensor) -> np.ndarray:
        """Latents to an HxWx3 float image in [0, 1], as the pipeline would, with an fp32 rescue.

        A float16 VAE can overflow (NaN, a black picture). Then the latents are decoded again by a
        float32 copy of the VAE, and a warning says so; the shared VAE is never cast.
        """
        image = _vae_decode(self.pipe.vae, latents)
        if not torch.isfinite(image).all():
            logger.warning("the %s VAE decode gave NaN or inf; decoding again in float32", self.pipe.vae.dtype)
            image = _vae_decode(self._fp32_vae(), latents)
        flagged = None
        if getattr(pipe, "safety_checker", None) is not None:
            image, flagged = pipe.run_safety_checker(image, image.device, image.dtype)
            if any(flagged):
                logger.warning("the model's safety checker replaced the painted region with black")
        if getattr(pipe, "watermark", None) is not None:
            image = pipe.watermark.apply_watermark(image)
        denormalize = None if flagged is None else [not f for f in flagged]
        return pipe.image_processor.postprocess(image.float(), output_type="np", do_denormalize=denormalize)[0]

    def _fp32_vae(self) -> torch.nn.Module:
        with self._fp32_vae_lock:
            if not self._fp32_vae_holder:
                self._fp32_vae_holder.append(copy.deepcopy(self.pipe.vae).to(torch.float32))
            return self._fp32_vae_holder[0]


def call_arguments(
    images: list[np.ndarray],
    masks: list[np.ndarray],
    requests: list[FillRequest],
    width: int,
    height: int,
    strength: float,
) -> dict[str, Any]:
    """What every inpainting pipeline call takes for one batch: prompts, the pictures and masks at
    ``width`` x ``height`` (a pixel any part of which is masked counts as masked), the first
    request's steps and guidance, ``strength``, and one seeded CPU generator per request."""
    small_masks = [shrink_any(m, width, height) for m in masks]
    return dict(
        prompt=[r.prompt for r in requests],
        image=[PIL.Image.fromarray(resize(image, width, height)) for image in images],
        mask_image=[PIL.Image.fromarray(m.astype(np.uint8) * 255) for m in small_masks],
        height=height,
        width=width,
        num_inference_steps=requests[0].steps,
        guidance_scale=requests[0].guidance,
        strength=strength,
        generator=[torch.Generator("cpu").manual_seed(r.seed) for r in requests],
    )


def report_steps(arguments: dict[str, Any]) -> None:
    """Have a diffusers call report each finished step (:func:`textinpaint.events.report_step`)."""

    def on_step(call: Any, step: int, timestep: Any, tensors: dict) -> dict:
        report_step(step + 1, int(call.num_timesteps))
        return tensors

    arguments["callback_on_step_end"] = on_step


def call_copy(
    pipe: DiffusionPipeline, scheduler: object, *, cls: type | None = None, **extra: object
) -> DiffusionPipeline:
    """A pipeline of class ``cls`` (default: ``pipe``'s) over ``pipe``'s modules and settings."""
    cls = cls or type(pipe)
    init = inspect.signature(cls).parameters
    components = {
        k: thread_copy(v) if k.startswith("tokenizer") and v is not None else v  # tokenizers are stateful
        for k, v in pipe.components.items()
        if k in init
    }
    settings = {k: pipe.config[k] for k in init if k not in components and k in pipe.config and k not in extra}
    copy_ = cls(**{**components, **settings, **extra, "scheduler": scheduler})
    copy_.set_progress_bar_config(disable=True)
    return copy_


def _vae_decode(vae: Any, latents: torch.Tensor) -> torch.Tensor:
    """Undo the latent scaling (SDXL's mean/std where the config has them) and decode."""
    latents = latents.to(vae.device, vae.dtype)
    mean, std = vae.config.get("latents_mean"), vae.config.get("latents_std")
    if mean is not None and std is not None:
        mean = torch.tensor(mean).view(1, -1, 1, 1).to(latents)
        std = torch.tensor(std).view(1, -1, 1, 1).to(latents)
        latents = latents * std / vae.config.scaling_factor + mean
    else:
        latents = latents / vae.config.scaling_factor
    with torch.inference_mode():
        return vae.decode(latents, return_dict=False)[0]


def load_controlnet(source: str, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """A diffusers ``ControlNetModel`` from a Hub id or folder."""
    from diffusers import ControlNetModel

    options = variant_options("controlnet", source, dtype)
    return ControlNetModel.from_pretrained(source, dtype=dtype, **options).to(device).eval()


def load_upscaler(source: str, device: torch.device, dtype: torch.dtype) -> DiffusionPipeline:
    """A diffusers upscaler pipeline (``StableDiffusionUpscalePipeline``) from a Hub id or folder."""
    from diffusers import StableDiffusionUpscalePipeline

    options = variant_options("upscaler", source, dtype)
    pipe = StableDiffusionUpscalePipeline.from_pretrained(source, dtype=dtype, **options).to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe
