"""Atomic-column quantification: a Gaussian-peak model fitted from given starting positions,
as StatSTEM does (De Backer et al. 2016).

Model of an image: a background (constant or planar) plus one 2D Gaussian per column,
eta exp(-((x - x_k)^2 + (y - y_k)^2) / (2 rho_k^2)), each column with its own position,
width rho and height eta. Columns are fitted in local windows (``window`` px around each,
default 0.45 times its nearest-neighbour distance) with the window's background, the
Gaussians of the neighbours that reach the window held at their current values, in a few
sweeps over all columns (scipy's ``least_squares``, analytic Jacobian). Per column:
position (px), width, height, and two scattering cross-sections (integrated intensities,
in image units summed over pixels): ``scs`` = 2 pi eta rho^2, the Gaussian's volume (the
StatSTEM definition; a column with heavier tails than a Gaussian, as emsim's atom model,
is underestimated by its tail fraction), and ``scs_voronoi``: the sum over the column's
Voronoi cell of the image less a global background level (not the windows' local
backgrounds, which hold the neighbours' overlapping tails), which needs no peak shape: it
is the column's volume where neighbours leak into the cell as much as it leaks out.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize
from scipy.spatial import cKDTree

from ..errors import EmsimError

FIELDS = ("col", "row", "width", "height", "scs", "scs_voronoi", "background", "cost")


def _model(params, coords, planar):
    """One Gaussian + background at pixel coords (x, y), and the Jacobian."""
    x, y = coords
    xk, yk, rho, eta = params[:4]
    dx, dy = x - xk, y - yk
    r2 = dx * dx + dy * dy
    g = np.exp(-0.5 * r2 / (rho * rho))
    J = np.empty((x.size, params.size))
    J[:, 0] = eta * g * dx / (rho * rho)
    J[:, 1] = eta * g * dy / (rho * rho)
    J[:, 2] = eta * g * r2 / rho**3
    J[:, 3] = g
    J[:, 4] = 1.0
    out = eta * g + params[4]
    if planar:
        out = out + params[5] * x + params[6] * y
        J[:, 5], J[:, 6] = x, y
    return out, J


def _gaussians(p: np.ndarray, idx, coords) -> np.ndarray:
    """Sum of the Gaussians of columns ``idx`` (rows of p: col, row, rho, eta) at coords."""
    x, y = coords
    out = np.zeros(x.shape)
    for xk, yk, rho, eta in p[idx]:
        out += eta * np.exp(-0.5 * ((x - xk) ** 2 + (y - yk) ** 2) / (rho * rho))
    return out


def fit_columns(image: np.ndarray, positions, *, width: float | None = None, window: float | None = None, background: str = "planar", sweeps: int = 4, background_level: float | None = None) -> dict:
    """Fit the columns at starting ``positions`` (N, 2: col, row in px) of ``image``.

    Each column is fitted in its window with its own background, the current Gaussians of
    the neighbours that reach the window held fixed; ``sweeps`` passes over all columns let
    overlapping neighbours converge jointly (block coordinate descent, as StatSTEM's
    segmented fitting).

    Parameters
    ----------
    image : 2D array
    positions : (N, 2) starting positions (col, row), px
    width : starting Gaussian width rho (px); default 0.25 of the median nearest-neighbour distance
    window : radius (px) of each column's fitting window; default 0.45 of its nearest-neighbour distance
    background : "constant" or "planar"
    sweeps : passes over all columns
    background_level : the image's background under the columns, for ``scs_voronoi``
        (default: its 1st percentile, right where the field has some vacuum)

    Returns
    -------
    dict of (N,) arrays ``FIELDS`` (background: its value at the column).
    """
    img = np.asarray(image, dtype=np.float64)
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    if img.ndim != 2:
        raise EmsimError(f"expected a 2D image, got shape {img.shape}")
    if background not in ("constant", "planar"):
        raise EmsimError(f"background must be constant or planar, got {background!r}")
    N = len(pos)
    if N == 0:
        return {k: np.zeros(0) for k in FIELDS}
    tree = cKDTree(pos)
    nn = tree.query(pos, k=2)[0][:, 1] if N > 1 else np.full(1, float(min(img.shape)))
    nn = np.where(np.isfinite(nn) & (nn > 0), nn, float(min(img.shape)))
    rho0 = width if width is not None else 0.25 * float(np.median(nn))
    planar = background == "planar"
    H, W = img.shape
    radius = np.full(N, window) if window is not None else 0.45 * nn
    windows = []
    for k in range(N):
        x0, y0 = pos[k]
        R = radius[k]
        c0, c1 = max(0, int(math.floor(x0 - R))), min(W, int(math.ceil(x0 + R)) + 1)
        r0, r1 = max(0, int(math.floor(y0 - R))), min(H, int(math.ceil(y0 + R)) + 1)
        yy, xx = np.mgrid[r0:r1, c0:c1]
        inside = (xx - x0) ** 2 + (yy - y0) ** 2 <= R * R
        windows.append(((xx[inside].astype(np.float64), yy[inside].astype(np.float64)), img[r0:r1, c0:c1][inside]))
    bg0 = [float(np.percentile(d, 5)) if d.size else 0.0 for _, d in windows]
    p = np.array([[x, y, rho0, max(img[int(np.clip(round(y), 0, H - 1)), int(np.clip(round(x), 0, W - 1))] - b, 1e-9)] for (x, y), b in zip(pos, bg0)])
    bgp = np.array([[b, 0.0, 0.0] for b in bg0])
    cost = np.full(N, np.nan)
    nb = 7 if planar else 5
    for _ in range(max(1, sweeps)):
        for k in range(N):
            coords, data = windows[k]
            if data.size < nb + 2:
                continue
            others = [j for j in tree.query_ball_point(pos[k], radius[k] + 4 * max(rho0, float(p[:, 2].max()))) if j != k]
            target = data - _gaussians(p, others, coords)

            def resid(q):
                return _model(q, coords, planar)[0] - target

            def jac(q):
                return _model(q, coords, planar)[1]

            q0 = np.concatenate([p[k], bgp[k][: nb - 4]])
            span = max(float(np.ptp(data)), 1e-12)
            reach = max(radius[k], 1.0)  # a column stays in its window
            lower = [pos[k, 0] - reach, pos[k, 1] - reach, 0.2 * rho0, -3 * span] + [-np.inf] * (nb - 4)
            upper = [pos[k, 0] + reach, pos[k, 1] + reach, 3 * rho0, 3 * span] + [np.inf] * (nb - 4)
            q0[:4] = np.clip(q0[:4], np.array(lower[:4]) + 1e-9, np.array(upper[:4]) - 1e-9)
            res = optimize.least_squares(resid, q0, jac=jac, bounds=(lower, upper), x_scale="jac")
            p[k], bgp[k][: nb - 4] = res.x[:4], res.x[4:]
            cost[k] = res.cost / data.size
    back = bgp[:, 0] + (bgp[:, 1] * p[:, 0] + bgp[:, 2] * p[:, 1] if planar else 0.0)
    out = {"col": p[:, 0], "row": p[:, 1], "width": p[:, 2], "height": p[:, 3], "scs": 2 * math.pi * p[:, 3] * p[:, 2] ** 2, "background": back, "cost": cost}
    level = float(np.percentile(img, 1)) if background_level is None else float(background_level)
    out["scs_voronoi"] = _voronoi_scs(img, p[:, :2], np.full(N, level))
    return out


def _voronoi_scs(img, centres, background) -> np.ndarray:
    """Sum of (image - the cell's column background) over each column's Voronoi cell
    (cells at the image border are cut by it; columns with unfitted centres get NaN)."""
    ok = np.all(np.isfinite(centres), axis=1)
    out = np.full(len(centres), np.nan)
    if not ok.any():
        return out
    H, W = img.shape
    yy, xx = np.mgrid[:H, :W]
    owner = cKDTree(centres[ok]).query(np.column_stack([xx.ravel(), yy.ravel()]))[1]
    idx = np.flatnonzero(ok)
    sums = np.bincount(owner, weights=img.ravel(), minlength=idx.size)
    counts = np.bincount(owner, minlength=idx.size)
    out[idx] = sums - counts * background[idx]
    return out


def read_columns(path) -> np.ndarray:
    """Starting positions (N, 2) from a CSV with ``col`` and ``row`` columns (px), as the
    truth tables and ``emsim quantify`` write them."""
    import csv

    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise EmsimError(f"{path}: no columns listed")
    if not {"col", "row"} <= set(rows[0]):
        raise EmsimError(f"{path}: needs col and row columns (px), found {', '.join(rows[0])}")
    try:
        return np.array([[float(r["col"]), float(r["row"])] for r in rows])
    except ValueError as e:
        raise EmsimError(f"{path}: {e}") from None
