"""Lookup-free quantisation (LFQ, MAGVIT-v2 arXiv 2310.05737; BitDance's sign quantiser).

Each token is a K-dim vector ``z``; its code is ``sign(z)`` in {-1, +1}^K, passed straight
through (``z + (sign(z) - z).detach()``), so there is no codebook to look up, learn or
collapse. The implicit codebook is all 2^K sign patterns.

Token ids. The K bits are read as an integer, bit 0 most significant (``+1 -> 1``,
``-1 -> 0``): ``ids_from_codes`` / ``codes_from_ids``. The GPT predicts the id with one softmax
over 2^K (K=12 -> 4096 classes), which models the bits *jointly*; a per-bit BCE head
(Infinity-style) would be cheaper at K >= 16 but assumes the bits of a token are independent
given the prefix, and K <= 12 costs little as a softmax. Its *input* embedding reads the bits
themselves (a linear map of the +-1 vector), so similar codes get similar embeddings.

Regularisers (as LFQ), weights in ``LFQConfig``:

* commitment ``mean((z - sg(q))^2)`` keeps ``z`` near the corners, so the straight-through
  gradient stays honest;
* entropy: ``mean_i H(p(c | z_i)) - gamma * H(mean_i p(c | z_i))`` with
  ``p(c | z) = softmax_c(2 * inv_temp * <z, c>)``. The first term makes each token confident,
  the second spreads the batch over the codebook (no dead codes). Because ``<z, c>`` is a sum
  over bits, ``p`` factorises per bit: the per-sample term is exact and cheap (K sigmoids).
  The batch term is computed per *group* of ``entropy_group`` bits (a 2^g-way distribution
  each, summed over groups, as BitDance's grouped quantiser does) instead of over all 2^K
  codes; that is an upper bound of the joint entropy and avoids a [N, 2^K] tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LFQConfig:
    bits: int = 12  # K: 12 bits per 8x8 patch -> 4096-way ids ("BitDance-lite": 12-16)
    commit_weight: float = 0.25  # VQ-VAE / LlamaGen commitment beta
    entropy_weight: float = 0.1  # MAGVIT-v2 / vector-quantize-pytorch default
    diversity_gamma: float = 1.0  # weight of the batch (codebook usage) entropy
    inv_temperature: float = 10.0  # p(c|z) sharpness; 10 keeps gradients alive for |z|<~0.3
    entropy_group: int = 6  # batch entropy over groups of 6 bits (64-way), see docstring


def codes_from_ids(ids: torch.Tensor, bits: int) -> torch.Tensor:
    """int ids [...] -> +-1 codes [..., K] (float32), bit 0 most significant."""
    shifts = torch.arange(bits - 1, -1, -1, device=ids.device)  # [K]
    b = (ids.long().unsqueeze(-1) >> shifts) & 1  # [..., K] in {0, 1}
    return b.float() * 2.0 - 1.0


def ids_from_codes(codes: torch.Tensor) -> torch.Tensor:
    """+-1 (or real-valued: sign is taken) codes [..., K] -> int64 ids [...]."""
    bits = codes.shape[-1]
    weights = 2 ** torch.arange(bits - 1, -1, -1, device=codes.device)  # [K]
    return ((codes > 0).long() * weights).sum(-1)


def _entropy(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return -(p * p.clamp_min(1e-8).log()).sum(dim)


class LFQ(nn.Module):
    """Sign quantiser over the channel dim: z [B, K, H, W] -> (q, ids [B, H, W], aux loss)."""

    def __init__(self, cfg: LFQConfig) -> None:
        super().__init__()
        if cfg.bits % cfg.entropy_group and cfg.entropy_group < cfg.bits:
            raise ValueError("entropy_group must divide bits")
        self.cfg = cfg

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Straight-through sign: forward +-1 (0 -> -1, as ``ids_from_codes``), backward
        identity."""
        q = torch.where(z > 0, 1.0, -1.0).to(z.dtype)
        return z + (q - z).detach()

    def forward(
        self, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.cfg
        q = self.quantize(z)  # [B,K,H,W]
        flat = z.permute(0, 2, 3, 1).reshape(-1, cfg.bits)  # [N,K], N = B*H*W tokens
        ids = ids_from_codes(flat.detach()).view(z.shape[0], *z.shape[2:])  # [B,H,W]
        commit = ((flat - torch.where(flat > 0, 1.0, -1.0).detach()) ** 2).mean()
        p_pos = torch.sigmoid(4.0 * cfg.inv_temperature * flat.float())  # [N,K] p(bit=+1)
        per_bit = torch.stack([p_pos, 1 - p_pos], -1)  # [N,K,2]
        sample_h = _entropy(per_bit).sum(-1).mean()  # exact: p factorises per bit
        batch_h = self._grouped_batch_entropy(p_pos)
        loss = cfg.commit_weight * commit + cfg.entropy_weight * (
            sample_h - cfg.diversity_gamma * batch_h)
        stats = {"commit": commit.detach(), "sample_entropy": sample_h.detach(),
                 "batch_entropy": batch_h.detach(), "loss": loss}
        return q, ids, stats

    def _grouped_batch_entropy(self, p_pos: torch.Tensor) -> torch.Tensor:
        """Sum over bit groups of H(mean over tokens of the 2^g-way group distribution)."""
        g = min(self.cfg.entropy_group, self.cfg.bits)
        n, k = p_pos.shape
        codes = codes_from_ids(torch.arange(2**g, device=p_pos.device), g)  # [2^g, g]
        on = (codes > 0).float()  # [2^g, g]
        logp = p_pos.clamp_min(1e-6).log().view(n, k // g, g)  # [N,G,g]
        log1mp = (1 - p_pos).clamp_min(1e-6).log().view(n, k // g, g)  # [N,G,g]
        # log p(code) = sum_bits on*log p + (1-on)*log(1-p)  -> [N,G,2^g]
        logp_code = logp @ on.T + log1mp @ (1 - on).T
        mean_p = logp_code.exp().mean(0)  # [G,2^g]
        return _entropy(mean_p).sum()

    @staticmethod
    def usage(ids: torch.Tensor, bits: int) -> dict[str, float]:
        """Codebook health on a batch of ids: fraction of codes used, perplexity, bit balance."""
        counts = torch.bincount(ids.flatten(), minlength=2**bits).float()
        p = counts / counts.sum()
        codes = codes_from_ids(ids.flatten(), bits)  # [N,K]
        return {
            "codes_used": float((counts > 0).float().mean()),
            "perplexity": float(_entropy(p).exp()),
            "bit_balance": float((codes > 0).float().mean(0).sub(0.5).abs().max()),
        }
