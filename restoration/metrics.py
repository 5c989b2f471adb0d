"""Image-quality metrics (numpy in, floats out).

- ``psnr`` (eq. 1, MAX = max(y) unless given) and ``ssim`` (scikit-image, L = the
  reference's value range unless given): restoration's.
- ``psnr_255``: the papers' convention. Both Moeller papers work on 8-bit gray values
  (G = [0, 255]) and the paired-SR paper's thresholds (variance 100, sigma_n = 1) are 8-bit
  gray levels; how raw data were brought to 8 bits is not said, we take a min-max map
  (as the LB-NLM baseline's sigma_n does). Here the reference is mapped
  min-max to [0, 255], the estimate by the same affine map, both rounded to integers (the
  estimate clipped to [0, 255], as saving it as 8 bits does), and MAX = 255.
- ``psnr_g``/``psnr_255_g``/``ssim_g``: Moeller et al. 2024 (Sec. 5, "Metrics"): "we
  preprocess the HR images with a 3x3 or 5x5 Gaussian filter" -- the HR images compared,
  reference and SR output (the authors' 2023 code, ``GaussMetric``, filters both with
  ``cv2.GaussianBlur(img, (k, k), 0)``). For k <= 7 and sigma <= 0 OpenCV's getGaussianKernel returns the fixed binomial
  kernels [1, 2, 1]/4 and [1, 4, 6, 4, 1]/16 (not the sigma rule 0.3((k-1)/2 - 1) + 0.8),
  applied separably with BORDER_REFLECT_101 (scipy's "mirror"). The peak (and SSIM's L)
  stays that of the unfiltered reference (max(y); 255 for ``psnr_255_g``): a fixed
  convention, so a constant error reads the same filtered or not. ``psnr_255_g`` rounds the
  filtered 8-bit images as OpenCV's uint8 output does (half up).
- ``psnr_fg_bg`` (paired-SR paper, Sec. III-D, IV-C): the reference is split by
  Otsu's threshold (scikit-image's ``threshold_otsu``) into foreground (above) and
  background, isolated foreground pixels (no foreground 8-neighbour: the paper's "isolated
  noise points") moved to the background, and PSNR (MAX = max(y)) is taken over each part.
- ``ms_ssim``: Wang, Simoncelli & Bovik 2003 (used by Moeller et al. 2023): contrast-
  structure terms at scales 1..M-1 and the full SSIM at scale M, weights (0.0448,
  0.2856, 0.3001, 0.2363, 0.1333), 2x2 average downsampling between scales, Gaussian
  window sigma 1.5 (11 taps), K1 = 0.01, K2 = 0.03, L = the reference's value range.
  Negative terms are clamped to 0 (as common implementations do). Equal to pytorch-msssim
  (``ms_ssim(data_range=L, win_size=11, win_sigma=1.5)``) at >= 176 px (tested). Images too
  small for five scales (side < 176) use the largest M that keeps 11 pixels at the
  coarsest scale (``ms_ssim_scales``), with the first M weights renormalised to sum to 1
  (pytorch-msssim refuses sides <= 160).
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


def ssim(y: np.ndarray, y_hat: np.ndarray, data_range: float | None = None) -> float:
    """Structural similarity (Wang et al. 2004); L = the clean image's value range unless
    ``data_range`` is given."""
    from skimage.metrics import structural_similarity

    y = np.asarray(y, dtype=np.float64)
    rng = (float(y.max() - y.min()) if data_range is None else float(data_range)) or 1.0
    return float(structural_similarity(y, np.asarray(y_hat, dtype=np.float64), data_range=rng))


MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_WINDOW = 11
GAUSS_KERNELS = {3: (1, 2, 1), 5: (1, 4, 6, 4, 1)}  # OpenCV's fixed kernels for ksize 3, 5
CANNY_SIGMA = math.sqrt(2.0)


def _pair(y, y_hat) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(y, dtype=np.float64), np.asarray(y_hat, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise EmsimError(f"metrics need two 2D images of one shape, got {a.shape} and {b.shape}")
    return a, b


def gaussian_kernel(size: int) -> np.ndarray:
    """OpenCV's ``getGaussianKernel(size, 0)`` for size 3 or 5: [1, 2, 1]/4, [1, 4, 6, 4, 1]/16."""
    if size not in GAUSS_KERNELS:
        raise EmsimError(f"Gaussian-filtered metrics use 3x3 or 5x5 kernels, got {size}")
    k = np.asarray(GAUSS_KERNELS[size], dtype=np.float64)
    return k / k.sum()


def gaussian_smooth(img: np.ndarray, size: int) -> np.ndarray:
    """``cv2.GaussianBlur(img, (size, size), 0)`` in float64 (separable, BORDER_REFLECT_101)."""
    k = gaussian_kernel(size)
    out = ndimage.correlate1d(np.asarray(img, dtype=np.float64), k, axis=0, mode="mirror")
    return ndimage.correlate1d(out, k, axis=1, mode="mirror")


def to_8bit(img, ref) -> np.ndarray:
    """``img`` under the min-max map of ``ref`` to [0, 255], rounded and clipped (float64)."""
    r = np.asarray(ref, dtype=np.float64)
    lo, span = float(r.min()), float(r.max() - r.min()) or 1.0
    return np.clip(np.rint((np.asarray(img, dtype=np.float64) - lo) * (255.0 / span)), 0.0, 255.0)


def psnr_255(y, y_hat) -> float:
    """PSNR of the 8-bit images (``to_8bit`` by the reference's map), MAX = 255."""
    a, b = _pair(y, y_hat)
    return psnr(to_8bit(a, a), to_8bit(b, a), data_range=255.0)


def psnr_g(y, y_hat, size: int) -> float:
    """PSNR of the size x size Gaussian-filtered images, MAX = max(y) of the unfiltered y."""
    a, b = _pair(y, y_hat)
    return psnr(gaussian_smooth(a, size), gaussian_smooth(b, size), data_range=float(a.max()))


def psnr_255_g(y, y_hat, size: int) -> float:
    """``psnr_255`` after OpenCV's size x size GaussianBlur of both 8-bit images (uint8
    output: rounded half up), MAX = 255."""
    a, b = _pair(y, y_hat)

    def blur(img):
        return np.floor(gaussian_smooth(to_8bit(img, a), size) + 0.5)

    return psnr(blur(a), blur(b), data_range=255.0)


def ssim_g(y, y_hat, size: int) -> float:
    """SSIM of the size x size Gaussian-filtered images, L = the unfiltered y's range."""
    a, b = _pair(y, y_hat)
    return ssim(gaussian_smooth(a, size), gaussian_smooth(b, size), data_range=float(a.max() - a.min()))


def otsu_foreground(y) -> np.ndarray:
    """Foreground mask of a reference: above Otsu's threshold, without isolated pixels
    (those with no foreground 8-neighbour). All False for a constant image."""
    from skimage.filters import threshold_otsu

    a = np.asarray(y, dtype=np.float64)
    if a.ndim != 2:
        raise EmsimError(f"expected a 2D image, got shape {a.shape}")
    if a.max() == a.min():
        return np.zeros(a.shape, dtype=bool)
    fg = a > threshold_otsu(a)
    neighbours = ndimage.convolve(fg.astype(np.int32), np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]]), mode="constant")
    return fg & (neighbours > 0)


def psnr_fg_bg(y, y_hat) -> tuple[float, float]:
    """(foreground, background) PSNR (MAX = max(y)) over ``otsu_foreground(y)`` and its
    complement; NaN for an empty part."""
    a, b = _pair(y, y_hat)
    fg = otsu_foreground(a)
    peak = float(a.max())
    return tuple(psnr(a[m], b[m], data_range=peak) if m.any() else float("nan") for m in (fg, ~fg))


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


def ms_ssim_scales(shape, scales: int = 5) -> int:
    """Number of MS-SSIM scales M for an image of ``shape``: min(scales, 5, 1 +
    floor(log2(min side / 11))); an EmsimError below 11 px."""
    side = min(int(shape[0]), int(shape[1]))
    fit = 1 + int(math.floor(math.log2(side / MS_SSIM_WINDOW))) if side >= MS_SSIM_WINDOW else 0
    m = min(int(scales), 5, fit)
    if m < 1:
        raise EmsimError(f"MS-SSIM needs images of at least {MS_SSIM_WINDOW}x{MS_SSIM_WINDOW}, got {tuple(shape)}")
    return m


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
    m = ms_ssim_scales(a.shape, scales)
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


METRICS = (
    "psnr_maxy", "psnr_255", "ssim", "psnr_maxy_g3", "psnr_255_g3", "ssim_g3", "psnr_maxy_g5", "psnr_255_g5", "ssim_g5",
    "ms_ssim", "edge_sim", "psnr_maxy_fg", "psnr_maxy_bg",
)  # psnr_maxy*: MAX = max(y) (``psnr``); psnr_255*: the papers' 8-bit convention


def sr_metrics(y, y_hat) -> dict[str, float]:
    """All SR metrics of ``y_hat`` against the HR reference ``y`` (keys ``METRICS``)."""
    a, b = _pair(y, y_hat)
    out = {"psnr_maxy": psnr(a, b), "psnr_255": psnr_255(a, b), "ssim": ssim(a, b)}
    for k in (3, 5):
        out.update({f"psnr_maxy_g{k}": psnr_g(a, b, k), f"psnr_255_g{k}": psnr_255_g(a, b, k), f"ssim_g{k}": ssim_g(a, b, k)})
    out["ms_ssim"], out["edge_sim"] = ms_ssim(a, b), edge_similarity(a, b)
    out["psnr_maxy_fg"], out["psnr_maxy_bg"] = psnr_fg_bg(a, b)
    return {k: float(out[k]) for k in METRICS}
