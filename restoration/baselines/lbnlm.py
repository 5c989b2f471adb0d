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

Local registration (Sec. III-A, eq. 1; on by default, as in the paper): for training
patches with enough texture the HR patch is moved within +-``local_radius`` pixels
(default 3; the paper gives no radius) to maximise the normalised inner product with P_r
(eq. 1 prints "min"; matching maximises it). The paper's texture threshold, variance > 100
on 8-bit images, becomes std > ``texture_std`` times the image's 1-99 percentile range
(0.04 ~ 10/255).

Global registration: aligned pairs (hr = s x lr on the probe grid) are used as they are;
``register`` (or given ``transforms``) registers paired acquisitions first
(``registration.register_pair``; I_r is the registered upsampled image).

Self-training (Sec. III-B, the paper's best strategy): ``split_pair`` cuts one registered
pair into 3 x 4 sub-images, the left 9 for the library and the right 3 (25 %) for testing;
``self_training`` builds that pair's library.

sigma_n: the paper's default 1.0 is in gray levels of 8-bit images; our images have
arbitrary units, so the default (None) is one gray level of the LR image mapped min-max
to 8 bits, (max - min) / 255 (1.0 for an image spanning 0..255). On the synthetic lattice
pairs of the tests the result is flat for sigma_n from 0.5 to 5 such gray levels and
degrades beyond (more averaging blurs). Paper defaults n = 9, k = 50, K = 10; L "a few
thousand to tens of thousands", 80,000 in its experiments (Sec. IV-A) -- our default.
Weights are computed stably (the smallest distance of each patch is subtracted before
the exponential).

Cost (measured on 2 CPU cores shared at load 4-5, 9 training sub-images of 320 x 314 HR px,
the paper's self-training size): L = 80,000 (K L = 800,000 sampled patches, nearly all
positions) builds in 26 s without and 36-41 s with local registration (radius 3), peak
memory 0.9 GB (the K L patch pairs as float32, 2 x 260 MB, plus k-means' centred copy),
and filters a 320 x 314 image in 5-8 s (1,600 library patches per category); L = 4,000
builds in 2-3 s (0.17 GB) and filters in 1.4-2.3 s. Building is dominated by k-means on
the K L HR patches.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import sparse

from emsim.errors import ConfigError, EmsimError


@dataclasses.dataclass(frozen=True)
class LBNLMConfig:
    """n = ``patch``; k = ``categories``; K = ``oversample``; L = ``library_size``;
    ``register``: register every library pair globally; ``local_radius``: local
    registration search radius (HR px, 0: off); ``grid``: pixel grid of the bicubic
    upsampling ("probe": emsim's scans, "centre": Pillow's, ``emsim.imaging.resample``)."""

    patch: int = 9
    categories: int = 50
    oversample: int = 10
    library_size: int = 80000
    register: bool = False
    local_radius: int = 3
    texture_std: float = 0.04
    kmeans_iter: int = 20
    seed: int = 0
    grid: str = "probe"

    def __post_init__(self):
        if self.patch < 1 or self.patch % 2 == 0:
            raise ConfigError(f"lbnlm.patch = {self.patch} must be a positive odd integer")
        if self.categories < 1 or self.oversample < 1 or self.library_size < self.categories:
            raise ConfigError("lbnlm: need categories >= 1, oversample >= 1, library_size >= categories")
        if self.local_radius < 0:
            raise ConfigError(f"lbnlm.local_radius = {self.local_radius} must be >= 0")
        if self.grid not in ("probe", "centre"):
            raise ConfigError(f"lbnlm.grid = {self.grid!r} (use probe or centre)")
        if self.grid == "centre" and self.register:
            raise ConfigError("lbnlm: registration works on the probe grid (grid = probe)")


@dataclasses.dataclass
class Library:
    """Paired library: HR patches ``ph`` and matched upsampled patches ``pr`` (L x n^2),
    their ``labels``, the per-category means of ``pr`` (``centres``, k' x n^2), the
    intensity ``offset`` subtracted from pr (distances are offset-invariant) and the
    upsampling ``grid``."""

    ph: np.ndarray
    pr: np.ndarray
    labels: np.ndarray
    centres: np.ndarray
    patch: int
    scale: int
    offset: float
    grid: str = "probe"

    def __len__(self) -> int:
        return int(self.ph.shape[0])


def _upsample(lr, s, grid):
    from emsim.imaging.resample import cubic_upsample

    return cubic_upsample(lr, s, grid)


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


def kmeans(data: np.ndarray, k: int, iters: int, rng: np.random.Generator, chunk: int = 65536) -> np.ndarray:
    """Labels of Lloyd's k-means with k-means++ seeding (Arthur & Vassilvitskii 2007).

    float32, centred data; squared distances as |x|^2 - 2 x.c + |c|^2 by matrix products,
    ``chunk`` rows at a time, and each new seed updates the nearest-seed distances once
    (scipy's ``kmeans2(minit="++")`` recomputes them for every seed so far, quadratic in k:
    30 s of 38 s for 200,000 patches). Stops after ``iters`` iterations or when no label
    changes; an empty cluster keeps its centre (and stays empty: fewer categories)."""
    x = np.asarray(data, dtype=np.float32)
    x = x - x.mean(axis=0)
    n, k = len(x), min(int(k), len(x))
    x2 = np.einsum("ij,ij->i", x, x)

    def nearest(c):
        c2 = np.einsum("ij,ij->i", c, c)
        lab, dist = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.float32)
        for a in range(0, n, chunk):
            d = c2[None, :] - 2.0 * (x[a : a + chunk] @ c.T)
            lab[a : a + chunk] = np.argmin(d, axis=1)
            dist[a : a + chunk] = d[np.arange(len(d)), lab[a : a + chunk]] + x2[a : a + chunk]
        return lab, np.maximum(dist, 0.0)

    def to(i):  # squared distances to data point i
        return np.maximum(x2 - 2.0 * (x @ x[i]) + x2[i], 0.0)

    seeds = [int(rng.integers(n))]
    dmin = to(seeds[0])
    for _ in range(1, k):  # D^2 sampling
        total = float(dmin.sum(dtype=np.float64))
        seeds.append(int(rng.choice(n, p=dmin.astype(np.float64) / total)) if total > 0 else int(rng.integers(n)))
        dmin = np.minimum(dmin, to(seeds[-1]))
    centres = x[seeds]
    labels = nearest(centres)[0]
    for _ in range(max(1, int(iters))):
        count = np.bincount(labels, minlength=k)
        sums = sparse.csr_matrix((np.ones(n, dtype=np.float32), (labels, np.arange(n))), shape=(k, n)) @ x
        full = count > 0
        centres[full] = (sums[full] / count[full, None]).astype(np.float32)
        new = nearest(centres)[0]
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def build_library(pairs, scale: int, config: LBNLMConfig = LBNLMConfig(), transforms=None) -> Library:
    """Algorithm 1, steps 1-3, from (lr, hr) pairs.

    Parameters
    ----------
    pairs : (lr, hr) 2D arrays; hr = scale x lr in size (aligned) unless registered
    scale : SR factor
    config : ``LBNLMConfig``; ``config.register`` registers every pair (``register_pair``)
    transforms : per pair the global registration (``register_pair``'s Transform) to use
        instead of searching it (a paired acquisition registered once), or None

    Returns
    -------
    Library
    """
    pairs = list(pairs)
    if not pairs:
        raise EmsimError("LB-NLM needs at least one training pair for its library")
    if transforms is not None and (len(transforms) != len(pairs) or config.grid != "probe"):
        raise EmsimError(f"{len(transforms)} transforms for {len(pairs)} library pairs on the {config.grid} grid (registration: one per pair, probe grid)")
    n, r = config.patch, config.local_radius
    rng = np.random.default_rng(config.seed)
    imgs = []
    for i, (lr, hr) in enumerate(pairs):
        lr, hr = np.asarray(lr, dtype=np.float32), np.asarray(hr, dtype=np.float32)
        if transforms is not None or config.register:
            from .registration import register_pair, registered_upsample

            T = transforms[i] if transforms is not None else register_pair(lr, hr, scale)[0]
            ir, valid = registered_upsample(lr, T, hr.shape, scale)
        else:
            if hr.shape != (scale * lr.shape[0], scale * lr.shape[1]):
                raise EmsimError(f"pair shapes {lr.shape} -> {hr.shape} do not differ by the scale {scale}")
            ir, valid = _upsample(lr, scale, config.grid), np.ones(hr.shape, dtype=bool)
        imgs.append((hr, ir, _valid_corners(valid, n, r)))
    counts = np.array([len(c) for _, _, c in imgs])
    if counts.sum() == 0:
        raise EmsimError(f"no {n}x{n} patch fits the registered training pairs")
    want = min(config.oversample * config.library_size, int(counts.sum()))
    pick = np.sort(rng.choice(int(counts.sum()), size=want, replace=False))
    ends = np.searchsorted(pick, np.cumsum(counts))  # pick is sorted: one slice per image
    ph, pr = np.empty((want, n * n), dtype=np.float32), np.empty((want, n * n), dtype=np.float32)
    for (hr, ir, corners), a, b, base in zip(imgs, np.concatenate([[0], ends[:-1]]), ends, np.cumsum(counts) - counts):
        rows, cols = corners[pick[a:b] - base, 0], corners[pick[a:b] - base, 1]
        pr[a:b] = _patches_at(ir, rows, cols, n)
        if r > 0:
            rows, cols, _ = _local_register(hr, ir, rows, cols, n, r, config.texture_std)
        ph[a:b] = _patches_at(hr, rows, cols, n)
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
    return Library(ph, pr.astype(np.float32), labels.astype(np.int32), centres.astype(np.float32), n, int(scale), offset, config.grid)


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
    return lbnlm_filter(_upsample(lr, library.scale, library.grid), library, float(sigma_n), stride)


SELF_TRAINING_GRID = (3, 4)  # rows x columns of sub-images; the right column is the test area


def split_pair(lr, hr, scale: int, transform=None, grid=SELF_TRAINING_GRID) -> tuple[list, list]:
    """The paired-SR paper's partition of one pair (Sec. III-B, Fig. 5).

    Parameters
    ----------
    lr, hr : the pair (2D arrays)
    scale : SR factor
    transform : None for an aligned pair (hr = scale x lr on the probe grid), or the
        registration of a paired acquisition (``register_pair``): the LR image is then
        carved onto the HR image's region (``carve_lr``) and both cropped to their common
        valid box
    grid : (rows, columns) of sub-images

    Returns
    -------
    (train, test): lists of aligned (lr, hr) float32 sub-images; test = the right column
    (3 of 3 x 4: the right 25 %), train = the others (9), row by row.
    """
    from .registration import carve_lr, valid_box

    s = int(scale)
    lr, hr = np.asarray(lr, dtype=np.float32), np.asarray(hr, dtype=np.float32)
    if transform is None:
        if hr.shape != (s * lr.shape[0], s * lr.shape[1]):
            raise EmsimError(f"pair shapes {lr.shape} -> {hr.shape} do not differ by the scale {s}: give its registration")
    else:
        lr, valid = carve_lr(lr, transform, hr.shape, s)
        rows, cols = valid_box(valid[: hr.shape[0] // s, : hr.shape[1] // s])
        lr, hr = lr[rows, cols], hr[s * rows.start : s * rows.stop, s * cols.start : s * cols.stop]
    nr, nc = int(grid[0]), int(grid[1])
    h, w = lr.shape[0] // nr, lr.shape[1] // nc
    if nc < 2 or nr < 1 or min(h, w) < 1:
        raise EmsimError(f"cannot split an LR image of {lr.shape} into {nr} x {nc} sub-images with a test column")
    train, test = [], []
    for i in range(nr):
        for j in range(nc):
            sub = (lr[i * h : (i + 1) * h, j * w : (j + 1) * w], hr[s * i * h : s * (i + 1) * h, s * j * w : s * (j + 1) * w])
            (test if j == nc - 1 else train).append(tuple(np.ascontiguousarray(a) for a in sub))
    return train, test


def self_training(lr, hr, scale: int, config: LBNLMConfig = LBNLMConfig(), transform=None) -> tuple[Library, list]:
    """Self-training (Sec. III-B): the library of one pair's 9 training sub-images and its 3
    test sub-images (``split_pair``); returns (library, test pairs)."""
    train, test = split_pair(lr, hr, scale, transform)
    return build_library(train, scale, config), test
