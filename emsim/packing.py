"""Random sequential addition (RSA) of points in a box with a minimum distance.

Used for amorphous specimens (atoms up to a target density, or jamming) and for the
"individual points" specimen type. Candidates are drawn from the caller's
``numpy.random.Generator`` in batches and tested in numba against a cell list (cells of
side >= d_min, 27-cell neighbourhood), so the cost is O(attempts), not O(N^2).

Near jamming the acceptance rate of RSA falls towards zero (the 3D RSA jamming packing
fraction is ~0.38); generation stops when a batch accepts fewer than ``min_acceptance``
of its candidates, and the caller records the density reached.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .errors import EmsimError

MAX_CELLS = 60_000_000


@nb.njit(cache=True, nogil=True)
def _add_candidates(cand, d2, n_target, pos, n, head, nxt, dims, cell):
    """Try candidates in order; accept those >= sqrt(d2) from all accepted points.
    Returns (n accepted so far, candidates used)."""
    nx, ny, nz = dims[0], dims[1], dims[2]
    used = 0
    for k in range(cand.shape[0]):
        if n >= n_target:
            break
        used += 1
        x, y, z = cand[k, 0], cand[k, 1], cand[k, 2]
        cx = min(int(x / cell), nx - 1)
        cy = min(int(y / cell), ny - 1)
        cz = min(int(z / cell), nz - 1)
        ok = True
        for ix in range(max(cx - 1, 0), min(cx + 2, nx)):
            if not ok:
                break
            for iy in range(max(cy - 1, 0), min(cy + 2, ny)):
                if not ok:
                    break
                for iz in range(max(cz - 1, 0), min(cz + 2, nz)):
                    j = head[(ix * ny + iy) * nz + iz]
                    while j >= 0:
                        dx = pos[j, 0] - x
                        dy = pos[j, 1] - y
                        dz = pos[j, 2] - z
                        if dx * dx + dy * dy + dz * dz < d2:
                            ok = False
                            break
                        j = nxt[j]
                    if not ok:
                        break
        if ok:
            pos[n, 0] = x
            pos[n, 1] = y
            pos[n, 2] = z
            c = (cx * ny + cy) * nz + cz
            nxt[n] = head[c]
            head[c] = n
            n += 1
    return n, used


def random_packing(
    rng: np.random.Generator,
    box,
    d_min: float,
    n_target: int,
    *,
    batch: int | None = None,
    min_acceptance: float = 0.01,
    planar: bool = False,
) -> tuple[np.ndarray, dict]:
    """Up to ``n_target`` uniformly random points in [0, box) (3-vector, A), pairwise at
    least ``d_min`` apart (``planar``: in the plane z = 0). Returns (positions (n, 3), info)
    with info["attempts"] and info["jammed"] (True if stopped by the acceptance rule before
    reaching n_target)."""
    box = np.asarray(box, dtype=np.float64)
    if box.shape != (3,) or not np.all(box > 0):
        raise EmsimError(f"packing box must be three positive lengths, got {box.tolist()}")
    if not d_min > 0:
        raise EmsimError(f"minimum distance must be positive, got {d_min}")
    n_target = int(n_target)
    if n_target <= 0:
        return np.zeros((0, 3)), {"attempts": 0, "jammed": False}
    cell = float(d_min)
    dims = np.maximum(1, np.floor(box / cell)).astype(np.int64)
    cell = float(max(box / dims))  # cells of side >= d_min covering the box
    if int(np.prod(dims)) > MAX_CELLS:
        raise EmsimError(f"packing box {box.round(1).tolist()} A at d_min {d_min:.2f} A is too large")
    head = np.full(int(np.prod(dims)), -1, dtype=np.int64)
    nxt = np.empty(n_target, dtype=np.int64)
    pos = np.empty((n_target, 3))
    batch = batch or max(1024, min(n_target, 1 << 18))
    n, attempts, jammed = 0, 0, False
    while n < n_target:
        if planar:
            cand = np.zeros((batch, 3))
            cand[:, :2] = rng.random((batch, 2)) * box[:2]
        else:
            cand = rng.random((batch, 3)) * box
        before = n
        n, used = _add_candidates(cand, d_min * d_min, n_target, pos, n, head, nxt, dims, cell)
        attempts += used
        if n < n_target and (n - before) < min_acceptance * used:
            jammed = True
            break
    return pos[:n].copy(), {"attempts": int(attempts), "jammed": jammed}


def packing_fraction(n_points: int, volume: float, d_min: float) -> float:
    """Fraction of the volume covered by spheres of diameter d_min."""
    return n_points * math.pi / 6.0 * d_min**3 / volume
