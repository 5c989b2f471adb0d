"""Wedges and shapes cut from a specimen (Lobato et al. 2023, "Specimen generation", step 2).

Every cut is a convex region written as half-spaces {p : n_k . p <= c_k} and tested in one
numba pass over the atoms (``inside_convex``).

Wedge (p = 0.75): on the top (z = z_hi), bottom (z = z_lo) or both surfaces (1/3 each), with
in-plane direction u (uniform azimuth) and angle alpha ~ U[5, 45] deg. The wedge edge is a
line perpendicular to u at s0 = u . (x, y), s0 uniform over the field's extent along u (the
paper does not place it; this puts the thinning inside the image). Beyond the edge the
surface drops by tan(alpha) (s - s0): the top cut removes z > z_hi - tan(alpha) (s - s0),
the bottom cut z < z_lo + tan(alpha) (s - s0); "both" uses one edge, direction and angle,
so the two faces converge (a wedge-shaped flake or lamella).

Shapes (p = 0.5; rod, polyhedron, plane with 1/3 each; the atoms inside are kept or removed
with p = 0.5):
- polygonal rod: an infinite prism along a uniformly random axis through a random point of
  the field, cross-section a convex polygon with 3-15 vertices at sorted uniform angles on a
  circle of radius U[0.01, 0.5] max(l) (l: the field box, not the extended one);
- convex polyhedron: the convex hull of 4-20 points uniform on a sphere of the same radius
  range around a random point of the field;
- hard plane: a plane parallel to z (uniform normal azimuth) through a random point of the
  field; "inside" is the side the normal points away from.
"""

from __future__ import annotations

import dataclasses
import math

import numba as nb
import numpy as np

from ..config import IntRange, Range, check_probability, check_range, coin, integers, uniform
from ..errors import ConfigError, EmsimError

WEDGE_SURFACES = ("top", "bottom", "both")
SHAPE_KINDS = ("rod", "polyhedron", "plane")


def check_weights(name: str, w) -> None:
    """Validate a tuple of relative weights (non-negative, positive sum)."""
    if any(v < 0 for v in w) or not sum(w) > 0:
        raise ConfigError(f"{name} = {list(w)} must be non-negative weights with a positive sum")


def weighted_choice(rng: np.random.Generator, weights) -> int:
    """Index drawn with probability proportional to ``weights`` (no draw if only one is
    non-zero)."""
    w = np.asarray(weights, dtype=float)
    if np.count_nonzero(w) == 1:
        return int(np.flatnonzero(w)[0])
    return int(rng.choice(len(w), p=w / w.sum()))


@dataclasses.dataclass(frozen=True)
class WedgeConfig:
    """p: probability of a wedge; surfaces: weights of top, bottom, both; angle (deg)."""

    p: float = 0.75
    surfaces: tuple[float, float, float] = (1.0, 1.0, 1.0)
    angle: Range = (5.0, 45.0)

    def __post_init__(self):
        check_probability("wedge.p", self.p)
        check_weights("wedge.surfaces", self.surfaces)
        check_range("wedge.angle", self.angle, 0.0, 89.0)


@dataclasses.dataclass(frozen=True)
class ShapeConfig:
    """p: probability of a shape; kinds: weights of rod, polyhedron, plane; radius in units
    of the largest field-box length; p_keep: keep (else remove) the atoms inside."""

    p: float = 0.5
    kinds: tuple[float, float, float] = (1.0, 1.0, 1.0)
    rod_vertices: IntRange = (3, 15)
    polyhedron_vertices: IntRange = (4, 20)
    radius: Range = (0.01, 0.5)
    p_keep: float = 0.5

    def __post_init__(self):
        check_probability("shape.p", self.p)
        check_weights("shape.kinds", self.kinds)
        check_range("shape.rod_vertices", self.rod_vertices, 3, 1000)
        check_range("shape.polyhedron_vertices", self.polyhedron_vertices, 4, 1000)
        check_range("shape.radius", self.radius, 1e-6, 1e3)
        check_probability("shape.p_keep", self.p_keep)


@dataclasses.dataclass(frozen=True)
class Region:
    """Convex region {p : normals @ p <= offsets}."""

    normals: np.ndarray  # (m, 3)
    offsets: np.ndarray  # (m,)

    def contains(self, points) -> np.ndarray:
        return inside_convex(points, self.normals, self.offsets)


@nb.njit(cache=True, nogil=True)
def _inside(points, normals, offsets, out):
    for i in range(points.shape[0]):
        x, y, z = points[i, 0], points[i, 1], points[i, 2]
        ok = True
        for k in range(normals.shape[0]):
            if normals[k, 0] * x + normals[k, 1] * y + normals[k, 2] * z > offsets[k]:
                ok = False
                break
        out[i] = ok


def inside_convex(points, normals, offsets) -> np.ndarray:
    """Boolean mask of the points (N, 3) with normals[k] . p <= offsets[k] for every k."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    normals = np.ascontiguousarray(np.reshape(normals, (-1, 3)), dtype=np.float64)
    offsets = np.ascontiguousarray(np.reshape(offsets, -1), dtype=np.float64)
    out = np.empty(len(points), dtype=np.bool_)
    _inside(points, normals, offsets, out)
    return out


# --------------------------------------------------------------------------- wedge


def sample_wedge(rng: np.random.Generator, field_lo, field_hi, z_lo: float, z_hi: float, config: WedgeConfig = WedgeConfig()) -> tuple[list[Region], dict | None]:
    """Draw a wedge for a slab z in [z_lo, z_hi) under the field [field_lo, field_hi) (xy).
    Returns (half-spaces whose atoms are kept, one per cut surface, record); no wedge:
    ([], None)."""
    if not coin(rng, config.p):
        return [], None
    surface = WEDGE_SURFACES[weighted_choice(rng, config.surfaces)]
    phi = float(rng.uniform(0.0, 2.0 * math.pi))
    alpha = uniform(rng, config.angle)
    u = np.array([math.cos(phi), math.sin(phi)])
    corners = np.array([[x, y] for x in (field_lo[0], field_hi[0]) for y in (field_lo[1], field_hi[1])], dtype=float)
    s = corners @ u
    s0 = float(rng.uniform(s.min(), s.max()))
    t = math.tan(math.radians(alpha))
    norm = math.hypot(t, 1.0)
    regions = []
    if surface in ("top", "both"):  # remove t (s - s0) + z > z_hi
        regions.append(Region(np.array([[t * u[0], t * u[1], 1.0]]) / norm, np.array([(z_hi + t * s0) / norm])))
    if surface in ("bottom", "both"):  # remove t (s - s0) - z > -z_lo
        regions.append(Region(np.array([[t * u[0], t * u[1], -1.0]]) / norm, np.array([(t * s0 - z_lo) / norm])))
    record = {"surface": surface, "angle": alpha, "azimuth": math.degrees(phi), "edge": s0}
    return regions, record


def wedge_keep(points, regions: list[Region]) -> np.ndarray:
    """Atoms that survive the wedge cuts (inside every kept half-space)."""
    keep = np.ones(len(points), dtype=bool)
    for r in regions:
        keep &= inside_convex(points, r.normals, r.offsets)
    return keep


# --------------------------------------------------------------------------- shapes


def _unit_vector(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def rod_region(center, axis, radius: float, angles) -> Region:
    """Infinite prism along ``axis`` whose cross-section is the convex polygon with vertices
    at ``angles`` (rad, sorted) on a circle of ``radius`` around ``center``."""
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    ref = np.eye(3)[int(np.argmin(np.abs(axis)))]
    e1 = np.cross(axis, ref)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)
    a = np.asarray(angles, dtype=float)
    nxt = np.roll(a, -1)
    nxt[-1] += 2.0 * math.pi
    beta, gamma = 0.5 * (a + nxt), 0.5 * (nxt - a)  # edge bisector and half-gap
    normals = np.cos(beta)[:, None] * e1 + np.sin(beta)[:, None] * e2
    offsets = radius * np.cos(gamma) + normals @ np.asarray(center, dtype=float)
    return Region(normals, offsets)


def polyhedron_region(vertices) -> Region:
    """Convex hull of ``vertices`` (k, 3) as half-spaces (scipy's Qhull)."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        eq = ConvexHull(np.asarray(vertices, dtype=float)).equations
    except QhullError as e:
        raise EmsimError(f"degenerate polyhedron: {str(e).splitlines()[0]}") from None
    return Region(eq[:, :3].copy(), -eq[:, 3].copy())


def sample_shape(rng: np.random.Generator, box_lo, box_hi, config: ShapeConfig = ShapeConfig()) -> tuple[Region | None, bool, dict | None]:
    """Draw a shape placed in the box [box_lo, box_hi) (the field box). Returns (region,
    keep_inside, record); no shape: (None, True, None)."""
    if not coin(rng, config.p):
        return None, True, None
    box_lo, box_hi = np.asarray(box_lo, dtype=float), np.asarray(box_hi, dtype=float)
    kind = SHAPE_KINDS[weighted_choice(rng, config.kinds)]
    keep = coin(rng, config.p_keep)
    center = rng.uniform(box_lo, box_hi)
    record: dict = {"kind": kind, "keep": keep, "center": center.tolist()}
    if kind == "plane":
        phi = float(rng.uniform(0.0, 2.0 * math.pi))
        n = np.array([math.cos(phi), math.sin(phi), 0.0])
        region = Region(n[None, :], np.array([n @ center]))
        record["normal"] = n.tolist()
        return region, keep, record
    radius = uniform(rng, config.radius) * float(np.max(box_hi - box_lo))
    record["radius"] = radius
    if kind == "rod":
        axis = _unit_vector(rng)
        angles = np.sort(rng.uniform(0.0, 2.0 * math.pi, integers(rng, config.rod_vertices)))
        record.update(axis=axis.tolist(), angles=angles.tolist())
        return rod_region(center, axis, radius, angles), keep, record
    for _ in range(10):  # random points on a sphere are degenerate with probability 0
        k = integers(rng, config.polyhedron_vertices)
        vertices = center + radius * np.array([_unit_vector(rng) for _ in range(k)])
        try:
            region = polyhedron_region(vertices)
        except EmsimError:
            continue
        record["vertices"] = vertices.tolist()
        return region, keep, record
    raise EmsimError("could not draw a non-degenerate polyhedron in 10 tries")


def shape_keep(points, region: Region | None, keep_inside: bool) -> np.ndarray:
    """Atoms that survive the shape: those inside (keep_inside) or outside it."""
    if region is None:
        return np.ones(len(points), dtype=bool)
    inside = region.contains(points)
    return inside if keep_inside else ~inside
