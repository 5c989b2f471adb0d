"""Numba kernels of the atom renderer (see render.py for the algorithm)."""

from __future__ import annotations

import math

import numba as nb
import numpy as np

S_STEP = 1.0 / 2048  # table step in reduced radius s
INV_STEP = 2048.0


F32 = np.float32
JIT = dict(cache=True, fastmath=True, nogil=True, error_model="numpy")


@nb.njit(**JIT)
def splat(img, u, v, starts, qa, qb, qc, s2max, tables):
    """Add each atom's tabulated profile to the pixels inside its cutoff ellipse.

    img (H, W) float32; atom centres (u, v) in pixel units (u along columns), grouped by
    species (atoms starts[s]:starts[s+1] are species s). Per species: reduced radius
    s^2 = qa dx^2 + 2 qb dx dy + qc dy^2 (dx, dy in pixels), cutoff s^2 < s2max, and the
    profile at s = k * S_STEP in tables[s] (linear interpolation, zero-padded).
    """
    H, W = img.shape
    for s in range(starts.shape[0] - 1):
        a = qa[s]
        b = qb[s]
        c = qc[s]
        smax2 = s2max[s]
        ry = math.sqrt(smax2 * a / (a * c - b * b))
        tab = tables[s]
        last = tab.shape[0] - 2
        a32 = F32(a)
        for k in range(starts[s], starts[s + 1]):
            x0 = u[k]
            y0 = v[k]
            i0 = max(0, int(math.ceil(y0 - ry)))
            i1 = min(H - 1, int(math.floor(y0 + ry)))
            for i in range(i0, i1 + 1):
                dy = i - y0
                # columns where a dx^2 + 2 b dy dx + (c dy^2 - smax2) <= 0
                disc = (b * dy) ** 2 - a * (c * dy * dy - smax2)
                if disc <= 0.0:
                    continue
                root = math.sqrt(disc)
                j0 = max(0, int(math.ceil(x0 + (-b * dy - root) / a)))
                j1 = min(W - 1, int(math.floor(x0 + (-b * dy + root) / a)))
                seg = img[i, j0 : j1 + 1]  # a 0-based loop over a slice avoids index wraparound
                x = F32(j0 - x0)
                bdy2 = F32(2.0 * b * dy)
                cdy2 = F32(c * dy * dy)
                for jj in range(seg.shape[0]):
                    dx = x + F32(jj)
                    t = math.sqrt(max(a32 * dx * dx + bdy2 * dx + cdy2, F32(0.0))) * F32(INV_STEP)
                    m = min(int(t), last)
                    f = t - F32(m)
                    seg[jj] += tab[m] + f * (tab[m + 1] - tab[m])


@nb.njit(**JIT)
def splat_displaced(img, u, v, starts, qa, qb, qc, s2max, tables, su, sv, row_lo, row_hi, row_dx):
    """As ``splat`` but pixel (i, j) samples the point (su[i, j], sv[i, j]) (pixel units).
    Row i samples rows row_lo[i]..row_hi[i] and columns at most row_dx[i] from j, so an
    atom visits only the rows and columns whose probes can fall inside its cutoff."""
    H, W = img.shape
    lo_all = row_lo.min()
    hi_all = row_hi.max()
    shift_lo = 0.0
    shift_hi = 0.0
    for i in range(H):
        shift_lo = max(shift_lo, i - row_lo[i])
        shift_hi = max(shift_hi, row_hi[i] - i)
    for s in range(starts.shape[0] - 1):
        a = qa[s]
        b = qb[s]
        c = qc[s]
        smax2 = s2max[s]
        det = a * c - b * b
        ry = math.sqrt(smax2 * a / det)
        rx = math.sqrt(smax2 * c / det)
        tab = tables[s]
        last = tab.shape[0] - 2
        for k in range(starts[s], starts[s + 1]):
            x0 = u[k]
            y0 = v[k]
            if y0 + ry < lo_all or y0 - ry > hi_all:
                continue
            i0 = max(0, int(math.ceil(y0 - ry - shift_hi)))
            i1 = min(H - 1, int(math.floor(y0 + ry + shift_lo)))
            for i in range(i0, i1 + 1):
                if row_hi[i] < y0 - ry or row_lo[i] > y0 + ry:
                    continue
                j0 = max(0, int(math.ceil(x0 - rx - row_dx[i])))
                j1 = min(W - 1, int(math.floor(x0 + rx + row_dx[i])))
                for j in range(j0, j1 + 1):
                    dx = su[i, j] - x0
                    dy = sv[i, j] - y0
                    q = a * dx * dx + 2.0 * b * dx * dy + c * dy * dy
                    if q < smax2:
                        t = math.sqrt(q) * INV_STEP
                        m = min(int(t), last)
                        f = t - m
                        img[i, j] += tab[m] + f * (tab[m + 1] - tab[m])


TAPS = 8  # Lagrange interpolation order of the tail deposit (nodes -3..4)


@nb.njit(cache=True, inline="always")
def _lagrange(d, w):
    """Weights of TAPS-point Lagrange interpolation at offset d in [0, 1), nodes -3..4."""
    for m in range(TAPS):
        p = 1.0
        for n in range(TAPS):
            if n != m:
                p *= (d - (n - 3.0)) / (m - n)
        w[m] = p


@nb.njit(**JIT)
def deposit_lagrange(grid, u, v):
    """Deposit unit masses at (u, v) (grid units) with TAPS x TAPS Lagrange weights, so that
    convolving the grid with a kernel sampled at integer offsets gives the kernel at the true
    sub-pixel positions (to interpolation accuracy). Atoms whose stencil would leave the grid
    are skipped: the caller sizes the grid so that those cannot reach the output."""
    M0, M1 = grid.shape
    wx = np.empty(TAPS)
    wy = np.empty(TAPS)
    for k in range(u.shape[0]):
        qx = int(math.floor(u[k]))
        qy = int(math.floor(v[k]))
        if qx < 3 or qy < 3 or qx + 4 >= M1 or qy + 4 >= M0:
            continue
        _lagrange(u[k] - qx, wx)
        _lagrange(v[k] - qy, wy)
        for my in range(TAPS):
            row = grid[qy + my - 3, qx - 3 : qx + 5]
            for mx in range(TAPS):
                row[mx] += wy[my] * wx[mx]


@nb.njit(cache=True, nogil=True)
def group_by_key(keys, n_keys, u, v, band):
    """Counting sort of atoms by species index, then by image row band (``band`` rows, for
    cache locality of the splat): returns (u, v) sorted and the start offset of each species
    (length n_keys + 1)."""
    n = keys.shape[0]
    n_bands = 64
    sub = np.empty(n, np.int64)
    for i in range(n):
        sub[i] = keys[i] * n_bands + min(n_bands - 1, max(0, int(v[i] / band)))
    counts = np.zeros(n_keys * n_bands + 1, np.int64)
    for i in range(n):
        counts[sub[i] + 1] += 1
    for k in range(n_keys * n_bands):
        counts[k + 1] += counts[k]
    pos = counts[:-1].copy()
    us = np.empty(n)
    vs = np.empty(n)
    for i in range(n):
        p = pos[sub[i]]
        us[p] = u[i]
        vs[p] = v[i]
        pos[sub[i]] = p + 1
    return us, vs, counts[::n_bands].copy()
