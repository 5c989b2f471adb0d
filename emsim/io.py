"""Image files: .npy, .tif/.tiff (float32, tifffile) and .png (8-bit, for viewing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import EmsimError

IMAGE_SUFFIXES = (".npy", ".tif", ".tiff", ".png")


def to_uint8(img: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Linear min-max (or [lo, hi]) scaling to 0..255 for display."""
    img = np.asarray(img, dtype=np.float64)
    lo = float(np.nanmin(img)) if lo is None else lo
    hi = float(np.nanmax(img)) if hi is None else hi
    scaled = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return np.clip(np.nan_to_num(scaled) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def check_writable(path: str | Path, suffixes=IMAGE_SUFFIXES) -> Path:
    """Validate an output path before any work is done (suffix known, folder exists)."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise EmsimError(f"{p}: unknown output format {p.suffix!r} (use {', '.join(suffixes)})")
    if not p.parent.exists():
        raise EmsimError(f"{p}: folder {p.parent} does not exist")
    if p.exists() and p.is_dir():
        raise EmsimError(f"{p} is a folder")
    return p


def write_image(path: str | Path, img: np.ndarray) -> Path:
    """Write a 2D image; the format follows the suffix (png is rescaled to 8 bit)."""
    p = check_writable(path)
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            np.save(p, np.asarray(img))
        elif suffix in (".tif", ".tiff"):
            import tifffile

            tifffile.imwrite(p, np.asarray(img, dtype=np.float32))
        else:
            from PIL import Image

            Image.fromarray(to_uint8(img) if np.asarray(img).dtype != np.uint8 else img).save(p)
    except OSError as e:
        raise EmsimError(f"cannot write {p}: {e.strerror or e}") from None
    return p


def read_image(path: str | Path) -> np.ndarray:
    """Read a 2D image (.npy, .tif/.tiff, .png) as float32."""
    p = Path(path)
    if not p.is_file():
        raise EmsimError(f"image file not found: {p}")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            img = np.load(p, allow_pickle=False)
        elif suffix in (".tif", ".tiff"):
            import tifffile

            img = tifffile.imread(p)
        elif suffix == ".png":
            from PIL import Image

            img = np.asarray(Image.open(p).convert("F"))
        else:
            raise EmsimError(f"{p}: unknown image format {p.suffix!r} (use {', '.join(IMAGE_SUFFIXES)})")
    except EmsimError:
        raise
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise EmsimError(f"cannot read image {p}: {msg}") from None
    return check_image(np.squeeze(np.asarray(img)).astype(np.float32), p)


def check_image(img: np.ndarray, source) -> np.ndarray:
    """A readable input image: 2D and finite (NaN or inf would poison a whole network output)."""
    if img.ndim != 2:
        raise EmsimError(f"{source}: expected a 2D image, got shape {img.shape}")
    if not np.isfinite(img).all():
        raise EmsimError(f"{source}: the image holds NaN or infinite values")
    return img
