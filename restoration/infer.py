"""Inference on images of any size: tiles blended with a smooth window (file I/O:
``emsim.io.read_input`` / ``write_output``).

Tiles of ``tile`` pixels overlap by ``overlap``. On the sides that have a neighbour, a
tile's weight is 0 over the outer quarter of the overlap (where the network sees the tile
edge), rises as a raised cosine over the middle half and is 1 beyond; the two ramps of
neighbouring tiles sum to 1, so there are no seams and tile-edge effects are discarded.
The networks are equivariant only to shifts by multiples of 8 (stride-2 pairs, SwinIR
windows): the image is reflect-padded to a multiple of 8 and tiles start at such offsets.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from emsim.errors import EmsimError

from .archs import upscale

ALIGN = 8


def _starts(n: int, tile: int, overlap: int) -> list[int]:
    if n <= tile:
        return [0]
    step = tile - overlap
    k = math.ceil((n - tile) / step)
    return [min(i * step, n - tile) for i in range(k + 1)]


def _ramp(n: int, overlap: int, lead: bool, trail: bool) -> np.ndarray:
    w = np.ones(n)
    if overlap > 0:
        t = (np.arange(overlap) + 0.5) / overlap  # 0..1 from the tile edge inwards
        r = 0.5 - 0.5 * np.cos(np.pi * np.clip(2.0 * t - 0.5, 0.0, 1.0))  # r(t) + r(1 - t) = 1
        if lead:
            w[:overlap] = r
        if trail:
            w[-overlap:] = r[::-1]
    return w


@torch.no_grad()
def restore_array(model, image: np.ndarray, tile: int = 512, overlap: int = 64, device="cpu", amp: bool = False) -> np.ndarray:
    """Apply ``model`` (raw intensities in, restored intensities out) to a 2D array of any
    size, tiled. Tile offsets are multiples of ``ALIGN`` (8: the networks' stride-2 pairs
    and SwinIR's windows are equivariant only to such shifts); the image is reflect-padded
    to a multiple of it.

    Parameters
    ----------
    model : a generator (``archs.upscale(model)`` > 1: super-resolution)
    image : 2D array
    tile, overlap : tile size and overlap in input (LR) pixels (rounded down to ``ALIGN``)
    device : torch device of the model
    amp : bf16 autocast on CUDA

    Returns
    -------
    float32 array, ``upscale(model)`` times the size of ``image``
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2:
        raise EmsimError(f"expected a 2D image, got shape {img.shape}")
    if tile < 16 or not 0 <= overlap <= tile // 2:
        raise EmsimError(f"need tile >= 16 and 0 <= overlap <= tile/2, got tile {tile}, overlap {overlap}")
    s = upscale(model)
    H0, W0 = img.shape
    tile, overlap = tile - tile % ALIGN, overlap - overlap % ALIGN
    pad = ((0, -H0 % ALIGN), (0, -W0 % ALIGN))
    img = np.pad(img, pad, mode="reflect" if min(H0, W0) > ALIGN else "edge") if (pad[0][1] or pad[1][1]) else img
    H, W = img.shape
    out = np.zeros((H * s, W * s))
    weight = np.zeros((H * s, W * s))
    rows, cols = _starts(H, tile, overlap), _starts(W, tile, overlap)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if (amp and str(device).startswith("cuda")) else torch.autocast("cpu", enabled=False)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            h, w = min(tile, H - r), min(tile, W - c)
            x = torch.from_numpy(img[r : r + h, c : c + w].copy())[None, None].to(device)
            with autocast:
                y = model(x).float()[0, 0].cpu().numpy()
            o = overlap * s
            wgt = np.outer(_ramp(h * s, min(o, h * s // 2), i > 0, i < len(rows) - 1), _ramp(w * s, min(o, w * s // 2), j > 0, j < len(cols) - 1))
            out[r * s : (r + h) * s, c * s : (c + w) * s] += wgt * y
            weight[r * s : (r + h) * s, c * s : (c + w) * s] += wgt
    return (out / weight)[: H0 * s, : W0 * s].astype(np.float32)
