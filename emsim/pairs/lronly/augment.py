"""The PixMix augmentation set (Hendrycks et al. 2022, the AugMix operations without
colour/contrast/brightness/sharpness; Moeller et al. 2024, Sec. 4 "Random image
transformation"): autocontrast, equalise, posterise, rotate, solarise, shear (x, y) and
translate (x, y), on grayscale images in [0, 1].

Magnitudes follow the reference operations: for a magnitude fraction m (Moeller 2024: "a
random chosen value between 10% and 100%", m ~ U(0.1, 1)) rotation is int(30 m) degrees,
shear m * 0.3, translation int(m * size / 3) pixels (each with a random sign), posterise
keeps 4 - int(4 m) bits (at least 1), solarise inverts values >= 1 - m. Geometric
operations use Pillow's bilinear resampling with zero fill on the float image;
equalise and posterise work on the 8-bit quantised image, as Pillow does. PixMix hands
them crops on the image's absolute gray scale (``pixmix``), so autocontrast stretches a
crop's own range to [0, 1].
"""

from __future__ import annotations

import numpy as np

AUGMENTATIONS = ("autocontrast", "equalize", "posterize", "rotate", "solarize", "shear_x", "shear_y", "translate_x", "translate_y")


def _pil_float(img: np.ndarray):
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(img, dtype=np.float32), mode="F")


def _u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def _sign(rng: np.random.Generator) -> float:
    return -1.0 if rng.random() < 0.5 else 1.0


def _affine(img: np.ndarray, coeffs) -> np.ndarray:
    from PIL import Image

    out = _pil_float(img).transform(img.shape[::-1], Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR)
    return np.asarray(out, dtype=np.float32)


def autocontrast(img, m, rng):
    lo, hi = float(img.min()), float(img.max())
    return ((img - lo) / (hi - lo)).astype(np.float32) if hi > lo else img.copy(), {}


def equalize(img, m, rng):
    from PIL import Image, ImageOps

    return np.asarray(ImageOps.equalize(Image.fromarray(_u8(img))), dtype=np.float32) / 255.0, {}


def posterize(img, m, rng):
    bits = max(1, 4 - int(4 * m))
    mask = np.uint8((0xFF << (8 - bits)) & 0xFF)
    return (_u8(img) & mask).astype(np.float32) / 255.0, {"bits": bits}


def rotate(img, m, rng):
    from PIL import Image

    deg = _sign(rng) * int(30 * m)
    return np.asarray(_pil_float(img).rotate(deg, resample=Image.Resampling.BILINEAR), dtype=np.float32), {"degrees": deg}


def solarize(img, m, rng):
    t = 1.0 - m
    return np.where(img >= t, 1.0 - img, img).astype(np.float32), {"threshold": t}


def shear_x(img, m, rng):
    v = _sign(rng) * 0.3 * m
    return _affine(img, (1, v, 0, 0, 1, 0)), {"shear": v}


def shear_y(img, m, rng):
    v = _sign(rng) * 0.3 * m
    return _affine(img, (1, 0, 0, v, 1, 0)), {"shear": v}


def translate_x(img, m, rng):
    v = _sign(rng) * int(m * img.shape[1] / 3)
    return _affine(img, (1, 0, v, 0, 1, 0)), {"pixels": v}


def translate_y(img, m, rng):
    v = _sign(rng) * int(m * img.shape[0] / 3)
    return _affine(img, (1, 0, 0, 0, 1, v)), {"pixels": v}


OPS = {f.__name__: f for f in (autocontrast, equalize, posterize, rotate, solarize, shear_x, shear_y, translate_x, translate_y)}


def augment(rng: np.random.Generator, img: np.ndarray, names=AUGMENTATIONS, magnitude=(0.1, 1.0)) -> tuple[np.ndarray, dict]:
    """One operation drawn uniformly from ``names`` with magnitude m ~ U(magnitude)."""
    name = names[int(rng.integers(0, len(names)))]
    m = float(rng.uniform(*magnitude)) if magnitude[0] < magnitude[1] else float(magnitude[0])
    out, params = OPS[name](np.asarray(img, dtype=np.float32), m, rng)
    return np.clip(out, 0.0, 1.0).astype(np.float32), {"op": name, "magnitude": m, **params}
