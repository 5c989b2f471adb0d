"""Cracks: thin, branching, darker or brighter paths across the field.

The paper names cracks without specifying them. Modelled on cracks in thin films,
coatings and supports as LR TEM/SEM/STEM images show them: jagged, roughly straight
paths that run across the field, taper to closed tips and branch at an angle.

Geometry: 1-4 crack networks. Each starts at a point from the "individual points" type
and grows in two opposite directions (arms) as a random walk with fixed steps of 1-3 % of
the field whose heading deviates from a slowly drifting mean direction by an AR(1)
process (deviation <- 0.7 deviation + N(0, wiggle); mean <- mean + N(0, 0.3 wiggle)):
jagged at the scale of a step, roughly straight and gently curved across the field. The
width starts at 0.3-1.5 % of the field (at least 0.7 px), tapers as sqrt(1 - s / length)
towards the tip and wobbles by a log-normal random walk. At every
node a branch starts with probability p_branch (drawn per network, 0-10 %), at 20-70
degrees to either side, 40-80 % as wide and 20-60 % as long as what is left of its
parent; branches branch again down to ``max_depth``. Arms stop where they leave the field.
Each network is stored as polylines with a width per vertex (and the walk's parameters),
drawn as round-capped strokes, anti-aliased and max-combined into one coverage mask m
(``raster.stroke_mask``).

Intensity: a crack is a gap in the material, so with p_dark it is dark: it takes out a
fraction ``depth`` of everything under it, y <- (y + F) (1 - depth m), where F is the
cracked film itself (a uniform layer; without it a crack over an empty field would not be
visible). Otherwise it is bright (an open crack in bright field, or charging edges in SEM):
y <- y + c m. Cracks are therefore the last layer of a scene; the dark kind is the one
non-additive step of the superposition.
"""

from __future__ import annotations

import dataclasses
import math

import numba as nb
import numpy as np

from ..config import IntRange, Range, check_probability, check_range, coin, integers, uniform
from .layout import anchors, field
from .raster import stroke_mask

MIN_WIDTH = 0.7  # px
TIP_WIDTH = 0.05  # taper floor, fraction of the start width
WOBBLE = 0.08  # std of the log-width step per node
WOBBLE_CLIP = 0.5  # |log-width wobble| bound
PERSIST = 0.7  # AR(1) coefficient of the heading's deviation from its mean
DRIFT = 0.3  # std of the mean heading's step, in units of wiggle


@dataclasses.dataclass(frozen=True)
class CracksConfig:
    """p: probability that a scene has cracks. count: networks. length: of each arm,
    fraction of the field. step: walk step, fraction of the field. wiggle: std of the
    heading's deviation step (rad, see the module docstring). width: start width, fraction
    of the field. p_branch: per-node branch probability (range, drawn per network).
    branch_angle (degrees), branch_width, branch_length (of the parent's remaining
    length), max_depth: branching. p_dark, depth, film: dark cracks; intensity: bright
    cracks. weight: the layer's scale."""

    p: float = 0.5
    count: IntRange = (1, 4)
    length: Range = (0.3, 1.0)
    step: Range = (0.01, 0.03)
    wiggle: Range = (0.1, 0.4)
    width: Range = (0.003, 0.015)
    p_branch: Range = (0.0, 0.1)
    branch_angle: Range = (20.0, 70.0)
    branch_width: Range = (0.4, 0.8)
    branch_length: Range = (0.2, 0.6)
    max_depth: int = 2
    p_dark: float = 0.5
    depth: Range = (0.5, 1.0)
    film: Range = (0.3, 1.0)
    intensity: Range = (0.3, 1.0)
    weight: Range = (0.3, 1.0)

    def __post_init__(self):
        check_probability("cracks.p", self.p)
        check_probability("cracks.p_dark", self.p_dark)
        check_range("cracks.count", self.count, 0, 1000)
        check_range("cracks.length", self.length, 1e-3, 10.0)
        check_range("cracks.step", self.step, 1e-3, 1.0)
        check_range("cracks.wiggle", self.wiggle, 0.0, math.pi)
        check_range("cracks.width", self.width, 0.0, 1.0)
        check_range("cracks.p_branch", self.p_branch, 0.0, 0.5)
        check_range("cracks.branch_angle", self.branch_angle, 0.0, 180.0)
        check_range("cracks.branch_width", self.branch_width, 0.0, 1.0)
        check_range("cracks.branch_length", self.branch_length, 0.0, 1.0)
        check_range("cracks.max_depth", (self.max_depth, self.max_depth), 0, 4)
        check_range("cracks.depth", self.depth, 0.0, 1.0)
        check_range("cracks.film", self.film, 0.0, 1e6)
        check_range("cracks.intensity", self.intensity, 0.0, 1e6)
        check_range("cracks.weight", self.weight, 0.0, 1e6)


@nb.njit(cache=True, nogil=True)
def _walk(x0, y0, heading, step, wiggle, w0, noise, bounds):
    """Random walk from (x0, y0): vertices, widths and headings, cut after the first vertex
    outside bounds (xmin, ymin, xmax, ymax). noise: (3, n + 1) standard normals for the
    heading deviation, the log-width wobble and the drift of the mean heading."""
    n = noise.shape[1] - 1
    x = np.empty(n + 1)
    y = np.empty(n + 1)
    w = np.empty(n + 1)
    head = np.empty(n)
    x[0], y[0] = x0, y0
    mean = heading
    dev = 0.0
    lw = 0.0
    end = n + 1
    for k in range(n + 1):
        lw = min(max(lw + WOBBLE * noise[1, k], -WOBBLE_CLIP), WOBBLE_CLIP)
        w[k] = w0 * math.sqrt(max(1.0 - k / n, TIP_WIDTH)) * math.exp(lw)
        if k > 0 and (x[k] < bounds[0] or y[k] < bounds[1] or x[k] > bounds[2] or y[k] > bounds[3]):
            end = k + 1
            break
        if k < n:
            mean += DRIFT * wiggle * noise[2, k]
            dev = PERSIST * dev + wiggle * noise[0, k]
            h = mean + dev
            head[k] = h
            x[k + 1] = x[k] + step * math.cos(h)
            y[k + 1] = y[k] + step * math.sin(h)
    return x[:end], y[:end], w[:end], head


def _arm(rng, config, start, heading, length, step, wiggle, w0, p_branch, depth, bounds, out):
    """Grow one arm (and, recursively, its branches) into ``out`` as polylines."""
    n = max(1, int(math.ceil(length / step)))
    x, y, w, head = _walk(start[0], start[1], heading, step, wiggle, w0, rng.normal(0.0, 1.0, (3, n + 1)), bounds)
    out.append({"x": x, "y": y, "w": w})
    if depth >= config.max_depth or p_branch <= 0.0:
        return
    nodes = np.flatnonzero(rng.random(x.size - 1) < p_branch)
    nodes = nodes[nodes > 0]
    if nodes.size == 0:
        return
    u = rng.random((4, nodes.size))  # angle, side, length, width of each branch
    lo, hi = np.radians(config.branch_angle)
    turn = (lo + u[0] * (hi - lo)) * np.where(u[1] < 0.5, -1.0, 1.0)
    rest = (n - nodes) * step * (config.branch_length[0] + u[2] * (config.branch_length[1] - config.branch_length[0]))
    width = w[nodes] * (config.branch_width[0] + u[3] * (config.branch_width[1] - config.branch_width[0]))
    for k, t, r, wb in zip(nodes, turn, rest, width):
        if r >= step:
            _arm(rng, config, (x[k], y[k]), head[k - 1] + t, r, step, wiggle, wb, p_branch, depth + 1, bounds, out)


def draw(rng: np.random.Generator, config: CracksConfig, shape) -> dict:
    """Crack networks as polylines with per-vertex widths, and their intensity."""
    H, W = shape
    L = field(shape)
    n = integers(rng, config.count)
    weight = uniform(rng, config.weight)
    starts, points = anchors(rng, shape, n, 0.1 * L)
    networks = []
    for start in starts:
        step = uniform(rng, config.step) * L
        bounds = np.array([-2 * step, -2 * step, W - 1 + 2 * step, H - 1 + 2 * step])
        wiggle = uniform(rng, config.wiggle)
        w0 = max(uniform(rng, config.width) * L, MIN_WIDTH)
        p_branch = uniform(rng, config.p_branch)
        heading = rng.uniform(0.0, 2.0 * math.pi)
        lines: list = []
        for h in (heading, heading + math.pi):
            _arm(rng, config, start, h, uniform(rng, config.length) * L, step, wiggle, w0, p_branch, 0, bounds, lines)
        networks.append({"step": step, "wiggle": wiggle, "p_branch": p_branch, "lines": lines})
    if coin(rng, config.p_dark):
        tone = {"dark": True, "depth": uniform(rng, config.depth), "film": uniform(rng, config.film)}
    else:
        tone = {"dark": False, "intensity": uniform(rng, config.intensity)}
    return {"weight": weight, "points": points, "networks": networks, **tone}


def mask(layer: dict, shape) -> np.ndarray:
    """Coverage (0..1) of all cracks of a layer record on the pixel grid."""
    m = np.zeros(shape, dtype=np.float32)
    segs = []
    for network in layer["networks"]:
        for line in network["lines"]:
            x, y, w = (np.asarray(line[k], dtype=np.float64) for k in ("x", "y", "w"))
            segs.append(np.stack([x[:-1], y[:-1], x[1:], y[1:], w[:-1], w[1:]], axis=1))
    if segs:
        stroke_mask(m, np.concatenate(segs))
    return m


def render(img: np.ndarray, layer: dict) -> None:
    """Apply the cracks of a layer record to img (float32, in place): dark cracks cut
    through everything rendered before them, bright ones add."""
    m = mask(layer, img.shape)
    w = float(layer["weight"])
    if layer["dark"]:
        img += np.float32(w * layer["film"])
        img *= 1.0 - np.float32(layer["depth"]) * m
    else:
        img += np.float32(w * layer["intensity"]) * m
