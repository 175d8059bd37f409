"""The one table of stages: what each stage is, its models, and how each kind of model loads.

Everything that lists stages or models reads this table: :class:`~textinpaint.Pipeline`'s
per-stage access, the CLI's model flags, ``textinpaint info`` and ``download``, the app, and the
weights guide's table (``python -m textinpaint.stages`` prints it).

A *backend* is one kind of model for a stage (GroundingDINO for the detector, transformers SAM or
Meta's original SAM for the segmenter, ...). Adding one is one :class:`Backend` entry here (and a
:class:`Model` row for each short name) plus its loader file. Which backend loads a source is
read off the source: a short name names it, a file's suffix or a folder's ``config.json`` /
``model_index.json`` tells it, and a Hub id that is not cached takes the stage's first backend.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from .abilities import Abilities


@dataclass(frozen=True)
class Backend:
    """One kind of model a stage can run.

    Attributes:
        name: a short label (``"grounding-dino"``).
        loader: ``"module:Class.method"`` or ``"module:function"`` inside textinpaint, called as
            ``loader(source, device, dtype)`` (imported only when a model loads).
        kinds: what a folder's ``config.json`` says (``model_type``, or diffusers' ``_class_name``),
            or, for whole pipelines, ``model_index.json``'s ``_class_name``.
        index: True when the model is a diffusers pipeline folder (``model_index.json``).
        suffixes: file suffixes this backend loads (``".pth"``), for single-file models.
        files: file names looked for in a folder or Hub repository, for single-file models.
        families: the model family each config class name means (``"sdxl"`` for SDXL's
            inpainting pipeline), which other stages' defaults follow (see :attr:`Stage.follows`).
        tiny: the writer of a tiny random-weight model of this backend in its real on-disk layout
            (what the zoo and the tests load offline): a function's name in :mod:`textinpaint.testing`,
            or ``"module:function"`` inside textinpaint (a backend file's own ``write_tiny``).
        scheme: for a backend whose weights live outside the Hugging Face Hub, the prefix of the
            sources naming them (``"rembg"`` for ``rembg:u2net``); its class declares ``locate``
            (the file on this machine, or None), ``fetch`` (download it) and ``host`` (where from).

    What a backend can do (its :class:`~textinpaint.abilities.Abilities`, whether a detector gives
    masks) is declared in its own file, on the class that loads it: :meth:`owner` finds it.
    """

    name: str
    loader: str
    kinds: frozenset[str] = frozenset()
    index: bool = False
    suffixes: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    families: tuple[tuple[str, str], ...] = ()
    tiny: str = ""
    scheme: str = ""

    def load_function(self) -> Callable[..., object]:
        """The loader, imported now."""
        module, _, attribute = self.loader.partition(":")
        target: object = importlib.import_module(f"textinpaint.{module}")
        for part in attribute.split("."):
            target = getattr(target, part)
        return target  # type: ignore[return-value]  # a loader entry always names a callable

    def owner(self) -> object:
        """The class (or module) the loader belongs to, imported now: where the backend declares
        what it can do."""
        module, _, attribute = self.loader.partition(":")
        target: object = importlib.import_module(f"textinpaint.{module}")
        for part in attribute.split(".")[:-1]:
            target = getattr(target, part)
        return target

    def abilities(self) -> Abilities:
        """What a painter of this backend can do, as its file declares (the generic default else)."""
        declared = getattr(self.owner(), "abilities", None)
        return declared if isinstance(declared, Abilities) else Abilities()

    def family(self, kind: str | None) -> str | None:
        """The family a config class name (``model_index.json``'s ``_class_name``) means, if any."""
        return dict(self.families).get(kind or "")


@dataclass(frozen=True)
class Model:
    """A model known by a short name.

    Attributes:
        name: the short name (``"tiny"``).
        repo: its Hugging Face Hub id.
        backend: the name of the :class:`Backend` that loads it.
        size: the download size of the files textinpaint reads, for the weights guide.
        licence: the weights' licence.
        note: a few words for the weights guide ("for SDXL inpainters").
        family: the model family (``"sdxl"``), for the stages whose default follows it.
        tiny: the tiny writer of this short name when it differs from its backend's (SDXL's).
    """

    name: str
    repo: str
    backend: str
    size: str
    licence: str
    note: str = ""
    family: str = ""
    tiny: str = ""

    @property
    def non_commercial(self) -> bool:
        """Whether the weights' licence forbids commercial use (said wherever users pick a model)."""
        return "Non-Commercial" in self.licence or "-NC-" in self.licence


@dataclass(frozen=True)
class Stage:
    """One stage of the chain.

    Attributes:
        name: the stage (``"detector"``); also the ``models=DIR`` subfolder and the CLI flag.
        summary: what it does, for help texts and the docs.
        default: the short name used when none is given.
        models: the models known by short name.
        backends: the kinds of model it runs; the first is assumed for an uncached Hub id.
        flag: the CLI flag naming it (``--depth-model`` for ``depth``, which ``--depth`` would clash with).
        used_by: the workflows that load it, for the docs and ``download``'s default.
        download: the file patterns ``download`` fetches (the files from_pretrained reads); a
            diffusers pipeline is fetched by diffusers' own ``DiffusionPipeline.download`` instead.
        follows_stage: the stage whose model family picks this stage's default (``"inpainter"``).
        follows: family -> the short name used by default with it (``{"sdxl": "sdxl-depth"}``).
    """

    name: str
    summary: str
    default: str
    models: tuple[Model, ...]
    backends: tuple[Backend, ...]
    flag: str = ""
    used_by: str = ""
    download: tuple[str, ...] = ("*.json", "*.txt", "*.model", "*.safetensors")
    follows_stage: str = "inpainter"
    follows: dict[str, str] = field(default_factory=dict)
    names: dict[str, Model] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", {model.name: model for model in self.models})
        object.__setattr__(self, "flag", self.flag or f"--{self.name}")

    def backend(self, name: str) -> Backend:
        return next(backend for backend in self.backends if backend.name == name)

    @property
    def default_repo(self) -> str:
        return self.names[self.default].repo


_SD_FAMILIES = (("StableDiffusionInpaintPipeline", "sd"), ("StableDiffusionXLInpaintPipeline", "sdxl"))
_SD_PIPELINES = frozenset(kind for kind, _ in _SD_FAMILIES)

# The model files a subject folder may hold: rembg's session names (each runs in that session; the
# rembg backend runs exactly these), or model.onnx (rembg's u2net_custom session).
_REMBG_FILES = (
    "birefnet-general",
    "birefnet-general-lite",
    "birefnet-portrait",
    "birefnet-dis",
    "birefnet-hrsod",
    "birefnet-massive",
    "isnet-general-use",
    "isnet-anime",
    "u2net",
    "u2netp",
    "u2net_human_seg",
    "silueta",
    "bria-rmbg",
    "model",
)

STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage(
            "detector",
            "finds objects from text (open-vocabulary detection)",
            "tiny",
            (
                Model("tiny", "IDEA-Research/grounding-dino-tiny", "grounding-dino", "0.7 GB", "Apache-2.0"),
                Model("base", "IDEA-Research/grounding-dino-base", "grounding-dino", "0.9 GB", "Apache-2.0"),
                Model(
                    "mm-tiny",
                    "openmmlab-community/mm_grounding_dino_tiny_o365v1_goldg_v3det",
                    "grounding-dino",
                    "0.7 GB",
                    "Apache-2.0",
                    "MM-GroundingDINO: better zero-shot detection than GroundingDINO at the same size",
                    tiny="write_mm_detector",
                ),
                Model(
                    "mm-base",
                    "openmmlab-community/mm_grounding_dino_base_all",
                    "grounding-dino",
                    "0.9 GB",
                    "Apache-2.0",
                    "MM-GroundingDINO",
                    tiny="write_mm_detector",
                ),
                Model(
                    "mm-large",
                    "openmmlab-community/mm_grounding_dino_large_all",
                    "grounding-dino",
                    "1.2 GB",
                    "Apache-2.0",
                    "MM-GroundingDINO",
                    tiny="write_mm_detector",
                ),
                Model(
                    "owlv2",
                    "google/owlv2-base-patch16-ensemble",
                    "owlv2",
                    "0.6 GB",
                    "Apache-2.0",
                    "OWLv2: scores run lower; try box_threshold 0.1-0.3",
                ),
                Model(
                    "sam3",
                    "facebook/sam3",
                    "sam3",
                    "3.4 GB",
                    "SAM License",
                    "SAM 3: text to instance masks in one pass; the segmenter is skipped",
                ),
            ),
            (
                Backend(
                    "grounding-dino",
                    "backends.detection:GroundingDino.load",
                    frozenset({"grounding-dino", "mm-grounding-dino"}),
                    tiny="write_detector",
                ),
                Backend("owlv2", "backends.owl:Owl.load", frozenset({"owlv2"}), tiny="write_owlv2"),
                Backend("sam3", "backends.sam3:Sam3.load", frozenset({"sam3", "sam3_video"}), tiny="write_sam3"),
            ),
            used_by="every workflow that finds by text",
        ),
        Stage(
            "segmenter",
            "cuts each found box out as a mask",
            "huge",
            (
                Model("base", "facebook/sam-vit-base", "sam", "0.4 GB", "Apache-2.0"),
                Model("large", "facebook/sam-vit-large", "sam", "1.2 GB", "Apache-2.0"),
                Model("huge", "facebook/sam-vit-huge", "sam", "2.6 GB", "Apache-2.0"),
                Model(
                    "hq-base",
                    "syscv-community/sam-hq-vit-base",
                    "sam-hq",
                    "0.4 GB",
                    "Apache-2.0",
                    "SAM-HQ: finer edges on hair, fur, fences",
                ),
                Model(
                    "hq-large",
                    "syscv-community/sam-hq-vit-large",
                    "sam-hq",
                    "1.25 GB",
                    "Apache-2.0",
                    "SAM-HQ: finer edges on hair, fur, fences",
                ),
                Model(
                    "hq-huge",
                    "syscv-community/sam-hq-vit-huge",
                    "sam-hq",
                    "2.6 GB",
                    "Apache-2.0",
                    "SAM-HQ: finer edges on hair, fur, fences",
                ),
                Model(
                    "sam2.1-tiny",
                    "facebook/sam2.1-hiera-tiny",
                    "sam2",
                    "0.16 GB",
                    "Apache-2.0",
                    "SAM 2.1: a Hiera encoder, faster than SAM at similar quality",
                ),
                Model("sam2.1-small", "facebook/sam2.1-hiera-small", "sam2", "0.18 GB", "Apache-2.0", "SAM 2.1"),
                Model(
                    "sam2.1-base-plus", "facebook/sam2.1-hiera-base-plus", "sam2", "0.32 GB", "Apache-2.0", "SAM 2.1"
                ),
                Model("sam2.1-large", "facebook/sam2.1-hiera-large", "sam2", "0.9 GB", "Apache-2.0", "SAM 2.1"),
            ),
            (
                Backend("sam", "backends.segmentation:Sam.load", frozenset({"sam"}), tiny="write_segmenter"),
                Backend("sam-hq", "backends.sam_hq:SamHQ.load", frozenset({"sam_hq"}), tiny="write_segmenter_hq"),
                Backend("sam2", "backends.sam2:Sam2.load", frozenset({"sam2"}), tiny="write_sam2"),
                Backend("sam-original", "backends.segmentation:OriginalSam.load", suffixes=(".pth",)),
            ),
            used_by="mask mode (the default) and background replacement",
        ),
        Stage(
            "inpainter",
            "repaints the masked region from a prompt",
            "sd15",
            (
                Model(
                    "sd15",
                    "stable-diffusion-v1-5/stable-diffusion-inpainting",
                    "stable-diffusion",
                    "2.1 GB (fp16)",
                    "CreativeML OpenRAIL-M",
                ),
                Model(
                    "sd2",
                    "stabilityai/stable-diffusion-2-inpainting",
                    "stable-diffusion",
                    "2.6 GB (fp16)",
                    "CreativeML OpenRAIL++-M",
                ),
                Model(
                    "sdxl",
                    "diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
                    "stable-diffusion",
                    "5.1 GB (fp16)",
                    "CreativeML OpenRAIL++-M",
                    family="sdxl",
                    tiny="write_sdxl_inpainter",
                ),
                Model(
                    "flux-fill",
                    "black-forest-labs/FLUX.1-Fill-dev",
                    "flux-fill",
                    "33.7 GB (bf16)",
                    "FLUX.1 [dev] Non-Commercial License",
                    "FLUX.1 Fill [dev]: the strongest open inpainter; bf16, a 24+ GB GPU; non-commercial weights",
                ),
            ),
            (
                Backend(
                    "stable-diffusion",
                    "backends.diffusion:DiffusersInpainter.load",
                    _SD_PIPELINES,
                    index=True,
                    families=_SD_FAMILIES,
                    tiny="write_inpainter",
                ),
                Backend(
                    "flux-fill",
                    "backends.flux:FluxInpainter.load",
                    frozenset({"FluxFillPipeline"}),
                    index=True,
                    families=(("FluxFillPipeline", "flux"),),
                    tiny="write_flux_fill",
                ),
            ),
            used_by="replace, inpaint, background, generate",
        ),
        Stage(
            "controlnet",
            "keeps the scene's layout when the background is repainted (depth)",
            "sd15-depth",
            (
                Model("sd15-depth", "lllyasviel/control_v11f1p_sd15_depth", "controlnet", "1.4 GB", "OpenRAIL"),
                Model(
                    "sdxl-depth",
                    "diffusers/controlnet-depth-sdxl-1.0",
                    "controlnet",
                    "2.5 GB (fp16)",
                    "OpenRAIL++-M",
                    "the default with an SDXL inpainter",
                    tiny="write_sdxl_controlnet",
                ),
            ),
            (
                Backend(
                    "controlnet",
                    "backends.diffusion:load_controlnet",
                    frozenset({"ControlNetModel"}),
                    tiny="write_controlnet",
                ),
            ),
            used_by="background (depth=True)",
            follows={"sdxl": "sdxl-depth"},
        ),
        Stage(
            "depth",
            "estimates depth for the ControlNet",
            "depth-anything-small",
            (
                Model(
                    "depth-anything-small", "depth-anything/Depth-Anything-V2-Small-hf", "depth", "0.1 GB", "Apache-2.0"
                ),
                Model(
                    "depth-anything-base", "depth-anything/Depth-Anything-V2-Base-hf", "depth", "0.4 GB", "CC-BY-NC-4.0"
                ),
                Model("dpt-large", "Intel/dpt-large", "depth", "1.4 GB", "Apache-2.0"),
                Model("dpt-hybrid", "Intel/dpt-hybrid-midas", "depth", "0.5 GB", "Apache-2.0"),
            ),
            (
                Backend(
                    "depth",
                    "backends.depth:DepthEstimator.load",
                    frozenset({"dpt", "depth_anything", "glpn", "zoedepth", "depth_pro", "prompt_depth_anything"}),
                    tiny="write_depth",
                ),
            ),
            flag="--depth-model",
            used_by="background (depth=True)",
        ),
        Stage(
            "remover",
            "fills a removed object's hole with background (LaMa)",
            "big-lama",
            (Model("big-lama", "JosephCatrambone/big-lama-torchscript", "lama", "0.2 GB", "Apache-2.0"),),
            (
                Backend(
                    "lama",
                    "backends.removal:Lama.load",
                    suffixes=(".pt",),
                    files=("big-lama.pt", "lama.pt"),
                    tiny="write_remover",
                ),
            ),
            used_by="remove",
            download=("*.pt",),
        ),
        Stage(
            "upscaler",
            "sharpens a painted region (upscale=2 or 4)",
            "x4",
            (Model("x4", "stabilityai/stable-diffusion-x4-upscaler", "upscaler", "1.7 GB (fp16)", "OpenRAIL++-M"),),
            (
                Backend(
                    "upscaler",
                    "backends.diffusion:load_upscaler",
                    frozenset({"StableDiffusionUpscalePipeline"}),
                    index=True,
                    tiny="write_upscaler",
                ),
            ),
            used_by="upscale=2 or 4",
        ),
        Stage(
            "fast",
            "lets fast=True paint in 4 steps instead of 30 (a few-step LoRA)",
            "lcm-sd15",
            (
                Model(
                    "lcm-sd15", "latent-consistency/lcm-lora-sdv1-5", "lcm-lora", "0.13 GB", "OpenRAIL++-M", "LCM-LoRA"
                ),
                Model(
                    "lcm-sdxl",
                    "latent-consistency/lcm-lora-sdxl",
                    "lcm-lora",
                    "0.39 GB",
                    "OpenRAIL++-M",
                    "LCM-LoRA; the default with an SDXL inpainter",
                    tiny="write_lcm_sdxl",
                ),
            ),
            (
                Backend(
                    "lcm-lora",
                    "backends.fast:FewStepLora.load",
                    suffixes=(".safetensors",),
                    files=("pytorch_lora_weights.safetensors",),
                    tiny="write_lcm_sd15",
                ),
            ),
            flag="--fast-lora",
            used_by="fast=True",
            follows={"sdxl": "lcm-sdxl"},
            download=("pytorch_lora_weights.safetensors",),
        ),
        Stage(
            "subject",
            "finds the salient subject without a prompt (rembg)",
            "birefnet-general",
            (
                Model(
                    "birefnet-general",
                    "rembg:birefnet-general",
                    "rembg",
                    "0.97 GB",
                    "MIT",
                    "BiRefNet: the finest edges",
                ),
                Model(
                    "birefnet-general-lite", "rembg:birefnet-general-lite", "rembg", "0.22 GB", "MIT", "BiRefNet lite"
                ),
                Model("birefnet-portrait", "rembg:birefnet-portrait", "rembg", "0.97 GB", "MIT", "BiRefNet for people"),
                Model("isnet-general-use", "rembg:isnet-general-use", "rembg", "0.18 GB", "Apache-2.0", "IS-Net (DIS)"),
                Model("isnet-anime", "rembg:isnet-anime", "rembg", "0.17 GB", "Apache-2.0", "IS-Net for anime art"),
                Model("u2net", "rembg:u2net", "rembg", "0.18 GB", "Apache-2.0", "U²-Net"),
                Model("u2netp", "rembg:u2netp", "rembg", "0.005 GB", "Apache-2.0", "U²-Net small: fast, coarse edges"),
                Model("u2net-human", "rembg:u2net_human_seg", "rembg", "0.18 GB", "Apache-2.0", "U²-Net for people"),
            ),
            (
                Backend(
                    "rembg",
                    "backends.subject:SalientSubject.load",
                    suffixes=(".onnx",),
                    files=tuple(f"{name}.onnx" for name in _REMBG_FILES),
                    tiny="backends.subject:write_tiny",
                    scheme="rembg",
                ),
            ),
            flag="--subject-model",
            used_by="cutout and background without keep",
            download=("*.onnx",),
        ),
        Stage(
            "matte",
            "softens a subject's edge into an alpha matte (ViTMatte)",
            "small-646",
            (
                Model(
                    "small-646",
                    "hustvl/vitmatte-small-distinctions-646",
                    "vitmatte",
                    "0.1 GB",
                    "Apache-2.0",
                    "trained on real photos' hair and fur",
                ),
                Model("small-1k", "hustvl/vitmatte-small-composition-1k", "vitmatte", "0.1 GB", "Apache-2.0"),
                Model("base-646", "hustvl/vitmatte-base-distinctions-646", "vitmatte", "0.39 GB", "Apache-2.0"),
                Model("base-1k", "hustvl/vitmatte-base-composition-1k", "vitmatte", "0.39 GB", "Apache-2.0"),
            ),
            (
                Backend(
                    "vitmatte",
                    "backends.matting:ViTMatte.load",
                    frozenset({"vitmatte"}),
                    tiny="backends.matting:write_tiny",
                ),
            ),
            flag="--matte-model",
            used_by="cutout and background (matte)",
        ),
        Stage(
            "tracker",
            "follows found or clicked objects through a clip's frames (SAM 2.1 video)",
            "sam2.1-tiny",
            (
                Model("sam2.1-tiny", "facebook/sam2.1-hiera-tiny", "sam2-video", "0.16 GB", "Apache-2.0"),
                Model("sam2.1-small", "facebook/sam2.1-hiera-small", "sam2-video", "0.18 GB", "Apache-2.0"),
                Model("sam2.1-base-plus", "facebook/sam2.1-hiera-base-plus", "sam2-video", "0.32 GB", "Apache-2.0"),
                Model("sam2.1-large", "facebook/sam2.1-hiera-large", "sam2-video", "0.9 GB", "Apache-2.0"),
                Model(
                    "sam3-video",
                    "facebook/sam3",
                    "sam3-video",
                    "3.4 GB",
                    "SAM License",
                    "SAM 3 video: finds every instance of the text itself, on every frame; text only",
                ),
            ),
            (
                Backend(
                    "sam2-video",
                    "backends.tracking:Sam2Tracker.load",
                    frozenset({"sam2_video"}),
                    tiny="backends.tracking:write_tiny",
                ),
                Backend(
                    "sam3-video",
                    "backends.sam3_video:Sam3VideoTracker.load",
                    frozenset({"sam3_video"}),
                    tiny="backends.sam3_video:write_tiny",
                ),
            ),
            flag="--tracker",
            used_by="video track, remove, replace and background",
        ),
        Stage(
            "video_painter",
            "repaints a region of a clip from a prompt, consistent over time (Wan 2.1 VACE)",
            "vace-1.3b",
            (
                Model(
                    "vace-1.3b",
                    "Wan-AI/Wan2.1-VACE-1.3B-diffusers",
                    "wan-vace",
                    "about 19 GB",
                    "Apache-2.0",
                    "11.4 GB of it the UMT5-XXL text encoder",
                ),
                Model("vace-14b", "Wan-AI/Wan2.1-VACE-14B-diffusers", "wan-vace", "about 47 GB", "Apache-2.0"),
            ),
            (
                Backend(
                    "wan-vace",
                    "backends.vace:WanVace.load",
                    frozenset({"WanVACEPipeline"}),
                    index=True,
                    tiny="backends.vace:write_tiny",
                ),
            ),
            flag="--video-painter",
            used_by="video replace",
        ),
    )
}


def markdown_table() -> str:
    """The weights guide's table of every stage's short names, Hub ids, sizes and licences."""
    rows = ["| stage | short name | Hub id | size | licence | used by |", "|---|---|---|---|---|---|"]
    for stage in STAGES.values():
        for model in stage.models:
            default = " (default)" if model.name == stage.default else ""
            note = f" ({model.note})" if model.note else ""
            rows.append(
                f"| {stage.name} | `{model.name}`{default}{note} | `{model.repo}` | {model.size} | "
                f"{model.licence} | {stage.used_by} |"
            )
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
