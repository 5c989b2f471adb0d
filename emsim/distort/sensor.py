"""TEM sensor noise (Lobato et al. 2023, eq. 31-36), applied after counting noise (eq. 30).

x is in intensity units (full scale 1) and alpha is the dose scale (electrons per unit
intensity, see ``dose``); quantities that are physically electron counts (dark current,
read noise) are drawn in electrons and divided by alpha, so their weight relative to the
signal falls with dose as on a real camera.

- fixed pattern (eq. 31): x <- x + x N(0, sigma), sigma the residual gain non-uniformity
  after flat-field correction, relative (default [0, 0.03]: 0-3 %);
- dark current (eq. 32-33): DCNU = log-normal body (arithmetic mean mu, std cv * mu) with
  a fraction of hot pixels drawn from U[mu + 5 s, mu + 8 s] (s = cv * mu); x <- x +
  P(DCNU) / alpha. mu in electrons per pixel and frame (default [0.01, 0.5]: scintillator
  CCDs and CMOS cameras convert one primary electron into tens of photo-electrons, so a
  few photo-electrons of dark charge are a fraction of a primary), hot fraction
  [0, 1e-3];
- thermal (eq. 34): x <- x + N(0, sigma) / alpha, sigma in electrons (default [0, 0.5]:
  a read noise of a few ADU at 10-20 ADU per primary electron);
- flicker (eq. 35): x <- x + sigma / alpha * F^-1(W(f) N), W = f^(-exponent / 2), i.e. a
  power spectrum ~ 1 / f^exponent. exponent = 1 (pink noise) is what "1/f noise" means
  physically; the paper's literal N / f is exponent 2. The field is scaled to unit
  standard deviation so sigma (electrons, default [0, 0.3]) is its std;
- reset (eq. 36): x <- x + N(0, sigma) / alpha with one value per row (default [0, 0.2]).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import fft as sfft

from ..config import Range, check_probability, check_range, coin, uniform
from ._ranges import pin_scalars
from .counting import count
from .effect import Context, Effect, field_rng, new_seed, on_x, run_on_x


@dataclasses.dataclass(frozen=True)
class FixedPatternConfig:
    """Eq. 31. p: occurrence; sigma: relative gain non-uniformity."""

    p: float = 0.5
    sigma: Range = (0.0, 0.03)

    def __post_init__(self):
        pin_scalars(self)
        check_probability("fixed_pattern.p", self.p)
        check_range("fixed_pattern.sigma", self.sigma, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class DarkCurrentConfig:
    """Eq. 32-33. mean: log-normal mean (electrons/px); cv: std / mean of the body;
    hot_fraction: fraction of hot pixels."""

    p: float = 0.5
    mean: Range = (0.01, 0.5)
    cv: Range = (0.1, 1.0)
    hot_fraction: Range = (0.0, 1e-3)

    def __post_init__(self):
        pin_scalars(self)
        check_probability("dark_current.p", self.p)
        check_range("dark_current.mean", self.mean, 1e-9, 1e6)
        check_range("dark_current.cv", self.cv, 0.0, 100.0)
        check_range("dark_current.hot_fraction", self.hot_fraction, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class ThermalConfig:
    """Eq. 34: white read noise, sigma in electrons."""

    p: float = 0.5
    sigma: Range = (0.0, 0.5)

    def __post_init__(self):
        pin_scalars(self)
        check_probability("thermal.p", self.p)
        check_range("thermal.sigma", self.sigma, 0.0, 1e6)


@dataclasses.dataclass(frozen=True)
class ResetConfig:
    """Eq. 36: one Gaussian offset per row, sigma in electrons."""

    p: float = 0.3
    sigma: Range = (0.0, 0.2)

    def __post_init__(self):
        pin_scalars(self)
        check_probability("reset.p", self.p)
        check_range("reset.sigma", self.sigma, 0.0, 1e6)


@dataclasses.dataclass(frozen=True)
class FlickerConfig:
    """Eq. 35. sigma: std of the field in electrons; exponent: power-spectrum slope."""

    p: float = 0.3
    sigma: Range = (0.0, 0.3)
    exponent: Range = (1.0, 1.0)

    def __post_init__(self):
        pin_scalars(self)
        check_probability("flicker.p", self.p)
        check_range("flicker.sigma", self.sigma, 0.0, 1e6)
        check_range("flicker.exponent", self.exponent, 0.0, 4.0)


def dcnu(rng, shape, mean: float, cv: float, hot_fraction: float):
    """Dark-current non-uniformity map (eq. 32) and the number of hot pixels."""
    s = cv * mean
    s_ln2 = np.log1p(cv * cv)
    z = rng.standard_normal(shape, dtype=np.float32)
    body = np.exp(np.float32(np.log(mean) - 0.5 * s_ln2) + np.float32(np.sqrt(s_ln2)) * z)
    n_hot = int(rng.binomial(body.size, hot_fraction)) if hot_fraction > 0 else 0
    if n_hot:
        flat = body.reshape(-1)
        flat[rng.integers(0, flat.size, n_hot)] = rng.uniform(mean + 5 * s, mean + 8 * s, n_hot).astype(np.float32)
    return body, n_hot


def pink_field(rng, shape, exponent: float) -> np.ndarray:
    """Gaussian field with power spectrum ~ 1 / f^exponent (f in cycles/px, no DC), unit std."""
    fy = sfft.fftfreq(shape[0]).astype(np.float32)[:, None]
    fx = sfft.rfftfreq(shape[1]).astype(np.float32)[None, :]
    f2 = fy * fy + fx * fx
    f2[0, 0] = np.inf
    w = 1.0 / np.sqrt(np.sqrt(f2)) if exponent == 1.0 else f2 ** np.float32(-0.25 * exponent)
    spec = np.empty(w.shape, dtype=np.complex64)
    spec.real = rng.standard_normal(w.shape, dtype=np.float32) * w
    spec.imag = rng.standard_normal(w.shape, dtype=np.float32) * w
    field = sfft.irfft2(spec, s=shape)
    std = float(field.std())
    return (field / np.float32(std)).astype(np.float32, copy=False) if std > 0 else np.zeros(shape, np.float32)


def _sigma(rng, config, ctx=None) -> dict | None:
    """Sample of the effects with one noise level: sigma and the seed of the noise field."""
    return {"sigma": uniform(rng, config.sigma), "seed": new_seed(rng)} if coin(rng, config.p) else None


def _apply_fixed_pattern(x, params, ctx):
    """Eq. 31: x <- x + x N(0, sigma)."""
    return x * (1.0 + params["sigma"] * field_rng(params).standard_normal(x.shape, dtype=np.float32))


def _sample_dark_current(rng, config: DarkCurrentConfig, ctx=None) -> dict | None:
    if not coin(rng, config.p):
        return None
    return {"mean": uniform(rng, config.mean), "cv": uniform(rng, config.cv), "hot_fraction": uniform(rng, config.hot_fraction), "seed": new_seed(rng)}


def _apply_dark_current(x, params, ctx):
    """Eq. 32-33: x <- x + P(DCNU) / alpha."""
    g = field_rng(params)
    dark, n_hot = dcnu(g, x.shape, params["mean"], params["cv"], params["hot_fraction"])
    ctx.note(n_hot=n_hot)
    return x + count(g, dark, 1.0) / np.float32(ctx.alpha)  # eq. 33: shot noise of the dark charge


def _apply_thermal(x, params, ctx):
    """Eq. 34: x <- x + N(0, sigma) / alpha."""
    return x + np.float32(params["sigma"] / ctx.alpha) * field_rng(params).standard_normal(x.shape, dtype=np.float32)


def _sample_flicker(rng, config: FlickerConfig, ctx=None) -> dict | None:
    if not coin(rng, config.p):
        return None
    return {"sigma": uniform(rng, config.sigma), "exponent": uniform(rng, config.exponent), "seed": new_seed(rng)}


def _apply_flicker(x, params, ctx):
    """Eq. 35: x <- x + sigma / alpha F^-1(W(f) N)."""
    return x + np.float32(params["sigma"] / ctx.alpha) * pink_field(field_rng(params), x.shape, params["exponent"])


def _apply_reset(x, params, ctx):
    """Eq. 36: x <- x + N(0, sigma) / alpha, one value per row."""
    rows = field_rng(params).standard_normal((x.shape[0], 1), dtype=np.float32)
    return x + np.float32(params["sigma"] / ctx.alpha) * rows


FIXED_PATTERN = Effect("fixed_pattern", _sigma, on_x(_apply_fixed_pattern))
DARK_CURRENT = Effect("dark_current", _sample_dark_current, on_x(_apply_dark_current))
THERMAL = Effect("thermal", _sigma, on_x(_apply_thermal))
FLICKER = Effect("flicker", _sample_flicker, on_x(_apply_flicker))
RESET = Effect("reset", _sigma, on_x(_apply_reset))


def fixed_pattern(x, rng, config: FixedPatternConfig):
    return run_on_x(FIXED_PATTERN, x, rng, config)


def dark_current(x, rng, config: DarkCurrentConfig, alpha: float):
    return run_on_x(DARK_CURRENT, x, rng, config, Context(x.shape, alpha=alpha))


def thermal(x, rng, config: ThermalConfig, alpha: float):
    return run_on_x(THERMAL, x, rng, config, Context(x.shape, alpha=alpha))


def flicker(x, rng, config: FlickerConfig, alpha: float):
    return run_on_x(FLICKER, x, rng, config, Context(x.shape, alpha=alpha))


def reset(x, rng, config: ResetConfig, alpha: float):
    return run_on_x(RESET, x, rng, config, Context(x.shape, alpha=alpha))
