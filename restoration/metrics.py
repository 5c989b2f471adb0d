"""Image-quality metrics (numpy in, floats out).

- ``psnr`` (eq. 1, MAX = max(y) unless given) and ``ssim`` (scikit-image, the reference's
  value range): restoration's.
- ``psnr_g``/``ssim_g``: Moeller et al. 2024 (Sec. 5, "Metrics"): the metrics after a 3x3
  or 5x5 Gaussian low-pass that attenuates STEM noise. The paper filters "the HR images";
  we filter both HR images compared (reference and SR output) with the same kernel --
  filtering only the reference would penalise any sharp output. Kernel widths are not
  given; we use OpenCV's rule for a kernel size k with sigma unset,
  sigma = 0.3 ((k - 1)/2 - 1) + 0.8 (0.8 for 3x3, 1.1 for 5x5), normalised, mirrored edges.
- ``ms_ssim``: Wang, Simoncelli & Bovik 2003 (used by Moeller et al. 2023): contrast-
  structure terms at scales 1..M-1 and the full SSIM at scale M, weights (0.0448,
  0.2856, 0.3001, 0.2363, 0.1333), 2x2 average downsampling between scales, Gaussian
  window sigma 1.5 (11 taps), K1 = 0.01, K2 = 0.03, L = the reference's value range.
  Negative terms are clamped to 0 (as common implementations do). Equal to pytorch-msssim
  (``ms_ssim(data_range=L, win_size=11, win_sigma=1.5)``) at >= 176 px (tested). Images too
  small for five scales (side < 176) use the largest M that keeps 11 pixels at the
  coarsest scale, with the first M weights renormalised to sum to 1 (pytorch-msssim
  refuses sides <= 160).
- ``edge_similarity``: the paired-SR paper's eq. 4, sim = 1 - |B_HR != B_SR|_1 /
  (|B_HR|_1 + |B_SR|_1) on Canny edge maps (scikit-image). The paper's "key parameter
  0.2" is MATLAB's Canny threshold: high = 0.2 of the image's largest smoothed gradient
  magnitude, low = 0.4 high, sigma = sqrt(2) (MATLAB's defaults). Two empty maps give 1.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from emsim.errors import EmsimError


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


MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
GAUSS_SIGMA = {3: 0.8, 5: 1.1}  # OpenCV's sigma for 3x3 and 5x5 kernels
CANNY_SIGMA = math.sqrt(2.0)


def _pair(y, y_hat) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(y, dtype=np.float64), np.asarray(y_hat, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise EmsimError(f"metrics need two 2D images of one shape, got {a.shape} and {b.shape}")
    return a, b


def gaussian_kernel(size: int) -> np.ndarray:
    """Normalised 1D Gaussian of ``size`` taps (3 or 5) with OpenCV's default sigma."""
    if size not in GAUSS_SIGMA:
        raise EmsimError(f"Gaussian-filtered metrics use 3x3 or 5x5 kernels, got {size}")
    x = np.arange(size) - (size - 1) / 2
    k = np.exp(-0.5 * (x / GAUSS_SIGMA[size]) ** 2)
    return k / k.sum()


def gaussian_smooth(img: np.ndarray, size: int) -> np.ndarray:
    k = gaussian_kernel(size)
    out = ndimage.correlate1d(np.asarray(img, dtype=np.float64), k, axis=0, mode="mirror")
    return ndimage.correlate1d(out, k, axis=1, mode="mirror")


def psnr_g(y, y_hat, size: int) -> float:
    """PSNR of the size x size Gaussian-filtered images."""
    a, b = _pair(y, y_hat)
    return float(psnr(gaussian_smooth(a, size), gaussian_smooth(b, size)))


def ssim_g(y, y_hat, size: int) -> float:
    """SSIM of the size x size Gaussian-filtered images."""
    a, b = _pair(y, y_hat)
    return ssim(gaussian_smooth(a, size), gaussian_smooth(b, size))


def _ssim_terms(x: np.ndarray, y: np.ndarray, data_range: float, sigma: float = 1.5, truncate: float = 3.5) -> tuple[float, float]:
    """(mean SSIM, mean contrast-structure) with a Gaussian window, cropped as scikit-image
    does (``structural_similarity(gaussian_weights=True, use_sample_covariance=False)``)."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def f(a):
        return ndimage.gaussian_filter(a, sigma, truncate=truncate, mode="reflect")

    ux, uy = f(x), f(y)
    vx, vy, vxy = f(x * x) - ux * ux, f(y * y) - uy * uy, f(x * y) - ux * uy
    cs = (2 * vxy + c2) / (vx + vy + c2)
    lum = (2 * ux * uy + c1) / (ux * ux + uy * uy + c1)
    pad = int(truncate * sigma + 0.5)
    crop = (slice(pad, -pad), slice(pad, -pad))
    return float(np.mean((lum * cs)[crop])), float(np.mean(cs[crop]))


def ms_ssim(y, y_hat, scales: int = 5) -> float:
    """Multi-scale SSIM (Wang et al. 2003) of ``y_hat`` against the reference ``y``.

    Parameters
    ----------
    y, y_hat : 2D arrays of one shape (reference, estimate); L = the range of ``y``
    scales : at most this many scales (5: the standard weights)

    Returns
    -------
    float. Small images: M = min(scales, 1 + floor(log2(min side / 11))) scales, so the
    coarsest keeps 11 px (five scales need a side >= 176), with the first M weights
    renormalised to sum to 1; an EmsimError below 11 px.
    """
    a, b = _pair(y, y_hat)
    win = 11
    fit = 1 + int(math.floor(math.log2(min(a.shape) / win))) if min(a.shape) >= win else 0
    m = min(int(scales), 5, fit)
    if m < 1:
        raise EmsimError(f"MS-SSIM needs images of at least {win}x{win}, got {a.shape}")
    w = np.asarray(MS_SSIM_WEIGHTS[:m])
    w = w / w.sum() if m < 5 else w
    data_range = float(a.max() - a.min()) or 1.0
    value = 1.0
    for j in range(m):
        full, cs = _ssim_terms(a, b, data_range)
        term = full if j == m - 1 else cs
        value *= max(term, 0.0) ** w[j]
        if j < m - 1:
            h, wd = (a.shape[0] // 2) * 2, (a.shape[1] // 2) * 2
            a = a[:h, :wd].reshape(h // 2, 2, wd // 2, 2).mean((1, 3))
            b = b[:h, :wd].reshape(h // 2, 2, wd // 2, 2).mean((1, 3))
    return float(value)


def canny_edges(img, threshold: float = 0.2, sigma: float = CANNY_SIGMA) -> np.ndarray:
    """Binary Canny edge map with MATLAB-style relative thresholds (high = ``threshold``
    times the largest gradient magnitude of the smoothed image, low = 0.4 high)."""
    from skimage.feature import canny

    a = np.asarray(img, dtype=np.float64)
    if a.ndim != 2:
        raise EmsimError(f"expected a 2D image, got shape {a.shape}")
    # the smoothing scikit-image's canny applies (mask-normalised Gaussian, zero outside)
    norm = ndimage.gaussian_filter(np.ones_like(a), sigma, mode="constant")
    sm = ndimage.gaussian_filter(a, sigma, mode="constant") / norm
    mag = np.hypot(ndimage.sobel(sm, axis=0), ndimage.sobel(sm, axis=1))
    peak = float(mag[1:-1, 1:-1].max()) if min(a.shape) > 2 else 0.0
    if peak <= 0.0:
        return np.zeros(a.shape, dtype=bool)
    return canny(a, sigma=sigma, low_threshold=0.4 * threshold * peak, high_threshold=threshold * peak)


def edge_map_similarity(b_hr, b_sr) -> float:
    """Eq. 4 on two binary edge maps: 1 for identical maps, 0 for disjoint ones."""
    p, q = np.asarray(b_hr, dtype=bool), np.asarray(b_sr, dtype=bool)
    if p.shape != q.shape:
        raise EmsimError(f"edge maps differ in shape: {p.shape} and {q.shape}")
    total = int(p.sum()) + int(q.sum())
    return 1.0 if total == 0 else 1.0 - int(np.count_nonzero(p != q)) / total


def edge_similarity(y, y_hat, threshold: float = 0.2) -> float:
    """Eq. 4 on the Canny edges of the HR reference ``y`` and the SR result ``y_hat``."""
    a, b = _pair(y, y_hat)
    return edge_map_similarity(canny_edges(a, threshold), canny_edges(b, threshold))


METRICS = ("psnr", "ssim", "psnr_g3", "ssim_g3", "psnr_g5", "ssim_g5", "ms_ssim", "edge_sim")


def sr_metrics(y, y_hat) -> dict[str, float]:
    """All SR metrics of ``y_hat`` against the HR reference ``y`` (keys ``METRICS``)."""
    a, b = _pair(y, y_hat)
    return {
        "psnr": float(psnr(a, b)),
        "ssim": ssim(a, b),
        "psnr_g3": psnr_g(a, b, 3),
        "ssim_g3": ssim_g(a, b, 3),
        "psnr_g5": psnr_g(a, b, 5),
        "ssim_g5": ssim_g(a, b, 5),
        "ms_ssim": ms_ssim(a, b),
        "edge_sim": edge_similarity(a, b),
    }
