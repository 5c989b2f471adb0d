"""Resampling of the LR-only pipelines on one of two pixel grids (``grid``).

- ``"centre"`` (the default of the LR-only pipelines): the convention of Pillow and
  OpenCV, with which both Moeller papers make and evaluate their LR images. Pixels are
  unit squares; at integer scale s LR pixel i covers HR pixels s*i .. s*i + s - 1 and is
  centred on HR coordinate s*i + (s - 1)/2. Every result is Pillow's own
  ``Image.resize`` of the float32 ("F") image: ``downscale(hr, s, "nearest")`` keeps HR
  pixels s*i + s//2 (columns 2, 6, 10, 14 at x4), the other kernels are Pillow's filters at
  their own alignment, and ``rescale`` by a factor f is Pillow's resize to round(n f)
  pixels (nearest: Pillow's accumulated sampling positions, reproduced exactly).
- ``"probe"``: the simulator's scan convention (``emsim.pairs.sr``: an LR probe position IS
  an HR probe position, which is physics for simulated scans). LR pixel (i, j) is HR pixel
  (s*i, s*j): nearest keeps ``hr[::s, ::s]`` (Ede et al. 2019's coverage 1/s^2), the other
  kernels are Pillow's filters re-centred on HR pixel s*i (a ``box`` shifted by -(s-1)/2 on
  a reflect-padded copy), and rescaling samples input coordinate k/f for output pixel k
  (nearest: floor; bicubic: Keys, ``emsim.imaging.resample``).

The kernels are Moeller 2023's (Sec. 3.2): nearest (the noise-preserving one), Lanczos,
bilinear, bicubic, box and Hamming.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import EmsimError
from ...imaging.resample import check_grid, check_image, check_scale, cubic_resample_axis

KERNELS = ("nearest", "lanczos", "bilinear", "bicubic", "box", "hamming")


def _filter(kernel: str):
    from PIL import Image

    R = Image.Resampling
    return {"nearest": R.NEAREST, "lanczos": R.LANCZOS, "bilinear": R.BILINEAR, "bicubic": R.BICUBIC, "box": R.BOX, "hamming": R.HAMMING}[kernel]


def _pillow(img: np.ndarray, size: tuple[int, int], kernel: str, box) -> np.ndarray:
    """Pillow's ``resize`` of a float32 image to (h, w) from the input ``box`` (l, t, r, b)."""
    from PIL import Image

    out = Image.fromarray(np.ascontiguousarray(img, dtype=np.float32), mode="F").resize((size[1], size[0]), _filter(kernel), box=box)
    return np.asarray(out, dtype=np.float32)


def downscale(hr, s: int, kernel: str = "nearest", grid: str = "centre") -> np.ndarray:
    """Downscale by the integer s with one of ``KERNELS`` on ``grid``.

    Parameters
    ----------
    hr : 2D image (H, W)
    s : integer factor
    kernel : one of ``KERNELS``
    grid : "centre" (Pillow's resize to (H // s, W // s) at exactly the factor s) or
        "probe" (LR pixel i on HR pixel s*i; (ceil(H/s), ceil(W/s)))

    Returns
    -------
    float32 LR image
    """
    a = check_image(hr)
    s = check_scale(s)
    if kernel not in KERNELS:
        raise EmsimError(f"unknown kernel {kernel!r} (use {', '.join(KERNELS)})")
    H, W = a.shape
    if check_grid(grid) == "centre":
        h, w = H // s, W // s
        if min(h, w) < 1:
            raise EmsimError(f"image of {H}x{W} is smaller than the factor {s}")
        if kernel == "nearest":
            return np.ascontiguousarray(a[s // 2 :: s, s // 2 :: s][:h, :w])
        return _pillow(a, (h, w), kernel, (0, 0, w * s, h * s))
    if kernel == "nearest" or s == 1:
        return np.ascontiguousarray(a[::s, ::s])
    h, w = math.ceil(H / s), math.ceil(W / s)
    pad = 3 * s + 1  # Lanczos-3 reaches 3 s HR pixels from a centre: no kernel is clipped
    padded = np.pad(a, ((pad, pad + s), (pad, pad + s)), mode="symmetric")
    o = pad - (s - 1) / 2.0
    return _pillow(padded, (h, w), kernel, (o, o, o + w * s, o + h * s))


def rescaled_size(n: int, factor: float) -> int:
    """Length of an axis of n pixels rescaled by ``factor``."""
    return max(1, round(n * factor))


def _pillow_nearest(n: int, m: int, start: int, count: int) -> np.ndarray:
    """Input indices of output pixels start .. start+count-1 when Pillow's NEAREST resizes
    n pixels to m: positions accumulated from (n/m)/2 in steps of n/m (double), truncated."""
    step = n / m
    pos = np.cumsum(np.concatenate([[step * 0.5], np.full(start + count - 1, step)]))[start:]
    return np.minimum(pos.astype(np.int64), n - 1)


def rescale_crop(img, factor: float, method: str, top: int, left: int, size: tuple[int, int], grid: str = "centre") -> np.ndarray:
    """The (h, w) window at (top, left) of ``rescale(img, factor, method, grid)``, computed
    from the input rows/columns it needs only (the same as rescaling all, then cropping)."""
    a = check_image(img)
    if not factor > 0:
        raise EmsimError(f"rescale factor must be positive, got {factor}")
    if method not in ("nearest", "bicubic"):
        raise EmsimError(f"unknown rescale method {method!r} (use nearest or bicubic)")
    h, w = int(size[0]), int(size[1])
    H, W = a.shape
    Hs, Ws = rescaled_size(H, factor), rescaled_size(W, factor)
    if top < 0 or left < 0 or top + h > Hs or left + w > Ws:
        raise EmsimError(f"window {size} at ({top}, {left}) exceeds the rescaled {Hs}x{Ws} image")
    if check_grid(grid) == "centre":
        if method == "nearest":
            return np.ascontiguousarray(a[np.ix_(_pillow_nearest(H, Hs, top, h), _pillow_nearest(W, Ws, left, w))])
        sy, sx = H / Hs, W / Ws
        margin = 2 * max(1.0, sy, sx) + 2  # Pillow's bicubic support (widened when reducing)
        r0, r1 = max(0, math.floor(top * sy - margin)), min(H, math.ceil((top + h) * sy + margin))
        c0, c1 = max(0, math.floor(left * sx - margin)), min(W, math.ceil((left + w) * sx + margin))
        box = (left * sx - c0, top * sy - r0, min(c1 - c0, (left + w) * sx - c0), min(r1 - r0, (top + h) * sy - r0))
        return _pillow(a[r0:r1, c0:c1], (h, w), "bicubic", box)  # clipped where the image ends, as Pillow
    ys, xs = (top + np.arange(h)) / factor, (left + np.arange(w)) / factor
    if method == "nearest":
        iy = np.minimum(np.floor(ys + 1e-9).astype(np.int64), H - 1)
        ix = np.minimum(np.floor(xs + 1e-9).astype(np.int64), W - 1)
        return np.ascontiguousarray(a[np.ix_(iy, ix)])
    r0, r1 = max(0, int(np.floor(ys[0])) - 1), min(H, int(np.floor(ys[-1])) + 3)
    c0, c1 = max(0, int(np.floor(xs[0])) - 1), min(W, int(np.floor(xs[-1])) + 3)
    win = a[r0:r1, c0:c1]  # clamping inside the window = clamping at the image edge
    out = cubic_resample_axis(win, ys - r0, 0)
    return cubic_resample_axis(out, xs - c0, 1).astype(np.float32)


def rescale(img, factor: float, method: str, grid: str = "centre") -> np.ndarray:
    """Rescale by ``factor`` to round(n * factor) pixels by ``"nearest"`` or ``"bicubic"``
    on ``grid`` (centre: Pillow's resize; probe: output pixel k samples input k / factor)."""
    a = check_image(img)
    return rescale_crop(a, factor, method, 0, 0, (rescaled_size(a.shape[0], factor), rescaled_size(a.shape[1], factor)), grid)
