"""Polycrystalline grains: a Voronoi tessellation (Lobato et al. 2023, "generating
low-resolution images"; their ref. 72).

15-175 seeds; each Voronoi cell masks its own random positive plane; with p = 0.5 the
grain boundaries are drawn with intensity U[0.5, 1.5] x the mean grain intensity.

Choices where the paper is silent:
- seeds come from the "individual points" type (random sequential addition) with a
  minimum distance of 0.3-0.8 x the mean seed spacing sqrt(area / N): cells then have the
  narrow size distribution of real grain structures rather than the very uneven cells of
  a Poisson tessellation. Seeds fill the field grown by half a spacing, so border grains
  are cut by the frame like interior ones rather than stretched out to it.
- the grain intensity c (the plane at the seed) is U[0.2, 1]: grains differ strongly,
  as diffraction or channelling contrast makes them; the plane tilts by up to 50 % of c
  per seed spacing (clipped at zero, which a cell far larger than the spacing could reach).
- boundaries are lines of width 0.3-1.2 % of the field (~1-3 px at 256^2), never
  thinner than 0.75 px, replacing the grain intensity under them.

Rendering (numba): a pixel p of grain a (its nearest seed) lies at the distance
min_b (|p - b|^2 - |p - a|^2) / (2 |a - b|) from the grain's boundary (exact: a Voronoi
cell is the intersection of the half-planes of the bisectors a|b), attained at the
bisector with some neighbour b. That distance gives both the box-filter blend of a and b
(anti-aliased edges whose weights sum to one, so the grains tile the field; within a
pixel of a triple junction the third grain is left out) and the boundary line's
coverage. Seeds that can matter are narrowed down per 16 px tile, then per 4 px sub-tile
(``_narrow``); a sub-tile left with one candidate is inside that grain, away from any
boundary, and is filled directly. Cost: ~1 ms at 256^2 (benchmarks/bench_scenes.py).
"""

from __future__ import annotations

import dataclasses
import math

import numba as nb
import numpy as np

from ..config import IntRange, Range, check_probability, check_range, coin, integers, uniform
from .layout import anchors, field, positive_planes
from .raster import JIT, strip_cover

MIN_BOUNDARY_WIDTH = 0.75  # px


@dataclasses.dataclass(frozen=True)
class GrainsConfig:
    """p: probability that a scene has grains. count, p_boundary, boundary_intensity: paper.
    min_distance: closest seeds in units of the mean seed spacing. intensity, tilt: the
    positive plane of each grain (tilt per seed spacing). boundary_width: fraction of the
    field. weight: the layer's scale in the superposition."""

    p: float = 0.5
    count: IntRange = (15, 175)
    min_distance: Range = (0.3, 0.8)
    intensity: Range = (0.2, 1.0)
    tilt: Range = (0.0, 0.5)
    p_boundary: float = 0.5
    boundary_intensity: Range = (0.5, 1.5)
    boundary_width: Range = (0.003, 0.012)
    weight: Range = (0.3, 1.0)

    def __post_init__(self):
        check_probability("grains.p", self.p)
        check_probability("grains.p_boundary", self.p_boundary)
        check_range("grains.count", self.count, 1, 1_000_000)
        check_range("grains.min_distance", self.min_distance, 0.0, 0.9)
        check_range("grains.intensity", self.intensity, 0.0, 1e6)
        check_range("grains.tilt", self.tilt, 0.0, 10.0)
        check_range("grains.boundary_intensity", self.boundary_intensity, 0.0, 1e6)
        check_range("grains.boundary_width", self.boundary_width, 0.0, 1.0)
        check_range("grains.weight", self.weight, 0.0, 1e6)


def draw(rng: np.random.Generator, config: GrainsConfig, shape) -> dict:
    """Seeds (individual points), grain planes and the optional boundary line."""
    H, W = shape
    n = integers(rng, config.count)
    spacing = math.sqrt(H * W / n)
    weight = uniform(rng, config.weight)
    xy, points = anchors(rng, shape, n, uniform(rng, config.min_distance) * spacing, margin=0.5 * spacing)
    planes = positive_planes(rng, len(xy), config.intensity, config.tilt, spacing)
    boundary = None
    if coin(rng, config.p_boundary):
        mean = float(np.mean(planes["c"])) if len(xy) else 0.0
        width = max(uniform(rng, config.boundary_width) * field(shape), MIN_BOUNDARY_WIDTH)
        boundary = {"intensity": uniform(rng, config.boundary_intensity) * mean, "width": width}
    return {"weight": weight, "spacing": spacing, "points": points, "x": xy[:, 0], "y": xy[:, 1], **planes, "boundary": boundary}


def render(img: np.ndarray, layer: dict) -> None:
    """Add the grains of a layer record to img (float32, in place)."""
    a = {k: np.asarray(layer[k], dtype=np.float64) for k in ("x", "y", "c", "gx", "gy")}
    if a["x"].size == 0:
        return
    b = layer["boundary"] or {"intensity": 0.0, "width": 0.0}
    _grains(img, np.empty((0, 0), dtype=np.int64), a["x"], a["y"], a["c"], a["gx"], a["gy"], float(b["intensity"]), 0.5 * float(b["width"]), float(layer["weight"]))


def labels(shape, x, y) -> np.ndarray:
    """Index of the nearest seed of every pixel (the grain map), by the same search."""
    first = np.empty(shape, dtype=np.int64)
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    dummy = np.zeros(xs.size)
    _grains(np.zeros(shape, dtype=np.float32), first, xs, ys, dummy, dummy, dummy, 0.0, 0.0, 1.0)
    return first


TILE = 16  # px; tiles hold the candidate lists, sub-tiles of SUB px narrow them down
SUB = 4


@nb.njit(cache=True, inline="always")
def _narrow(sx, sy, src, n_src, i0, i1, j0, j1, reach, out):
    """Seeds among src[:n_src] that can matter to a pixel of rows i0:i1, columns j0:j1:
    the nearest, or the far side of a boundary within ``reach`` (see module docstring).
    A seed at distance d from the block centre m is at d -+ h from its pixels (h: the
    half-diagonal), and any such neighbour lies within d_a + 2 reach of the pixel, so
    seeds beyond d1 + 2 h + 2 reach of m (d1: the nearest) are out. Returns their number."""
    my = 0.5 * (i0 + i1 - 1)
    mx = 0.5 * (j0 + j1 - 1)
    h = 0.5 * math.sqrt((i1 - 1 - i0) ** 2 + (j1 - 1 - j0) ** 2)
    d1 = 1e300
    for m in range(n_src):
        k = src[m]
        d1 = min(d1, (sx[k] - mx) ** 2 + (sy[k] - my) ** 2)
    lim = (math.sqrt(d1) + 2.0 * h + 2.0 * reach) ** 2 + 1e-6
    n = 0
    for m in range(n_src):
        k = src[m]
        if (sx[k] - mx) ** 2 + (sy[k] - my) ** 2 <= lim:
            out[n] = k
            n += 1
    return n


@nb.njit(cache=True, inline="always")
def _fill(img, label, store, a, i0, i1, j0, j1, sx, sy, c, gx, gy, weight):
    """Rows i0:i1, columns j0:j1 lie inside grain a, away from its boundary."""
    for i in range(i0, i1):
        v0 = c[a] + gx[a] * (j0 - sx[a]) + gy[a] * (i - sy[a])
        row = img[i, j0:j1]
        for jj in range(row.shape[0]):
            row[jj] += weight * max(v0 + gx[a] * jj, 0.0)
        if store:
            label[i, j0:j1] = a


@nb.njit(**JIT)
def _grains(img, label, sx, sy, c, gx, gy, line_c, line_hw, weight):
    """Add the grains to img and, if label is (H, W), write each pixel's grain (nearest
    seed) to it.

    Per 16 px tile the candidate seeds come from all seeds, per 4 px sub-tile from the
    tile's; a sub-tile with a single candidate lies inside one grain, farther than
    ``reach`` from any boundary, and is filled directly."""
    H, W = img.shape
    n = sx.shape[0]
    store = label.shape[0] == H and label.shape[1] == W
    reach = 0.5 + line_hw
    every = np.arange(n)
    tile_c = np.empty(n, np.int64)
    sub_c = np.empty(n, np.int64)
    dk = np.empty(n)
    inv = np.empty(n * n)
    for ti in range(0, H, TILE):
        for tj in range(0, W, TILE):
            nt = _narrow(sx, sy, every, n, ti, min(ti + TILE, H), tj, min(tj + TILE, W), reach, tile_c)
            if nt == 1:
                _fill(img, label, store, tile_c[0], ti, min(ti + TILE, H), tj, min(tj + TILE, W), sx, sy, c, gx, gy, weight)
                continue
            for si in range(ti, min(ti + TILE, H), SUB):
                for sj in range(tj, min(tj + TILE, W), SUB):
                    i1 = min(si + SUB, H)
                    j1 = min(sj + SUB, W)
                    ns = _narrow(sx, sy, tile_c, nt, si, i1, sj, j1, reach, sub_c)
                    if ns == 1:
                        _fill(img, label, store, sub_c[0], si, i1, sj, j1, sx, sy, c, gx, gy, weight)
                        continue
                    for m1 in range(ns):  # 1 / (2 |a - b|) for the candidate pairs
                        for m2 in range(ns):
                            k1 = sub_c[m1]
                            k2 = sub_c[m2]
                            sep = math.sqrt((sx[k1] - sx[k2]) ** 2 + (sy[k1] - sy[k2]) ** 2)
                            inv[m1 * ns + m2] = 0.5 / sep if sep > 0.0 else 1e300
                    for i in range(si, i1):
                        for j in range(sj, j1):
                            ma = 0
                            da = 1e300
                            for m in range(ns):
                                k = sub_c[m]
                                d = (sx[k] - j) ** 2 + (sy[k] - i) ** 2
                                dk[m] = d
                                if d < da:
                                    ma, da = m, d
                            # distance to the grain's boundary: the nearest bisector a|b
                            dist = 1e300
                            mb = ma
                            for m in range(ns):
                                t = (dk[m] - da) * inv[ma * ns + m]
                                if m != ma and t < dist:
                                    dist, mb = t, m
                            a = sub_c[ma]
                            value = max(c[a] + gx[a] * (j - sx[a]) + gy[a] * (i - sy[a]), 0.0)
                            if dist < reach:
                                b = sub_c[mb]
                                wa = min(0.5 + dist, 1.0)
                                vb = max(c[b] + gx[b] * (j - sx[b]) + gy[b] * (i - sy[b]), 0.0)
                                value = wa * value + (1.0 - wa) * vb
                                if line_hw > 0.0:
                                    cl = strip_cover(dist, line_hw)
                                    value = (1.0 - cl) * value + cl * line_c
                            img[i, j] += weight * value
                            if store:
                                label[i, j] = a
