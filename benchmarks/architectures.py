"""Full-size architectures with random weights, from the published model configurations.

The benchmark times real model shapes without downloading weights. Values below are those of
the repositories' config.json files (GroundingDINO tiny, SAM ViT-B/H, Stable Diffusion 1.5
inpainting, SDXL 1.0 inpainting, and the model zoo: SAM 3, SAM 2.1 Hiera-L, SAM-HQ ViT-H,
MM-GroundingDINO tiny, OWLv2 B/16, FLUX.1 Fill); transformers' and diffusers' defaults fill the
rest. ``tests/test_benchmarks.py`` checks each one against its published parameter count.
"""

from __future__ import annotations

import string
from typing import Any

import torch

from textinpaint.backends.detection import GroundingDino
from textinpaint.backends.diffusion import DiffusersInpainter
from textinpaint.backends.segmentation import Sam


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


def sam3(device: torch.device, dtype: torch.dtype) -> Any:
    """facebook/sam3: the image detector textinpaint runs (``Sam3Model``: ViT 1024 x 32 layers at
    1008 px, CLIP text encoder, DETR encoder and decoder, mask head); transformers' defaults are
    this checkpoint. ``video=True`` adds SAM 3's tracker, which still images do not use."""
    from transformers import Sam3Config, Sam3Model

    return Sam3Model(Sam3Config()).to(device, dtype).eval()


def sam3_video(device: torch.device, dtype: torch.dtype) -> Any:
    """facebook/sam3 whole (``Sam3VideoModel``): the detector above plus the video tracker."""
    from transformers import Sam3VideoConfig, Sam3VideoModel

    return Sam3VideoModel(Sam3VideoConfig()).to(device, dtype).eval()


def _sam2_large_vision() -> Any:
    from transformers import Sam2HieraDetConfig, Sam2VisionConfig

    backbone = Sam2HieraDetConfig(
        hidden_size=144,
        num_attention_heads=2,
        blocks_per_stage=[2, 6, 36, 4],
        embed_dim_per_stage=[144, 288, 576, 1152],
        num_attention_heads_per_stage=[2, 4, 8, 16],
        window_size_per_stage=[8, 4, 16, 8],
        global_attention_blocks=[23, 33, 43],
        window_positional_embedding_background_size=[7, 7],
    )
    return Sam2VisionConfig(backbone_config=backbone, backbone_channel_list=[1152, 576, 288, 144])


def sam2_large(device: torch.device, dtype: torch.dtype, *, video: bool = False) -> Any:
    """facebook/sam2.1-hiera-large: Hiera-L (48 blocks, widths 144-1152). ``Sam2Model`` is the
    image model textinpaint runs; ``video=True`` builds ``Sam2VideoModel`` (plus the memory
    attention and encoder), the whole checkpoint whose size SAM 2's README publishes."""
    from transformers import Sam2Config, Sam2Model, Sam2VideoConfig, Sam2VideoModel

    if video:
        return Sam2VideoModel(Sam2VideoConfig(vision_config=_sam2_large_vision())).to(device, dtype).eval()
    return Sam2Model(Sam2Config(vision_config=_sam2_large_vision())).to(device, dtype).eval()


def sam_hq_huge(device: torch.device, dtype: torch.dtype) -> Any:
    """syscv-community/sam-hq-vit-huge: SAM ViT-H plus the HQ output token and its feature fusion."""
    from transformers import SamHQConfig, SamHQModel, SamHQVisionConfig

    vision = SamHQVisionConfig(
        hidden_size=1280, num_hidden_layers=32, num_attention_heads=16, global_attn_indexes=[7, 15, 23, 31]
    )
    return SamHQModel(SamHQConfig(vision_config=vision, mask_decoder_config={"vit_dim": 1280})).to(device, dtype).eval()


def mm_grounding_dino_tiny(device: torch.device, dtype: torch.dtype) -> Any:
    """openmmlab-community/mm_grounding_dino_tiny_o365v1_goldg_v3det: Swin-T, BERT-base, 900 queries
    (transformers' defaults are this checkpoint)."""
    from transformers import MMGroundingDinoConfig, MMGroundingDinoForObjectDetection

    return MMGroundingDinoForObjectDetection(MMGroundingDinoConfig()).to(device, dtype).eval()


def owlv2_base(device: torch.device, dtype: torch.dtype) -> Any:
    """google/owlv2-base-patch16-ensemble: CLIP B/16 towers, 960-px images (its config.json)."""
    from transformers import Owlv2Config, Owlv2ForObjectDetection

    config = Owlv2Config(vision_config={"image_size": 960}, projection_dim=512)
    return Owlv2ForObjectDetection(config).to(device, dtype).eval()


def flux_fill_modules() -> dict[str, torch.nn.Module]:
    """black-forest-labs/FLUX.1-Fill-dev: the 19 + 38-block transformer (384 input channels: packed
    latents, masked-image latents and the 8 x 8 mask), the T5-XXL and CLIP-L text encoders, the
    16-channel VAE (its config.json files; diffusers' and transformers' defaults fill the rest)."""
    from diffusers import AutoencoderKL, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    transformer = FluxTransformer2DModel(in_channels=384, out_channels=64, guidance_embeds=True)
    t5 = T5EncoderModel(
        T5Config(
            vocab_size=32128,
            d_model=4096,
            d_kv=64,
            d_ff=10240,
            num_layers=24,
            num_heads=64,
            feed_forward_proj="gated-gelu",
            is_gated_act=True,
            dense_act_fn="gelu_new",
        )
    )
    clip = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            vocab_size=49408,
            hidden_act="quick_gelu",
            projection_dim=768,
        )
    )
    vae = AutoencoderKL(
        block_out_channels=[128, 256, 512, 512],
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        layers_per_block=2,
        latent_channels=16,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.1159,
        scaling_factor=0.3611,
    )
    return {"transformer": transformer, "text_encoder_2": t5, "text_encoder": clip, "vae": vae}


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
