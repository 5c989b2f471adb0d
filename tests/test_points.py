import numpy as np
from scipy.spatial import cKDTree

from emsim.specimen.points import random_points


def test_planar_points_respect_min_distance_and_box(rng):
    pos, rec = random_points(rng, (-5.0, 2.0), (95.0, 102.0), 120, 5.0)
    assert pos.shape == (120, 2) and rec["placed"] == 120 and not rec["jammed"]
    assert cKDTree(pos).query(pos, 2)[0][:, 1].min() >= 5.0
    assert np.all(pos >= (-5.0, 2.0)) and np.all(pos < (95.0, 102.0))


def test_points_jam_and_report(rng):
    pos, rec = random_points(rng, (0.0, 0.0), (20.0, 20.0), 1000, 3.0)
    assert rec["jammed"] and rec["placed"] == len(pos) < 1000


def test_tiny_min_distance_in_a_plane(rng):
    """A plane (2D points) at a hairline minimum distance (found by the fuzzer: grains
    0.003 seed spacings apart) sizes its cell list by the points' spacing, not d: the
    packing runs and still keeps d."""
    pos, info = random_points(rng, (-2.0, -2.0), (48.0, 16.0), 40, 0.004)
    assert info["placed"] == 40 and pos.shape == (40, 2)
    assert cKDTree(pos).query(pos, k=2)[0][:, 1].min() >= 0.004
