"""Row-line noise: the detector stops responding for part of a scan line
(Lobato et al. 2023, eq. 51).

A random number of line segments (a Poisson count with mean ``rate`` x rows, so longer
scans have more) with random row, start and length; each segment's pixels are replaced by
the segment's mean intensity times a factor ~ U[0.5, 1.5] (the paper's range).
Defaults where the paper is silent: rate in [0.002, 0.02] per row (0.5-5 lines in a 256-row
scan), length a fraction [0.05, 1] of the line width.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..config import Range, check_probability, check_range, coin, uniform
from ._ranges import pin_scalars
from .effect import Effect, on_x, run_on_x


@dataclasses.dataclass(frozen=True)
class RowLineConfig:
    """p: occurrence; rate: mean segments per row; length: fraction of the width;
    factor: multiplier of the segment mean (paper: [0.5, 1.5])."""

    p: float = 0.2
    rate: Range = (0.002, 0.02)
    length: Range = (0.05, 1.0)
    factor: Range = (0.5, 1.5)

    def __post_init__(self):
        pin_scalars(self)
        check_probability("row_lines.p", self.p)
        check_range("row_lines.rate", self.rate, 0.0, 100.0)
        check_range("row_lines.length", self.length, 0.0, 1.0)
        check_range("row_lines.factor", self.factor, 0.0, 100.0)


def _sample(rng, config: RowLineConfig, ctx) -> dict | None:
    """The rate and the segments [row, start, length, factor] of a field of ``ctx.shape``."""
    if not coin(rng, config.p):
        return None
    H, W = ctx.shape
    rate = uniform(rng, config.rate)
    segments = []
    for _ in range(int(rng.poisson(rate * H))):
        length = max(1, int(round(uniform(rng, config.length) * W)))
        row, start = int(rng.integers(0, H)), int(rng.integers(0, W - length + 1))
        segments.append([row, start, length, uniform(rng, config.factor)])
    return {"rate": rate, "segments": segments}


def _apply(x, params, ctx):
    """Eq. 51: each segment's pixels become the segment's mean times its factor."""
    x = np.array(x, dtype=np.float32, copy=True)
    for row, start, length, factor in params["segments"]:
        seg = x[row, start : start + length]
        seg[:] = np.float32(seg.mean(dtype=np.float64) * factor)
    return x


ROW_LINES = Effect("row_lines", _sample, on_x(_apply))


def row_lines(x, rng, config: RowLineConfig):
    """The effect once: (x with row-line segments, record)."""
    return run_on_x(ROW_LINES, x, rng, config)
