"""Crystal structures: reading, zone-axis orientation and tiling a periodic cell into a box.

Conventions: a rotation R acts on row vectors as ``positions @ R.T``; the beam runs along
+z, so an oriented structure projects onto the (x, y) image plane.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np

from .errors import EmsimError


def read_structure(path: str | Path):
    """Read any structure file ase understands (cif, xyz, POSCAR, ...) into ase.Atoms."""
    import ase.io

    p = Path(path)
    if not p.is_file():
        raise EmsimError(f"structure file not found: {p}")
    try:
        atoms = ase.io.read(str(p))
    except Exception as e:  # ase raises many types for unreadable files
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise EmsimError(f"cannot read structure {p}: {msg}") from None
    if isinstance(atoms, list):
        atoms = atoms[0]
    if len(atoms) == 0:
        raise EmsimError(f"structure {p} holds no atoms")
    return atoms


def rotation_to_z(direction, reference=None) -> np.ndarray:
    """Proper rotation taking ``direction`` (Cartesian) to +z; the component of
    ``reference`` perpendicular to it goes to +x (any perpendicular if None or parallel)."""
    z = np.asarray(direction, dtype=float)
    norm = np.linalg.norm(z)
    if not norm > 0:
        raise EmsimError("zone axis must be a non-zero direction")
    z = z / norm
    candidates = [reference] if reference is not None else []
    candidates += [np.eye(3)[i] for i in np.argsort(np.abs(z))]
    for ref in candidates:
        x = np.asarray(ref, dtype=float) - np.dot(ref, z) * z
        if np.linalg.norm(x) > 1e-8:
            break
    x = x / np.linalg.norm(x)
    return np.array([x, np.cross(z, x), z])


def zone_axis_rotation(cell, uvw) -> np.ndarray:
    """Rotation putting the direct-lattice direction [uvw] along the beam (+z).

    In-plane, the lattice vector most nearly perpendicular to [uvw] is put along +x (for
    [001] of an orthogonal cell: a along x, b along y).
    """
    cell = np.asarray(cell, dtype=float)
    uvw = np.asarray(uvw, dtype=float)
    if uvw.shape != (3,) or not np.any(uvw):
        raise EmsimError(f"zone axis must be three integers, not all zero; got {uvw.tolist()}")
    direction = uvw @ cell
    dots = np.abs(cell @ direction) / (np.linalg.norm(cell, axis=1) * np.linalg.norm(direction))
    return rotation_to_z(direction, cell[int(np.argmin(dots))])


def repeat_length(cell, uvw) -> float:
    """Length (A) of the lattice translation along [uvw] (u, v, w reduced by their gcd)."""
    uvw = np.asarray(uvw, dtype=int)
    g = math.gcd(*(int(abs(x)) for x in uvw))
    return float(np.linalg.norm((uvw // g) @ np.asarray(cell, dtype=float)))


def tile(frac, numbers, cell, rotation, lo, hi):
    """All lattice images of a periodic cell whose rotated Cartesian positions lie in the box
    [lo, hi) (3-vectors, A). ``frac``: (n, 3) fractional positions; returns (positions,
    numbers)."""
    cell = np.asarray(cell, dtype=float)
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    rotated_cell = cell @ rotation.T  # rows: rotated lattice vectors
    # integer ranges: box corners in fractional coordinates of the rotated lattice
    corners = np.array(list(itertools.product(*zip(lo, hi))))
    fc = corners @ np.linalg.inv(rotated_cell)
    n_lo = np.floor(fc.min(axis=0)).astype(int) - 1
    n_hi = np.ceil(fc.max(axis=0)).astype(int) + 1
    count = int(np.prod(n_hi - n_lo + 1)) * len(frac)
    if count > 200_000_000:
        raise EmsimError(f"box needs ~{count:.1e} candidate atoms; use a smaller field, thickness or pixel size")
    base = (np.asarray(frac, dtype=float) % 1.0) @ rotated_cell
    numbers = np.asarray(numbers)
    # loop over the first lattice index to bound memory
    ij = np.stack([g.ravel() for g in np.meshgrid(np.arange(n_lo[1], n_hi[1] + 1), np.arange(n_lo[2], n_hi[2] + 1), indexing="ij")], axis=1)
    plane = ij @ rotated_cell[1:]
    out_pos, out_num = [], []
    for i in range(n_lo[0], n_hi[0] + 1):
        pos = (plane[:, None, :] + (i * rotated_cell[0] + base)[None, :, :]).reshape(-1, 3)
        keep = np.all((pos >= lo) & (pos < hi), axis=1)
        if keep.any():
            out_pos.append(pos[keep])
            out_num.append(np.tile(numbers, len(plane))[keep])
    if not out_pos:
        return np.zeros((0, 3)), numbers[:0]
    return np.concatenate(out_pos), np.concatenate(out_num)
