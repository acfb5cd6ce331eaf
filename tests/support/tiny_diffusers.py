"""Tiny diffusers pipelines built offline from configs (random weights, a tokenizer written
from a small byte-level vocabulary), saved with ``save_pretrained``: real pipeline classes
that run a step in milliseconds on a CPU. Used by the diffusers engine's tests,
``scripts/gpu_smoke.py`` and ``benchmarks/model_swap.py``; nothing touches the hub."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

import triptych.engines.diffusers_engine.loading  # noqa: F401  (quiet, offline diffusers)


def _byte_chars() -> list[str]:
    """GPT-2's byte-to-printable-character table (the alphabet of byte-level BPE)."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    out, extra = [], 0
    for b in range(256):
        if b in printable:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


def write_clip_tokenizer(folder: Path) -> Path:
    """A CLIP BPE tokenizer with every byte as a token and no merges: enough to turn any
    prompt into ids, and written locally (the usual test tokenizers live on the hub)."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = _byte_chars()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in chars:
        vocab.setdefault(ch, len(vocab))
        vocab.setdefault(ch + "</w>", len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                        pad_token="<|endoftext|>", model_max_length=77)
    tok.save_pretrained(str(folder))
    return folder


def _clip_config(seed: int):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32,
                          intermediate_size=37, layer_norm_eps=1e-5, num_attention_heads=4,
                          num_hidden_layers=2, vocab_size=600, hidden_act="gelu",
                          projection_dim=32, max_position_embeddings=77)


def build_tiny_sdxl(folder: Path, seed: int = 0, width: int = 32) -> Path:
    """A StableDiffusionXLPipeline (the SDXL-Turbo class) with ~1 M parameters."""
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(width, width * 2), layers_per_block=1, sample_size=32,
        in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
        use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=6 * 8 + 32, cross_attention_dim=64,
        norm_num_groups=1)
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, steps_offset=1,
                                       beta_schedule="scaled_linear",
                                       timestep_spacing="trailing")
    vae = AutoencoderKL(block_out_channels=[16, 32], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D"] * 2,
                        up_block_types=["UpDecoderBlock2D"] * 2, latent_channels=4,
                        norm_num_groups=16, sample_size=64)
    text_encoder = CLIPTextModel(_clip_config(seed))
    text_encoder_2 = CLIPTextModelWithProjection(_clip_config(seed))
    tok_dir = write_clip_tokenizer(folder.parent / f".{folder.name}-tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(str(tok_dir))
    pipe = StableDiffusionXLPipeline(
        vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
        tokenizer_2=tokenizer, unet=unet, scheduler=scheduler, force_zeros_for_empty_prompt=True)
    pipe.save_pretrained(str(folder))
    return folder


def tiny_card(model_id: str, folder: Path, **local: object):
    """A catalog card for a tiny pipeline folder: 32 to 64 px, 2 steps, guidance off."""
    from triptych.catalog.card import ModelCard
    from triptych.catalog.local_model import LocalModel

    settings = {"guidance": 0.0, **local}
    return ModelCard(id=model_id, name=f"Tiny {model_id}", provider="Local (diffusers)",
                     family="diffusion", tier="fast", credits=2, quality="draft",
                     description="A tiny random pipeline for tests.", max_width=64,
                     max_height=64, min_width=32, min_height=32, default_width=32,
                     default_height=32, max_n=4, default_steps=2, max_steps=4,
                     engine=f"diffusers:{folder}", local=LocalModel(**settings))


def build_tiny_flux(folder: Path, seed: int = 0) -> Path:
    """A FluxPipeline (the FLUX.1 [schnell] class): a one-block flow transformer whose
    latents are packed into tokens, CLIP and T5 text encoders."""
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        FluxPipeline,
        FluxTransformer2DModel,
    )
    from transformers import CLIPTextModel, CLIPTokenizer, T5Config, T5EncoderModel

    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
        attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
        pooled_projection_dim=32, axes_dims_rope=[4, 4, 8])
    vae = AutoencoderKL(sample_size=32, in_channels=3, out_channels=3,
                        block_out_channels=(16, 32), down_block_types=["DownEncoderBlock2D"] * 2,
                        up_block_types=["UpDecoderBlock2D"] * 2, layers_per_block=1,
                        latent_channels=4, norm_num_groups=16, use_quant_conv=False,
                        use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035)
    t5 = T5EncoderModel(T5Config(vocab_size=600, d_model=32, d_kv=8, d_ff=37, num_layers=2,
                                 num_heads=4, relative_attention_num_buckets=8,
                                 decoder_start_token_id=0, pad_token_id=1, eos_token_id=1))
    tok_dir = write_clip_tokenizer(folder.parent / f".{folder.name}-tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(str(tok_dir))
    pipe = FluxPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae,
                        text_encoder=CLIPTextModel(_clip_config(seed)), tokenizer=tokenizer,
                        text_encoder_2=t5, tokenizer_2=tokenizer, transformer=transformer)
    pipe.save_pretrained(str(folder))
    return folder


def add_preview_decoder(folder: Path) -> Path:
    """A tiny AutoencoderTiny (TAESD's class) in ``preview_decoder/`` for 4-channel latents."""
    from diffusers import AutoencoderTiny

    torch.manual_seed(0)
    AutoencoderTiny(in_channels=3, out_channels=3, encoder_block_out_channels=(16, 16),
                    decoder_block_out_channels=(16, 16), num_encoder_blocks=(1, 1),
                    num_decoder_blocks=(1, 1), latent_channels=4
                    ).save_pretrained(str(folder / "preview_decoder"))
    return folder


def build_tiny_pixart_sigma(folder: Path, seed: int = 0) -> Path:
    """A PixArtSigmaPipeline: a two-block transformer on a T5 encoder; its progress comes
    through the older ``callback(step, t, latents)`` hook."""
    from diffusers import (
        AutoencoderKL,
        DPMSolverMultistepScheduler,
        PixArtSigmaPipeline,
        PixArtTransformer2DModel,
    )
    from transformers import CLIPTokenizer, T5Config, T5EncoderModel

    torch.manual_seed(seed)
    transformer = PixArtTransformer2DModel(
        sample_size=8, num_layers=2, patch_size=2, attention_head_dim=8, num_attention_heads=3,
        caption_channels=32, in_channels=4, cross_attention_dim=24, out_channels=8,
        attention_bias=True, activation_fn="gelu-approximate", num_embeds_ada_norm=1000,
        norm_type="ada_norm_single", norm_elementwise_affine=False, norm_eps=1e-6)
    vae = AutoencoderKL(block_out_channels=[16, 32], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D"] * 2,
                        up_block_types=["UpDecoderBlock2D"] * 2, latent_channels=4,
                        norm_num_groups=16, sample_size=64)
    t5 = T5EncoderModel(T5Config(vocab_size=600, d_model=32, d_kv=8, d_ff=37, num_layers=2,
                                 num_heads=4, relative_attention_num_buckets=8,
                                 decoder_start_token_id=0, pad_token_id=1, eos_token_id=1))
    tok_dir = write_clip_tokenizer(folder.parent / f".{folder.name}-tokenizer")
    pipe = PixArtSigmaPipeline(tokenizer=CLIPTokenizer.from_pretrained(str(tok_dir)),
                               text_encoder=t5, vae=vae, transformer=transformer,
                               scheduler=DPMSolverMultistepScheduler())
    pipe.save_pretrained(str(folder))
    return folder


@contextmanager
def local_triptych(db: str, request, settings, clock, cards: list) -> Iterator:  # noqa: ANN001
    """A Triptych on ``db`` (``BOTH_DBS``) whose catalog is the fake models plus ``cards``
    (local pipelines), with a fresh residency manager that is emptied afterwards."""
    from tests.conftest import PG_URL
    from tests.support.fake_engine import FAKE_CARDS
    from triptych.catalog.loader import Catalog
    from triptych.client import Triptych
    from triptych.engines import residency

    schema = None
    if db == "postgres":
        schema = request.getfixturevalue("pg_schema")
        settings.database_url = PG_URL
    manager = residency.Residency()
    residency.use_shared(manager)
    tp = Triptych(settings, clock=clock, catalog=Catalog([*FAKE_CARDS, *cards]),
                  db_schema=schema)
    try:
        yield tp
    finally:
        tp.db.dispose()
        manager.clear()
        residency.use_shared(None)
