"""Scan jitter (Lobato et al. 2023, eq. 41-42).

Displacements follow AR(1) series (eq. 41), in A:

    D_1 = a_1 / sqrt(1 - phi^2),   D_k = phi D_(k-1) + a_k,   a_k ~ N(0, sigma)

which starts in the stationary state: every D_k has variance sigma^2 / (1 - phi^2) and
lag-1 autocorrelation phi.

- X-jitter: a displacement along x for every probe position. The series runs through the
  raster in scan order (row after row, without restarting): jitter is a continuous-time
  disturbance of the beam and the fly-back lasts only a few dwell times, which for
  phi <= 0.7 decorrelates the series anyway, so restarting per row would add nothing
  physical.
- Y-jitter: one displacement along y per scan line, an AR(1) series over rows.
Occurrence 0.9; X, Y or both with probabilities 0.25 / 0.25 / 0.5; sigma ~ U[0.0025, 0.8] A,
phi ~ U[0, 0.7], drawn independently for x and y (the paper's values).

The series are clipped at +-``bound`` = ``clip_sigmas`` stationary standard deviations at
the range maxima (``max_displacement``), so the specimen's extended box provably covers
every probe position; at the default 5 sigma the clip touches a fraction < 1e-6 of the
samples, and only when sigma and phi are both at their maxima.

The jittered image (eq. 42) samples the clean image at (j dr + dx, i dr + dy): exactly,
through a ``resample(dx, dy)`` callable (the renderer evaluating the atom model at the
displaced probe positions), or, as in the paper, by cubic interpolation of the clean
image (scipy's cubic B-spline, mirror boundaries).
"""

from __future__ import annotations

import dataclasses
import math

import numba
import numpy as np
from scipy import ndimage

from ..config import Range, check_probability, check_range, coin, uniform
from ..errors import ConfigError, EmsimError
from ._ranges import pin_scalars


@dataclasses.dataclass(frozen=True)
class JitterConfig:
    """p: occurrence; p_x / p_y: X-only / Y-only given occurrence (the rest is XY);
    sigma (A), phi: ranges of eq. 41 (both directions); clip_sigmas: see module docstring."""

    p: float = 0.9
    p_x: float = 0.25
    p_y: float = 0.25
    sigma: Range = (0.0025, 0.8)
    phi: Range = (0.0, 0.7)
    clip_sigmas: float = 5.0

    def __post_init__(self):
        pin_scalars(self)
        for name in ("p", "p_x", "p_y"):
            check_probability(f"jitter.{name}", getattr(self, name))
        if self.p_x + self.p_y > 1.0 + 1e-12:
            raise ConfigError(f"jitter.p_x + jitter.p_y = {self.p_x + self.p_y} exceeds 1")
        check_range("jitter.sigma", self.sigma, 0.0, 1e3)
        check_range("jitter.phi", self.phi, 0.0, 0.99)
        if not 1.0 <= self.clip_sigmas <= 100.0:
            raise ConfigError(f"jitter.clip_sigmas = {self.clip_sigmas} must lie in [1, 100]")

    @property
    def bound(self) -> float:
        """Largest displacement (A) the clipped series can reach."""
        if self.p == 0:
            return 0.0
        return self.clip_sigmas * self.sigma[1] / math.sqrt(1.0 - self.phi[1] ** 2)


@numba.njit(cache=True)
def _ar1(rng, n, sigma, phi, bound, out):
    """Eq. 41 with stationary start, clipped at +-bound."""
    d = sigma * rng.standard_normal() / math.sqrt(1.0 - phi * phi)
    for k in range(n):
        if k > 0:
            d = phi * d + sigma * rng.standard_normal()
        out[k] = min(max(d, -bound), bound)


def ar1(rng: np.random.Generator, n: int, sigma: float, phi: float, bound: float = math.inf) -> np.ndarray:
    """An AR(1) displacement series of length n (eq. 41), float64."""
    out = np.empty(n, dtype=np.float64)
    if n:
        _ar1(rng, n, float(sigma), float(phi), float(bound), out)
    return out


def sample(rng: np.random.Generator, shape, config: JitterConfig, bound: float):
    """Draw the jitter: (dx, dy, record), dx of shape (H, W) or (1, 1), dy (H, 1) or (1, 1),
    in A; or (None, None, None) if it does not occur."""
    if not coin(rng, config.p):
        return None, None, None
    u = rng.random()
    kind = "x" if u < config.p_x else ("y" if u < config.p_x + config.p_y else "xy")
    H, W = shape
    rec: dict = {"kind": kind, "bound": bound}
    dx = dy = np.zeros((1, 1))
    if "x" in kind:
        sx, px = uniform(rng, config.sigma), uniform(rng, config.phi)
        dx = ar1(rng, H * W, sx, px, bound).reshape(H, W)
        rec.update(sigma_x=sx, phi_x=px, max_dx=float(np.abs(dx).max()))
    if "y" in kind:
        sy, py = uniform(rng, config.sigma), uniform(rng, config.phi)
        dy = ar1(rng, H, sy, py, bound).reshape(H, 1)
        rec.update(sigma_y=sy, phi_y=py, max_dy=float(np.abs(dy).max()))
    return dx, dy, rec


def bicubic(clean: np.ndarray, dx, dy, pixel_size: float) -> np.ndarray:
    """The paper's resampling: cubic interpolation of ``clean`` at the displaced positions."""
    H, W = clean.shape
    rows = np.broadcast_to(np.arange(H, dtype=np.float32)[:, None] + (np.asarray(dy) / pixel_size).astype(np.float32), (H, W))
    cols = np.broadcast_to(np.arange(W, dtype=np.float32)[None, :] + (np.asarray(dx) / pixel_size).astype(np.float32), (H, W))
    return ndimage.map_coordinates(np.asarray(clean, dtype=np.float32), [rows, cols], order=3, mode="mirror", output=np.float32)


def jitter(clean, rng, config: JitterConfig, pixel_size: float, bound: float, resample=None):
    """The effect (eq. 42): (jittered image, record); ``resample`` evaluates exactly."""
    dx, dy, rec = sample(rng, clean.shape, config, bound)
    if rec is None:
        return clean, None
    if resample is not None:
        out = np.asarray(resample(dx, dy), dtype=np.float32)
        if out.shape != clean.shape:
            raise EmsimError(f"resample returned an image of shape {out.shape}, expected {clean.shape}")
        rec["method"] = "exact"
    else:
        out = bicubic(clean, dx, dy, pixel_size)
        rec["method"] = "bicubic"
    return out, rec
