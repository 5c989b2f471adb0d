"""Analog-to-digital conversion: saturation and quantisation
(Lobato et al. 2023, eq. 39-40 for TEM, 54-55 for S(T)EM).

- upper clip: x <- min(x, T_u). The saturation level is set relative to the brightest
  recorded pixel, T_u = level x max(x), level ~ U[0.6, 1] (the paper gives no range): at 1
  nothing clips, at 0.6 the top 40 % of the range saturates (over-exposed peaks). Zingers
  and noise spikes are clipped first, as on a real converter.
- quantisation: x <- round(g x) / g, i.e. eq. 40's round(alpha x) kept in intensity units
  (g = ADC steps per unit of full-scale intensity). g is drawn log-uniformly in
  [16, 4096]: from a signal that spans only a few grey levels of the converter
  (strong banding) to a 12-bit conversion of the full range.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..config import Range, check_probability, check_range, coin, uniform
from ._ranges import pin_scalars
from .effect import Effect, on_x, run_on_x


@dataclasses.dataclass(frozen=True)
class ClipConfig:
    """p: occurrence; level: T_u as a fraction of max(x)."""

    p: float = 0.1
    level: Range = (0.6, 1.0)

    def __post_init__(self):
        pin_scalars(self)
        check_probability("clip.p", self.p)
        check_range("clip.level", self.level, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class QuantiseConfig:
    """p: occurrence; levels: ADC steps per unit intensity (drawn log-uniformly)."""

    p: float = 0.5
    levels: Range = (16.0, 4096.0)

    def __post_init__(self):
        pin_scalars(self)
        check_probability("quantise.p", self.p)
        check_range("quantise.levels", self.levels, 1.0, 1e9)


def _sample_clip(rng, config: ClipConfig, ctx=None) -> dict | None:
    return {"level": uniform(rng, config.level)} if coin(rng, config.p) else None


def _apply_clip(x, params, ctx):
    """Eq. 39/54: x <- min(x, level max(x))."""
    threshold = params["level"] * float(x.max())
    ctx.note(threshold=threshold)
    return np.minimum(x, np.float32(threshold))


def _sample_quantise(rng, config: QuantiseConfig, ctx=None) -> dict | None:
    if not coin(rng, config.p):
        return None
    lo, hi = config.levels
    return {"levels": float(lo) if lo == hi else math.exp(uniform(rng, (math.log(lo), math.log(hi))))}


def _apply_quantise(x, params, ctx):
    """Eq. 40/55: x <- round(g x) / g."""
    g = np.float32(params["levels"])
    return np.rint(x * g) / g


CLIP = Effect("clip", _sample_clip, on_x(_apply_clip))
QUANTISE = Effect("quantise", _sample_quantise, on_x(_apply_quantise))


def clip(x, rng, config: ClipConfig):
    """Eq. 39/54 once: (clipped x, record)."""
    return run_on_x(CLIP, x, rng, config)


def quantise(x, rng, config: QuantiseConfig):
    """Eq. 40/55 once: (quantised x, record)."""
    return run_on_x(QUANTISE, x, rng, config)
