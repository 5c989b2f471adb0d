"""Where scene objects go and how bright they are: anchor points, sizes, positive planes.

Shared by the object types of a low-resolution scene (Lobato et al. 2023, "generating
low-resolution images"). Scenes are in pixel units: pixel (i, j) samples (x, y) = (j, i);
sizes are fractions of the field ``min(H, W)``, so a scene drawn at 256^2 and at 1024^2
looks the same, sampled more finely.
"""

from __future__ import annotations

import math

import numpy as np

from ..config import Range
from ..specimen.points import random_points


def field(shape) -> float:
    """The length object sizes are relative to: the short side of the image, in pixels."""
    return float(min(shape))


def log_uniform(rng: np.random.Generator, r: Range, size=None):
    """Draw from a log-uniform distribution on [r[0], r[1]] (r[0] > 0): sizes spanning
    decades are equally likely per decade, as particle or feature sizes are."""
    lo, hi = r
    if lo == hi:
        return float(lo) if size is None else np.full(size, float(lo))
    out = np.exp(rng.uniform(math.log(lo), math.log(hi), size))
    return float(out) if size is None else out


def uniforms(rng: np.random.Generator, r: Range, n: int) -> np.ndarray:
    """n draws from U[r[0], r[1]] (a pinned range consumes no randomness)."""
    lo, hi = r
    return np.full(n, float(lo)) if lo == hi else rng.uniform(lo, hi, n)


def anchors(rng: np.random.Generator, shape, n: int, d_min: float, margin: float = 0.0) -> tuple[np.ndarray, dict]:
    """Up to n positions (x, y) in pixels from the "individual points" specimen type:
    uniform in the field grown by ``margin`` on every side, at least ``d_min`` apart."""
    H, W = shape
    pos, info = random_points(rng, (-margin, -margin), (W + margin, H + margin), int(n), max(float(d_min), 1e-3))
    return pos, info


def positive_planes(rng: np.random.Generator, n: int, intensity: Range, tilt: Range, radius) -> dict:
    """n random positive 3D planes I(p) = c + g . (p - p0) ("masking a 3D random positive
    plane", so objects are not flat): c ~ U[intensity], a gradient in a uniformly random
    direction with |g| = t c / radius, t ~ U[tilt]. Over a disc of that radius around the
    reference point p0 the plane stays within c (1 -/+ t), positive for t < 1."""
    c = uniforms(rng, intensity, n)
    t = uniforms(rng, tilt, n)
    phi = rng.uniform(0.0, 2.0 * math.pi, n)
    g = t * c / np.asarray(radius, dtype=float)
    return {"c": c, "gx": g * np.cos(phi), "gy": g * np.sin(phi)}


def plain(obj):
    """JSON-ready copy of a record made of dicts, lists, numpy arrays and scalars: arrays
    become lists in one C call. (``config.jsonable`` checks every element in Python, which
    costs 1-3 ms on the thousands of numbers of a scene.) Scene records hold only finite
    numbers, by construction."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
