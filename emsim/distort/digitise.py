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


def clip(x, rng, config: ClipConfig):
    """Eq. 39/54: (clipped x, record)."""
    if not coin(rng, config.p):
        return x, None
    level = uniform(rng, config.level)
    threshold = level * float(x.max())
    return np.minimum(x, np.float32(threshold)), {"level": level, "threshold": threshold}


def quantise(x, rng, config: QuantiseConfig):
    """Eq. 40/55: (quantised x, record)."""
    if not coin(rng, config.p):
        return x, None
    lo, hi = config.levels
    g = float(lo) if lo == hi else math.exp(uniform(rng, (math.log(lo), math.log(hi))))
    return np.rint(x * np.float32(g)) / np.float32(g), {"levels": g}
