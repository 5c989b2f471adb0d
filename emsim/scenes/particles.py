"""Soft and sharp particles of low-resolution scenes (Lobato et al. 2023, "generating
low-resolution images").

Soft particles: 15-85 per scene, each the asymmetric atom model of eq. 17 (``AtomModel``
with ``aspect``/``angle``): width r_m along a random direction and alpha r_m across it,
alpha ~ U[0.8, 1.2], with its own h1, h2, h3 ~ U[0.5, 1] and n ~ U[4, 16] (the ranges of
eq. 17-22). The paper gives no size: the scene's typical r_m is log-uniform over a decade
of the field (small to large particles) and each particle varies by +-30 % around it.

Sharp particles: 15-40 per scene, convex polygons with 3-5 vertices or ellipses with equal
probability, randomly rotated, each masking a random positive plane (so it is not flat),
with anti-aliased edges (``raster``).

Soft particles are evaluated at each pixel centre by their own kernel (``_soft``) rather
than ``render.render_clean``, whose per-species planning dominates when every particle is
its own species: 50 particles at 256^2 take 15 / 16 / 21 ms there and 0.6 / 2.9 / 8.6 ms
here for r_m ~ 3 / 8 / 15 px. The profile is dropped where it no longer shows in an image:
it is exact (to ~1e-7) up to s = r / r_m = 7, where the exponential term, the last to
decay, is e^-7 < 1e-3 of the peak, and is tapered smoothly (C1) to zero at s = 9; summed
over 50 overlapping particles the image differs from ``render_clean`` (which keeps 1e-5 of
the peak, for quantitative HR work, at 2.5x the pixels) by < 3e-4 of its maximum.
"""

from __future__ import annotations

import dataclasses
import math

import numba as nb
import numpy as np

from ..config import IntRange, Range, check_probability, check_range, integers, uniform
from .layout import anchors, field, log_uniform, positive_planes, uniforms
from .raster import JIT, fill_ellipses, fill_polygons

S_TAPER = 7.0  # exact eq. 17 up to this reduced radius
S_CUT = 9.0  # zero beyond (smoothstep taper in between)
MIN_SOFT_RADIUS = 1.0  # px: narrower blobs would be point-sampled below the pixel pitch
MIN_SHARP_RADIUS = 2.0  # px: box-filter coverage of a smaller shape is no longer its area


@dataclasses.dataclass(frozen=True)
class SoftParticlesConfig:
    """p: probability that a scene has soft particles. count: particles (paper). radius:
    the scene's typical r_m as a fraction of the field, log-uniform (paper silent: 0.6 %
    to 6 %, i.e. blobs of ~3 to ~30 px diameter at 256^2). spread: per-particle factor on
    r_m. aspect: alpha = r_my / r_mx (paper). h, n: eq. 17 ranges (paper; n >= 3 keeps the
    Butterworth term below 1e-5 where the taper starts). min_distance:
    closest centres in units of the typical r_m (lets particles touch and partly overlap,
    as in agglomerates). weight: the layer's scale in the superposition."""

    p: float = 0.5
    count: IntRange = (15, 85)
    radius: Range = (0.006, 0.06)
    spread: Range = (0.7, 1.3)
    aspect: Range = (0.8, 1.2)
    h: Range = (0.5, 1.0)
    n: Range = (4.0, 16.0)
    min_distance: Range = (1.0, 3.0)
    weight: Range = (0.3, 1.0)

    def __post_init__(self):
        check_probability("soft_particles.p", self.p)
        check_range("soft_particles.count", self.count, 0, 100_000)
        check_range("soft_particles.radius", self.radius, 1e-4, 1.0)
        check_range("soft_particles.spread", self.spread, 1e-3, 100.0)
        check_range("soft_particles.aspect", self.aspect, 0.05, 20.0)
        check_range("soft_particles.h", self.h, 0.0, 1e6)
        check_range("soft_particles.n", self.n, 3.0, 100.0)
        check_range("soft_particles.min_distance", self.min_distance, 0.0, 100.0)
        check_range("soft_particles.weight", self.weight, 0.0, 1e6)


@dataclasses.dataclass(frozen=True)
class SharpParticlesConfig:
    """p: probability that a scene has sharp particles. count, p_polygon, vertices: paper.
    radius: typical circumradius as a fraction of the field, log-uniform (paper silent:
    1.5 % to 8 %, faceted nanocrystals of ~8 to ~40 px at 256^2); spread: per-particle
    factor. aspect: minor/major axis of the ellipse (polygons: of the ellipse their vertices
    lie on), so shapes range from round/regular to elongated rods and platelets.
    intensity, tilt: the positive plane c (1 +- t) over the particle (``positive_planes``).
    min_distance: closest centres in units of the typical radius."""

    p: float = 0.5
    count: IntRange = (15, 40)
    radius: Range = (0.015, 0.08)
    spread: Range = (0.7, 1.3)
    p_polygon: float = 0.5
    vertices: IntRange = (3, 5)
    aspect: Range = (0.5, 1.0)
    intensity: Range = (0.4, 1.0)
    tilt: Range = (0.0, 0.6)
    min_distance: Range = (1.0, 2.5)
    weight: Range = (0.3, 1.0)

    def __post_init__(self):
        check_probability("sharp_particles.p", self.p)
        check_probability("sharp_particles.p_polygon", self.p_polygon)
        check_range("sharp_particles.count", self.count, 0, 100_000)
        check_range("sharp_particles.radius", self.radius, 1e-4, 1.0)
        check_range("sharp_particles.spread", self.spread, 1e-3, 100.0)
        check_range("sharp_particles.vertices", self.vertices, 3, 64)
        check_range("sharp_particles.aspect", self.aspect, 0.05, 1.0)
        check_range("sharp_particles.intensity", self.intensity, 0.0, 1e6)
        check_range("sharp_particles.tilt", self.tilt, 0.0, 0.99)
        check_range("sharp_particles.min_distance", self.min_distance, 0.0, 100.0)
        check_range("sharp_particles.weight", self.weight, 0.0, 1e6)


# --------------------------------------------------------------------------- soft particles


def draw_soft(rng: np.random.Generator, config: SoftParticlesConfig, shape) -> dict:
    """Positions (individual points), widths and eq. 17 shapes of the soft particles."""
    r0 = max(log_uniform(rng, config.radius) * field(shape), MIN_SOFT_RADIUS)
    n = integers(rng, config.count)
    weight = uniform(rng, config.weight)
    xy, points = anchors(rng, shape, n, uniform(rng, config.min_distance) * r0, margin=2.0 * r0)
    m = len(xy)
    return {
        "weight": weight,
        "radius": r0,
        "points": points,
        "x": xy[:, 0],
        "y": xy[:, 1],
        "r_m": np.maximum(r0 * uniforms(rng, config.spread, m), MIN_SOFT_RADIUS),
        "aspect": uniforms(rng, config.aspect, m),
        "angle": rng.uniform(0.0, math.pi, m),
        "h1": uniforms(rng, config.h, m),
        "h2": uniforms(rng, config.h, m),
        "h3": uniforms(rng, config.h, m),
        "n": uniforms(rng, config.n, m),
    }


def taper(s):
    """1 up to S_TAPER, C1 smoothstep down to 0 at S_CUT, 0 beyond."""
    u = np.clip((S_CUT - np.asarray(s, dtype=np.float64)) / (S_CUT - S_TAPER), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _tables(step: float = 1.0 / 1024) -> tuple[np.ndarray, np.ndarray]:
    """exp(-s) and exp(-s^2 / 2), times the taper, at s = k * step up to S_CUT (float32;
    linear interpolation error < step^2 / 8 = 1.2e-7), shared by all particles."""
    s = np.arange(int(math.ceil(S_CUT / step)) + 2) * step
    return (np.exp(-s) * taper(s)).astype(np.float32), (np.exp(-0.5 * s * s) * taper(s)).astype(np.float32)


_EXP, _GAUSS = _tables()


def render_soft(img: np.ndarray, layer: dict) -> None:
    """Add the soft particles of a layer record to img (float32, in place)."""
    a = {k: np.asarray(layer[k], dtype=np.float64) for k in ("x", "y", "r_m", "aspect", "angle", "h1", "h2", "h3", "n")}
    _soft(img, a["x"], a["y"], a["r_m"], a["aspect"], a["angle"], a["h1"], a["h2"], a["h3"], a["n"], float(layer["weight"]), _EXP, _GAUSS)


@nb.njit(cache=True, inline="always")
def _span(a, b, c, dy, x0, q_max, W):
    """Columns j of row offset dy with a dx^2 + 2 b dx dy + c dy^2 < q_max (dx = j - x0);
    empty when j1 < j0."""
    disc = (b * dy) ** 2 - a * (c * dy * dy - q_max)
    if disc <= 0.0:
        return 0, -1
    root = math.sqrt(disc)
    return max(0, int(math.ceil(x0 + (-b * dy - root) / a))), min(W - 1, int(math.floor(x0 + (-b * dy + root) / a)))


@nb.njit(**JIT)
def _soft(img, x, y, r_m, aspect, angle, h1, h2, h3, n, weight, exp_tab, gauss_tab):
    """Eq. 17 with elliptical s (as ``AtomModel.profile_xy``), tapered from S_TAPER to S_CUT.

    Per row of a particle: s at every column within the cutoff (a vectorised loop), then
    the exponential and Gaussian terms from the shared, tapered float32 tables; the
    Butterworth term only on the columns where it exceeds 1e-5 of h3 (s^2n < 1e5, inside
    S_TAPER for n >= 3). float32 arithmetic: errors ~1e-7 of the peak."""
    H, W = img.shape
    q_cut = S_CUT * S_CUT
    top = np.float32(exp_tab.shape[0] - 2)
    inv_step = np.float32(top / S_CUT)
    t = np.empty(W, np.float32)
    for k in range(x.shape[0]):
        cs = math.cos(angle[k])
        sn = math.sin(angle[k])
        l1 = 1.0 / (r_m[k] * r_m[k])
        l2 = 1.0 / (aspect[k] * r_m[k]) ** 2
        a = cs * cs * l1 + sn * sn * l2
        b = cs * sn * (l1 - l2)
        c = sn * sn * l1 + cs * cs * l2
        q_butter = math.exp(math.log(1e5) / n[k])
        ry = math.sqrt(q_cut * a / (a * c - b * b))
        x0 = x[k]
        y0 = y[k]
        a32 = np.float32(a)
        w1 = np.float32(weight * h1[k])
        w2 = np.float32(weight * h2[k])
        w3 = weight * h3[k]
        for i in range(max(0, int(math.ceil(y0 - ry))), min(H - 1, int(math.floor(y0 + ry))) + 1):
            dy = i - y0
            j0, j1 = _span(a, b, c, dy, x0, q_cut, W)
            if j1 < j0:
                continue
            row = img[i, j0 : j1 + 1]
            u0 = np.float32(j0 - x0)
            bdy = np.float32(2.0 * b * dy)
            cdy = np.float32(c * dy * dy)
            for jj in range(row.shape[0]):
                dx = u0 + np.float32(jj)
                t[jj] = min(math.sqrt(max(a32 * dx * dx + bdy * dx + cdy, np.float32(0.0))) * inv_step, top)
            for jj in range(row.shape[0]):
                tj = t[jj]
                m = np.int32(tj)
                f = tj - np.float32(m)
                row[jj] += w2 * (exp_tab[m] + f * (exp_tab[m + 1] - exp_tab[m])) + w1 * (gauss_tab[m] + f * (gauss_tab[m + 1] - gauss_tab[m]))
            b0, b1 = _span(a, b, c, dy, x0, q_butter, W)
            for j in range(max(b0, j0), min(b1, j1) + 1):
                dx = j - x0
                q = max(a * dx * dx + 2.0 * b * dx * dy + c * dy * dy, 1e-300)
                img[i, j] += w3 / (1.0 + math.exp(n[k] * math.log(q)))


# --------------------------------------------------------------------------- sharp particles


def draw_sharp(rng: np.random.Generator, config: SharpParticlesConfig, shape) -> dict:
    """Positions (individual points), shapes, orientations and planes of sharp particles."""
    r0 = max(log_uniform(rng, config.radius) * field(shape), MIN_SHARP_RADIUS)
    n = integers(rng, config.count)
    weight = uniform(rng, config.weight)
    xy, points = anchors(rng, shape, n, uniform(rng, config.min_distance) * r0, margin=r0)
    m = len(xy)
    R = np.maximum(r0 * uniforms(rng, config.spread, m), MIN_SHARP_RADIUS)
    aspect = uniforms(rng, config.aspect, m)
    angle = rng.uniform(0.0, 2.0 * math.pi, m)
    polygon = rng.random(m) < config.p_polygon
    nv = rng.integers(config.vertices[0], config.vertices[1] + 1, m)
    planes = positive_planes(rng, m, config.intensity, config.tilt, R)
    # polygons: vertices at jittered, evenly spaced angles on the particle's ellipse -- in
    # order on a convex curve, hence convex; gaps < pi keep the centre inside
    poly = np.flatnonzero(polygon)
    count = nv[poly]
    owner = np.repeat(np.arange(poly.size), count)
    step = 2.0 * np.pi / count[owner]
    index = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    theta = step * (index + rng.uniform(-0.2, 0.2, owner.size)) + rng.uniform(0.0, 2.0 * np.pi, poly.size)[owner]
    k = poly[owner]
    u, v = R[k] * np.cos(theta), aspect[k] * R[k] * np.sin(theta)
    cs, sn = np.cos(angle[k]), np.sin(angle[k])
    polygons = {"count": count, "vx": xy[k, 0] + cs * u - sn * v, "vy": xy[k, 1] + sn * u + cs * v, "x": xy[poly, 0], "y": xy[poly, 1], **{p: planes[p][poly] for p in ("c", "gx", "gy")}}
    e = np.flatnonzero(~polygon)
    ellipses = {"x": xy[e, 0], "y": xy[e, 1], "a": R[e], "b": aspect[e] * R[e], "angle": angle[e], **{p: planes[p][e] for p in ("c", "gx", "gy")}}
    return {"weight": weight, "radius": r0, "points": points, "polygons": polygons, "ellipses": ellipses}


def render_sharp(img: np.ndarray, layer: dict) -> None:
    """Add the sharp particles of a layer record to img (float32, in place)."""
    w = float(layer["weight"])
    for kind in ("polygons", "ellipses"):
        p = {k: np.asarray(v, dtype=np.float64) for k, v in layer[kind].items()}
        if p["x"].size == 0:
            continue
        planes = np.stack([w * p["c"], w * p["gx"], w * p["gy"], p["x"], p["y"]], axis=1)
        if kind == "polygons":
            starts = np.concatenate([[0], np.cumsum(p["count"])]).astype(np.int64)
            fill_polygons(img, starts, p["vx"], p["vy"], planes)
        else:
            fill_ellipses(img, np.stack([p["x"], p["y"], p["a"], p["b"], p["angle"]], axis=1), planes)
