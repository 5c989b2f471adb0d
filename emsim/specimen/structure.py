"""Crystal structures: reading, zone-axis orientation and tiling a periodic cell into a box.

Conventions: a rotation R acts on row vectors as ``positions @ R.T``; the beam runs along
+z, so an oriented structure projects onto the (x, y) image plane.
"""

from __future__ import annotations

import math
from pathlib import Path

import numba as nb
import numpy as np

from ..errors import EmsimError, TooManyAtoms


def read_structure(path: str | Path):
    """Read any structure file ase understands (cif, xyz, POSCAR, ...) into ase.Atoms."""
    import ase.io

    p = Path(path)
    if not p.is_file():
        raise EmsimError(f"structure file not found: {p}")
    try:
        atoms = ase.io.read(str(p))
    except Exception as e:  # ase raises many types for unreadable files
        from ase.io.formats import UnknownFileTypeError

        if isinstance(e, UnknownFileTypeError):
            msg = f"ase does not know the format {p.suffix or p.name!r} (use e.g. .cif, .xyz, .extxyz, POSCAR, .pdb)"
        elif isinstance(e, KeyError):
            msg = f"unknown element or field {e}"
        else:
            msg = str(e).splitlines()[0] if str(e) else f"not a valid {p.suffix or 'structure'} file ({type(e).__name__} in ase)"
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



@nb.njit(cache=True, nogil=True, error_model="numpy")
def _fill(base, numbers, A, lo, hi, n_lo, n_hi, out_pos, out_num, write):
    """Lattice images i A0 + j A1 + k A2 + base[m] inside [lo, hi). For each line (i, j, m)
    the k interval is solved from the six box planes (padded by one, then every point is
    tested exactly), so no candidate outside a line's interval is generated. Returns the
    count; writes only if ``write``."""
    n = 0
    for i in range(n_lo[0], n_hi[0] + 1):
        for j in range(n_lo[1], n_hi[1] + 1):
            o0 = i * A[0, 0] + j * A[1, 0]
            o1 = i * A[0, 1] + j * A[1, 1]
            o2 = i * A[0, 2] + j * A[1, 2]
            for m in range(base.shape[0]):
                p = (o0 + base[m, 0], o1 + base[m, 1], o2 + base[m, 2])
                kmin = float(n_lo[2])
                kmax = float(n_hi[2])
                for c in range(3):
                    a = A[2, c]
                    if abs(a) > 1e-12:
                        t1 = (lo[c] - p[c]) / a
                        t2 = (hi[c] - p[c]) / a
                        if a < 0:
                            t1, t2 = t2, t1
                        kmin = max(kmin, t1)
                        kmax = min(kmax, t2)
                    elif p[c] < lo[c] or p[c] >= hi[c]:
                        kmax = kmin - 3.0
                if kmax < kmin - 2.0:
                    continue
                for k in range(int(math.ceil(kmin)) - 1, int(math.floor(kmax)) + 2):
                    x = p[0] + k * A[2, 0]
                    y = p[1] + k * A[2, 1]
                    z = p[2] + k * A[2, 2]
                    if x >= lo[0] and x < hi[0] and y >= lo[1] and y < hi[1] and z >= lo[2] and z < hi[2]:
                        if write:
                            out_pos[n, 0] = x
                            out_pos[n, 1] = y
                            out_pos[n, 2] = z
                            out_num[n] = numbers[m]
                        n += 1
    return n


def thin_box(lo, hi, number_density: float, max_atoms: int | None, keep_top: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The box [lo, hi) made thinner along z (the beam) so that ``number_density`` (atoms/A^3)
    fills it with at most 0.9 ``max_atoms`` atoms (the 10 % absorbs a crystal's surface
    fluctuations); the face at ``hi`` (``keep_top``) or at ``lo`` stays in place. Unchanged
    when it already fits. In projection a thinner slab changes column weights, not positions."""
    lo, hi = np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)
    n = number_density * float(np.prod(hi - lo))
    if max_atoms is None or n <= 0.9 * max_atoms:
        return lo, hi
    t = (hi[2] - lo[2]) * 0.9 * max_atoms / n
    if keep_top:
        lo[2] = hi[2] - t
    else:
        hi[2] = lo[2] + t
    return lo, hi


def tile(frac, numbers, cell, rotation, lo, hi, max_atoms: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All lattice images of a periodic cell (``frac``: (n, 3) fractional positions) whose
    rotated Cartesian positions lie in the box [lo, hi) (A). Numba, two passes (count, then
    fill) so memory is exactly the output. Returns (positions float64, numbers, same dtype).
    More than ``max_atoms`` atoms raise ``TooManyAtoms`` before any allocation."""
    cell = np.asarray(cell, dtype=np.float64)
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    numbers = np.ascontiguousarray(numbers)
    A = cell @ np.asarray(rotation, dtype=np.float64).T
    corners = np.array(np.meshgrid(*zip(lo, hi), indexing="ij")).reshape(3, -1).T
    fc = corners @ np.linalg.inv(A)
    n_lo = np.floor(fc.min(axis=0)).astype(np.int64) - 1
    n_hi = np.ceil(fc.max(axis=0)).astype(np.int64) + 1
    # the longest fractional range runs innermost: fewest (i, j) lines
    order = np.argsort(n_hi - n_lo, kind="stable")
    A, n_lo, n_hi = np.ascontiguousarray(A[order]), n_lo[order], n_hi[order]
    base = np.ascontiguousarray((np.asarray(frac, dtype=np.float64) % 1.0) @ (cell @ np.asarray(rotation, dtype=np.float64).T))
    if float(np.prod(n_hi[:2] - n_lo[:2] + 1)) * len(base) > 2e9:
        raise EmsimError("box needs too many lattice lines; use a smaller field, thickness or pixel size")
    empty_pos, empty_num = np.zeros((0, 3)), numbers[:0]
    n = _fill(base, numbers, A, lo, hi, n_lo, n_hi, empty_pos, empty_num, False)
    if max_atoms is not None and n > max_atoms:
        raise TooManyAtoms(f"the crystal fills the box with {n:.3g} atoms, above the limit of {max_atoms:.3g}; use a smaller image, pixel size or support", n)
    pos = np.empty((n, 3))
    num = np.empty(n, dtype=numbers.dtype)
    _fill(base, numbers, A, lo, hi, n_lo, n_hi, pos, num, True)
    return pos, num
