"""Black pixels and zingers: sparse sensitivity masks grown by random walks
(Lobato et al. 2023, eq. 37-38 for TEM, 52-53 for S(T)EM).

Seed points are a uniform spatial Poisson process (``density`` points per pixel, so the
count scales with the field); each seed walks a random number of steps in ``steps`` on the
8-neighbourhood, and every visited pixel belongs to its region (steps outside the field
are dropped). Each region gets one value:

- black pixels: x <- x S, S = ``level`` ~ U[level] in the region (0: dead, no response);
- zingers: a burst of scintillator photons deposits charge independent of the signal, so
  by default the region gets an additive ``amplitude`` (intensity units, full scale 1):
  x <- x + A. The paper writes x <- x S (eq. 38, 53); a multiplicative zinger is invisible
  where the signal is dark, which real zingers are not. ``mode="multiply"`` gives the
  paper's literal form with S = ``factor``.
Where regions overlap, the last region's value wins (S is a mask, not a product).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from ..config import IntRange, Range, check_probability, check_range, coin, uniform
from ..errors import ConfigError
from ._ranges import pin_scalars
from .effect import Effect, field_rng, new_seed, on_x, run_on_x

_STEPS = np.array([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)], dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class BlackPixelConfig:
    """p: occurrence; density: seed points per pixel; steps: random-walk length per seed;
    level: sensitivity of the region (0 = dead)."""

    p: float = 0.2
    density: Range = (1e-5, 2e-4)
    steps: IntRange = (0, 8)
    level: Range = (0.0, 0.1)

    def __post_init__(self):
        pin_scalars(self)
        check_probability("black_pixels.p", self.p)
        check_range("black_pixels.density", self.density, 0.0, 0.1)
        check_range("black_pixels.steps", self.steps, 0, 10_000)
        check_range("black_pixels.level", self.level, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class ZingerConfig:
    """p: occurrence; density, steps: as for black pixels; mode: "add" (amplitude, in
    intensity units) or "multiply" (factor > 1, the paper's literal eq. 38/53)."""

    p: float = 0.2
    density: Range = (1e-6, 5e-5)
    steps: IntRange = (0, 8)
    mode: Literal["add", "multiply"] = "add"
    amplitude: Range = (0.5, 2.0)
    factor: Range = (1.5, 5.0)

    def __post_init__(self):
        pin_scalars(self)
        check_probability("zingers.p", self.p)
        check_range("zingers.density", self.density, 0.0, 0.1)
        check_range("zingers.steps", self.steps, 0, 10_000)
        if self.mode not in ("add", "multiply"):
            raise ConfigError(f"zingers.mode = {self.mode!r} is not one of ['add', 'multiply']")
        check_range("zingers.amplitude", self.amplitude, 0.0, 1e6)
        check_range("zingers.factor", self.factor, 1.0, 1e6)


def random_walk_regions(rng: np.random.Generator, shape, density: float, steps: IntRange):
    """Pixels of random-walk regions: (rows, cols, region label, number of seeds)."""
    H, W = shape
    n = int(rng.poisson(density * H * W))
    if n == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e, 0
    seeds = np.stack([rng.integers(0, H, n), rng.integers(0, W, n)], axis=1)
    lengths = rng.integers(steps[0], steps[1] + 1, n)
    total = n + int(lengths.sum())
    label = np.repeat(np.arange(n), lengths + 1)
    moves = _STEPS[rng.integers(0, 8, total)]
    first = np.zeros(n + 1, dtype=np.int64)
    first[1:] = np.cumsum(lengths + 1)
    moves[first[:-1]] = 0  # step 0 of each walk is its seed
    pos = np.cumsum(moves, axis=0)
    pos -= pos[first[:-1]][label]  # restart the cumulative sum at every seed
    pos += seeds[label]
    inside = (pos[:, 0] >= 0) & (pos[:, 0] < H) & (pos[:, 1] >= 0) & (pos[:, 1] < W)
    return pos[inside, 0], pos[inside, 1], label[inside], n


def _sample(rng, config, values: tuple[float, float]) -> dict:
    """The density and the seed of the regions, with the ranges their walks and values are
    drawn from (so a record replays without its config)."""
    return {"density": uniform(rng, config.density), "steps": list(config.steps), "values": list(values), "seed": new_seed(rng)}


def _regions(x, params, ctx):
    """Pixels (rows, cols) and value of every region of a mask record; notes the counts."""
    g = field_rng(params)
    rows, cols, label, n = random_walk_regions(g, x.shape, params["density"], params["steps"])
    lo, hi = params["values"]
    values = g.uniform(lo, hi, n) if lo < hi else np.full(n, lo)
    ctx.note(n_regions=n, n_pixels=int(np.unique(rows * x.shape[1] + cols).size))
    return rows, cols, values[label].astype(np.float32)


def _sample_black(rng, config: BlackPixelConfig, ctx=None) -> dict | None:
    return _sample(rng, config, config.level) if coin(rng, config.p) else None


def _apply_black(x, params, ctx):
    """x <- x S_black (eq. 37, 52)."""
    rows, cols, level = _regions(x, params, ctx)
    x = np.array(x, dtype=np.float32, copy=True)
    x[rows, cols] = x[rows, cols] * level
    return x


def _sample_zingers(rng, config: ZingerConfig, ctx=None) -> dict | None:
    if not coin(rng, config.p):
        return None
    return {**_sample(rng, config, config.amplitude if config.mode == "add" else config.factor), "mode": config.mode}


def _apply_zingers(x, params, ctx):
    """Zinger regions (eq. 38, 53), additive bursts by default (see module docstring)."""
    rows, cols, value = _regions(x, params, ctx)
    x = np.array(x, dtype=np.float32, copy=True)
    x[rows, cols] = x[rows, cols] + value if params["mode"] == "add" else x[rows, cols] * value
    return x


BLACK_PIXELS = Effect("black_pixels", _sample_black, on_x(_apply_black))
ZINGERS = Effect("zingers", _sample_zingers, on_x(_apply_zingers))


def black_pixels(x, rng, config: BlackPixelConfig):
    """Black-pixel regions once: (x, record)."""
    return run_on_x(BLACK_PIXELS, x, rng, config)


def zingers(x, rng, config: ZingerConfig):
    """Zinger regions once: (x, record)."""
    return run_on_x(ZINGERS, x, rng, config)
