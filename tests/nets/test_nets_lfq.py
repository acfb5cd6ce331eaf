"""Lookup-free quantiser: id <-> bits, straight-through sign, exact entropy terms, usage."""

from __future__ import annotations

import itertools
import math

import torch

from triptych.nets.lfq import LFQ, LFQConfig, codes_from_ids, ids_from_codes


def test_ids_and_codes_round_trip_msb_first() -> None:
    ids = torch.arange(64)
    codes = codes_from_ids(ids, 6)  # [64,6]
    assert codes.shape == (64, 6) and set(codes.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(ids_from_codes(codes), ids)
    assert codes[1].tolist() == [-1, -1, -1, -1, -1, 1]  # bit 0 is the most significant
    assert codes[32].tolist() == [1, -1, -1, -1, -1, -1]
    assert torch.equal(ids_from_codes(torch.tensor([[0.3, -2.0, 0.1]])), torch.tensor([5]))


def test_sign_is_straight_through() -> None:
    q = LFQ(LFQConfig(bits=4, entropy_group=4))
    z = torch.tensor([[0.3, -0.2, 0.0, -5.0]], requires_grad=True)
    out = q.quantize(z)
    assert out.tolist() == [[1.0, -1.0, -1.0, -1.0]]  # 0 -> -1, as ids_from_codes reads it
    w = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    (out * w).sum().backward()
    assert torch.equal(z.grad, w)  # identity gradient


def _brute_force(z: torch.Tensor, inv_t: float) -> tuple[float, float]:
    """Per-sample and batch entropy over the full 2^K codebook, straight from the definition."""
    k = z.shape[1]
    book = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=k)))  # [2^K,K]
    p = torch.softmax(2 * inv_t * z @ book.T, -1)  # [N,2^K]
    h = lambda q: float(-(q * q.clamp_min(1e-12).log()).sum(-1).mean())  # noqa: E731
    return h(p), h(p.mean(0, keepdim=True))


def test_entropy_terms_match_the_full_codebook_definition() -> None:
    torch.manual_seed(0)
    cfg = LFQConfig(bits=4, entropy_group=4, inv_temperature=2.0)
    z = torch.randn(2, 4, 3, 3) * 0.5  # [B,K,H,W]
    _, ids, stats = LFQ(cfg)(z)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 4)
    sample_h, batch_h = _brute_force(flat, cfg.inv_temperature)
    assert math.isclose(float(stats["sample_entropy"]), sample_h, rel_tol=1e-4)
    assert math.isclose(float(stats["batch_entropy"]), batch_h, rel_tol=1e-4)
    assert ids.shape == (2, 3, 3) and torch.equal(ids.flatten(), ids_from_codes(flat))


def test_grouped_batch_entropy_is_the_sum_over_groups() -> None:
    torch.manual_seed(1)
    z = torch.randn(1, 6, 4, 4)
    whole = LFQ(LFQConfig(bits=6, entropy_group=3, inv_temperature=1.0))(z)[2]["batch_entropy"]
    flat = z.permute(0, 2, 3, 1).reshape(-1, 6)
    parts = [_brute_force(flat[:, g : g + 3], 1.0)[1] for g in (0, 3)]
    assert math.isclose(float(whole), sum(parts), rel_tol=1e-4)


def test_entropy_loss_spreads_a_collapsed_batch_over_the_codebook() -> None:
    torch.manual_seed(0)
    lfq = LFQ(LFQConfig(bits=4, entropy_group=4, commit_weight=0.0, entropy_weight=1.0,
                        inv_temperature=1.0))
    z = (torch.rand(1, 4, 8, 8) * 0.1 + 0.05).requires_grad_(True)  # all codes = 15
    opt = torch.optim.SGD([z], lr=0.5)
    before = LFQ.usage(lfq(z)[1], 4)["codes_used"]
    for _ in range(60):
        loss = lfq(z)[2]["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = LFQ.usage(lfq(z)[1], 4)
    assert before == 1 / 16 and after["codes_used"] > 0.5


def test_usage_of_a_uniform_batch() -> None:
    u = LFQ.usage(torch.arange(16).repeat(3), 4)
    assert u["codes_used"] == 1.0 and math.isclose(u["perplexity"], 16, rel_tol=1e-5)
    assert u["bit_balance"] == 0.0
