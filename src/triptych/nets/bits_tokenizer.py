"""The bits tokenizer: 64x64x3 images <-> 8x8 binary tokens (f=8, K bits each, LFQ bottleneck).

Same plain-conv, no-norm TAESD recipe as the shared autoencoder (its ``ResBlock`` is reused),
one more downsample: PixelUnshuffle(2) stem (full-resolution convs dominate the CPU cost)
-> 32x32 -> 16x16 -> 8x8 -> K channels -> sign. The decoder mirrors it and ends in the same
PixelShuffle + thin full-resolution refine conv that keeps letter edges sharp.

Images are float tensors in [-1, 1], shape [B, 3, 64, 64]; token ids are int64 [B, 64] in
raster order (row by row, top-left first), each in [0, 2^K).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from triptych.nets.autoencoder import ResBlock
from triptych.nets.checkpoint import (
    CheckpointError,
    load_into,
    read_checkpoint,
    save_checkpoint,
    weights_path,
)
from triptych.nets.lfq import LFQ, LFQConfig, codes_from_ids, ids_from_codes
from triptych.nets.text_encoder import EncoderBlock

CHECKPOINT_NAME = "bits-tokenizer"
GRID = 8  # 64 / f, f = 8
N_TOKENS = GRID * GRID


@dataclass(frozen=True)
class BitsTokenizerConfig:
    ch: int = 48  # width at 32x32 (after the unshuffle stem); the expensive resolution
    ch_mid: int = 96  # width at 16x16
    ch_low: int = 128  # width at 8x8 (64 positions: cheap, so the widest)
    blocks_hi: int = 1
    blocks_mid: int = 1
    blocks_low: int = 2  # most capacity where each position has to explain an 8x8 patch
    out_refine_ch: int = 16
    lfq: LFQConfig = field(default_factory=LFQConfig)
    # Decoder-only context stage at 8x8 (0 = none, the first decoders): a bidirectional
    # transformer over the 64 code cells, so each cell is drawn knowing the whole scene.
    context_layers: int = 0
    context_dim: int = 192
    context_heads: int = 4


TOKENIZER_CONFIGS: dict[str, BitsTokenizerConfig] = {
    # CI smoke tests only
    "tiny": BitsTokenizerConfig(ch=8, ch_mid=8, ch_low=16, blocks_hi=1, blocks_mid=1,
                                blocks_low=1, out_refine_ch=4,
                                lfq=LFQConfig(bits=6, entropy_group=6)),
    "small": BitsTokenizerConfig(),
    # for a GPU's batch: wider at every resolution, more blocks where a code becomes a patch
    # (decoding ~4x small's MACs, still a small share of a pico-bits image on a CPU)
    "medium": BitsTokenizerConfig(ch=64, ch_mid=128, ch_low=256, blocks_mid=2, blocks_low=3,
                                  context_dim=256),
    # the same with 14-bit tokens (16,384 ids): 896 instead of 768 bits per image
    "medium-14": BitsTokenizerConfig(ch=64, ch_mid=128, ch_low=256, blocks_mid=2,
                                     blocks_low=3, context_dim=256,
                                     lfq=LFQConfig(bits=14, entropy_group=7)),
}


def config_from_dict(data: dict) -> BitsTokenizerConfig:
    data = dict(data)
    data["lfq"] = LFQConfig(**data.get("lfq", {}))
    return BitsTokenizerConfig(**data)


class BitsEncoder(nn.Module):
    def __init__(self, cfg: BitsTokenizerConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.PixelUnshuffle(2),  # [B,3,64,64] -> [B,12,32,32]
            nn.Conv2d(12, cfg.ch, 3, padding=1),
            *[ResBlock(cfg.ch) for _ in range(cfg.blocks_hi)],
            nn.Conv2d(cfg.ch, cfg.ch_mid, 3, stride=2, padding=1),  # -> [B,ch_mid,16,16]
            *[ResBlock(cfg.ch_mid) for _ in range(cfg.blocks_mid)],
            nn.Conv2d(cfg.ch_mid, cfg.ch_low, 3, stride=2, padding=1),  # -> [B,ch_low,8,8]
            *[ResBlock(cfg.ch_low) for _ in range(cfg.blocks_low)],
            nn.ReLU(),
            nn.Conv2d(cfg.ch_low, cfg.lfq.bits, 1),  # -> [B,K,8,8] pre-sign
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CodeContext(nn.Module):
    """Residual transformer over the 8x8 grid of decoder features [B,C,8,8] -> same shape.

    Its output projection starts at zero, so a decoder widened with it draws exactly what it
    drew before and training only adds: the refinement of a trained decoder starts from it."""

    def __init__(self, channels: int, dim: int, layers: int, heads: int) -> None:
        super().__init__()
        self.inp = nn.Linear(channels, dim)
        self.pos = nn.Parameter(torch.randn(1, N_TOKENS, dim) * 0.02)
        self.blocks = nn.ModuleList(EncoderBlock(dim, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, c, gh, gw = h.shape
        x = self.inp(h.flatten(2).transpose(1, 2)) + self.pos  # [B,64,dim]
        for block in self.blocks:
            x = block(x)  # every cell attends to every cell: no padding
        delta = self.out(self.ln(x)).transpose(1, 2).reshape(b, c, gh, gw)
        return h + delta


class BitsDecoder(nn.Module):
    def __init__(self, cfg: BitsTokenizerConfig) -> None:
        super().__init__()
        self.context = (CodeContext(cfg.ch_low, cfg.context_dim, cfg.context_layers,
                                    cfg.context_heads) if cfg.context_layers else None)
        self.net = nn.Sequential(
            nn.Conv2d(cfg.lfq.bits, cfg.ch_low, 3, padding=1),  # [B,K,8,8] -> [B,ch_low,8,8]
            *[ResBlock(cfg.ch_low) for _ in range(cfg.blocks_low)],
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(cfg.ch_low, cfg.ch_mid, 3, padding=1),  # -> [B,ch_mid,16,16]
            *[ResBlock(cfg.ch_mid) for _ in range(cfg.blocks_mid)],
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(cfg.ch_mid, cfg.ch, 3, padding=1),  # -> [B,ch,32,32]
            *[ResBlock(cfg.ch) for _ in range(cfg.blocks_hi)],
            nn.ReLU(),
            nn.Conv2d(cfg.ch, cfg.out_refine_ch * 4, 3, padding=1),
            nn.PixelShuffle(2),  # -> [B,refine,64,64]
            nn.ReLU(),
            nn.Conv2d(cfg.out_refine_ch, 3, 3, padding=1),  # -> [B,3,64,64]
        )

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        if self.context is None:
            return self.net(q)
        h = self.context(self.net[0](q))  # net[0]: codes -> ch_low features at 8x8
        for layer in self.net[1:]:
            h = layer(h)
        return h


class BitsTokenizer(nn.Module):
    def __init__(self, cfg: BitsTokenizerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.bits = cfg.lfq.bits
        self.encoder = BitsEncoder(cfg)
        self.quantizer = LFQ(cfg.lfq)
        self.decoder = BitsDecoder(cfg)

    @property
    def vocab_size(self) -> int:
        return 2**self.bits

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Training pass: image -> (unclamped reconstruction, ids [B,8,8], LFQ stats + loss)."""
        q, ids, stats = self.quantizer(self.encoder(x))  # q [B,K,8,8]
        return self.decoder(q), ids, stats

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """[B,3,64,64] in [-1,1] -> token ids [B,64] (raster order)."""
        z = self.encoder(x)  # [B,K,8,8]
        codes = z.permute(0, 2, 3, 1).reshape(z.shape[0], -1, self.bits)  # [B,64,K]
        return ids_from_codes(codes)

    def codes(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [B,64] -> +-1 code map [B,K,8,8] (what the decoder reads)."""
        codes = codes_from_ids(ids, self.bits)  # [B,64,K]
        return codes.view(ids.shape[0], GRID, GRID, self.bits).permute(0, 3, 1, 2)

    @torch.no_grad()
    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Code map [B,K,8,8] (+-1, or 0 for 'unknown') -> images [B,3,64,64] in [-1,1]."""
        return self.decoder(codes.to(next(self.decoder.parameters()).dtype)).clamp(-1.0, 1.0)

    @torch.no_grad()
    def decode(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [B,64] -> images [B,3,64,64] in [-1,1]."""
        return self.decode_codes(self.codes(ids))


def with_context(model: BitsTokenizer, layers: int) -> BitsTokenizer:
    """``model`` with a decoder context stage of ``layers`` blocks added (``CodeContext``):
    same encoder, same drawing until the new stage trains. A no-op when it has that many."""
    if layers == model.cfg.context_layers:
        return model
    if model.cfg.context_layers:
        raise ValueError(f"this tokenizer's decoder already has {model.cfg.context_layers} "
                         f"context layers; start from one without, or keep that number")
    wider = BitsTokenizer(replace(model.cfg, context_layers=layers))
    missing, unexpected = wider.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("decoder.context.") for k in missing)
    frozen = not any(p.requires_grad for p in model.parameters())  # as ``load`` gives it
    return wider.to(next(model.parameters()).dtype).train(model.training).requires_grad_(
        not frozen)


# The repository takes files up to 20 MiB; the medium tokenizer is 23.5 MB in fp16. Above this
# size its decoder's matrices are stored as per-row int8; the encoder always stays fp16, since
# its exact weights define the token ids (and the fingerprint a GPT checks).
INT8_DECODER_ABOVE = 16 * 2**20  # bytes of fp16 weights


def save(model: BitsTokenizer, path: Path | str, extra: dict | None = None) -> Path:
    fp16_bytes = 2 * sum(t.numel() for t in model.state_dict().values())
    return save_checkpoint(path, model, {"config": asdict(model.cfg), **(extra or {})},
                           int8=fp16_bytes > INT8_DECODER_ABOVE, int8_keep=("encoder.",))


def load(path: Path | str) -> BitsTokenizer:
    """A trained tokenizer in eval mode; ``CheckpointError`` names the file if it is missing,
    corrupt, or has no usable config."""
    tensors, meta = read_checkpoint(path)
    try:
        cfg = config_from_dict(meta["config"])
    except (KeyError, TypeError) as exc:
        raise CheckpointError(path, f"has incomplete metadata ({exc})") from exc
    model = BitsTokenizer(cfg)
    load_into(model, tensors, path)
    return model.eval().requires_grad_(False)


@functools.lru_cache(maxsize=1)
def load_pretrained(path: str | None = None) -> BitsTokenizer:
    """The shipped tokenizer (cached per process)."""
    return load(path or weights_path(CHECKPOINT_NAME))


def fingerprint(model: BitsTokenizer) -> str:
    """Identifies the token space (encoder weights only): cached ids and a GPT checkpoint
    trained on them are valid only for the tokenizer with this fingerprint."""
    import hashlib

    h = hashlib.sha1()
    state = model.state_dict()
    for key in sorted(state):
        if key.startswith("encoder."):
            h.update(state[key].detach().cpu().float().numpy().tobytes()[:4096])
    return h.hexdigest()[:10]
