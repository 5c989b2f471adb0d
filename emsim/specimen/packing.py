"""Random sequential addition (RSA) of points in a box with a minimum distance.

Used for amorphous specimens (atoms up to a target density, or jamming), isolated atoms
and the anchor points of low-resolution scenes. Candidates are drawn inside numba from the
caller's ``numpy.random.Generator`` and tested against a cell list (cells of side >= d,
27-cell neighbourhood, own cell first), so the cost is O(candidates), not O(N^2).

Locality: the box is filled in slabs along z, each an RSA seeded with the atoms of the
previous slab within d of its lower face, so the minimum distance holds everywhere and
the cell list stays cache-sized (~110 ns per candidate on the 2-core dev VM, 4-6x faster
than one cell list over the whole box). A thin box (z extent << d) packs a plane.

Near jamming the acceptance rate of RSA falls towards zero (the 3D RSA jamming packing
fraction is 0.384, approached as t^(-1/3)); a slab stops when a window of candidates
accepts fewer than ``jamming_acceptance`` of them, and the caller records the density
reached.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..errors import EmsimError

SLAB_CELLS = 1 << 16  # cells of a slab's cell list (~L2 with its atoms; measured flat 2^13-2^17)
MAX_SLAB_CELLS = 1 << 26


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _rsa(rng, out, nxt, prev, n, lo, size, z0, z1, d, quota, pdims, cell, offs, window, min_acceptance):
    """RSA in the slab [lo, lo + size) x [z0, z1) (x, y, z; A), appending to ``out`` from
    row ``n``. The cell list (cubic cells of side ``cell`` >= d from (lo[0], lo[1], z0 - d),
    one empty layer around; ``offs``: the 27 neighbour offsets) is seeded with the atoms of
    rows ``prev``..n-1 (the previous slab) that lie within d below z0. Candidates uniform in
    the slab are drawn from ``rng`` and kept if at least d from every atom, until ``quota``
    are kept or a window of ``window`` candidates keeps fewer than ``min_acceptance`` of them
    (jammed). ``nxt``: link per row. Returns (rows used, candidates drawn, jammed)."""
    ny, nz = pdims[1], pdims[2]
    head = np.full(pdims[0] * ny * nz, -1, dtype=np.int32)
    inv = 1.0 / cell
    mx, my, mz = pdims[0] - 3, ny - 3, nz - 3  # largest interior cell index (0-based)
    ox, oy, oz = lo[0], lo[1], z0 - d
    d2 = d * d
    for i in range(prev, n):
        if out[i, 2] >= oz:
            c = ((min(int((out[i, 0] - ox) * inv), mx) + 1) * ny + min(int((out[i, 1] - oy) * inv), my) + 1) * nz + min(int((out[i, 2] - oz) * inv), mz) + 1
            nxt[i] = head[c]
            head[c] = i
    end = n + quota
    attempts = 0
    accepted_in_window = 0
    jammed = False
    while n < end:
        x = ox + rng.random() * size[0]
        y = oy + rng.random() * size[1]
        z = z0 + rng.random() * (z1 - z0)
        attempts += 1
        if x >= ox + size[0] or y >= oy + size[1] or z >= z1:
            continue  # rounded onto the far face (probability ~1e-16): [lo, hi) stays half-open
        u, v, w = x - ox, y - oy, z - oz
        c = ((min(int(u * inv), mx) + 1) * ny + min(int(v * inv), my) + 1) * nz + min(int(w * inv), mz) + 1
        ok = True
        for o in range(offs.shape[0]):
            j = head[c + offs[o]]
            while j >= 0:
                dx = out[j, 0] - x
                dy = out[j, 1] - y
                dz = out[j, 2] - z
                if dx * dx + dy * dy + dz * dz < d2:
                    ok = False
                    break
                j = nxt[j]
            if not ok:
                break
        if ok:
            out[n, 0], out[n, 1], out[n, 2] = x, y, z
            nxt[n] = head[c]
            head[c] = n
            n += 1
            accepted_in_window += 1
        if attempts % window == 0:
            if accepted_in_window < min_acceptance * window:
                jammed = True
                break
            accepted_in_window = 0
    return n, attempts, jammed


def _offsets(pdims) -> np.ndarray:
    """Flat offsets of the 27 neighbour cells, own cell first, then faces, edges and
    corners: a rejected candidate usually conflicts with a close atom, so it exits early."""
    o = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])
    o = o[np.argsort(np.abs(o).sum(axis=1), kind="stable")]
    return ((o[:, 0] * pdims[1] + o[:, 1]) * pdims[2] + o[:, 2]).astype(np.int64)


def random_packing(rng: np.random.Generator, lo, hi, d: float, n_target: int, jamming_acceptance: float = 0.1) -> tuple[np.ndarray, dict]:
    """RSA of up to ``n_target`` points in the box [lo, hi) (A) at least ``d`` apart, slab by
    slab along z (module docstring). Returns (positions (n, 3), info with attempts, jammed,
    slabs)."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    box = hi - lo
    if lo.shape != (3,) or hi.shape != (3,) or not np.all(box > 0):
        raise EmsimError(f"packing box must have three positive lengths, got {box.tolist()}")
    if not d > 0:
        raise EmsimError(f"minimum distance must be positive, got {d}")
    n_target = int(n_target)
    if n_target <= 0:
        return np.zeros((0, 3)), {"attempts": 0, "jammed": False, "slabs": 0}
    if n_target >= 2**31:
        raise EmsimError(f"{n_target} atoms exceed the packing's int32 links; use a smaller box")
    # cells of side >= d; sparse packings (isolated atoms) get ~64 cells per point at most,
    # spacings measured over the axes the points spread along (a box thinner than d is a
    # plane: its volume would give hairline cells and, at tiny d, a cell list too large)
    spread = box[box > d]
    spacing = float(np.prod(spread) / n_target) ** (1.0 / spread.size) if spread.size else d
    side = max(d, 0.25 * spacing)
    layer = max(1.0, math.floor(box[0] / side)) * max(1.0, math.floor(box[1] / side))
    n_slabs = max(1, int(box[2] / (side * max(2.0, SLAB_CELLS / layer))))
    if layer * (box[2] / n_slabs / side + 3) > MAX_SLAB_CELLS:
        raise EmsimError(f"packing box {box.round(1).tolist()} A at d = {d:.2f} A is too wide")
    edges = lo[2] + box[2] * np.arange(n_slabs + 1) / n_slabs
    edges[-1] = hi[2]
    quotas = np.diff(np.round(np.linspace(0, n_target, n_slabs + 1)).astype(np.int64))
    out = np.empty((n_target, 3))
    nxt = np.empty(n_target, dtype=np.int32)
    n, prev, attempts, jammed = 0, 0, 0, False
    for s in range(n_slabs):
        z0, z1 = edges[s], edges[s + 1]
        local = np.array([box[0], box[1], z1 - z0 + d])  # the slab and the seed layer below
        dims = np.maximum(1, np.floor(local / side)).astype(np.int64)
        cell = float(max(local / dims))
        pdims = dims + 2
        window = int(max(200, min(4096, quotas[s] // 4)))
        start = n
        n, tried, jam = _rsa(rng, out, nxt, prev, n, lo, box, z0, z1, d, int(quotas[s]), pdims, cell, _offsets(pdims), window, jamming_acceptance)
        prev = start
        attempts += tried
        jammed |= jam
    positions = out[:n] if n > 0.75 * n_target else out[:n].copy()
    return positions, {"attempts": int(attempts), "jammed": bool(jammed), "slabs": n_slabs}


def packing_fraction(n_points: int, volume: float, d_min: float) -> float:
    """Fraction of the volume covered by spheres of diameter d_min."""
    return n_points * math.pi / 6.0 * d_min**3 / volume
