"""Inference on images of any size: tiles blended with a smooth window, and file I/O.

Tiles of ``tile`` pixels overlap by ``overlap``. On the sides that have a neighbour, a
tile's weight is 0 over the outer quarter of the overlap (where the network sees the tile
edge), rises as a raised cosine over the middle half and is 1 beyond; the two ramps of
neighbouring tiles sum to 1, so there are no seams and tile-edge effects are discarded.
The networks are equivariant only to shifts by multiples of 8 (stride-2 pairs, SwinIR
windows): the image is reflect-padded to a multiple of 8 and tiles start at such offsets.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from emsim.errors import EmsimError
from emsim.io import check_image, read_image

from .models import upscale

RSCIIO_SUFFIXES = (".dm3", ".dm4", ".emd", ".ser")
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
    size. Super-resolution models (attribute ``scale`` > 1) return an image ``scale`` times
    larger; ``tile`` and ``overlap`` are then in input (LR) pixels. Tile offsets are
    multiples of ``ALIGN`` (8: the networks' stride-2 pairs and SwinIR's windows are
    equivariant only to such shifts); the image is reflect-padded to a multiple of it."""
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


def read_input(path: str | Path) -> tuple[np.ndarray, dict]:
    """Read .npy/.tif/.tiff (and .dm3/.dm4/.emd/.ser when rosettasciio is installed);
    returns (image, metadata needed to write the result back in the same format/scale)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in RSCIIO_SUFFIXES:
        try:
            import rsciio  # noqa: F401
        except ImportError:
            raise EmsimError(f"reading {suffix} files needs rosettasciio (pip install rosettasciio)") from None
        return _read_rsciio(p)
    meta: dict = {"suffix": suffix}
    if suffix in (".tif", ".tiff"):
        import tifffile

        try:
            with tifffile.TiffFile(p) as tf:
                page = tf.pages[0]
                meta["resolution"] = page.get_resolution() if hasattr(page, "get_resolution") else None
                meta["resolutionunit"] = page.resolutionunit
                meta["imagej"] = tf.imagej_metadata
        except Exception:
            pass
    return read_image(p), meta


def _read_rsciio(p: Path):
    import rsciio

    for plugin in rsciio.IO_PLUGINS:
        if p.suffix.lower().lstrip(".") in [e.lower() for e in plugin["file_extensions"]]:
            import importlib

            module = importlib.import_module(plugin["api"])
            data = module.file_reader(str(p))[0]
            img = check_image(np.squeeze(np.asarray(data["data"], dtype=np.float32)), p)
            axes = data.get("axes", [])
            return img, {"suffix": p.suffix.lower(), "axes": axes}
    raise EmsimError(f"no rosettasciio reader for {p.suffix}")


def write_output(path: str | Path, image: np.ndarray, meta: dict, upscale: int = 1) -> Path:
    """Write a restored image in the input's format (tif keeps its resolution tags;
    read-only formats .dm3/.dm4/.ser are written as .tif with the pixel scale). ``upscale``:
    the SR factor, by which the pixel size shrinks (resolution tags grow)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".dm3", ".dm4", ".ser", ".emd"):
        raise EmsimError(f"cannot write {suffix}; use a .tif or .npy output")
    if suffix == ".npy":
        np.save(p, image.astype(np.float32))
    elif suffix in (".tif", ".tiff"):
        import tifffile

        kwargs = {}
        if meta.get("resolution"):
            kwargs["resolution"] = tuple(r * upscale for r in meta["resolution"][:2])  # pixels per unit
            if meta.get("resolutionunit") is not None:
                kwargs["resolutionunit"] = meta["resolutionunit"]
        if meta.get("axes"):
            scale = [a["scale"] / upscale if a.get("scale") else a.get("scale") for a in meta["axes"] if isinstance(a, dict)]
            units = [a.get("units") for a in meta["axes"] if isinstance(a, dict)]
            kwargs["metadata"] = {"scale": scale, "units": units}
        tifffile.imwrite(p, image.astype(np.float32), **kwargs)
    else:
        raise EmsimError(f"{p}: unknown output format {p.suffix!r} (use .npy or .tif)")
    return p
