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

from . import BACKENDS
from .archs import upscale

ALIGN = 8


def _starts(n: int, tile: int, overlap: int) -> tuple[list[int], int]:
    """Offsets (multiples of ``ALIGN``) and size of the fewest tiles of at most ``tile`` that
    cover ``n`` (a multiple of ``ALIGN``) with overlaps of at least ``overlap``, all of one
    size: the tiles are shrunk to share the image evenly (1024 with tile 512 and overlap 64:
    two tiles of 544, not three of 512)."""
    if n <= tile:
        return [0], n
    k = math.ceil((n - overlap) / (tile - overlap))
    size = min(tile, ALIGN * math.ceil((n + (k - 1) * overlap) / k / ALIGN))
    return [ALIGN * ((i * (n - size)) // ((k - 1) * ALIGN)) for i in range(k)], size


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


def bf16_supported() -> bool:
    """Whether this CPU runs bf16 convolutions natively (AVX512-BF16 / AMX, through oneDNN)."""
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def prepare(model, device="cpu", backend: str = "auto", amp: bool = False):
    """The fastest way to run ``model`` that keeps its output (measured in
    ``benchmarks/infer_speed.py``, full CGRDN, 2 cores: onnxruntime 1.4-1.8x faster than
    torch eager at 256^2, same output within 1e-6 relative).

    ``auto``: onnxruntime on the CPU when it is installed and the model exports, torch
    otherwise (CUDA, ``amp``, or export failure). ``amp`` on the CPU: bf16 autocast in
    channels_last (oneDNN/AMX; ~3x faster than float32 eager, deviations ~2e-4 of the
    output's maximum), where the CPU supports bf16.

    Parameters
    ----------
    model : a torch generator (an ``OnnxGenerator`` is returned as it is)
    device : its torch device
    backend : "auto", "torch" or "onnxruntime" (an error where it cannot run)
    amp : bf16 (CUDA, or a CPU with bf16 support); implies torch

    Returns
    -------
    (model to pass to ``restore_array``, name of the backend)
    """
    from .export import OnnxGenerator, onnx_runtime

    if backend not in BACKENDS:
        raise EmsimError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if isinstance(model, OnnxGenerator):
        return model, "onnxruntime"
    cpu = str(device) == "cpu"
    if amp and backend == "onnxruntime":
        raise EmsimError("--amp runs bf16 in torch; it cannot be combined with the onnxruntime backend")
    if amp and cpu and not bf16_supported():
        raise EmsimError("--amp on the CPU needs bf16 support (AVX512-BF16 or AMX); this CPU has none")
    if backend == "onnxruntime" and not cpu:
        raise EmsimError("the onnxruntime backend runs on the CPU; use --device cpu")
    if backend != "torch" and cpu and not amp:
        ort = onnx_runtime(model)
        if ort is not None:
            return ort, "onnxruntime"
        if backend == "onnxruntime":
            raise EmsimError("onnxruntime backend unavailable: install onnx and onnxruntime (pip install 'emsim[onnx]')")
    if amp and cpu:
        return model.to(memory_format=torch.channels_last), "torch bf16"
    return model, "torch bf16" if amp else "torch"


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
    amp : bf16 autocast (CUDA, or the CPU in channels_last: see ``prepare``)

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
    (rows, th), (cols, tw) = _starts(H, tile, overlap), _starts(W, tile, overlap)
    cuda = str(device).startswith("cuda")
    autocast = torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16, enabled=amp)
    layout = torch.channels_last if (amp and not cuda) else torch.contiguous_format
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            h, w = th, tw
            x = torch.from_numpy(img[r : r + h, c : c + w].copy())[None, None].to(device).contiguous(memory_format=layout)
            with autocast:
                y = model(x).float()[0, 0].cpu().numpy()
            o = overlap * s
            wgt = np.outer(_ramp(h * s, min(o, h * s // 2), i > 0, i < len(rows) - 1), _ramp(w * s, min(o, w * s // 2), j > 0, j < len(cols) - 1))
            out[r * s : (r + h) * s, c * s : (c + w) * s] += wgt * y
            weight[r * s : (r + h) * s, c * s : (c + w) * s] += wgt
    return (out / weight)[: H0 * s, : W0 * s].astype(np.float32)
