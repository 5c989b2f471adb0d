import numpy as np
import pytest

from emsim.specimen import structure
from emsim.errors import EmsimError


def test_zone_axis_rotation_proper_and_aligned(rng):
    for _ in range(100):
        cell = np.diag(rng.uniform(3, 10, 3)) + rng.uniform(-1, 1, (3, 3))
        uvw = rng.integers(-3, 4, 3)
        if not uvw.any():
            continue
        R = structure.zone_axis_rotation(cell, uvw)
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(R) == pytest.approx(1.0)
        d = R @ (uvw @ cell)
        np.testing.assert_allclose(d / np.linalg.norm(d), [0, 0, 1], atol=1e-12)


def test_cubic_001_keeps_a_along_x():
    R = structure.zone_axis_rotation(np.eye(3) * 4.0, [0, 0, 1])
    np.testing.assert_allclose(R, np.eye(3), atol=1e-12)


def test_tile_fills_box_exactly():
    frac = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
    pos, num = structure.tile(frac, [1, 2], np.eye(3) * 4.0, np.eye(3), [0, 0, 0], [40, 20, 8])
    assert len(pos) == 10 * 5 * 2 * 2
    assert np.all(pos >= 0) and np.all(pos < [40, 20, 8])
    assert set(num.tolist()) == {1, 2}


def test_tile_rotated_density(rng):
    """Any orientation: number of atoms in a large box ~ volume / cell volume."""
    cell = np.array([[4.0, 0, 0], [1.0, 5.0, 0], [0.5, 0.3, 6.0]])
    R = structure.rotation_to_z(rng.normal(size=3))
    pos, _ = structure.tile([[0.1, 0.2, 0.3]], [6], cell, R, [0, 0, 0], [60, 60, 60])
    assert len(pos) == pytest.approx(60**3 / np.linalg.det(cell), rel=0.03)


def test_repeat_length():
    assert structure.repeat_length(np.eye(3) * 3.905, [2, 2, 0]) == pytest.approx(3.905 * np.sqrt(2))


def test_read_errors(tmp_path):
    with pytest.raises(EmsimError):
        structure.read_structure(tmp_path / "missing.cif")
    bad = tmp_path / "bad.cif"
    bad.write_text("this is not a cif")
    with pytest.raises(EmsimError):
        structure.read_structure(bad)
    with pytest.raises(EmsimError):
        structure.zone_axis_rotation(np.eye(3), [0, 0, 0])
    unknown = tmp_path / "unknown.xyz"
    unknown.write_text("1\n\nXx 0 0 0\n")
    with pytest.raises(EmsimError, match="unknown element"):
        structure.read_structure(unknown)
    npy = tmp_path / "image.npy"
    npy.write_bytes(b"\x93NUMPY")
    with pytest.raises(EmsimError, match="does not know the format"):
        structure.read_structure(npy)
