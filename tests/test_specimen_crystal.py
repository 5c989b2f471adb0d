import json

import numpy as np
import pytest
import spglib
from ase import Atoms
from ase.neighborlist import neighbor_list

from emsim.config import from_dict
from emsim.errors import ConfigError, EmsimError
from emsim.specimen import crystal
from emsim.specimen.crystal import CrystalConfig, random_crystal
from emsim.specimen.orientation import random_rotation
from emsim.specimen.structure import tile


@pytest.fixture(scope="module")
def crystals():
    rng = np.random.default_rng(2023)
    return [random_crystal(rng) for _ in range(120)]


def _ops_contained(drawn_rot, drawn_trans, found):
    """Every drawn operation (R, t mod 1) is among the operations spglib finds."""
    fr, ft = found["rotations"], found["translations"]
    for R, t in zip(drawn_rot.astype(int), drawn_trans):
        same_r = np.all(fr == R, axis=(1, 2))
        dt = ft[same_r] - t
        if not np.any(np.all(np.abs(dt - np.rint(dt)) < 1e-4, axis=1)):
            return False
    return True


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # spglib 2.x error-handling notice
def test_spglib_recovers_group_or_supergroup(crystals):
    exact = 0
    for c in crystals:
        cell = (c.cell, c.frac, c.numbers)
        rot, trans, _ = crystal.symmetry_operations(c.record["hall_number"])
        found = spglib.get_symmetry(cell, symprec=1e-4)
        # the structure has every operation of the drawn group: its group is a supergroup
        assert _ops_contained(rot, trans, found), c.record["space_group"]
        assert len(found["rotations"]) >= len(rot)
        exact += spglib.get_symmetry_dataset(cell, symprec=1e-4).number == c.record["space_group"]
    # random positions add symmetry only rarely
    assert exact >= 0.9 * len(crystals)


def test_min_distance_and_density_constraints(crystals):
    for c in crystals:
        atoms = Atoms(numbers=c.numbers, scaled_positions=c.frac, cell=c.cell, pbc=True)
        # independent reference (ase): no pair below the recorded minimum, one at it
        d = neighbor_list("d", atoms, min(7.0, c.record["min_distance"] + 1e-6))
        assert d.size and 0.95 - 1e-9 <= d.min() <= 7.0
        assert d.min() == pytest.approx(c.record["min_distance"], abs=1e-9)
        assert len(c.frac) / atoms.get_volume() <= CrystalConfig().max_number_density + 1e-12
        assert np.all((c.frac >= 0) & (c.frac < 1))
        assert set(c.numbers.tolist()) == set(c.record["elements"])
        assert 1 <= len(c.record["elements"]) <= 16
        assert all(1 <= z <= 103 for z in c.record["elements"])
        json.dumps(c.record)


def test_lattice_matches_crystal_system(crystals):
    seen = set()
    for c in crystals:
        a, b, cc = c.record["lengths"]
        al, be, ga = c.record["angles"]
        system = c.record["system"]
        seen.add(system)
        assert system == crystal.crystal_system(c.record["space_group"])
        assert all(3.1 <= v <= 25.0 for v in (a, b, cc))
        np.testing.assert_allclose(np.linalg.norm(c.cell, axis=1), [a, b, cc])
        if system in ("monoclinic", "orthorhombic", "tetragonal", "cubic"):
            assert al == 90 and ga == 90
        if system in ("orthorhombic", "tetragonal", "cubic"):
            assert be == 90
        if system in ("tetragonal", "trigonal", "hexagonal", "cubic"):
            assert a == b
        if system in ("trigonal", "hexagonal"):
            assert (al, be, ga) == (90, 90, 120) and c.hexagonal
        if system == "cubic":
            assert a == cc
        assert crystal.volume_factor([al, be, ga]) >= 0.3
    assert len(seen) >= 5


def test_special_position_merging():
    """A point 0.05 A from the origin of Pm-3m snaps onto it (multiplicity 1); a general
    position keeps all 48 images; near a 3-fold axis it lands on the axis (8 images)."""
    hall = crystal.hall_number(221)
    rot, trans, symbol = crystal.symmetry_operations(hall)
    assert symbol == "Pm-3m" and len(rot) == 48
    cell = np.eye(3) * 10.0
    shifts = crystal.image_shifts(cell, 0.95)
    x, images = crystal._orbit(np.array([0.004, 0.002, 0.996]), rot, trans, cell, shifts, 0.95)
    np.testing.assert_allclose((x + 0.5) % 1 - 0.5, 0.0, atol=1e-12)
    assert len(images) == 1
    x, images = crystal._orbit(np.array([0.31, 0.17, 0.09]), rot, trans, cell, shifts, 0.95)
    assert len(images) == 48
    # a point near the 3-fold axis lands on it (x, x, x): 8 images
    x, images = crystal._orbit(np.array([0.30, 0.32, 0.31]), rot, trans, cell, shifts, 0.95)
    assert len(images) == 8 and np.ptp(x) < 1e-12


def test_min_distance_against_brute_force(rng):
    cell = np.array([[4.0, 0, 0], [2.9, 3.1, 0], [1.0, 1.5, 3.5]])  # oblique
    frac = rng.random((6, 3))
    d = crystal.min_distance(cell, frac, cutoff=20.0)
    n = np.arange(-4, 5)
    L = np.stack(np.meshgrid(n, n, n, indexing="ij"), -1).reshape(-1, 3) @ cell
    cart = frac @ cell
    diff = cart[:, None, None, :] - cart[None, :, None, :] + L[None, None]
    r = np.linalg.norm(diff, axis=-1)
    r[r < 1e-12] = np.inf
    assert d == pytest.approx(r.min(), rel=1e-12)


def test_nearest_image_shifts_find_the_nearest_image(rng):
    """Capping the shift range at half the edge-length sum finds the same nearest image as
    a brute-force grid, for skewed cells and any cutoff (a merge distance of 60 A)."""
    for _ in range(20):
        lengths = rng.uniform(3.1, 12.0, 3)
        angles = rng.uniform(45.0, 120.0, 3)
        cell = crystal.cell_from_parameters(lengths, angles)
        if crystal.volume_factor(angles) < 0.2:
            continue
        shifts = crystal.nearest_image_shifts(cell, 60.0)
        assert len(shifts) < len(crystal.image_shifts(cell, 60.0)) / 10
        d = rng.random((50, 3)) - 0.5
        n = np.arange(-6, 7)
        brute = np.stack(np.meshgrid(n, n, n, indexing="ij"), -1).reshape(-1, 3)
        r_brute = np.linalg.norm((d[:, None] + brute[None]) @ cell, axis=-1).min(1)
        r_capped = np.linalg.norm((d[:, None] + shifts[None]) @ cell, axis=-1).min(1)
        np.testing.assert_allclose(r_capped, r_brute, rtol=1e-12)


def _tile_reference(frac, numbers, cell, rotation, lo, hi):
    """Brute force: every lattice image in a generous index range, filtered by the box."""
    A = cell @ rotation.T
    corners = np.array(np.meshgrid(*zip(lo, hi), indexing="ij")).reshape(3, -1).T @ np.linalg.inv(A)
    rng_ = [np.arange(np.floor(a) - 2, np.ceil(b) + 3) for a, b in zip(corners.min(0), corners.max(0))]
    shifts = np.stack(np.meshgrid(*rng_, indexing="ij"), -1).reshape(-1, 3) @ A
    pos = (shifts[:, None, :] + ((frac % 1.0) @ A)[None]).reshape(-1, 3)
    keep = np.all((pos >= lo) & (pos < hi), axis=1)
    return pos[keep], np.tile(numbers, len(shifts))[keep]


def test_tile_matches_brute_force(rng):
    for _ in range(6):
        c = random_crystal(rng)
        R = random_rotation(rng)
        lo, hi = np.array([-7.0, -3.0, 0.0]), np.array([35.0, 28.0, 21.0])
        p, n = tile(c.frac, c.numbers.astype(np.uint8), c.cell, R, lo, hi)
        q, m = _tile_reference(c.frac, c.numbers.astype(np.uint8), c.cell, R, lo, hi)
        assert len(p) == len(q) and n.dtype == np.uint8
        ia, ib = np.lexsort(p.T), np.lexsort(q.T)
        np.testing.assert_allclose(p[ia], q[ib], atol=1e-9)
        np.testing.assert_array_equal(n[ia], m[ib])
        assert np.all((p >= lo) & (p < hi))


def test_seeded_and_bounded():
    a = random_crystal(np.random.default_rng(7))
    b = random_crystal(np.random.default_rng(7))
    np.testing.assert_array_equal(a.frac, b.frac)
    assert a.record == b.record
    impossible = CrystalConfig(elements=(16, 16), length=(6.5, 6.5), min_distance=(2.5, 7.0), max_tries=3, max_number_density=0.4)
    with pytest.raises(EmsimError, match="3 tries"):
        random_crystal(np.random.default_rng(0), impossible)


def test_config_validation():
    with pytest.raises(ConfigError, match="2.5 x crystal.min_distance"):
        CrystalConfig(length=(1.3, 1.3))  # found by the fuzzer: no random space group fits
    with pytest.raises(ConfigError, match="0.3 A or more"):
        CrystalConfig(min_distance=(0.035, 0.092))  # found by the fuzzer: 200 tries may not reach it
    with pytest.raises(ConfigError, match="too few atoms per cell"):
        CrystalConfig(length=(0.53, 3.1), max_number_density=0.038)  # found by the fuzzer
    with pytest.raises(ConfigError):
        CrystalConfig(space_group=(0, 230))
    with pytest.raises(ConfigError):
        CrystalConfig(elements=(1, 200))
    with pytest.raises(ConfigError):
        from_dict(CrystalConfig, {"lattice": 3})
    assert from_dict(CrystalConfig, {"space_group": 225}).space_group == (225, 225)
    c = random_crystal(np.random.default_rng(1), CrystalConfig(space_group=(225, 225), elements=(2, 2)))
    assert c.record["symbol"] == "Fm-3m" and len(c.record["elements"]) == 2


def test_extreme_but_valid_ranges_always_fit():
    """Edges below 2.5 min_distance[0] are not drawn and the density cap leaves room for
    the elements: configs at the validation's edges (found by the fuzzer: tiny edges, low
    caps) build a crystal in every sample."""
    for config in (CrystalConfig(length=(0.53, 3.1)), CrystalConfig(length=(3.1, 3.1)), CrystalConfig(length=(0.5, 3.1), max_number_density=2.7 / 2.74**3), CrystalConfig(length=(3.1, 25.0), max_number_density=6.04 / 14.05**3)):
        for s in range(12):
            c = random_crystal(np.random.default_rng(s), config)
            assert min(c.record["lengths"]) >= 2.5 * config.min_distance[0]


def test_angle_ranges_that_only_give_flat_cells_are_refused():
    """Triclinic groups only, angles pinned at 120 deg: V / (a b c) = 0, every cell is
    degenerate (found by the config fuzzer: 200 tries exhausted). Refused when built; a
    monoclinic group in the range (one free angle) or a wider range is accepted and draws."""
    with pytest.raises(ConfigError, match="crystal.angle"):
        CrystalConfig(space_group=(1, 2), angle=(120.0, 120.0))
    assert crystal.best_volume_factor("triclinic", (120.0, 120.0)) == pytest.approx(0.0, abs=1e-6)
    assert crystal.best_volume_factor("triclinic", (60.0, 120.0)) == pytest.approx(1.0)
    for cfg in (CrystalConfig(space_group=(1, 3), angle=(120.0, 120.0)), CrystalConfig(space_group=(1, 1), angle=(100.0, 120.0))):
        c = random_crystal(np.random.default_rng(0), cfg)
        assert crystal.volume_factor(c.record["angles"]) >= cfg.min_volume_factor
