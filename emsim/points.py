"""The "individual points" specimen type: random points with a minimum distance.

Lobato et al. (2023), specimen generation step 1: a number of points drawn from a range,
placed uniformly in the (extended) box with pairwise distance >= U[1, 20] * dr. Also the
anchor positions of low-resolution scene objects.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .config import IntRange, Range, check_range, integers, uniform
from .packing import random_packing


@dataclasses.dataclass(frozen=True)
class PointsConfig:
    """count: number of points; min_distance: pairwise minimum in units of the pixel size."""

    count: IntRange = (1, 500)
    min_distance: Range = (1.0, 20.0)

    def __post_init__(self):
        check_range("points.count", self.count, 0, 10_000_000)
        check_range("points.min_distance", self.min_distance, 0.0, 1e6)


def random_points(rng: np.random.Generator, lo, hi, n: int, d_min: float) -> tuple[np.ndarray, dict]:
    """Up to n points uniform in the box [lo, hi) (2 or 3 dimensions, A) at least d_min apart.

    Fewer points come back when the box jams; the record says how many were asked for.
    """
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    dim = lo.size
    box = np.ones(3)
    box[:dim] = hi - lo
    if dim == 2:
        box[2] = max(float(d_min), 1e-6)  # a single layer of cells
    pos, info = random_packing(rng, box, max(float(d_min), 1e-9), n, planar=dim == 2)
    pos = pos[:, :dim] + lo
    return pos, {"requested": int(n), "placed": int(len(pos)), "min_distance": float(d_min), "jammed": info["jammed"]}


def sample_points(rng: np.random.Generator, lo, hi, pixel_size: float, config: PointsConfig = PointsConfig()) -> tuple[np.ndarray, dict]:
    """Draw the count and the minimum distance from the config, then the points."""
    n = integers(rng, config.count)
    d_min = uniform(rng, config.min_distance) * pixel_size
    return random_points(rng, lo, hi, n, d_min)
