"""Tiny random-weight models in the real on-disk formats, for offline tests and demos.

They load through exactly the code path real weights use (``from_pretrained``), run in
milliseconds on a CPU, and produce meaningless pictures. Write them to a folder with::

    python -m textinpaint.testing tiny-models DIR

then use ``Pipeline(models=DIR)`` or ``textinpaint replace ... --models DIR``.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import string
import sys
import warnings
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

# Words the tiny detector knows whole; anything else is spelled with single-letter word pieces.
_WORDS = ["the", "a", "red", "blue", "car", "truck", "dog", "cat", "person", "tree", "sky", "road", "chair"]


def seeded(write: Callable[..., Path]) -> Callable[..., Path]:
    """Make a writer draw its weights from ``seed`` (default 0) without touching the caller's random state."""

    @functools.wraps(write)
    def wrapper(folder: Path, *args: Any, seed: int = 0, **kwargs: Any) -> Path:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return write(folder, *args, **kwargs)

    return wrapper


def _bert_vocab() -> dict[str, int]:
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *string.punctuation, *string.digits]
    tokens += list(string.ascii_lowercase) + [f"##{c}" for c in string.ascii_lowercase + string.digits]
    tokens += _WORDS
    return {token: index for index, token in enumerate(dict.fromkeys(tokens))}


def clip_vocab() -> dict[str, int]:
    """The tiny CLIP tokenizers' vocabulary: the two special tokens, then each letter, digit and
    punctuation mark alone and as a word end."""
    tokens = ["<|startoftext|>", "<|endoftext|>"]
    for char in string.ascii_lowercase + string.digits + string.punctuation:
        tokens += [char, f"{char}</w>"]
    return {token: index for index, token in enumerate(tokens)}


def write_detector(folder: Path, *, kind: str = "grounding-dino") -> Path:
    """A GroundingDINO (or, with ``kind="mm-grounding-dino"``, an MM-GroundingDINO) with a Swin of
    embed_dim 16 and a 1-layer BERT of width 32."""
    import transformers
    from transformers import BertConfig, BertTokenizer, GroundingDinoImageProcessor, GroundingDinoProcessor, SwinConfig

    classes = {
        "grounding-dino": ("GroundingDinoConfig", "GroundingDinoForObjectDetection"),
        "mm-grounding-dino": ("MMGroundingDinoConfig", "MMGroundingDinoForObjectDetection"),
    }
    config_class, model_class = (getattr(transformers, name) for name in classes[kind])
    vocab = _bert_vocab()
    backbone = SwinConfig(  # type: ignore[call-arg]  # out_features goes through SwinConfig's **kwargs
        embed_dim=16,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 1, 1],
        window_size=4,
        image_size=64,
        out_features=["stage2", "stage3", "stage4"],
    )
    text = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=256,
    )
    config = config_class(
        backbone_config=backbone,
        text_config=text,
        d_model=32,
        num_queries=10,
        num_feature_levels=3,
        encoder_layers=1,
        decoder_layers=2,  # 1 decoder layer fails at build (tied bbox_embed keys)
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_n_points=2,
        decoder_n_points=2,
        max_text_len=256,
    )
    model = model_class(config).eval()
    processor = GroundingDinoProcessor(
        image_processor=GroundingDinoImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}),
        tokenizer=BertTokenizer(vocab=vocab),
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@seeded
def write_owlv2(folder: Path) -> Path:
    """An OWLv2 with 2-layer text and vision towers of width 32 on 64-px images (16-px patches)."""
    from transformers import (
        CLIPTokenizer,
        Owlv2Config,
        Owlv2ForObjectDetection,
        Owlv2ImageProcessor,
        Owlv2Processor,
        Owlv2TextConfig,
        Owlv2VisionConfig,
    )

    # OWL masks out a query whose first token id is 0, so the start token must not be id 0.
    vocab = {"<pad>": 0, **{token: index + 1 for token, index in clip_vocab().items()}}
    tower: dict[str, Any] = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4)
    config = Owlv2Config(
        text_config=Owlv2TextConfig(
            **tower, vocab_size=len(vocab), max_position_embeddings=16, bos_token_id=1, eos_token_id=2, pad_token_id=0
        ).to_dict(),
        vision_config=Owlv2VisionConfig(**tower, image_size=64, patch_size=16).to_dict(),
        projection_dim=32,
    )
    Owlv2ForObjectDetection(config).eval().save_pretrained(folder)
    Owlv2Processor(
        image_processor=Owlv2ImageProcessor(size={"height": 64, "width": 64}),
        tokenizer=CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16, pad_token="<pad>"),
    ).save_pretrained(folder)
    return folder


# The tiny SAM's parts, shared by SAM and SAM-HQ: a 2-layer ViT of width 32 on 64-px images.
_SAM_VISION: dict[str, Any] = dict(
    hidden_size=32,
    output_channels=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    image_size=64,
    patch_size=8,
    mlp_dim=64,
    global_attn_indexes=[1],
    window_size=4,
    num_pos_feats=8,  # must be half the prompt encoder's hidden_size
)
_SAM_PROMPT: dict[str, Any] = dict(hidden_size=16, image_size=64, patch_size=8, mask_input_channels=4)
_SAM_DECODER: dict[str, Any] = dict(
    hidden_size=16, num_hidden_layers=2, num_attention_heads=2, mlp_dim=32, iou_head_hidden_dim=16
)


def _sam_image_processor() -> object:
    from transformers import SamImageProcessor

    return SamImageProcessor(
        size={"longest_edge": 64}, pad_size={"height": 64, "width": 64}, mask_size={"longest_edge": 16}
    )


def write_segmenter(folder: Path) -> Path:
    """A SAM working on 64-px images with a 2-layer ViT of width 32."""
    from transformers import (
        SamConfig,
        SamMaskDecoderConfig,
        SamModel,
        SamProcessor,
        SamPromptEncoderConfig,
        SamVisionConfig,
    )

    config = SamConfig(
        vision_config=SamVisionConfig(**_SAM_VISION),
        prompt_encoder_config=SamPromptEncoderConfig(**_SAM_PROMPT),
        mask_decoder_config=SamMaskDecoderConfig(**_SAM_DECODER),
    )
    SamModel(config).save_pretrained(folder)
    SamProcessor(image_processor=_sam_image_processor()).save_pretrained(folder)
    return folder


@seeded
def write_segmenter_hq(folder: Path) -> Path:
    """A SAM-HQ of the same tiny size as :func:`write_segmenter` (its HQ decoder reads the ViT's width)."""
    from transformers import (
        SamHQConfig,
        SamHQMaskDecoderConfig,
        SamHQModel,
        SamHQProcessor,
        SamHQPromptEncoderConfig,
        SamHQVisionConfig,
    )

    config = SamHQConfig(
        vision_config=SamHQVisionConfig(**_SAM_VISION),
        prompt_encoder_config=SamHQPromptEncoderConfig(**_SAM_PROMPT),
        mask_decoder_config=SamHQMaskDecoderConfig(**_SAM_DECODER, vit_dim=_SAM_VISION["hidden_size"]),
    )
    SamHQModel(config).save_pretrained(folder)
    SamHQProcessor(image_processor=_sam_image_processor()).save_pretrained(folder)
    return folder


def tiny_sam2_vision(fpn_hidden_size: int) -> Any:
    """The tiny SAM 2.1 image encoder of the image and video writers: a 4-stage Hiera on 64-px
    images, widths 12-96 (5 blocks), and an FPN of ``fpn_hidden_size``."""
    from transformers import Sam2HieraDetConfig, Sam2VisionConfig

    # The first block of a stage pools its queries, so it cannot be a global-attention block.
    backbone = Sam2HieraDetConfig(
        hidden_size=12,
        image_size=64,
        blocks_per_stage=[1, 1, 2, 1],
        embed_dim_per_stage=[12, 24, 48, 96],
        num_attention_heads_per_stage=[1, 2, 4, 8],
        window_size_per_stage=[4, 4, 4, 2],
        global_attention_blocks=[3],
        window_positional_embedding_background_size=[2, 2],
    )
    return Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[96, 48, 24, 12],
        backbone_feature_sizes=[[16, 16], [8, 8], [4, 4]],
        fpn_hidden_size=fpn_hidden_size,
    )


@seeded
def write_sam2(folder: Path) -> Path:
    """A SAM 2.1 on 64-px images: a 4-stage Hiera of widths 12-96 (5 blocks), FPN and decoder of width 32."""
    from transformers import (
        Sam2Config,
        Sam2ImageProcessor,
        Sam2MaskDecoderConfig,
        Sam2Model,
        Sam2Processor,
        Sam2PromptEncoderConfig,
    )

    config = Sam2Config(
        vision_config=tiny_sam2_vision(32),
        prompt_encoder_config=Sam2PromptEncoderConfig(
            hidden_size=32, image_size=64, patch_size=16, mask_input_channels=8
        ),
        mask_decoder_config=Sam2MaskDecoderConfig(
            hidden_size=32, mlp_dim=64, num_hidden_layers=2, num_attention_heads=4, iou_head_hidden_dim=32
        ),
    )
    Sam2Model(config).eval().save_pretrained(folder)
    image_processor = Sam2ImageProcessor(size={"height": 64, "width": 64}, mask_size={"height": 16, "width": 16})
    Sam2Processor(image_processor=image_processor).save_pretrained(folder)
    return folder


def tiny_sam3_backbone(width: int) -> Any:
    """SAM 3's ViT for 56-px images at ``width``: 2 layers, 14-px patches, windows of 2."""
    from transformers.models.sam3.configuration_sam3 import Sam3ViTConfig

    return Sam3ViTConfig(
        hidden_size=width,
        num_attention_heads=4,
        intermediate_size=64,
        num_hidden_layers=2,
        image_size=56,
        patch_size=14,
        window_size=2,
        global_attn_indexes=[1],
        pretrain_image_size=56,
    )


def tiny_clip_text(width: int, vocab_size: int) -> dict[str, Any]:
    """SAM 3's CLIP text encoder at ``width``: 2 layers, 32 positions (a config dict)."""
    return dict(
        hidden_size=width,
        num_attention_heads=4,
        intermediate_size=64,
        vocab_size=vocab_size,
        projection_dim=width,
        num_hidden_layers=2,
        max_position_embeddings=32,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )


@seeded
def write_sam3(folder: Path) -> Path:
    """A SAM 3 on 56-px images: a 2-layer ViT of width 32 (14-px patches), a 2-layer CLIP text
    encoder of width 32, 1-layer DETR encoder and decoder with 8 queries."""
    from transformers import CLIPTokenizer, Sam3Config, Sam3Model, Sam3Processor
    from transformers.models.sam3.configuration_sam3 import (
        Sam3DETRDecoderConfig,
        Sam3DETREncoderConfig,
        Sam3GeometryEncoderConfig,
        Sam3MaskDecoderConfig,
        Sam3VisionConfig,
    )
    from transformers.models.sam3.image_processing_sam3 import Sam3ImageProcessor

    vocab = clip_vocab()
    width: dict[str, Any] = dict(hidden_size=32, num_attention_heads=4, intermediate_size=64)
    backbone, text = tiny_sam3_backbone(32), tiny_clip_text(32, len(vocab))
    config = Sam3Config(
        vision_config=Sam3VisionConfig(backbone_config=backbone, fpn_hidden_size=32, scale_factors=[2.0, 1.0]),
        text_config=text,
        geometry_encoder_config=Sam3GeometryEncoderConfig(**width, num_layers=1),
        detr_encoder_config=Sam3DETREncoderConfig(**width, num_layers=1),
        detr_decoder_config=Sam3DETRDecoderConfig(**width, num_layers=1, num_queries=8),
        mask_decoder_config=Sam3MaskDecoderConfig(hidden_size=32, num_upsampling_stages=2),
    )
    Sam3Model(config).eval().save_pretrained(folder)
    Sam3Processor(
        image_processor=Sam3ImageProcessor(size={"height": 56, "width": 56}, mask_size={"height": 16, "width": 16}),
        tokenizer=CLIPTokenizer(vocab=vocab, merges=[], model_max_length=32),
    ).save_pretrained(folder)
    return folder


def _tiny_vae() -> Any:
    """The VAE of the tiny SD and SDXL inpainters: 32/64 channels, a factor of 2."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=64,
    )


def _clip_text_config(vocab_size: int, **extra: Any) -> Any:
    """A 2-layer CLIP text encoder of width 32 for the tiny vocabulary."""
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=vocab_size,
        layer_norm_eps=1e-5,
        **extra,
    )


def write_inpainter(folder: Path) -> Path:
    """A Stable Diffusion inpainting pipeline (9-channel UNet 32/64, VAE 32/64, CLIP width 32); native size 64 px."""
    from diffusers import DDIMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=9,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=(2, 4),
        norm_num_groups=32,
    )
    vae = _tiny_vae()
    vocab = clip_vocab()
    text_encoder = CLIPTextModel(_clip_text_config(len(vocab)))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)  # 77, or truncation overflows
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableDiffusionInpaintPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)  # type: ignore[attr-defined]  # diffusers adds it through a mixin mypy cannot see
    return folder


@seeded
def write_lcm_lora(folder: Path, *, inpainter: Path | None = None) -> Path:
    """A rank-4 LoRA on the attention projections of the tiny inpainter's UNet (``inpainter``, or a
    fresh :func:`write_inpainter` one), made with peft and saved by diffusers as
    ``pytorch_lora_weights.safetensors``: an LCM-LoRA's real file format. Its up-projections are
    random (peft starts them at zero), so fusing it changes the UNet's output."""
    import tempfile

    from diffusers import StableDiffusionInpaintPipeline, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig, get_peft_model_state_dict

    with tempfile.TemporaryDirectory() as scratch:
        source = inpainter or write_inpainter(Path(scratch) / "inpainter")
        unet: Any = UNet2DConditionModel.from_pretrained(source, subfolder="unet")
        unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
        with torch.no_grad():
            for name, parameter in unet.named_parameters():
                if "lora_B" in name:
                    parameter.normal_(std=0.2)
        layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    StableDiffusionInpaintPipeline.save_lora_weights(folder, unet_lora_layers=layers)
    return folder


# What the tiny SDXL UNet and its ControlNet share: SDXL's text-and-time conditioning.
_SDXL_CONDITIONING: dict[str, Any] = dict(
    attention_head_dim=(2, 4),
    use_linear_projection=True,
    addition_embed_type="text_time",
    addition_time_embed_dim=8,
    transformer_layers_per_block=(1, 2),
    projection_class_embeddings_input_dim=80,  # 6 time ids x 8 + the pooled text embedding (32)
    cross_attention_dim=64,  # both text encoders' hidden states, side by side
)


@seeded
def write_sdxl_inpainter(folder: Path) -> Path:
    """An SDXL inpainting pipeline in its real layout: two CLIP text encoders (the second with a
    projection), the 9-channel UNet with SDXL's text-and-time conditioning, VAE 32/64; native 64 px."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=9,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        **_SDXL_CONDITIONING,
        norm_num_groups=32,
    )
    vae = _tiny_vae()
    vocab = clip_vocab()
    text = _clip_text_config(len(vocab), projection_dim=32)
    pipe = StableDiffusionXLInpaintPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(text),
        text_encoder_2=CLIPTextModelWithProjection(text),
        tokenizer=CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77),
        tokenizer_2=CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77),
        unet=unet,
        scheduler=EulerDiscreteScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            steps_offset=1,
            beta_schedule="scaled_linear",
            timestep_spacing="leading",
        ),
        requires_aesthetics_score=False,
        force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(folder)  # type: ignore[attr-defined]  # diffusers adds it through a mixin mypy cannot see
    return folder


def _t5_tokenizer() -> Any:
    """A T5 (Unigram) tokenizer over the tiny vocabulary: whole words, else single letters."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -3.0)]
    pieces += [(f"▁{word}", -1.0) for word in _WORDS]
    pieces += [(char, -2.0) for char in string.ascii_lowercase + string.digits]
    return T5Tokenizer(vocab=pieces, extra_ids=0)


@seeded
def write_flux_fill(folder: Path) -> Path:
    """A FLUX.1 Fill pipeline in its real layout: a 1+1-block Flux transformer (48 input channels:
    packed latents, masked-image latents and mask), CLIP and T5 text encoders of width 32, and a
    VAE 32/64 (4 latent channels) with FLUX's shift and scale (factor 2); native size 256 px."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxFillPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel, CLIPTokenizer, T5Config, T5EncoderModel

    vocab = clip_vocab()
    t5_tokenizer = _t5_tokenizer()
    t5 = T5Config(
        vocab_size=len(t5_tokenizer),
        d_model=32,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
    )
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=48,  # 16 packed latent channels (4 x 2 x 2), 16 of the masked image, 16 of the mask (2 x 2 x 2 x 2)
        out_channels=16,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        axes_dims_rope=[4, 4, 8],
        guidance_embeds=True,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 64),
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=64,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    FluxFillPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=CLIPTextModel(_clip_text_config(len(vocab), projection_dim=32)),
        text_encoder_2=T5EncoderModel(t5),
        tokenizer=CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77),
        tokenizer_2=t5_tokenizer,
        transformer=transformer,
        vae=vae,
    ).save_pretrained(folder)  # type: ignore[attr-defined]  # diffusers adds it through a mixin mypy cannot see
    return folder


@seeded
def write_sdxl_controlnet(folder: Path) -> Path:
    """A ControlNet matching the tiny SDXL inpainter's UNet (text-and-time conditioning)."""
    from diffusers import ControlNetModel

    ControlNetModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        in_channels=4,
        norm_num_groups=32,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        **_SDXL_CONDITIONING,
        conditioning_embedding_out_channels=(16, 32),
    ).save_pretrained(folder)  # type: ignore[attr-defined]  # diffusers adds it through a mixin mypy cannot see
    return folder


def write_controlnet(folder: Path) -> Path:
    """A ControlNet matching the tiny inpainter's UNet (conditioning downsampled 2x, like its VAE)."""
    from diffusers import ControlNetModel

    ControlNetModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        in_channels=4,
        norm_num_groups=32,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=(2, 4),
        conditioning_embedding_out_channels=(16, 32),
    ).save_pretrained(folder)  # type: ignore[attr-defined]  # diffusers adds it through a mixin mypy cannot see
    return folder


def write_depth(folder: Path) -> Path:
    """A DPT depth model with a 4-layer ViT of width 32 on 32-px inputs."""
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    config = DPTConfig(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=37,
        image_size=32,
        patch_size=8,
        backbone_out_indices=[0, 1, 2, 3],
        neck_hidden_sizes=[16, 16, 16, 16],
        fusion_hidden_size=16,
        is_hybrid=False,
        head_in_index=-1,
    )
    DPTForDepthEstimation(config).save_pretrained(folder)
    DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False).save_pretrained(folder)
    return folder


class TinyLama(torch.nn.Module):
    """Stands in for LaMa with the same TorchScript signature: ``(image, mask) -> image``.

    It fills the hole with a small convolution of the known pixels, so the result depends on
    the surroundings and the file is a real TorchScript archive.
    """

    def __init__(self) -> None:
        super().__init__()
        self.mix = torch.nn.Conv2d(4, 3, kernel_size=3, padding=1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        known = image * (1 - mask)
        fill = torch.sigmoid(self.mix(torch.cat([known, mask], dim=1)))
        return known + fill * mask


def write_remover(folder: Path) -> Path:
    """A TorchScript ``big-lama.pt`` with LaMa's calling convention (see :class:`TinyLama`)."""
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated, but it is LaMa's format
        torch.jit.script(TinyLama().eval()).save(str(folder / "big-lama.pt"))
    return folder


def write_upscaler(folder: Path) -> Path:
    """A Stable Diffusion x4 upscaler (7-channel UNet 32/32/64, VAE scale 4)."""
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        DDPMScheduler,
        StableDiffusionUpscalePipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextModel, CLIPTokenizer

    unet = UNet2DConditionModel(
        block_out_channels=(32, 32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=7,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        use_linear_projection=True,
        only_cross_attention=(True, True, False),
        num_class_embeds=400,  # one per noise level up to max_noise_level
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        block_out_channels=[32, 32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 3,
        up_block_types=["UpDecoderBlock2D"] * 3,
        latent_channels=4,
        norm_num_groups=32,
        scaling_factor=0.08333,
    )
    vocab = clip_vocab()
    text_encoder = CLIPTextModel(_clip_text_config(len(vocab)))
    StableDiffusionUpscalePipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77),
        unet=unet,
        low_res_scheduler=DDPMScheduler(),
        scheduler=DDIMScheduler(prediction_type="v_prediction"),
        max_noise_level=350,
    ).save_pretrained(folder)  # type: ignore[attr-defined]  # as above
    return folder


def write_tiny_models(directory: str | Path, *, seed: int = 0, zoo: bool = False) -> Path:
    """Write a tiny model for every stage under ``directory``: ``detector/``, ``segmenter/``,
    ``inpainter/``, ``controlnet/``, ``depth/``, ``remover/``, ``upscaler/``, ``fast/``; with
    ``zoo``, also one for every short name under ``zoo/`` (see :func:`write_zoo`).

    The weights are drawn from ``seed`` without disturbing the caller's random state, so the same
    seed writes the same models.

    Returns:
        ``directory`` as a Path, ready for ``Pipeline(models=directory)``.
    """
    root = Path(directory)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        write_detector(root / "detector")
        write_segmenter(root / "segmenter")
        write_inpainter(root / "inpainter")
        write_controlnet(root / "controlnet")
        write_depth(root / "depth")
        write_remover(root / "remover")
        write_upscaler(root / "upscaler")
    write_lcm_lora(root / "fast", inpainter=root / "inpainter", seed=seed)
    from .stages import STAGES

    for stage in STAGES.values():  # every later stage: its default model's tiny writer, from the table
        if not (root / stage.name).exists():
            model = stage.names[stage.default]
            _write_with(tiny_writer(model.tiny or stage.backend(model.backend).tiny), root / stage.name, seed)
    if zoo:
        write_zoo(root / "zoo", seed=seed)
    return root


@seeded
def write_mm_detector(folder: Path) -> Path:
    """A tiny MM-GroundingDINO (GroundingDINO's architecture, its own ``model_type``)."""
    return write_detector(folder, kind="mm-grounding-dino")


def write_lcm_sd15(folder: Path, *, seed: int = 0) -> Path:
    """A tiny LCM-LoRA for the zoo's tiny SD 1.5 inpainter (written beside it first)."""
    return write_lcm_lora(folder, inpainter=folder.parent / zoo_name("inpainter", "sd15"), seed=seed)


def write_lcm_sdxl(folder: Path, *, seed: int = 0) -> Path:
    """A tiny LCM-LoRA for the zoo's tiny SDXL inpainter (written beside it first)."""
    return write_lcm_lora(folder, inpainter=folder.parent / zoo_name("inpainter", "sdxl"), seed=seed)


def zoo_name(stage: str, name: str) -> str:
    """The zoo folder of a short name: the name, or ``STAGE-NAME`` where two stages share it (``base``)."""
    from .stages import STAGES

    shared = sum(name in other.names for other in STAGES.values()) > 1
    return f"{stage}-{name}" if shared else name


def write_zoo(directory: str | Path, *, seed: int = 0) -> dict[str, Path]:
    """Write a tiny model for every short name of every stage, in its real on-disk layout, to
    ``directory/NAME/`` (``STAGE-NAME`` for a name two stages share), so any backend can be
    tried offline: ``Pipeline(detector=DIR / "sam3", models=...)``, ``--inpainter DIR/flux-fill``.

    Short names of one backend get the same tiny architecture (a tiny ``mm-large`` is as small as
    a tiny ``mm-tiny``); each is written from ``seed``.

    Returns:
        Every short name, as ``"stage/name"``, mapped to its folder.
    """
    from .stages import STAGES

    root = Path(directory)
    written: dict[str, Path] = {}
    order = ["inpainter"] + [stage for stage in STAGES if stage != "inpainter"]  # LoRAs read the inpainters
    for stage_name in order:
        stage = STAGES[stage_name]
        for model in stage.models:
            folder = root / zoo_name(stage_name, model.name)
            # Registered beside the backend in the stage table (a short name may name a variant).
            _write_with(tiny_writer(model.tiny or stage.backend(model.backend).tiny), folder, seed)
            written[f"{stage_name}/{model.name}"] = folder
    return written


def tiny_writer(name: str) -> Callable[..., Any]:
    """The tiny writer a stage-table entry names: a function here, or ``"module:function"`` in
    textinpaint (a backend file's own ``write_tiny``)."""
    if ":" not in name:
        return cast(Callable[..., Any], globals()[name])
    module, _, function = name.partition(":")
    return cast(Callable[..., Any], getattr(importlib.import_module(f"textinpaint.{module}"), function))


def _write_with(writer: Callable[..., Any], folder: Path, seed: int) -> None:
    if "seed" in inspect.signature(writer, follow_wrapped=False).parameters:  # draws from its seed
        writer(folder, seed=seed)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            writer(folder)


def write_clip(
    path: str | Path,
    *,
    frames: int = 17,
    width: int = 64,
    height: int = 48,
    fps: int = 12,
    audio: bool = True,
    codec: str = "libx264",
    timestamps: list[int] | None = None,
) -> Path:
    """A synthetic clip for tests: a red square moving left to right over a grey gradient, with
    a 440 Hz AAC tone as its audio track (``audio``), written with PyAV.

    Args:
        path: the file (``.mp4`` for H.264, ``.mkv`` for ``codec="ffv1"``).
        frames: how many frames.
        width, height: the frame size (even for H.264).
        fps: the frame rate; the stream's time base is ``1/(fps*100)``.
        audio: write the tone track too.
        codec: the FFmpeg video encoder.
        timestamps: each frame's pts (in ``1/(fps*100)`` units) for a variable-rate clip;
            default ``i * 100``.

    Returns:
        ``path``.
    """
    import av

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    base = Fraction(1, fps * 100)
    stamps = timestamps if timestamps is not None else [i * 100 for i in range(frames)]
    with av.open(str(target), "w") as muxer:
        video: Any = muxer.add_stream(codec, rate=fps)  # a VideoStream (PyAV types it as any stream)
        video.width, video.height = width, height
        video.pix_fmt = "yuv420p" if codec == "libx264" else "bgr0"
        video.time_base = video.codec_context.time_base = base
        tone: Any = None
        if audio:
            tone = muxer.add_stream("aac", rate=16000)
            tone.layout = "mono"
        side = max(4, height // 3)
        y, x = np.mgrid[0:height, 0:width]
        ground = np.stack([x * 200 // max(1, width), y * 200 // max(1, height), np.full_like(x, 90)], axis=2)
        for i in range(frames):
            picture = ground.astype(np.uint8)
            left = (i * (width - side)) // max(1, frames - 1)
            picture[height // 3 : height // 3 + side, left : left + side] = (220, 30, 30)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = stamps[i], base
            for packet in video.encode(frame):
                muxer.mux(packet)
        for packet in video.encode():
            muxer.mux(packet)
        if tone is not None:
            seconds = (stamps[-1] + 100) * base
            samples = int(16000 * seconds)
            wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 16000)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(wave[None, start : start + 1024], format="flt", layout="mono")
                chunk.sample_rate, chunk.pts = 16000, start
                for packet in tone.encode(chunk):
                    muxer.mux(packet)
            for packet in tone.encode():
                muxer.mux(packet)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m textinpaint.testing", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    tiny = commands.add_parser(
        "tiny-models", help="write a tiny model for every stage to DIR, and one per short name to DIR/zoo"
    )
    tiny.add_argument("directory", type=Path)
    tiny.add_argument("--seed", type=int, default=0)
    tiny.add_argument("--no-zoo", action="store_true", help="only the default layout, not DIR/zoo/NAME")
    args = parser.parse_args(argv)
    path = write_tiny_models(args.directory, seed=args.seed, zoo=not args.no_zoo)
    print(f"tiny models written to {path}; use Pipeline(models={str(path)!r}) or --models {path}")
    if not args.no_zoo:
        print(f"one per short name in {path / 'zoo'}: e.g. --detector {path / 'zoo' / 'sam3'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
