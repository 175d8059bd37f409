"""Full-size architectures with random weights, from the published model configurations.

The benchmark times real model shapes without downloading weights. Values below are those of
the repositories' config.json files (GroundingDINO tiny, SAM ViT-B/H, Stable Diffusion 1.5
inpainting, SDXL 1.0 inpainting); transformers' and diffusers' defaults fill the rest.
``tests/test_benchmarks.py`` checks each one against its known parameter count.
"""

from __future__ import annotations

import string

import torch

from textinpaint.detection import GroundingDino
from textinpaint.diffusion import DiffusersInpainter
from textinpaint.segmentation import Sam


def _bert_tokenizer():
    from transformers import BertTokenizer

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *string.punctuation, *string.ascii_lowercase]
    words += [f"##{c}" for c in string.ascii_lowercase] + ["the", "a", "red", "car", "dog", "cat"]
    return BertTokenizer(vocab={w: i for i, w in enumerate(dict.fromkeys(words))})


def _clip_tokenizer():
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in string.ascii_lowercase + string.digits + string.punctuation:
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(f"{char}</w>", len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def grounding_dino_tiny(device: torch.device, dtype: torch.dtype) -> GroundingDino:
    """IDEA-Research/grounding-dino-tiny: Swin-T backbone, BERT-base text encoder, 900 queries."""
    from transformers import (
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
    )

    model = GroundingDinoForObjectDetection(GroundingDinoConfig()).to(device, dtype).eval()  # defaults = tiny
    processor = GroundingDinoProcessor(image_processor=GroundingDinoImageProcessor(), tokenizer=_bert_tokenizer())
    return GroundingDino(processor, model, device, dtype)


def sam(variant: str, device: torch.device, dtype: torch.dtype) -> Sam:
    """facebook/sam-vit-base or facebook/sam-vit-huge."""
    from transformers import SamConfig, SamImageProcessor, SamModel, SamProcessor, SamVisionConfig

    vision = {
        "base": SamVisionConfig(),
        "huge": SamVisionConfig(
            hidden_size=1280, num_hidden_layers=32, num_attention_heads=16, global_attn_indexes=[7, 15, 23, 31]
        ),
    }[variant]
    model = SamModel(SamConfig(vision_config=vision)).to(device, dtype).eval()
    return Sam(SamProcessor(image_processor=SamImageProcessor()), model, device, dtype)


def sd15_inpainting(device: torch.device, dtype: torch.dtype) -> DiffusersInpainter:
    """stable-diffusion-v1-5/stable-diffusion-inpainting: 9-channel UNet, VAE, CLIP ViT-L/14 text encoder."""
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    unet = UNet2DConditionModel(
        sample_size=64, in_channels=9, out_channels=4, cross_attention_dim=768, attention_head_dim=8
    )
    vae = AutoencoderKL(
        block_out_channels=[128, 256, 512, 512],
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        layers_per_block=2,
        latent_channels=4,
        sample_size=512,
    )
    text = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            max_position_embeddings=77,
            vocab_size=49408,
            hidden_act="quick_gelu",
            projection_dim=768,
        )
    )
    scheduler = PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        skip_prk_steps=True,
        steps_offset=1,
        set_alpha_to_one=False,
    )
    pipe = StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text,
        tokenizer=_clip_tokenizer(),
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    ).to(device, dtype)
    pipe.set_progress_bar_config(disable=True)
    return DiffusersInpainter(pipe)


def sdxl_modules() -> dict[str, torch.nn.Module]:
    """The SDXL inpainting networks: UNet (9 channels), VAE, CLIP ViT-L and OpenCLIP bigG text encoders."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    unet = UNet2DConditionModel(
        sample_size=128,
        in_channels=9,
        out_channels=4,
        block_out_channels=(320, 640, 1280),
        layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 2, 10),
        attention_head_dim=(5, 10, 20),
        cross_attention_dim=2048,
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816,
    )
    vae = AutoencoderKL(
        block_out_channels=[128, 256, 512, 512],
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        layers_per_block=2,
        latent_channels=4,
        sample_size=1024,
        scaling_factor=0.13025,
        force_upcast=True,
    )
    text = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            vocab_size=49408,
            hidden_act="quick_gelu",
        )
    )
    text_2 = CLIPTextModelWithProjection(
        CLIPTextConfig(
            hidden_size=1280,
            intermediate_size=5120,
            num_hidden_layers=32,
            num_attention_heads=20,
            vocab_size=49408,
            hidden_act="gelu",
            projection_dim=1280,
        )
    )
    return {"unet": unet, "vae": vae, "text_encoder": text, "text_encoder_2": text_2}


def sdxl_inpainting(device: torch.device, dtype: torch.dtype) -> DiffusersInpainter:
    """diffusers/stable-diffusion-xl-1.0-inpainting-0.1, from :func:`sdxl_modules`."""
    import threading

    from diffusers import EulerDiscreteScheduler, StableDiffusionXLInpaintPipeline

    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1, timestep_spacing="leading"
    )
    pipe = StableDiffusionXLInpaintPipeline(
        **sdxl_modules(),
        tokenizer=_clip_tokenizer(),
        tokenizer_2=_clip_tokenizer(),
        scheduler=scheduler,
        requires_aesthetics_score=False,
        force_zeros_for_empty_prompt=True,
    ).to(device, dtype)
    pipe.set_progress_bar_config(disable=True)
    return DiffusersInpainter(pipe, _lock=threading.Lock() if dtype == torch.float16 else None)


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
