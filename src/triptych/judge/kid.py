"""Kernel Inception Distance, computed in the judge's feature space (no Inception weights).

KID (Bińkowski et al. 2018) is the unbiased MMD² with the polynomial kernel
k(x, y) = (xᵀy / d + 1)³, averaged over random subsets; unlike FID it is unbiased at small N.
Same estimator as torchmetrics' KernelInceptionDistance.
"""

from __future__ import annotations

import numpy as np
import torch

from triptych.judge.model import Judge, to_input


@torch.no_grad()
def judge_features(judge: Judge, images: np.ndarray | torch.Tensor, batch: int = 256
                   ) -> np.ndarray:
    """uint8 [N, H, W, 3] -> float64 features [N, D] (the judge's penultimate layer)."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    judge.eval()
    feats = [judge.embed(to_input(images[i:i + batch])) for i in range(0, images.shape[0], batch)]
    return torch.cat(feats).double().numpy()


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m, n = x.shape[0], y.shape[0]
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2 * kxy.mean())


def kid(real: np.ndarray, fake: np.ndarray, subsets: int = 50, subset_size: int = 100,
        seed: int = 0) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD² over random subsets of two feature sets [N, D]."""
    size = min(subset_size, real.shape[0], fake.shape[0])
    if size < 2:
        raise ValueError("KID needs at least 2 samples per set")
    rng = np.random.default_rng(seed)
    values = [
        _mmd2_unbiased(real[rng.choice(real.shape[0], size, replace=False)],
                       fake[rng.choice(fake.shape[0], size, replace=False)])
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values))
