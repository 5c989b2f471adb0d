"""Boxes: rectangles of random size, aspect ratio, rotation and graded intensity.

The paper names boxes without specifying them. Modelled on rectangular features of LR
images: cubic and rod-like nanocrystals seen side-on, platelets, lithographic or
FIB-milled structures, rectangular precipitates. 1-8 boxes per scene at positions from the
"individual points" type; long side log-uniform in 5-40 % of the field, short/long aspect
0.15-1, uniformly random rotation; each masks a positive plane tilted by 20-80 % of its
intensity over its half-diagonal (graded, never flat). Overlapping boxes add (projected
thickness). Edges are anti-aliased (``raster.fill_polygons``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..config import IntRange, Range, check_probability, check_range, integers, uniform
from .layout import anchors, field, log_uniform, positive_planes, uniforms
from .raster import fill_polygons

MIN_SIDE = 1.0  # px


@dataclasses.dataclass(frozen=True)
class BoxesConfig:
    """p: probability that a scene has boxes. count: boxes. size: long side, fraction of
    the field (log-uniform). aspect: short / long side. intensity, tilt: the positive plane
    c (1 -+ t) over the half-diagonal. min_distance: closest centres, fraction of the field.
    weight: the layer's scale in the superposition."""

    p: float = 0.5
    count: IntRange = (1, 8)
    size: Range = (0.05, 0.4)
    aspect: Range = (0.15, 1.0)
    intensity: Range = (0.3, 1.0)
    tilt: Range = (0.2, 0.8)
    min_distance: Range = (0.05, 0.15)
    weight: Range = (0.3, 1.0)

    def __post_init__(self):
        check_probability("boxes.p", self.p)
        check_range("boxes.count", self.count, 0, 100_000)
        check_range("boxes.size", self.size, 1e-4, 10.0)
        check_range("boxes.aspect", self.aspect, 1e-3, 1.0)
        check_range("boxes.intensity", self.intensity, 0.0, 1e6)
        check_range("boxes.tilt", self.tilt, 0.0, 0.99)
        check_range("boxes.min_distance", self.min_distance, 0.0, 10.0)
        check_range("boxes.weight", self.weight, 0.0, 1e6)


def draw(rng: np.random.Generator, config: BoxesConfig, shape) -> dict:
    """Centres (individual points), sides, rotations and planes of the boxes."""
    n = integers(rng, config.count)
    weight = uniform(rng, config.weight)
    xy, points = anchors(rng, shape, n, uniform(rng, config.min_distance) * field(shape))
    m = len(xy)
    length = np.maximum(log_uniform(rng, config.size, m) * field(shape), MIN_SIDE)
    width = np.maximum(length * uniforms(rng, config.aspect, m), MIN_SIDE)
    angle = rng.uniform(0.0, math.pi, m)
    planes = positive_planes(rng, m, config.intensity, config.tilt, 0.5 * np.hypot(length, width))
    return {"weight": weight, "points": points, "x": xy[:, 0], "y": xy[:, 1], "length": length, "width": width, "angle": angle, **planes}


def corners(layer: dict) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (x, y), each (n, 4), of the boxes of a layer record."""
    x, y, length, width, angle = (np.asarray(layer[k], dtype=np.float64)[:, None] for k in ("x", "y", "length", "width", "angle"))
    u = 0.5 * length * np.array([-1.0, 1.0, 1.0, -1.0])
    v = 0.5 * width * np.array([-1.0, -1.0, 1.0, 1.0])
    cs, sn = np.cos(angle), np.sin(angle)
    return x + cs * u - sn * v, y + sn * u + cs * v


def render(img: np.ndarray, layer: dict) -> None:
    """Add the boxes of a layer record to img (float32, in place)."""
    vx, vy = corners(layer)
    if vx.size == 0:
        return
    w = float(layer["weight"])
    planes = np.stack([w * np.asarray(layer[k], dtype=np.float64) for k in ("c", "gx", "gy")] + [np.asarray(layer["x"], dtype=np.float64), np.asarray(layer["y"], dtype=np.float64)], axis=1)
    fill_polygons(img, np.arange(0, vx.size + 1, 4, dtype=np.int64), vx.ravel(), vy.ravel(), planes)
