"""Resampling on the probe grid shared with the simulator.

Convention: a low-resolution (LR) pixel (i, j) at integer scale s is the probe position of
high-resolution (HR) pixel (s*i, s*j) (point sampling, phase 0). Hence

- ``downscale(hr, s, "nearest")`` keeps ``hr[::s, ::s]`` (Ede et al. 2019's coverage
  1/s^2; Moeller et al. 2023's noise-preserving "nearest");
- the other Pillow kernels (Lanczos, bilinear, bicubic, box, Hamming; Moeller 2023 Sec.
  3.2) are Pillow's own filters, but re-centred on the probe positions (Pillow's ``resize``
  centres LR pixel i on HR coordinate s*i + (s-1)/2; we pass a ``box`` shifted by
  -(s-1)/2 on a reflect-padded copy, so every kernel is centred on HR pixel s*i);
- ``cubic_upsample(x, s)`` (``emsim.imaging.resample``) is Keys' cubic convolution
  evaluated at LR coordinate k/s for HR pixel k.

Non-integer rescaling (the multi-scale factors alpha, beta, gamma) uses the same phase-0
grid: output pixel k samples input coordinate k/f (``rescale``).
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import EmsimError
from ...imaging.resample import check_image, check_scale, cubic_resample_axis

KERNELS = ("nearest", "lanczos", "bilinear", "bicubic", "box", "hamming")


def downscale(hr, s: int, kernel: str = "nearest") -> np.ndarray:
    """(H, W) -> (ceil(H/s), ceil(W/s)) with one of ``KERNELS``, centred on the probe grid."""
    a = check_image(hr)
    s = check_scale(s)
    if kernel not in KERNELS:
        raise EmsimError(f"unknown kernel {kernel!r} (use {', '.join(KERNELS)})")
    if kernel == "nearest" or s == 1:
        return np.ascontiguousarray(a[::s, ::s])
    from PIL import Image

    filters = {"lanczos": Image.Resampling.LANCZOS, "bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC, "box": Image.Resampling.BOX, "hamming": Image.Resampling.HAMMING}
    H, W = a.shape
    h, w = math.ceil(H / s), math.ceil(W / s)
    pad = 3 * s + 1  # Lanczos-3 reaches 3 s HR pixels from a centre: no kernel is clipped
    padded = np.pad(a, ((pad, pad + s), (pad, pad + s)), mode="symmetric")
    o = pad - (s - 1) / 2.0
    img = Image.fromarray(np.ascontiguousarray(padded, dtype=np.float32), mode="F")
    out = img.resize((w, h), filters[kernel], box=(o, o, o + w * s, o + h * s))
    return np.asarray(out, dtype=np.float32)


def rescaled_size(n: int, factor: float) -> int:
    """Length of an axis of n pixels rescaled by ``factor``."""
    return max(1, round(n * factor))


def rescale_crop(img, factor: float, method: str, top: int, left: int, size: tuple[int, int]) -> np.ndarray:
    """The (h, w) window at (top, left) of ``rescale(img, factor, method)``, computed from
    the input rows/columns it needs only (identical to rescaling all, then cropping)."""
    a = check_image(img)
    if not factor > 0:
        raise EmsimError(f"rescale factor must be positive, got {factor}")
    h, w = int(size[0]), int(size[1])
    H, W = a.shape
    if top < 0 or left < 0 or top + h > rescaled_size(H, factor) or left + w > rescaled_size(W, factor):
        raise EmsimError(f"window {size} at ({top}, {left}) exceeds the rescaled {rescaled_size(H, factor)}x{rescaled_size(W, factor)} image")
    ys, xs = (top + np.arange(h)) / factor, (left + np.arange(w)) / factor
    if method == "nearest":
        iy = np.minimum(np.floor(ys + 1e-9).astype(np.int64), H - 1)
        ix = np.minimum(np.floor(xs + 1e-9).astype(np.int64), W - 1)
        return np.ascontiguousarray(a[np.ix_(iy, ix)])
    if method == "bicubic":
        r0, r1 = max(0, int(np.floor(ys[0])) - 1), min(H, int(np.floor(ys[-1])) + 3)
        c0, c1 = max(0, int(np.floor(xs[0])) - 1), min(W, int(np.floor(xs[-1])) + 3)
        win = a[r0:r1, c0:c1]  # clamping inside the window = clamping at the image edge
        out = cubic_resample_axis(win, ys - r0, 0)
        return cubic_resample_axis(out, xs - c0, 1).astype(np.float32)
    raise EmsimError(f"unknown rescale method {method!r} (use nearest or bicubic)")


def rescale(img, factor: float, method: str) -> np.ndarray:
    """Rescale by ``factor`` (size round(n * factor)) on the phase-0 grid: output pixel k
    samples input coordinate k / factor, by ``"nearest"`` (floor) or ``"bicubic"`` (Keys)."""
    a = check_image(img)
    return rescale_crop(a, factor, method, 0, 0, (rescaled_size(a.shape[0], factor), rescaled_size(a.shape[1], factor)))
