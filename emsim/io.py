"""Every image reader and writer of emsim and restoration.

Formats: .npy, .tif/.tiff (float32, tifffile), .png (8-bit, for viewing) and, read-only, the
microscope formats .dm3/.dm4/.emd/.ser/.hspy/.hdf5 through rosettasciio (the ``microscopy`` extra).

Calibration. ``read_input`` returns the image and its calibration (pixel ``scale`` and
``unit`` where the file has them); ``write_image(..., scale=, unit=)`` writes a TIFF's pixel
size three ways at once, so every common reader finds it: the X/YResolution tags (pixels
per unit), an ImageJ description ``unit=...`` (Fiji/ImageJ read both) and the Digital
Micrograph tags 65003/65004 (unit) and 65009/65010 (scale) that rosettasciio/HyperSpy read
beside ImageJ's resolution. A TIFF whose resolution tags carry no known unit keeps its tags
and resolution unit as they were.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from .errors import EmsimError

IMAGE_SUFFIXES = (".npy", ".tif", ".tiff", ".png")
MICROSCOPE_SUFFIXES = (".dm3", ".dm4", ".emd", ".ser", ".hspy", ".hdf5")
READ_SUFFIXES = IMAGE_SUFFIXES + MICROSCOPE_SUFFIXES
OUTPUT_SUFFIXES = (".npy", ".tif", ".tiff", ".emd")  # of processed images (write_output)
_MICRO = ("µm", "μm", "micron", "um")


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


def check_image(img: np.ndarray, source) -> np.ndarray:
    """A readable input image: 2D and finite (NaN or inf would poison a whole network output)."""
    if img.ndim != 2:
        raise EmsimError(f"{source}: expected a 2D image, got shape {img.shape}")
    if not np.isfinite(img).all():
        raise EmsimError(f"{source}: the image holds NaN or infinite values")
    return img


# --------------------------------------------------------------------------- writing


def _tiff_calibration(scale: float | None, unit: str | None, meta: dict) -> dict:
    """tifffile.imwrite keywords that store the pixel size (see module docstring)."""
    res, res_unit = meta.get("resolution"), meta.get("resolutionunit")
    if res and res_unit in (2, 3):  # an input's physical tags (inch, centimetre): keep them
        return {"resolution": tuple(res[:2]), "resolutionunit": res_unit}
    if scale and scale > 0 and unit:
        ij_unit = "micron" if unit in _MICRO else ("angstrom" if unit == "Å" else unit)
        return {
            "resolution": (1.0 / scale, 1.0 / scale),
            "resolutionunit": "NONE",
            "description": f"ImageJ=1.11a\nunit={ij_unit}\n",
            "metadata": None,  # the ImageJ description replaces tifffile's JSON one
            "extratags": [(65003, "s", 3, unit, False), (65004, "s", 3, unit, False), (65009, "d", 1, float(scale), False), (65010, "d", 1, float(scale), False)],
        }
    if res:  # tags of unknown unit: keep them as they were
        return {"resolution": tuple(res[:2]), "resolutionunit": res_unit}
    return {}


def write_image(path: str | Path, img: np.ndarray, scale: float | None = None, unit: str | None = None, *, meta: dict | None = None) -> Path:
    """Write a 2D image; the format follows the suffix (png is rescaled to 8 bit). A TIFF
    gets the pixel size ``scale`` (in ``unit``, e.g. 0.01 "nm") or, without one, the
    resolution tags of ``meta`` (an input's, see ``read_input``)."""
    p = check_writable(path)
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            np.save(p, np.asarray(img))
        elif suffix in (".tif", ".tiff"):
            import tifffile

            tifffile.imwrite(p, np.asarray(img, dtype=np.float32), **_tiff_calibration(scale, unit, meta or {}))
        else:
            from PIL import Image

            Image.fromarray(to_uint8(img) if np.asarray(img).dtype != np.uint8 else img).save(p)
    except OSError as e:
        raise EmsimError(f"cannot write {p}: {e.strerror or e}") from None
    return p


def write_output(path: str | Path, image: np.ndarray, meta: dict, upscale: int = 1) -> Path:
    """Write a processed image with the input's calibration (``meta`` from ``read_input``);
    ``upscale``: the SR factor, by which the pixel size shrinks. Microscope formats are
    other microscope formats are read-only: write .tif, .npy or .emd (whose signal axes are
    the input's, names, units and offsets kept, scale divided by ``upscale``)."""
    p = Path(path)
    if p.suffix.lower() not in OUTPUT_SUFFIXES:
        raise EmsimError(f"{p}: output must be {', '.join(OUTPUT_SUFFIXES)}")
    if p.suffix.lower() == ".emd":
        return _write_emd(p, image, meta, upscale)
    scale = meta.get("scale")
    scaled = dict(meta)
    if meta.get("resolution"):
        scaled["resolution"] = tuple(r * upscale for r in meta["resolution"][:2])
    return write_image(p, image, scale / upscale if scale else None, meta.get("unit"), meta=scaled)


def _write_emd(p: Path, image: np.ndarray, meta: dict, upscale: int) -> Path:
    """An NCEM .emd file (rosettasciio) with the input's signal axes (or, from a TIFF,
    axes made from its pixel size), the pixel size divided by the SR factor."""
    try:
        from rsciio.emd import file_writer
    except ImportError:
        raise EmsimError("writing .emd files needs rosettasciio (pip install 'emsim[microscopy]')") from None
    if not p.parent.exists():
        raise EmsimError(f"cannot write {p}: folder {p.parent} does not exist")
    signal = [a for a in meta.get("axes", []) if not a.get("navigate")][-2:]
    if len(signal) != 2:
        scale, unit = meta.get("scale"), meta.get("unit")
        signal = [{"name": n, "scale": scale or 1.0, "offset": 0.0, "units": unit if scale else "px"} for n in ("y", "x")]
    axes = [
        {"name": a.get("name") or n, "size": int(k), "scale": float(a.get("scale") or 1.0) / upscale, "offset": float(a.get("offset") or 0.0), "units": a.get("units") or "px", "navigate": False}
        for a, n, k in zip(signal, ("y", "x"), np.shape(image))
    ]
    signal_dict = {"data": np.asarray(image, dtype=np.float32), "axes": axes, "metadata": {"General": {"title": p.stem}, "Signal": {"signal_type": ""}}, "original_metadata": {}}
    try:
        file_writer(str(p), signal_dict)
    except OSError as e:
        raise EmsimError(f"cannot write {p}: {e.strerror or e}") from None
    return p


# --------------------------------------------------------------------------- reading


def _read_rsciio(p: Path) -> tuple[np.ndarray, dict]:
    try:
        import rsciio
    except ImportError:
        raise EmsimError(f"reading {p.suffix} files needs rosettasciio (pip install 'emsim[microscopy]')") from None
    ext = p.suffix.lower().lstrip(".")
    errors = []
    for plugin in rsciio.IO_PLUGINS:  # several plugins claim .hdf5: the first that reads it
        if ext not in [e.lower() for e in plugin["file_extensions"]]:
            continue
        try:
            data = importlib.import_module(plugin["api"]).file_reader(str(p))[0]
        except Exception as e:
            errors.append(f"{plugin['name']}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
            continue
        img = np.squeeze(np.asarray(data["data"], dtype=np.float32))
        axes = [a for a in data.get("axes", []) if isinstance(a, dict)]
        meta: dict = {"suffix": p.suffix.lower(), "axes": axes}
        signal = [a for a in axes if not a.get("navigate")][-2:]
        if len(signal) == 2 and signal[-1].get("scale"):
            meta["scale"], meta["unit"] = float(signal[-1]["scale"]), signal[-1].get("units") or None
        return img, meta
    if errors:
        raise EmsimError(f"cannot read {p}: " + "; ".join(errors))
    raise EmsimError(f"no rosettasciio reader for {p.suffix}")


def _read_tiff(p: Path) -> tuple[np.ndarray, dict]:
    import tifffile

    meta: dict = {"suffix": p.suffix.lower()}
    with tifffile.TiffFile(p) as tf:
        img = tf.asarray()
        page = tf.pages[0]
        tags = page.tags
        try:
            res = page.get_resolution()
        except Exception:
            res = None
        if res and all(r > 0 for r in res[:2]) and tuple(res[:2]) != (1.0, 1.0):
            meta["resolution"], meta["resolutionunit"] = tuple(float(r) for r in res[:2]), page.resolutionunit
            unit = (tf.imagej_metadata or {}).get("unit") if tf.is_imagej else None
            if 65003 in tags:
                unit = tags[65003].value
            if unit:
                meta["scale"], meta["unit"] = 1.0 / float(res[0]), "µm" if unit in _MICRO else str(unit)
            elif page.resolutionunit in (2, 3):  # inch, centimetre: a physical unit
                per_cm = float(res[0]) / (2.54 if page.resolutionunit == 2 else 1.0)
                meta["scale"], meta["unit"] = 1e7 / per_cm, "nm"
    return img, meta


def read_input(path: str | Path) -> tuple[np.ndarray, dict]:
    """Read a 2D image (any of ``READ_SUFFIXES``) as float32 with its calibration: returns
    (image, meta); meta has the suffix and, where the file has them, ``scale`` and ``unit``
    of a pixel (and a TIFF's resolution tags)."""
    p = Path(path)
    if not p.is_file():
        raise EmsimError(f"image file not found: {p}")
    suffix = p.suffix.lower()
    meta: dict = {"suffix": suffix}
    try:
        if suffix == ".npy":
            img = np.load(p, allow_pickle=False)
        elif suffix in (".tif", ".tiff"):
            img, meta = _read_tiff(p)
        elif suffix == ".png":
            from PIL import Image

            img = np.asarray(Image.open(p).convert("F"))
        elif suffix in MICROSCOPE_SUFFIXES:
            img, meta = _read_rsciio(p)
        else:
            raise EmsimError(f"{p}: unknown image format {p.suffix!r} (use {', '.join(READ_SUFFIXES)})")
    except EmsimError:
        raise
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise EmsimError(f"cannot read image {p}: {msg}") from None
    return check_image(np.squeeze(np.asarray(img)).astype(np.float32), p), meta


def read_image(path: str | Path) -> np.ndarray:
    """Read a 2D image (any of ``READ_SUFFIXES``) as float32."""
    return read_input(path)[0]
