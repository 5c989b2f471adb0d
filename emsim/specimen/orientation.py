"""Specimen orientation (Lobato et al. 2023, "Specimen generation", step 2).

With probability ``p_zone_axis`` (0.75) a crystal is viewed along one of its eight
lowest-index zone axes, tilted off it by a mistilt angle theta ~ N(0, 5 deg) about a random
in-plane axis, then rotated by a uniform angle about the beam (z) so lattice rows do not
align with the image axes. Otherwise the rotation is uniformly random on SO(3).

Zone-axis lists (paper: "the first eight main zone axes"; the list is ours):

- all lattices but hexagonal: [001] [100] [010] [110] [101] [011] [1-10] [111], the
  directions of index sum <= 2 (less [10-1] and [01-1]) and [111];
- hexagonal lattices (a = b, gamma = 120: the trigonal and hexagonal systems, R groups in
  hexagonal axes), in three-index notation with the Miller-Bravais equivalent:
  [001] <0001>, [100] <2-1-10>, [110] <11-20>, [1-10] <1-100>, [120] <01-10>,
  [101] <2-1-13>, [1-11] <1-101>, [111] <11-23>. The generic list would view 3 of 8 samples
  along the symmetry-equivalent a axes [100] [010] [110]; this one covers the common
  hexagonal families <0001>, <11-20>, <1-100>, <1-101> and <11-23>.

Convention (as ``structure``): a rotation R acts on row vectors as ``positions @ R.T``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..config import check_probability, check_range, coin
from ..errors import EmsimError
from .structure import zone_axis_rotation

ZONE_AXES = ((0, 0, 1), (1, 0, 0), (0, 1, 0), (1, 1, 0), (1, 0, 1), (0, 1, 1), (1, -1, 0), (1, 1, 1))
HEXAGONAL_ZONE_AXES = ((0, 0, 1), (1, 0, 0), (1, 1, 0), (1, -1, 0), (1, 2, 0), (1, 0, 1), (1, -1, 1), (1, 1, 1))


@dataclasses.dataclass(frozen=True)
class OrientationConfig:
    """p_zone_axis: probability of a zone-axis view (else uniform random); mistilt: standard
    deviation (deg) of the tilt off the zone axis."""

    p_zone_axis: float = 0.75
    mistilt: float = 5.0

    def __post_init__(self):
        check_probability("orientation.p_zone_axis", self.p_zone_axis)
        check_range("orientation.mistilt", (0.0, self.mistilt), 0.0, 90.0)


def axis_angle(axis, angle: float) -> np.ndarray:
    """Rotation by ``angle`` (rad) about ``axis`` (right-handed, Rodrigues)."""
    a = np.asarray(axis, dtype=float)
    a = a / np.linalg.norm(a)
    K = np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])
    return np.eye(3) + math.sin(angle) * K + (1.0 - math.cos(angle)) * (K @ K)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniform rotation on SO(3): a normalised Gaussian quaternion (Haar measure)."""
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def zone_axes(hexagonal: bool) -> tuple[tuple[int, int, int], ...]:
    return HEXAGONAL_ZONE_AXES if hexagonal else ZONE_AXES


def zone_axis_orientation(rng: np.random.Generator, cell, uvw, mistilt_deg: float) -> tuple[np.ndarray, dict]:
    """[uvw] along z, tilted by theta ~ N(0, mistilt) about a random in-plane axis, then a
    uniform rotation about z. Returns (R, record)."""
    R0 = zone_axis_rotation(cell, uvw)
    theta = float(rng.normal(0.0, mistilt_deg)) if mistilt_deg > 0 else 0.0
    azimuth = float(rng.uniform(0.0, 360.0))
    psi = float(rng.uniform(0.0, 360.0))
    a = math.radians(azimuth)
    R = axis_angle((0.0, 0.0, 1.0), math.radians(psi)) @ axis_angle((math.cos(a), math.sin(a), 0.0), math.radians(theta)) @ R0
    record = {"kind": "zone_axis", "zone_axis": [int(v) for v in uvw], "mistilt": theta, "tilt_azimuth": azimuth, "z_rotation": psi, "rotation": R.tolist()}
    return R, record


def sample_orientation(rng: np.random.Generator, cell, hexagonal: bool = False, config: OrientationConfig = OrientationConfig()) -> tuple[np.ndarray, dict]:
    """Orientation of a crystal with lattice vectors ``cell`` (rows): zone axis with
    probability ``config.p_zone_axis``, else uniform. Returns (R, record)."""
    cell = np.asarray(cell, dtype=float)
    if cell.shape != (3, 3) or abs(np.linalg.det(cell)) < 1e-9:
        raise EmsimError("orientation needs three independent lattice vectors")
    if coin(rng, config.p_zone_axis):
        axes = zone_axes(hexagonal)
        return zone_axis_orientation(rng, cell, axes[int(rng.integers(len(axes)))], config.mistilt)
    R = random_rotation(rng)
    return R, {"kind": "random", "rotation": R.tolist()}
