"""The one Keys cubic-convolution kernel (Keys 1981, a = -0.5: the bicubic of Pillow,
OpenCV and MATLAB), shared by the numpy, numba and torch code of emsim and restoration.

``keys_taps(t)`` gives the weights of the four taps floor(c) - 1 .. floor(c) + 2 for the
fractional offset t = c - floor(c) in [0, 1), as polynomials in t (no branches, no abs).
It uses arithmetic only, so the same function serves numpy arrays, torch tensors and,
compiled with ``numba.njit``, numba scalars (``emsim.distort.postprocess`` does that).

Two pixel grids (``GRIDS``, ``grid_coords``) place HR pixel k at an LR coordinate:

- "probe" (the default here): k / s, so LR pixel (i, j) sits on HR pixel (s i, s j) -- the
  convention of emsim's simulated scans (``emsim.pairs.sr``), where an LR probe position IS
  an HR probe position. ``cubic_upsample`` then interpolates:
  ``cubic_upsample(y[::s, ::s], s)[::s, ::s] == y[::s, ::s]``.
- "centre": (k + 0.5) / s - 0.5, pixels as unit squares whose centres line up -- the
  convention of Pillow and OpenCV, with which real LR images are made and evaluated (the
  LR-only pipelines, ``emsim.pairs.lronly``). ``cubic_upsample(x, s, "centre")`` is
  Pillow's BICUBIC upscaling of the edge-padded image.

Edges are replicated.
"""

from __future__ import annotations

import numpy as np

from ..errors import EmsimError

KEYS_A = -0.5
GRIDS = ("probe", "centre")


def keys_taps(t, a: float = KEYS_A):
    """Keys weights W(t + 1), W(t), W(1 - t), W(2 - t) of the taps at -1, 0, 1, 2 for offset
    t in [0, 1). Works on floats, numpy arrays and torch tensors (and under numba)."""
    t2 = t * t
    t3 = t2 * t
    return (
        a * (t3 - 2.0 * t2 + t),
        (a + 2.0) * t3 - (a + 3.0) * t2 + 1.0,
        -(a + 2.0) * t3 + (2.0 * a + 3.0) * t2 - a * t,
        a * (t2 - t3),
    )


def keys_weights(t) -> np.ndarray:
    """``keys_taps`` stacked on a last axis of length 4 (float64)."""
    return np.stack(keys_taps(np.asarray(t, dtype=np.float64)), axis=-1)


def cubic_resample_axis(img: np.ndarray, coords: np.ndarray, axis: int) -> np.ndarray:
    """Keys cubic interpolation of ``img`` at (fractional) index ``coords`` along ``axis``
    (indices outside the image are clamped to the edge)."""
    a = np.moveaxis(np.asarray(img, dtype=np.float64), axis, 0)
    c = np.asarray(coords, dtype=np.float64)
    i0 = np.floor(c).astype(np.int64)
    w = keys_weights(c - i0)  # (m, 4)
    idx = np.clip(i0[:, None] + np.arange(-1, 3), 0, a.shape[0] - 1)
    out = np.einsum("mk,mk...->m...", w, a[idx])
    return np.moveaxis(out, 0, axis)


def check_scale(s) -> int:
    """A positive integer scale factor."""
    if isinstance(s, bool) or int(s) != s or int(s) < 1:
        raise EmsimError(f"scale must be a positive integer, got {s!r}")
    return int(s)


def check_image(img) -> np.ndarray:
    """A non-empty 2D float32 array."""
    a = np.asarray(img, dtype=np.float32)
    if a.ndim != 2 or min(a.shape) < 1:
        raise EmsimError(f"expected a non-empty 2D image, got shape {a.shape}")
    return a


def check_grid(grid: str) -> str:
    """One of ``GRIDS``."""
    if grid not in GRIDS:
        raise EmsimError(f"unknown pixel grid {grid!r} (use {' or '.join(GRIDS)})")
    return grid


def grid_coords(n: int, s: int, grid: str = "probe") -> np.ndarray:
    """LR coordinates of HR pixels 0 .. n-1 at factor s: k / s ("probe") or
    (k + 0.5) / s - 0.5 ("centre")."""
    k = np.arange(n, dtype=np.float64)
    return k / s if check_grid(grid) == "probe" else (k + 0.5) / s - 0.5


def cubic_upsample(x, s: int, grid: str = "probe") -> np.ndarray:
    """(h, w) -> (s*h, s*w): Keys bicubic, HR pixel k at the LR coordinate of ``grid``
    (``grid_coords``), edges replicated."""
    a = check_image(x)
    s = check_scale(s)
    out = cubic_resample_axis(a, grid_coords(s * a.shape[0], s, grid), 0)
    return cubic_resample_axis(out, grid_coords(s * a.shape[1], s, grid), 1).astype(np.float32)


def nearest_fill(x, s: int, shape=None) -> np.ndarray:
    """Nearest-neighbour infill of an LR image to HR size: HR pixel (s*i + r, s*j + c),
    0 <= r, c < s, takes LR pixel (i, j). ``shape`` crops the result (default (s*h, s*w))."""
    a = check_image(x)
    s = check_scale(s)
    out = np.repeat(np.repeat(a, s, axis=0), s, axis=1)
    if shape is not None:
        H, W = int(shape[0]), int(shape[1])
        if H > out.shape[0] or W > out.shape[1]:
            raise EmsimError(f"nearest fill of {a.shape} by {s} cannot cover {shape}")
        out = out[:H, :W]
    return np.ascontiguousarray(out)
