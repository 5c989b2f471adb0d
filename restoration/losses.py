"""Loss functions of Lobato et al. (2023), "Loss function" (eq. 2-15).

All pixel losses weigh each example by w_y = 1 / max(sigma_min, Std(y)) (eq. 5) so that
every example counts equally regardless of its contrast, and average over the batch.
"""

from __future__ import annotations

import dataclasses

import torch
from torch.nn import functional as F

SIGMA_MIN = 1e-2


def example_weight(y: torch.Tensor, sigma_min: float = SIGMA_MIN) -> torch.Tensor:
    """Eq. 5: w_y = 1 / max(sigma_min, Std(y)), one per example, shaped (B, 1, 1, 1)."""
    return 1.0 / y.std(dim=(-3, -2, -1), keepdim=True).clamp_min(sigma_min)


def l1_loss(y, y_g, sigma_min: float = SIGMA_MIN):
    """Eq. 4: E{w_y |y - y_g|}."""
    return (example_weight(y, sigma_min) * (y - y_g).abs()).mean()


def l2_loss(y, y_g, sigma_min: float = SIGMA_MIN):
    """Eq. 6: E{w_y |y - y_g|^2} (penalises the outliers L1 tolerates)."""
    return (example_weight(y, sigma_min) * (y - y_g) ** 2).mean()


def local_whitening(y: torch.Tensor, window: int, sigma_min: float = SIGMA_MIN) -> torch.Tensor:
    """Eq. 7: (y - local mean) / max(sigma_min, local std) over a window x window
    neighbourhood of each pixel (the window's top-left sits window//2 before the pixel;
    borders use the part of the window inside the image)."""
    pad = (window // 2, window - 1 - window // 2, window // 2, window - 1 - window // 2)
    ones = torch.ones_like(y)
    count = F.avg_pool2d(F.pad(ones, pad), window, stride=1)
    mean = F.avg_pool2d(F.pad(y, pad), window, stride=1) / count
    sq = F.avg_pool2d(F.pad(y * y, pad), window, stride=1) / count
    std = (sq - mean * mean).clamp_min(sigma_min * sigma_min).sqrt()  # = max(sigma_min, std), finite gradient
    return (y - mean) / std


def mlwt_loss(y, y_g, windows=(2, 4, 8, 16), sigma_min: float = SIGMA_MIN):
    """Eq. 8: mean L1 distance of the local whitening transforms over several windows."""
    return sum((local_whitening(y, s, sigma_min) - local_whitening(y_g, s, sigma_min)).abs().mean() for s in windows) / len(windows)


def fourier_loss(y, y_g, gamma: float = 0.125, eps: float = 1e-12):
    """Eq. 9: E{|F(y - y_g)|^gamma} (orthonormal 2D FFT; eps keeps the gradient finite
    where the difference spectrum vanishes)."""
    spec = torch.fft.rfft2((y - y_g).float(), norm="ortho")
    return ((spec.real**2 + spec.imag**2 + eps) ** (gamma / 2)).mean()


def mean_loss(y, y_g):
    """Eq. 10: |E{y} - E{y_g}| per example, averaged."""
    return (y.mean(dim=(-3, -2, -1)) - y_g.mean(dim=(-3, -2, -1))).abs().mean()


def std_loss(y, y_g):
    """Eq. 11: |Std{y} - Std{y_g}| per example, averaged."""
    return (y.std(dim=(-3, -2, -1)) - y_g.std(dim=(-3, -2, -1))).abs().mean()


def _relativistic(c_a, c_b):
    """Logits of D_Rap(a, b) = sigmoid(C(a) - E_b{C(b)}) (eq. 2-3)."""
    return c_a - c_b.mean()


def adversarial_loss(c_real, c_fake):
    """Eq. 12 (generator): -E log(1 - D(y, y_g)) - E log D(y_g, y), from the raw
    discriminator outputs C(x, y) and C(x, y_g)."""
    real, fake = _relativistic(c_real, c_fake), _relativistic(c_fake, c_real)
    return F.binary_cross_entropy_with_logits(real, torch.zeros_like(real)) + F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


def discriminator_loss(c_real, c_fake):
    """Eq. 15: -E log D(x, y, y_g) - E log(1 - D(x, y_g, y))."""
    real, fake = _relativistic(c_real, c_fake), _relativistic(c_fake, c_real)
    return F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """Lambdas of eq. 13-14. The paper tuned them by grid search without publishing the
    values; these defaults give each term a comparable magnitude on emsim data at the
    start of training (L1 leads; the L2, MLWT and Fourier terms sharpen; the constraint
    terms are small regularisers; the adversarial term is light and only active after the
    pixel-loss warm-up, see TrainConfig.gan_after)."""

    l1: float = 1.0
    l2: float = 0.5
    mlwt: float = 0.2
    fourier: float = 0.05
    mean: float = 0.1
    std: float = 0.1
    adv: float = 5e-3
    sigma_min: float = SIGMA_MIN
    gamma: float = 0.125


def pixel_loss(y, y_g, w: LossWeights = LossWeights()) -> tuple[torch.Tensor, dict]:
    """Eq. 14; returns (total, {term: value}) with the weighted terms that are switched on."""
    terms = {}
    if w.l1:
        terms["l1"] = w.l1 * l1_loss(y, y_g, w.sigma_min)
    if w.l2:
        terms["l2"] = w.l2 * l2_loss(y, y_g, w.sigma_min)
    if w.mlwt:
        terms["mlwt"] = w.mlwt * mlwt_loss(y, y_g, sigma_min=w.sigma_min)
    if w.fourier:
        terms["fourier"] = w.fourier * fourier_loss(y, y_g, w.gamma)
    if w.mean:
        terms["mean"] = w.mean * mean_loss(y, y_g)
    if w.std:
        terms["std"] = w.std * std_loss(y, y_g)
    return sum(terms.values()), {k: float(v.detach()) for k, v in terms.items()}
