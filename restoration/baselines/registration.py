"""Global registration of an image pair: shift + rotation + scale by a coarse-to-fine grid
search (paired-SR paper, Sec. III-A "Global and Local Registration").

The paper upsamples the LR image to the HR grid (bicubic), searches (x, y, theta) on
downsampled images and refines around the estimate at full resolution, minimising the MSE
over the overlap. We maximise the zero-mean normalised cross-correlation (NCC) over the
overlap instead: it is the MSE after the best affine intensity match, so the differing
contrast of physically separate LR/HR acquisitions (the paper's Fig. 3) does not bias it.
We also search the relative scale: separate acquisitions differ in magnification (the
paired stores draw +-2 %, 1.7 px at the edge of a 160 px field), which a rigid search
leaves as a residual misalignment.

Transform: ``Transform(dy, dx, angle, scale)`` maps fixed-image pixel coordinates p (row,
col) to moving-image coordinates, T(p) = c + scale R(angle) (p - c) + (dy, dx), c the
fixed image's centre; ``warp(moving, T, shape)`` samples the moving image at T(p), which
aligns it with the fixed image. Angles are in degrees.

Search: an image pyramid (2x2 block means) down to about ``coarse_size`` pixels; at the
coarsest level every angle and scale of the grids is tried and, for each, the NCC of all
integer shifts is computed at once with FFTs (masked NCC, Padfield 2012); each finer level
searches +-2 px around the doubled shift, +-1 angle step and +-1 scale step (both steps
halving per level); at full resolution a pattern search refines shift, angle and scale to
sub-pixel precision. Only shifts with at least ``min_overlap`` of the fixed image overlapping
count. ``scales=(1.0,)`` searches no scale (a rigid registration).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from emsim.errors import EmsimError


@dataclasses.dataclass(frozen=True)
class Transform:
    """T(p) = c + scale R(angle) (p - c) + (dy, dx); c = ``center`` (default: fixed centre)."""

    dy: float = 0.0
    dx: float = 0.0
    angle: float = 0.0
    scale: float = 1.0
    center: tuple[float, float] | None = None

    def matrix(self) -> np.ndarray:
        t = math.radians(self.angle)
        c, s = math.cos(t), math.sin(t)
        return self.scale * np.array([[c, -s], [s, c]])

    def coords(self, shape) -> np.ndarray:
        """Moving-image coordinates (2, H, W) of the fixed-image pixels of ``shape``."""
        H, W = int(shape[0]), int(shape[1])
        c = np.array(self.center if self.center is not None else ((H - 1) / 2.0, (W - 1) / 2.0))
        p = np.stack(np.meshgrid(np.arange(H, dtype=np.float64), np.arange(W, dtype=np.float64), indexing="ij")).reshape(2, -1)
        q = self.matrix() @ (p - c[:, None]) + c[:, None] + np.array([[self.dy], [self.dx]])
        return q.reshape(2, H, W)

    def inverse(self, shape) -> "Transform":
        """The transform undoing this one, about the same centre (for a fixed image of ``shape``)."""
        c = np.array(self.center if self.center is not None else ((shape[0] - 1) / 2.0, (shape[1] - 1) / 2.0))
        inv = np.linalg.inv(self.matrix())
        t = -inv @ np.array([self.dy, self.dx])
        return Transform(float(t[0]), float(t[1]), -self.angle, 1.0 / self.scale, tuple(float(v) for v in c))


def warp(moving: np.ndarray, transform: Transform, shape=None, order: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(moving sampled at T(p) for the fixed pixels p of ``shape``, validity mask)."""
    m = np.asarray(moving, dtype=np.float64)
    shape = m.shape if shape is None else tuple(int(v) for v in shape)
    q = transform.coords(shape)
    valid = (q[0] >= -1e-9) & (q[0] <= m.shape[0] - 1 + 1e-9) & (q[1] >= -1e-9) & (q[1] <= m.shape[1] - 1 + 1e-9)
    out = ndimage.map_coordinates(m, q, order=order, mode="nearest", prefilter=order > 1)
    return out, valid


def ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Zero-mean normalised cross-correlation of a and b over ``mask`` (all pixels if None)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if mask is not None:
        a, b = a[mask], b[mask]
    if a.size < 2:
        return -1.0
    a, b = (a - a.mean()).ravel(), (b - b.mean()).ravel()

    def dot(u, v):  # einsum, not BLAS ddot: threaded OpenBLAS is slow for this on a busy CPU
        return float(np.einsum("i,i->", u, v))

    den = math.sqrt(dot(a, a) * dot(b, b))
    return dot(a, b) / den if den > 0 else -1.0


def masked_ncc_map(fixed: np.ndarray, moving: np.ndarray, mf: np.ndarray, mm: np.ndarray, cache: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """NCC of ``fixed`` with ``moving`` shifted by every integer t (fixed p <-> moving p + t)
    over the overlap of the masks, by FFT (Padfield 2012). Returns (ncc, overlap count),
    indexed [ty + Hf - 1, tx + Wf - 1] for ty in (-Hf, Hm), tx in (-Wf, Wm). ``cache``: a
    dict shared by calls with one fixed image and mask, which keeps its spectra."""
    f = np.where(mf, fixed, 0.0)
    m = np.where(mm, moving, 0.0)
    Hf, Wf = f.shape
    Hm, Wm = m.shape
    shape = (Hf + Hm - 1, Wf + Wm - 1)
    fs = sfft.next_fast_len(shape[0]), sfft.next_fast_len(shape[1])

    def F(x):
        return sfft.rfft2(x, fs)

    def corr(Fa, Fb):  # sum_p a(p) b(p + t), t = k - (Hf - 1)
        c = sfft.irfft2(np.conj(Fa) * Fb, fs)
        c = np.roll(c, (Hf - 1, Wf - 1), (0, 1))
        return c[: shape[0], : shape[1]]

    spectra = None if cache is None else cache.get(fs)
    if spectra is None:
        spectra = F(f), F(f * f), F(mf.astype(np.float64))
        if cache is not None:
            cache[fs] = spectra
    Ff, Ff2, Fmf = spectra
    Fm, Fm2, Fmm = F(m), F(m * m), F(mm.astype(np.float64))
    n = np.rint(corr(Fmf, Fmm))
    sf, sm = corr(Ff, Fmm), corr(Fmf, Fm)
    sff, smm, sfm = corr(Ff2, Fmm), corr(Fmf, Fm2), corr(Ff, Fm)
    with np.errstate(divide="ignore", invalid="ignore"):
        nn = np.maximum(n, 1.0)
        num = sfm - sf * sm / nn
        den = (sff - sf * sf / nn) * (smm - sm * sm / nn)
        out = np.where((n > 1) & (den > 1e-12 * (np.abs(sff * smm) + 1e-300)), num / np.sqrt(np.maximum(den, 1e-300)), -1.0)
    return np.clip(out, -1.0, 1.0), n


def _half(img: np.ndarray) -> np.ndarray:
    h, w = (img.shape[0] // 2) * 2, (img.shape[1] // 2) * 2
    return img[:h, :w].reshape(h // 2, 2, w // 2, 2).mean((1, 3))


@dataclasses.dataclass
class _Cand:
    dy: float
    dx: float
    angle: float
    scale: float
    score: float = -2.0


def _rotated(moving, angle, scale, center, shape):
    """Moving image sampled at c + s R (p - c) for fixed-grid p extended over the moving
    image's own extent (so integer shifts t then give T = c + s R (p - c) + s R t)."""
    m = np.asarray(moving, dtype=np.float64)
    tr = Transform(0.0, 0.0, angle, scale, center)
    H, W = m.shape
    q = tr.coords((H, W))
    valid = (q[0] >= 0) & (q[0] <= H - 1) & (q[1] >= 0) & (q[1] <= W - 1)
    return ndimage.map_coordinates(m, q, order=1, mode="nearest"), valid


def _grid_level(fixed, moving, center, angles, scales, min_overlap, window=None):
    """Best (dy, dx, angle, scale, ncc) over angles x scales x integer shifts."""
    Hf, Wf = fixed.shape
    mf = np.ones(fixed.shape, dtype=bool)
    need = min_overlap * Hf * Wf
    best = _Cand(0.0, 0.0, 0.0, 1.0)
    cache: dict = {}
    for s in scales:
        for a in angles:
            rot, valid = _rotated(moving, a, s, center, moving.shape)
            score, n = masked_ncc_map(fixed, rot, mf, valid, cache)
            score = np.where(n >= need, score, -2.0)
            if window is not None:  # restrict to shifts near the prediction
                (ty0, tx0), r = window
                ys = np.arange(score.shape[0]) - (Hf - 1)
                xs = np.arange(score.shape[1]) - (Wf - 1)
                keep = (np.abs(ys - ty0) <= r)[:, None] & (np.abs(xs - tx0) <= r)[None, :]
                score = np.where(keep, score, -2.0)
            k = np.unravel_index(int(np.argmax(score)), score.shape)
            if score[k] > best.score:
                ty, tx = k[0] - (Hf - 1), k[1] - (Wf - 1)
                t = Transform(0, 0, a, s).matrix() @ np.array([ty, tx], dtype=np.float64)
                best = _Cand(float(t[0]), float(t[1]), float(a), float(s), float(score[k]))
    return best


def _score(fixed, moving, cand: _Cand, center, min_overlap) -> float:
    out, valid = warp(moving, Transform(cand.dy, cand.dx, cand.angle, cand.scale, center), fixed.shape, order=1)
    if valid.sum() < min_overlap * valid.size:
        return -2.0
    return ncc(fixed, out, valid)


SCALES = (0.97, 0.985, 1.0, 1.015, 1.03)  # +-3 % in 1.5 % steps at the coarsest level


def register(fixed, moving, max_angle: float = 5.0, angle_step: float = 1.0, scales=SCALES, min_overlap: float = 0.5, coarse_size: int = 64, tol: float = 1.0 / 32) -> Transform:
    """The transform aligning ``moving`` with ``fixed`` (see the module docstring).

    Parameters
    ----------
    fixed, moving : 2D images (at least 8x8)
    max_angle, angle_step : rotations in [-max_angle, max_angle] degrees, grid step
        ``angle_step`` at the coarsest level
    scales : relative scales tried at the coarsest level (evenly spaced; refined when more
        than one is given; default +-3 % in 1.5 % steps)
    min_overlap : fraction of the fixed image that must overlap the moving one
    coarse_size : side (px) of the coarsest pyramid level, about
    tol : final shift precision (px)

    Returns
    -------
    Transform
    """
    f = np.asarray(fixed, dtype=np.float64)
    m = np.asarray(moving, dtype=np.float64)
    if f.ndim != 2 or m.ndim != 2 or min(f.shape) < 8 or min(m.shape) < 8:
        raise EmsimError(f"registration needs 2D images of at least 8x8, got {f.shape} and {m.shape}")
    if not 0 < min_overlap <= 1 or angle_step <= 0 or max_angle < 0:
        raise EmsimError("registration: need 0 < min_overlap <= 1, angle_step > 0, max_angle >= 0")
    scales = sorted(float(s) for s in scales)
    if not scales or scales[0] <= 0:
        raise EmsimError(f"registration: scales must be positive, got {scales}")
    pf, pm, centers = [f], [m], [((f.shape[0] - 1) / 2.0, (f.shape[1] - 1) / 2.0)]
    while min(pf[-1].shape) >= 2 * coarse_size and min(pm[-1].shape) >= 2 * coarse_size:
        pf.append(_half(pf[-1]))
        pm.append(_half(pm[-1]))
        cy, cx = centers[-1]
        centers.append(((cy - 0.5) / 2.0, (cx - 0.5) / 2.0))  # block-mean pixel centres
    L = len(pf) - 1
    n = int(math.floor(max_angle / angle_step + 1e-9))
    angles = [k * angle_step for k in range(-n, n + 1)] or [0.0]
    best = _grid_level(pf[L], pm[L], centers[L], angles, scales, min_overlap)
    step = angle_step
    sstep = float(np.min(np.diff(scales))) if len(scales) > 1 else 0.0
    for lev in range(L - 1, -1, -1):  # finer levels: +-2 px, +-1 (halved) angle and scale step
        step, sstep = step / 2.0, sstep / 2.0
        R = Transform(0, 0, best.angle, best.scale).matrix()
        # shift at this level: moving coordinates scale by 2, plus the block-centre offset
        t = 2.0 * np.array([best.dy, best.dx])
        ty, tx = np.linalg.solve(R, t)
        cands = [best.angle + d * step for d in (-1, 0, 1)]
        cscales = sorted({best.scale + d * sstep for d in (-1, 0, 1)})
        best = _grid_level(pf[lev], pm[lev], centers[lev], cands, cscales, min_overlap, window=((round(ty), round(tx)), 2))
    # sub-pixel pattern search at full resolution
    center = centers[0]
    best.score = _score(f, m, best, center, min_overlap)
    steps = {"dy": 0.5, "dx": 0.5, "angle": step / 2.0, "scale": sstep / 2.0}
    for _ in range(200):
        improved = False
        for key in ("dy", "dx", "angle", "scale"):
            if steps[key] == 0.0:
                continue
            for sgn in (1.0, -1.0):
                c = dataclasses.replace(best)
                setattr(c, key, getattr(c, key) + sgn * steps[key])
                c.score = _score(f, m, c, center, min_overlap)
                if c.score > best.score + 1e-12:
                    best, improved = c, True
                    break
        if not improved:
            if steps["dy"] <= tol:
                break
            steps = {k: v / 2.0 for k, v in steps.items()}
    return Transform(best.dy, best.dx, best.angle, best.scale)


def registered_upsample(lr, transform: Transform, shape, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """I_r: the LR image upsampled by ``scale`` (bicubic, on the probe grid) and warped by
    ``transform`` onto the HR grid of ``shape``; returns (I_r float32, validity mask)."""
    from emsim.imaging.resample import cubic_upsample

    ir, valid = warp(cubic_upsample(lr, scale), transform, shape, order=3)
    return ir.astype(np.float32), valid


def register_pair(lr, hr, scale: int, **kwargs) -> tuple[Transform, np.ndarray, np.ndarray]:
    """Register an LR/HR pair as the paper: upsample the LR image by ``scale`` (bicubic, on
    the probe grid), register the HR image (fixed) with it (``register``'s ``kwargs``);
    returns (T, the registered upsampled image I_r on the HR grid, its validity mask)."""
    from emsim.imaging.resample import cubic_upsample

    T = register(hr, cubic_upsample(lr, scale), **kwargs)
    return (T, *registered_upsample(lr, T, np.asarray(hr).shape, scale))


def carve_lr(lr, transform: Transform, hr_shape, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The LR image resampled (cubic spline) onto the probe grid of the registered HR image:
    output pixel q is the LR image at T(s q) / s, so it pairs with HR pixel s q as an
    aligned scan would. ``transform``: from ``register_pair`` (HR -> upsampled LR).
    Returns (LR image of ceil(H/s) x ceil(W/s), validity mask)."""
    H, W = int(hr_shape[0]), int(hr_shape[1])
    s = float(scale)
    t = transform
    cy, cx = t.center if t.center is not None else ((H - 1) / 2.0, (W - 1) / 2.0)  # in HR px
    out, valid = warp(lr, Transform(t.dy / s, t.dx / s, t.angle, t.scale, (cy / s, cx / s)), (-(-H // scale), -(-W // scale)), order=3)
    return out.astype(np.float32), valid


def valid_box(valid: np.ndarray) -> tuple[slice, slice]:
    """An axis-aligned box inside a validity mask: edge rows/columns are dropped, the one
    with the most invalid pixels first, until every pixel left is valid. EmsimError if
    nothing is left."""
    v = np.asarray(valid, dtype=bool)
    r0, r1, c0, c1 = 0, v.shape[0], 0, v.shape[1]
    while r0 < r1 and c0 < c1:
        box = v[r0:r1, c0:c1]
        bad = [(~box[0]).sum(), (~box[-1]).sum(), (~box[:, 0]).sum(), (~box[:, -1]).sum()]
        k = int(np.argmax(bad))
        if bad[k] == 0:
            return slice(r0, r1), slice(c0, c1)
        r0, r1, c0, c1 = r0 + (k == 0), r1 - (k == 1), c0 + (k == 2), c1 - (k == 3)
    raise EmsimError("the registered images do not overlap")
