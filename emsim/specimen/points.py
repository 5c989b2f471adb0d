"""The "individual points" specimen type: random points with a minimum distance.

Lobato et al. (2023), specimen generation step 1: a number of points drawn from a range,
placed uniformly in the (extended) box with pairwise distance >= U[1, 20] * dr. Also the
anchor positions of low-resolution scene objects.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..config import IntRange, Range, check_range, integers, uniform
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
    d = max(float(d_min), 1e-9)
    lo3, hi3 = np.zeros(3), np.full(3, 1e-9 * d)  # 2D: a plane (z extent far below d)
    lo3[:dim], hi3[:dim] = lo, hi
    pos, info = random_packing(rng, lo3, hi3, d, n, jamming_acceptance=0.01)
    pos = pos[:, :dim]
    return pos, {"requested": int(n), "placed": int(len(pos)), "min_distance": float(d_min), "jammed": info["jammed"]}


def sample_points(rng: np.random.Generator, lo, hi, pixel_size: float, config: PointsConfig = PointsConfig()) -> tuple[np.ndarray, dict]:
    """Draw the count and the minimum distance from the config, then the points."""
    n = integers(rng, config.count)
    d_min = uniform(rng, config.min_distance) * pixel_size
    return random_points(rng, lo, hi, n, d_min)


@dataclasses.dataclass(frozen=True)
class IsolatedAtomsConfig:
    """The "individual points" specimen type at high resolution: isolated atoms of a few
    random species (paper silent on species; single atoms of 1-4 elements, as for adatoms
    or single-atom catalysts). ``points.min_distance`` is in pixels as in the paper, floored
    at ``min_distance_floor`` A because two atoms cannot sit closer than a bond (at dr =
    0.025 A the paper's 1-20 px would be 0.025-0.5 A)."""

    points: PointsConfig = dataclasses.field(default_factory=PointsConfig)
    elements: IntRange = (1, 4)
    z: IntRange = (1, 103)
    min_distance_floor: float = 0.95

    def __post_init__(self):
        check_range("isolated_atoms.elements", self.elements, 1, 103)
        check_range("isolated_atoms.z", self.z, 1, 103)
        check_range("isolated_atoms.min_distance_floor", (0.0, self.min_distance_floor), 0.0, 100.0)


def isolated_atoms(rng: np.random.Generator, lo, hi, pixel_size: float, config: IsolatedAtomsConfig = IsolatedAtomsConfig()) -> tuple[np.ndarray, np.ndarray, dict]:
    """Random isolated atoms in the box [lo, hi). Returns (positions, numbers (uint8), record).
    Placed by ``packing.random_packing``."""
    n_el = min(integers(rng, config.elements), config.z[1] - config.z[0] + 1)
    species = rng.choice(np.arange(config.z[0], config.z[1] + 1), n_el, replace=False)
    n = integers(rng, config.points.count)
    d_min = max(uniform(rng, config.points.min_distance) * pixel_size, config.min_distance_floor)
    pos, info = random_packing(rng, lo, hi, d_min, n, jamming_acceptance=0.01)
    numbers = species[rng.integers(0, n_el, len(pos))].astype(np.uint8) if len(pos) else np.zeros(0, dtype=np.uint8)
    rec = {"requested": int(n), "placed": int(len(pos)), "min_distance": float(d_min), "jammed": info["jammed"]}
    return pos, numbers, {**rec, "elements": sorted(int(z) for z in species)}
