"""Orientation, wedges, shapes and defects of random specimens."""

import json
import math

import numpy as np
import pytest
from ase.data import covalent_radii
from scipy.spatial import Delaunay

from emsim.specimen import orientation, shapes
from emsim.specimen.crystal import cell_from_parameters
from emsim.specimen.defects import DefectConfig, apply_defects
from emsim.errors import ConfigError
from emsim.specimen.orientation import OrientationConfig, random_rotation, sample_orientation
from emsim.specimen.shapes import ShapeConfig, WedgeConfig


def _proper(R):
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-12)


# --------------------------------------------------------------------------- orientation


def test_random_rotations_are_uniform(rng):
    Rs = np.array([random_rotation(rng) for _ in range(4000)])
    for R in Rs[:50]:
        _proper(R)
    # Haar measure: E[R] = 0; the image of z is uniform on the sphere (E[z^2] = 1/3)
    assert np.abs(Rs.mean(axis=0)).max() < 0.04
    z = Rs[:, :, 2]
    assert np.abs((z**2).mean(axis=0) - 1 / 3).max() < 0.02
    # the rotation angle of a uniform rotation has density (1 - cos w) / pi
    w = np.arccos(np.clip((np.trace(Rs, axis1=1, axis2=2) - 1) / 2, -1, 1))
    assert np.mean(w) == pytest.approx(math.pi / 2 + 2 / math.pi, abs=0.03)


@pytest.mark.parametrize("hexagonal", [False, True])
def test_zone_axis_along_z_and_mistilt(rng, hexagonal):
    angles = [90, 90, 120] if hexagonal else [80, 100, 110]
    cell = cell_from_parameters([4.0, 4.0 if hexagonal else 5.0, 6.0], angles)
    tilts = []
    for _ in range(400):
        R, rec = sample_orientation(rng, cell, hexagonal, OrientationConfig(p_zone_axis=1.0))
        _proper(R)
        assert tuple(rec["zone_axis"]) in orientation.zone_axes(hexagonal)
        d = R @ (np.array(rec["zone_axis"]) @ cell)
        tilt = math.degrees(math.acos(d[2] / np.linalg.norm(d)))
        assert tilt == pytest.approx(abs(rec["mistilt"]), abs=1e-9)
        tilts.append(rec["mistilt"])
    assert np.std(tilts) == pytest.approx(5.0, rel=0.15)
    # without mistilt the zone axis lies exactly along +z
    R, rec = sample_orientation(rng, cell, hexagonal, OrientationConfig(p_zone_axis=1.0, mistilt=0.0))
    d = R @ (np.array(rec["zone_axis"]) @ cell)
    np.testing.assert_allclose(d / np.linalg.norm(d), [0, 0, 1], atol=1e-12)
    json.dumps(rec)


def test_hexagonal_axes_are_the_named_families():
    """Three-index directions of a hexagonal cell: [100] and [110] are both <11-20> (60 deg
    apart), [1-10] is <1-100> (30 deg from [100]), [120] is <01-10> (90 deg from [100])."""
    cell = cell_from_parameters([3.0, 3.0, 5.0], [90, 90, 120])

    def angle(u, v):
        a, b = np.array(u) @ cell, np.array(v) @ cell
        return math.degrees(math.acos(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))

    assert angle((1, 0, 0), (1, 1, 0)) == pytest.approx(60.0)
    assert angle((1, 0, 0), (1, -1, 0)) == pytest.approx(30.0)
    assert angle((1, 2, 0), (1, 0, 0)) == pytest.approx(90.0)


def test_p_zone_axis_frequency(rng):
    cell = np.eye(3) * 4.0
    kinds = [sample_orientation(rng, cell)[1]["kind"] for _ in range(2000)]
    assert kinds.count("zone_axis") / len(kinds) == pytest.approx(0.75, abs=0.04)


# --------------------------------------------------------------------------- wedges


def _points(rng, n=20000, lo=(-5, -5, 0), hi=(45, 35, 40)):
    return rng.uniform(lo, hi, (n, 3))


@pytest.mark.parametrize("surface", ["top", "bottom", "both"])
def test_wedge_removes_exactly_the_right_side(rng, surface):
    weights = tuple(float(s == surface) for s in shapes.WEDGE_SURFACES)
    pts = _points(rng)
    for _ in range(5):
        regions, rec = shapes.sample_wedge(rng, (0, 0), (40, 30), 0.0, 40.0, WedgeConfig(p=1.0, surfaces=weights))
        keep = shapes.wedge_keep(pts, regions)
        t = math.tan(math.radians(rec["angle"]))
        a = math.radians(rec["azimuth"])
        s = pts[:, 0] * math.cos(a) + pts[:, 1] * math.sin(a) - rec["edge"]
        removed = np.zeros(len(pts), bool)
        if surface in ("top", "both"):
            removed |= pts[:, 2] > 40.0 - t * s
        if surface in ("bottom", "both"):
            removed |= pts[:, 2] < 0.0 + t * s
        margin = np.minimum(np.abs(pts[:, 2] - (40.0 - t * s)), np.abs(pts[:, 2] - t * s))
        clear = margin > 1e-9
        np.testing.assert_array_equal(keep[clear], ~removed[clear])
        assert rec["surface"] == surface and 5.0 <= rec["angle"] <= 45.0
        json.dumps(rec)


def test_no_wedge_consumes_nothing():
    rng = np.random.default_rng(3)
    regions, rec = shapes.sample_wedge(rng, (0, 0), (1, 1), 0, 1, WedgeConfig(p=0.0))
    assert regions == [] and rec is None
    assert rng.random() == np.random.default_rng(3).random()


# --------------------------------------------------------------------------- shapes


def _shape(rng, kind, keep=1.0):
    weights = tuple(float(k == kind) for k in shapes.SHAPE_KINDS)
    return shapes.sample_shape(rng, (0, 0, 0), (40, 30, 40), ShapeConfig(p=1.0, kinds=weights, p_keep=keep))


def test_rod_matches_polygon_reference(rng):
    pts = _points(rng)
    for _ in range(8):
        region, keep, rec = _shape(rng, "rod")
        assert keep and 3 <= len(rec["angles"]) <= 15
        assert 0.01 * 40 <= rec["radius"] <= 0.5 * 40
        axis, c, r = np.array(rec["axis"]), np.array(rec["center"]), rec["radius"]
        e1 = np.cross(axis, np.eye(3)[np.argmin(np.abs(axis))])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(axis, e1)
        q = np.stack([(pts - c) @ e1, (pts - c) @ e2], 1)
        v = r * np.stack([np.cos(rec["angles"]), np.sin(rec["angles"])], 1)
        # counter-clockwise convex polygon: inside iff left of every edge
        e = np.roll(v, -1, 0) - v
        cross = e[None, :, 0] * (q[:, None, 1] - v[None, :, 1]) - e[None, :, 1] * (q[:, None, 0] - v[None, :, 0])
        inside_ref = np.all(cross >= 0, axis=1)
        clear = np.min(np.abs(cross), axis=1) > 1e-6
        got = shapes.shape_keep(pts, region, True)
        np.testing.assert_array_equal(got[clear], inside_ref[clear])


def test_polyhedron_matches_delaunay_reference(rng):
    pts = _points(rng)
    for _ in range(8):
        region, keep, rec = _shape(rng, "polyhedron")
        vertices = np.array(rec["vertices"])
        assert 4 <= len(vertices) <= 20
        np.testing.assert_allclose(np.linalg.norm(vertices - rec["center"], axis=1), rec["radius"])
        inside_ref = Delaunay(vertices).find_simplex(pts) >= 0
        dist = np.max(pts @ region.normals.T - region.offsets, axis=1)
        clear = np.abs(dist) > 1e-7
        np.testing.assert_array_equal(shapes.shape_keep(pts, region, True)[clear], inside_ref[clear])


def test_plane_and_remove_are_complements(rng):
    pts = _points(rng)
    region, keep, rec = _shape(rng, "plane", keep=0.0)
    assert not keep and rec["normal"][2] == 0.0
    removed_side = (pts - rec["center"]) @ np.array(rec["normal"]) <= 0
    np.testing.assert_array_equal(shapes.shape_keep(pts, region, keep), ~removed_side)
    np.testing.assert_array_equal(shapes.shape_keep(pts, region, True), removed_side)


def test_shape_kind_frequencies(rng):
    kinds = []
    for _ in range(900):
        region, keep, rec = shapes.sample_shape(rng, (0, 0, 0), (10, 10, 10))
        kinds.append(rec["kind"] if rec else None)
    assert kinds.count(None) / len(kinds) == pytest.approx(0.5, abs=0.05)
    for k in shapes.SHAPE_KINDS:
        assert kinds.count(k) / len(kinds) == pytest.approx(1 / 6, abs=0.04)


def test_shape_config_validation():
    with pytest.raises(ConfigError):
        ShapeConfig(kinds=(0.0, 0.0, 0.0))
    with pytest.raises(ConfigError):
        ShapeConfig(rod_vertices=(2, 5))
    with pytest.raises(ConfigError):
        WedgeConfig(p=1.5)


# --------------------------------------------------------------------------- defects


def test_defects_counts_and_displacements(rng):
    n = 20000
    pos = rng.uniform(0, 100, (n, 3))
    numbers = rng.choice([6, 79], n).astype(np.uint8)
    keep = np.ones(n, bool)
    keep[:1000] = False  # already cut atoms are never chosen
    before = pos.copy()
    rec = apply_defects(rng, pos, numbers, keep, (-1e9,) * 3, (1e9,) * 3, DefectConfig(p=1.0))
    assert rec["n_max"] == round(0.25 * 19000)
    assert rec["selected"] == rec["displaced"] + rec["vacancies"] <= rec["n_max"]
    moved = np.any(pos != before, axis=1)
    assert not moved[:1000].any() and keep[:1000].sum() == 0
    assert moved.sum() == rec["displaced"]
    assert (~keep[1000:]).sum() == rec["vacancies"]
    assert not np.any(moved & ~keep)


def test_defect_displacement_scale_is_covalent_radius(rng):
    n = 40000
    pos = np.zeros((n, 3))
    numbers = np.where(np.arange(n) < n // 2, 6, 79).astype(np.uint8)
    keep = np.ones(n, bool)
    cfg = DefectConfig(p=1.0, max_fraction=1.0, p_displace=1.0)
    while True:  # n_sel ~ U{0..N}: redraw until a large sample is displaced
        rec = apply_defects(rng, pos, numbers, keep, (-1e9,) * 3, (1e9,) * 3, cfg)
        if rec["selected"] > n // 2:
            break
        pos[:] = 0.0
    moved = np.any(pos != 0, axis=1)
    for z in (6, 79):
        d = pos[moved & (numbers == z)]
        assert d.std() == pytest.approx(covalent_radii[z], rel=0.05)
        assert np.abs(d.mean(axis=0)).max() < 0.05


def test_defects_leaving_the_box_are_dropped(rng):
    n = 5000
    pos = rng.uniform(0, 1.0, (n, 3))
    numbers = np.full(n, 79, np.uint8)
    keep = np.ones(n, bool)
    rec = apply_defects(rng, pos, numbers, keep, (0, 0, 0), (1, 1, 1), DefectConfig(p=1.0, p_displace=1.0))
    assert rec["left_box"] > 0
    assert np.all((pos[keep] >= 0) & (pos[keep] < 1))
    assert apply_defects(rng, pos, numbers, keep, (0, 0, 0), (1, 1, 1), DefectConfig(p=0.0)) is None
