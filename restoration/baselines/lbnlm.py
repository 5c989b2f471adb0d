"""Paired library-based non-local means super-resolution (paired-SR paper, Sec. III-C,
Algorithm 1).

Library building (steps 1-3): from registered training pairs -- HR images I_h and the
bicubic-upsampled LR images registered to them, I_r -- sample K L positions, cluster
their n x n HR patches P_h by k-means (on the vectorised intensities) into k categories,
keep up to L/k random patches per category (all of a smaller category), and store each
P_h with its matched upsampled patch P_r.

Filtering (steps 4-9): upsample the LR image by s (bicubic, on the probe grid) to I_u; for
every pixel take the n x n patch Q_u centred on it, find its category (the closest mean
of the category's library P_r -- the paper says "the average value of the HR patches
P_r's": P_r are the upsampled-LR patches, the ones comparable with Q_u, so we use them),
weight the category's patches by w = exp(-|Q_u - P_r|^2 / (2 n^2 sigma_n^2)) (eq. 2),
normalised, and estimate the HR patch Q_h = sum w P_h (eq. 3). Overlapping patch
estimates are averaged into the SR image (step 9; the paper does not say how they are
combined).

Local registration (Sec. III-A, eq. 1, optional): for training patches with enough
texture the HR patch is moved within +-``local_radius`` pixels to maximise the normalised
inner product with P_r (eq. 1 prints "min"; matching maximises it). The paper's texture
threshold, variance > 100 on 8-bit images, becomes std > ``texture_std`` times the image's
1-99 percentile range (0.04 ~ 10/255).

sigma_n: the paper's default 1.0 is in gray levels of 8-bit images; our images have
arbitrary units, so the default (None) is one gray level of the LR image mapped min-max
to 8 bits, (max - min) / 255 (1.0 for an image spanning 0..255). On the synthetic lattice
pairs of the tests the result is flat for sigma_n from 0.5 to 5 such gray levels and
degrades beyond (more averaging blurs). Paper defaults n = 9, k = 50, K = 10; L "a few
thousand to tens of thousands" (default 4000). Weights are computed stably (the smallest
distance of each patch is subtracted before the exponential).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from emsim.errors import ConfigError, EmsimError


@dataclasses.dataclass(frozen=True)
class LBNLMConfig:
    """n = ``patch``; k = ``categories``; K = ``oversample``; L = ``library_size``."""

    patch: int = 9
    categories: int = 50
    oversample: int = 10
    library_size: int = 4000
    register: bool = False
    local_radius: int = 0
    texture_std: float = 0.04
    kmeans_iter: int = 20
    seed: int = 0

    def __post_init__(self):
        if self.patch < 1 or self.patch % 2 == 0:
            raise ConfigError(f"lbnlm.patch = {self.patch} must be a positive odd integer")
        if self.categories < 1 or self.oversample < 1 or self.library_size < self.categories:
            raise ConfigError("lbnlm: need categories >= 1, oversample >= 1, library_size >= categories")
        if self.local_radius < 0:
            raise ConfigError(f"lbnlm.local_radius = {self.local_radius} must be >= 0")


@dataclasses.dataclass
class Library:
    """Paired library: HR patches ``ph`` and matched upsampled patches ``pr`` (L x n^2),
    their ``labels``, the per-category means of ``pr`` (``centres``, k' x n^2) and the
    intensity ``offset`` subtracted from pr (distances are offset-invariant)."""

    ph: np.ndarray
    pr: np.ndarray
    labels: np.ndarray
    centres: np.ndarray
    patch: int
    scale: int
    offset: float

    def __len__(self) -> int:
        return int(self.ph.shape[0])


def _upsample(lr, s):
    from emsim.imaging.resample import cubic_upsample

    return cubic_upsample(lr, s).astype(np.float64)


def _patches_at(img: np.ndarray, rows: np.ndarray, cols: np.ndarray, n: int) -> np.ndarray:
    """n x n patches with top-left corners (rows, cols), as (N, n^2)."""
    win = sliding_window_view(img, (n, n))
    return win[rows, cols].reshape(len(rows), n * n)


def _local_register(hr, ir, rows, cols, n, radius, texture_std):
    """Move textured HR patches by up to ``radius`` px to maximise the normalised inner
    product with their I_r patch (eq. 1); returns the new HR corners and the offsets."""
    pr = _patches_at(ir, rows, cols, n)
    lo, hi = np.percentile(ir, [1, 99])
    textured = pr.std(1) > texture_std * (hi - lo)
    best = np.full(len(rows), -np.inf)
    off = np.zeros((len(rows), 2), dtype=np.int64)
    prn = pr / np.maximum(np.linalg.norm(pr, axis=1, keepdims=True), 1e-12)
    steps = sorted(((dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)), key=lambda o: o[0] ** 2 + o[1] ** 2)
    for dy, dx in steps:  # nearest offsets first: ties keep the smaller displacement
        ph = _patches_at(hr, rows + dy, cols + dx, n)
        score = np.einsum("ij,ij->i", ph, prn) / np.maximum(np.linalg.norm(ph, axis=1), 1e-12)
        better = score > best + 1e-9
        best = np.where(better, score, best)
        off[better] = (dy, dx)
    off[~textured] = 0
    return rows + off[:, 0], cols + off[:, 1], off


def _valid_corners(valid: np.ndarray, n: int, r: int) -> np.ndarray:
    """Top-left corners (i, j) whose patch, widened by the local search radius r, lies in
    the valid region: valid[i - r : i + n + r, j - r : j + n + r] all True."""
    m = n + 2 * r
    H, W = valid.shape
    if H < m or W < m:
        return np.zeros((0, 2), dtype=np.int64)
    S = np.zeros((H + 1, W + 1))
    S[1:, 1:] = np.cumsum(np.cumsum(valid, 0), 1)
    box = S[m:, m:] - S[:-m, m:] - S[m:, :-m] + S[:-m, :-m]  # box[a, b]: rows a..a+m-1
    return np.argwhere(box >= m * m - 0.5) + r


def kmeans(data: np.ndarray, k: int, iters: int, rng: np.random.Generator) -> np.ndarray:
    """Labels of Lloyd's k-means with k-means++ seeding (``scipy.cluster.vq.kmeans2``)."""
    from scipy.cluster.vq import kmeans2

    x = np.asarray(data, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an empty cluster stays empty: the library has fewer categories
        return kmeans2(x, min(int(k), len(x)), iter=max(1, int(iters)), minit="++", rng=rng)[1]


def build_library(pairs, scale: int, config: LBNLMConfig = LBNLMConfig()) -> Library:
    """Algorithm 1, steps 1-3, from (lr, hr) pairs (hr = scale x lr in size unless
    ``config.register``, which registers each HR image against its upsampled LR)."""
    pairs = list(pairs)
    if not pairs:
        raise EmsimError("LB-NLM needs at least one training pair for its library")
    n, r = config.patch, config.local_radius
    rng = np.random.default_rng(config.seed)
    imgs = []
    for lr, hr in pairs:
        lr, hr = np.asarray(lr, dtype=np.float64), np.asarray(hr, dtype=np.float64)
        if config.register:
            from .registration import register_pair

            _, ir, valid = register_pair(lr, hr, scale)
            ir = ir.astype(np.float64)
        else:
            if hr.shape != (scale * lr.shape[0], scale * lr.shape[1]):
                raise EmsimError(f"pair shapes {lr.shape} -> {hr.shape} do not differ by the scale {scale}")
            ir, valid = _upsample(lr, scale), np.ones(hr.shape, dtype=bool)
        imgs.append((hr, ir, _valid_corners(valid, n, r)))
    counts = np.array([len(c) for _, _, c in imgs])
    if counts.sum() == 0:
        raise EmsimError(f"no {n}x{n} patch fits the registered training pairs")
    want = min(config.oversample * config.library_size, int(counts.sum()))
    pick = np.sort(rng.choice(int(counts.sum()), size=want, replace=False))
    bounds = np.concatenate([[0], np.cumsum(counts)])
    ph_all, pr_all = [], []
    for i, (hr, ir, corners) in enumerate(imgs):
        sel = pick[(pick >= bounds[i]) & (pick < bounds[i + 1])] - bounds[i]
        if not len(sel):
            continue
        rows, cols = corners[sel, 0], corners[sel, 1]
        pr_all.append(_patches_at(ir, rows, cols, n))
        if r > 0:
            rows, cols, _ = _local_register(hr, ir, rows, cols, n, r, config.texture_std)
        ph_all.append(_patches_at(hr, rows, cols, n))
    ph, pr = np.concatenate(ph_all), np.concatenate(pr_all)
    labels = kmeans(ph, config.categories, config.kmeans_iter, rng)  # step 1: k-means on HR patches
    per = max(1, config.library_size // config.categories)
    keep = []
    for c in np.unique(labels):  # step 2: up to L/k per category
        members = np.flatnonzero(labels == c)
        keep.append(members if len(members) <= per else rng.choice(members, size=per, replace=False))
    keep = np.sort(np.concatenate(keep))
    ph, pr, labels = ph[keep], pr[keep], labels[keep]
    cats = np.unique(labels)
    labels = np.searchsorted(cats, labels)  # categories 0..k'-1
    offset = float(pr.mean())
    pr = pr - offset
    centres = np.stack([pr[labels == c].mean(0) for c in range(len(cats))])
    return Library(ph.astype(np.float32), pr.astype(np.float32), labels.astype(np.int32), centres.astype(np.float32), n, int(scale), offset)


def lbnlm_filter(iu: np.ndarray, library: Library, sigma_n: float, stride: int = 1, chunk: int = 65536) -> np.ndarray:
    """Steps 5-9 on an upsampled image ``iu`` (any size): category-restricted LB-NLM.
    Patches are processed ``chunk`` at a time; large chunks mean few, large matrix
    products (threaded BLAS has a high per-call cost on a busy 2-core machine)."""
    n = library.patch
    h = n // 2
    iu = np.asarray(iu, dtype=np.float64)
    H, W = iu.shape
    pad = np.pad(iu - library.offset, h, mode="reflect" if min(H, W) > h else "edge").astype(np.float32)
    rows = np.unique(np.concatenate([np.arange(0, H, stride), [H - 1]]))
    cols = np.unique(np.concatenate([np.arange(0, W, stride), [W - 1]]))
    acc = np.zeros(pad.shape)
    cnt = np.zeros(pad.shape)
    cen, cen2 = library.centres, np.einsum("ij,ij->i", library.centres, library.centres)
    groups = [np.flatnonzero(library.labels == c) for c in range(len(cen))]
    pr2 = np.einsum("ij,ij->i", library.pr, library.pr)
    inv = 1.0 / (2.0 * n * n * sigma_n * sigma_n)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    rr, cc = rr.ravel(), cc.ravel()
    win = sliding_window_view(pad, (n, n))
    for start in range(0, len(rr), chunk):
        r0, c0 = rr[start : start + chunk], cc[start : start + chunk]
        q = win[r0, c0].reshape(len(r0), n * n)
        q2 = np.einsum("ij,ij->i", q, q)
        cat = np.argmin(cen2[None, :] - 2.0 * (q @ cen.T), axis=1)  # step 5
        est = np.empty_like(q)
        for c in np.unique(cat):
            sel = np.flatnonzero(cat == c)
            g = groups[c]
            d = q2[sel, None] - 2.0 * (q[sel] @ library.pr[g].T) + pr2[None, g]  # |Q_u - P_r|^2
            d = np.maximum(d - d.min(axis=1, keepdims=True), 0.0)
            w = np.exp(-d * inv)  # step 6 (up to a per-patch factor that normalisation removes)
            w /= w.sum(axis=1, keepdims=True)  # step 7
            est[sel] = w @ library.ph[g]  # step 8
        est = est.reshape(len(r0), n, n)
        for di in range(n):  # step 9: average the overlapping patch estimates
            for dj in range(n):  # (centres are distinct, so no index repeats within one offset)
                acc[r0 + di, c0 + dj] += est[:, di, dj]
                cnt[r0 + di, c0 + dj] += 1.0
    return (acc / np.maximum(cnt, 1e-12))[h : h + H, h : h + W].astype(np.float32)


def default_sigma(lr: np.ndarray) -> float:
    """The paper's sigma_n = 1.0 gray level, for the image mapped min-max to 8 bits."""
    lr = np.asarray(lr, dtype=np.float64)
    span = float(lr.max() - lr.min())
    return span / 255.0 if span > 0 else 1.0


def lbnlm_upscale(lr, library: Library, sigma_n: float | None = None, stride: int = 1) -> np.ndarray:
    """SR of an LR image with a paired library (Algorithm 1, steps 4-9); ``sigma_n`` None:
    ``default_sigma(lr)``; patch centres every ``stride`` pixels (1: every pixel)."""
    lr = np.asarray(lr, dtype=np.float64)
    if lr.ndim != 2:
        raise EmsimError(f"expected a 2D LR image, got shape {lr.shape}")
    if sigma_n is None:
        sigma_n = default_sigma(lr)
    if not sigma_n > 0:
        raise EmsimError(f"sigma_n must be > 0, got {sigma_n}")
    if not 1 <= stride <= library.patch:
        raise EmsimError(f"stride must lie in [1, {library.patch}], got {stride}")
    return lbnlm_filter(_upsample(lr, library.scale), library, float(sigma_n), stride)
