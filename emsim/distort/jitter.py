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
from .effect import Context, Effect, field_rng, new_seed


@dataclasses.dataclass(frozen=True)
class JitterConfig:
    """p: occurrence; p_x / p_y: X-only / Y-only given occurrence (the rest is XY);
    sigma (A), phi: ranges of eq. 41 (both directions, the paper's); sigma_y: if set, the
    Y-jitter's own sigma range (a calibrated scan, ``emsim calibrate``); clip_sigmas: see
    module docstring."""

    p: float = 0.9
    p_x: float = 0.25
    p_y: float = 0.25
    sigma: Range = (0.0025, 0.8)
    phi: Range = (0.0, 0.7)
    sigma_y: Range | None = None
    clip_sigmas: float = 5.0

    def __post_init__(self):
        pin_scalars(self)
        for name in ("p", "p_x", "p_y"):
            check_probability(f"jitter.{name}", getattr(self, name))
        if self.p_x + self.p_y > 1.0 + 1e-12:
            raise ConfigError(f"jitter.p_x + jitter.p_y = {self.p_x + self.p_y} exceeds 1")
        check_range("jitter.sigma", self.sigma, 0.0, 1e3)
        if self.sigma_y is not None:
            check_range("jitter.sigma_y", self.sigma_y, 0.0, 1e3)
        check_range("jitter.phi", self.phi, 0.0, 0.99)
        if not 1.0 <= self.clip_sigmas <= 100.0:
            raise ConfigError(f"jitter.clip_sigmas = {self.clip_sigmas} must lie in [1, 100]")

    @property
    def bound(self) -> float:
        """Largest displacement (A) the clipped series can reach."""
        if self.p == 0:
            return 0.0
        return self.clip_sigmas * max(self.sigma[1], (self.sigma_y or self.sigma)[1]) / math.sqrt(1.0 - self.phi[1] ** 2)


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


def sample_params(rng: np.random.Generator, config: JitterConfig, ctx: Context) -> dict | None:
    """Kind, sigma and phi per direction, the clip bound (``ctx.bound``) and the seed of
    the AR(1) series; None if jitter does not occur."""
    if not coin(rng, config.p):
        return None
    u = rng.random()
    kind = "x" if u < config.p_x else ("y" if u < config.p_x + config.p_y else "xy")
    rec: dict = {"kind": kind, "bound": ctx.bound}
    if "x" in kind:
        rec.update(sigma_x=uniform(rng, config.sigma), phi_x=uniform(rng, config.phi))
    if "y" in kind:
        rec.update(sigma_y=uniform(rng, config.sigma if config.sigma_y is None else config.sigma_y), phi_y=uniform(rng, config.phi))
    rec["seed"] = new_seed(rng)
    return rec


def displacements(params: dict, shape) -> tuple[np.ndarray, np.ndarray]:
    """The probe displacements (A) of a jitter record: dx of shape (H, W) or (1, 1) (one
    value per probe, in scan order), dy of shape (H, 1) or (1, 1) (one per scan line)."""
    H, W = shape
    g = field_rng(params)
    dx = dy = np.zeros((1, 1))
    if "x" in params["kind"]:
        dx = ar1(g, H * W, params["sigma_x"], params["phi_x"], params["bound"]).reshape(H, W)
    if "y" in params["kind"]:
        dy = ar1(g, H, params["sigma_y"], params["phi_y"], params["bound"]).reshape(H, 1)
    return dx, dy


def sample(rng: np.random.Generator, shape, config: JitterConfig, bound: float):
    """Draw the jitter: (dx, dy, record) as ``displacements``, or (None, None, None) if it
    does not occur."""
    rec = sample_params(rng, config, Context(tuple(shape), bound=bound))
    if rec is None:
        return None, None, None
    dx, dy = displacements(rec, shape)
    return dx, dy, {**rec, **_extent(dx, dy, rec)}


def _extent(dx, dy, rec) -> dict:
    out = {}
    if "x" in rec["kind"]:
        out["max_dx"] = float(np.abs(dx).max())
    if "y" in rec["kind"]:
        out["max_dy"] = float(np.abs(dy).max())
    return out


def bicubic(clean: np.ndarray, dx, dy, pixel_size: float) -> np.ndarray:
    """The paper's resampling: cubic interpolation of ``clean`` at the displaced positions."""
    H, W = clean.shape
    rows = np.broadcast_to(np.arange(H, dtype=np.float32)[:, None] + (np.asarray(dy) / pixel_size).astype(np.float32), (H, W))
    cols = np.broadcast_to(np.arange(W, dtype=np.float32)[None, :] + (np.asarray(dx) / pixel_size).astype(np.float32), (H, W))
    return ndimage.map_coordinates(np.asarray(clean, dtype=np.float32), [rows, cols], order=3, mode="mirror", output=np.float32)


def _apply(x, y, params, ctx: Context):
    """Eq. 42: the image sampled at the displaced probe positions, exactly through
    ``ctx.resample`` or by the paper's cubic interpolation of x."""
    dx, dy = displacements(params, x.shape)
    if ctx.resample is not None:
        out = np.asarray(ctx.resample(dx, dy), dtype=np.float32)
        if out.shape != x.shape:
            raise EmsimError(f"resample returned an image of shape {out.shape}, expected {x.shape}")
        ctx.note(method="exact")
    else:
        out = bicubic(x, dx, dy, ctx.pixel_size)
        ctx.note(method="bicubic")
    ctx.note(**_extent(dx, dy, params))
    return out, y


JITTER = Effect("jitter", sample_params, _apply)


def jitter(clean, rng, config: JitterConfig, pixel_size: float, bound: float, resample=None):
    """The effect once (eq. 42): (jittered image, record); ``resample`` evaluates exactly."""
    x, _, rec = JITTER.run(clean, clean, rng, config, Context(clean.shape, pixel_size=pixel_size, bound=bound, resample=resample))
    return x, rec
