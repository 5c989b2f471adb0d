"""Image-quality metrics: PSNR (eq. 1) and SSIM (scikit-image's maintained implementation)."""

from __future__ import annotations

import numpy as np


def psnr(y: np.ndarray, y_hat: np.ndarray, data_range: float | None = None) -> float:
    """Eq. 1: 10 log10(MAX^2 / MSE). MAX is the largest value of the clean image (1 for the
    max-normalised targets of eq. 26) unless ``data_range`` is given."""
    y = np.asarray(y, dtype=np.float64)
    mse = float(np.mean((y - np.asarray(y_hat, dtype=np.float64)) ** 2))
    peak = float(np.max(y)) if data_range is None else float(data_range)
    return float("inf") if mse == 0 else 10.0 * np.log10(peak * peak / mse)


def ssim(y: np.ndarray, y_hat: np.ndarray) -> float:
    """Structural similarity (Wang et al. 2004) with the clean image's value range."""
    from skimage.metrics import structural_similarity

    y = np.asarray(y, dtype=np.float64)
    rng = float(y.max() - y.min()) or 1.0
    return float(structural_similarity(y, np.asarray(y_hat, dtype=np.float64), data_range=rng))
