"""Post-processing distortions (Lobato et al. 2023, "Post-processing distortions"), applied to
every modality after the detector chain, in the paper's order:

- interpolation: a random near-identity linear transform (rotation, isotropic scale,
  shear, sub-pixel shift, about the centre) resampled by bilinear or bicubic (Keys cubic
  convolution, what image editors use) interpolation, applied identically to x and y (it is part of the target). Areas that map
  from outside the field get a fill: zero, the median of the target, or the edge value.
  Ranges (paper: "a random linear transformation matrix"): rotation [-15, 15] deg, scale
  [0.85, 1.2], shear [-0.1, 0.1], shift [-1, 1] px -- registration and alignment steps;
- Gaussian blur of x only, sigma ~ U[0, 1] px (the paper's range);
- annotations: 1-4 random items (text, scale bars, rectangles, ellipses, lines, arrows),
  drawn with Pillow in white (full scale) or black at the same place in x and y;
- cropping: bands along 1-4 sides of the image, never entering the central rectangle of
  half the image area, filled with zero or the median of the target in both x and y.
Occurrence probabilities are not in the paper; post-processed images are a minority of
real inputs, so each defaults to 0.1 (blur 0.2).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import string

import numba
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from ..config import IntRange, Range, check_probability, check_range, coin, integers, uniform
from ..errors import ConfigError
from ..imaging.resample import keys_taps
from ._ranges import pin_scalars
from .effect import Context, Effect, on_x

FILLS = ("zero", "median", "edge")
ANNOTATION_KINDS = ("text", "scale_bar", "rectangle", "ellipse", "line", "arrow")


def _check_choice(name: str, values: tuple, allowed: tuple) -> None:
    if not values or any(v not in allowed for v in values):
        raise ConfigError(f"{name} = {list(values)} must be a non-empty subset of {list(allowed)}")


@dataclasses.dataclass(frozen=True)
class InterpolationConfig:
    """p: occurrence; rotation (deg), scale, shear, shift (px): ranges of the transform;
    orders: interpolation drawn from (0 nearest, 1 bilinear, 3 bicubic); fills: see module
    docstring."""

    p: float = 0.1
    rotation: Range = (-15.0, 15.0)
    scale: Range = (0.85, 1.2)
    shear: Range = (-0.1, 0.1)
    shift: Range = (-1.0, 1.0)
    orders: tuple[int, ...] = (1, 3)
    fills: tuple[str, ...] = FILLS

    def __post_init__(self):
        pin_scalars(self)
        check_probability("interpolation.p", self.p)
        check_range("interpolation.rotation", self.rotation, -360.0, 360.0)
        check_range("interpolation.scale", self.scale, 0.05, 20.0)
        check_range("interpolation.shear", self.shear, -2.0, 2.0)
        check_range("interpolation.shift", self.shift, -1e4, 1e4)
        _check_choice("interpolation.orders", self.orders, (0, 1, 3))
        _check_choice("interpolation.fills", self.fills, FILLS)


@dataclasses.dataclass(frozen=True)
class BlurConfig:
    """p: occurrence; sigma: Gaussian width in pixels (paper: [0, 1])."""

    p: float = 0.2
    sigma: Range = (0.0, 1.0)

    def __post_init__(self):
        pin_scalars(self)
        check_probability("blur.p", self.p)
        check_range("blur.sigma", self.sigma, 0.0, 100.0)


@dataclasses.dataclass(frozen=True)
class AnnotationConfig:
    """p: occurrence; count: items per image; size: item size as a fraction of the shorter
    side; p_white: white (else black) items; kinds: item kinds drawn from."""

    p: float = 0.1
    count: IntRange = (1, 4)
    size: Range = (0.04, 0.15)
    p_white: float = 0.7
    kinds: tuple[str, ...] = ANNOTATION_KINDS

    def __post_init__(self):
        pin_scalars(self)
        check_probability("annotations.p", self.p)
        check_probability("annotations.p_white", self.p_white)
        check_range("annotations.count", self.count, 0, 100)
        check_range("annotations.size", self.size, 0.0, 1.0)
        _check_choice("annotations.kinds", self.kinds, ANNOTATION_KINDS)


@dataclasses.dataclass(frozen=True)
class CropConfig:
    """p: occurrence; central: area fraction of the central rectangle that is never cropped;
    fills: zero or median (of the target)."""

    p: float = 0.1
    central: float = 0.5
    fills: tuple[str, ...] = ("zero", "median")

    def __post_init__(self):
        pin_scalars(self)
        check_probability("crop.p", self.p)
        if not 0.0 < self.central <= 1.0:
            raise ConfigError(f"crop.central = {self.central} must lie in (0, 1]")
        _check_choice("crop.fills", self.fills, ("zero", "median"))


@dataclasses.dataclass(frozen=True)
class PostConfig:
    """Post-processing chain, shared by all modalities."""

    interpolation: InterpolationConfig = InterpolationConfig()
    blur: BlurConfig = BlurConfig()
    annotations: AnnotationConfig = AnnotationConfig()
    crop: CropConfig = CropConfig()


def _choice(rng, values):
    return values[0] if len(values) == 1 else values[int(rng.integers(0, len(values)))]


# --------------------------------------------------------------------------- interpolation


def transform_matrix(rotation_deg: float, scale: float, shear: float) -> np.ndarray:
    """Forward 2x2 map in (row, col) coordinates: rotation . scale . shear."""
    t = math.radians(rotation_deg)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return rot @ (scale * np.array([[1.0, shear], [0.0, 1.0]]))


_keys = numba.njit(cache=True, inline="always")(keys_taps)  # the one Keys kernel (emsim.imaging.resample)


@numba.njit(cache=True, error_model="numpy")
def _warp(images, m00, m01, m10, m11, o0, o1, order, edge, fill, out):
    """out[c, i, j] = images[c] interpolated at (m00 i + m01 j + o0, m10 i + m11 j + o1)."""
    C, H, W = images.shape
    for i in range(H):
        for j in range(W):
            r = m00 * i + m01 * j + o0
            q = m10 * i + m11 * j + o1
            if not edge and (r < -0.5 or r > H - 0.5 or q < -0.5 or q > W - 0.5):
                for c in range(C):
                    out[c, i, j] = fill
                continue
            r = min(max(r, 0.0), H - 1.0)
            q = min(max(q, 0.0), W - 1.0)
            if order == 0:
                ri, qi = int(r + 0.5), int(q + 0.5)
                for c in range(C):
                    out[c, i, j] = images[c, min(ri, H - 1), min(qi, W - 1)]
                continue
            r0, q0 = int(r), int(q)
            tr, tq = r - r0, q - q0
            if order == 1:
                r1, q1 = min(r0 + 1, H - 1), min(q0 + 1, W - 1)
                for c in range(C):
                    im = images[c]
                    top = im[r0, q0] + tq * (im[r0, q1] - im[r0, q0])
                    bot = im[r1, q0] + tq * (im[r1, q1] - im[r1, q0])
                    out[c, i, j] = top + tr * (bot - top)
                continue
            wr = _keys(tr)
            wq = _keys(tq)
            for c in range(C):
                acc = 0.0
                for a in range(4):
                    rr = min(max(r0 - 1 + a, 0), H - 1)
                    row = 0.0
                    for b in range(4):
                        row += wq[b] * images[c, rr, min(max(q0 - 1 + b, 0), W - 1)]
                    acc += wr[a] * row
                out[c, i, j] = acc


def warp(images, forward: np.ndarray, shift, order: int, fill: str, fill_value: float) -> np.ndarray:
    """Resample a stack of images (C, H, W) under the forward map about the centre, then
    shifted by (rows, cols). order 0 nearest, 1 bilinear, 3 bicubic (Keys cubic
    convolution, a = -0.5, as in image editors). Points from outside the field get
    ``fill_value`` (fill "zero"/"median") or the nearest edge value (fill "edge")."""
    images = np.ascontiguousarray(images, dtype=np.float32)
    H, W = images.shape[-2:]
    centre = (np.array([H, W], dtype=np.float64) - 1) / 2
    inverse = np.linalg.inv(forward)
    offset = centre - inverse @ (centre + np.asarray(shift, dtype=np.float64))
    out = np.empty_like(images)
    _warp(images, *inverse.ravel(), *offset, int(order), fill == "edge", float(fill_value), out)
    return out


def _sample_interpolation(rng, config: InterpolationConfig, ctx=None) -> dict | None:
    if not coin(rng, config.p):
        return None
    return {
        "rotation": uniform(rng, config.rotation),
        "scale": uniform(rng, config.scale),
        "shear": uniform(rng, config.shear),
        "shift": [uniform(rng, config.shift), uniform(rng, config.shift)],
        "order": int(_choice(rng, config.orders)),
        "fill": _choice(rng, config.fills),
    }


def _apply_interpolation(x, y, params, ctx):
    """The same near-identity linear transform of x and y."""
    fill_value = float(np.median(y)) if params["fill"] == "median" else 0.0
    ctx.note(fill_value=fill_value)
    forward = transform_matrix(params["rotation"], params["scale"], params["shear"])
    xo, yo = warp(np.stack([x, y]), forward, params["shift"], params["order"], params["fill"], fill_value)
    return xo, yo


INTERPOLATION = Effect("interpolation", _sample_interpolation, _apply_interpolation)


def interpolation(x, y, rng, config: InterpolationConfig):
    """The effect once: (x, y, record)."""
    return INTERPOLATION.run(x, y, rng, config, Context(x.shape))


# --------------------------------------------------------------------------- blur


def _sample_blur(rng, config: BlurConfig, ctx=None) -> dict | None:
    return {"sigma": uniform(rng, config.sigma)} if coin(rng, config.p) else None


def _apply_blur(x, params, ctx):
    """Gaussian blur of x only."""
    if params["sigma"] > 0:
        x = ndimage.gaussian_filter(np.asarray(x, dtype=np.float32), params["sigma"], mode="reflect")
    return x


BLUR = Effect("blur", _sample_blur, on_x(_apply_blur))


def blur(x, rng, config: BlurConfig):
    """The effect once: (x, record)."""
    x, _, rec = BLUR.run(x, x, rng, config, Context(x.shape))
    return x, rec


# --------------------------------------------------------------------------- annotations

_WORDS = ("5 nm", "2 nm", "10 nm", "1 um", "200 nm", "0.5 nm", "HAADF", "ADF", "BF", "SE", "x", "A", "B", "C", "1", "2", "3", "(a)", "(b)", "Pt", "Au", "Si", "[001]", "[110]", "200 kV", "FFT")


@functools.lru_cache(maxsize=64)
def _font(size: int):
    return ImageFont.load_default(size=size)


def _text(rng) -> str:
    if rng.random() < 0.6:
        return _WORDS[int(rng.integers(0, len(_WORDS)))]
    alphabet = string.ascii_letters + string.digits + " .-#"
    return "".join(alphabet[int(i)] for i in rng.integers(0, len(alphabet), int(rng.integers(1, 9))))


def _sample_item(rng, kind: str, shape, size: float) -> dict:
    """Geometry and text of one annotation of a field of ``shape``."""
    H, W = shape
    s = max(4.0, size * min(H, W))
    x0, y0 = float(rng.uniform(0, W - s)), float(rng.uniform(0, H - s))
    rec: dict = {"kind": kind, "xy": [x0, y0], "size": s}
    if kind == "text":
        rec["text"] = _text(rng)
    elif kind == "scale_bar":
        rec["length"] = float(rng.uniform(2 * s, 5 * s))
        rec["text"] = _WORDS[int(rng.integers(0, 6))]
    elif kind in ("rectangle", "ellipse"):
        w, h = float(rng.uniform(s, 4 * s)), float(rng.uniform(s, 4 * s))
        rec["filled"] = bool(rng.random() < 0.3)
        rec["box"] = [x0, y0, min(x0 + w, W - 1), min(y0 + h, H - 1)]
    else:  # line or arrow
        rec["angle"] = float(rng.uniform(0, 2 * math.pi))
        length = float(rng.uniform(2 * s, 5 * s))
        rec["end"] = [x0 + length * math.cos(rec["angle"]), y0 + length * math.sin(rec["angle"])]
    return rec


def _draw_item(draw: ImageDraw.ImageDraw, rec: dict, shape) -> None:
    """Draw one annotation record with coverage 255."""
    W = shape[1]
    (x0, y0), s, kind = rec["xy"], rec["size"], rec["kind"]
    width = max(1, int(round(s / 8)))
    if kind == "text":
        draw.text((x0, y0), rec["text"], fill=255, font=_font(max(6, int(s))))
    elif kind == "scale_bar":
        draw.rectangle([x0, y0, min(x0 + rec["length"], W - 1), y0 + max(2, s / 5)], fill=255)
        draw.text((x0, y0 + s / 4), rec["text"], fill=255, font=_font(max(6, int(0.8 * s))))
    elif kind in ("rectangle", "ellipse"):
        fn = draw.rectangle if kind == "rectangle" else draw.ellipse
        fn(rec["box"], fill=255 if rec["filled"] else None, outline=255, width=width)
    else:  # line or arrow
        x1, y1 = rec["end"]
        draw.line([x0, y0, x1, y1], fill=255, width=width)
        if kind == "arrow":
            head, angle = max(3.0, s / 2), rec["angle"]
            pts = [(x1, y1)] + [(x1 - head * math.cos(angle + d), y1 - head * math.sin(angle + d)) for d in (0.45, -0.45)]
            draw.polygon(pts, fill=255)


def _sample_annotations(rng, config: AnnotationConfig, ctx) -> dict | None:
    if not coin(rng, config.p):
        return None
    items = []
    for _ in range(integers(rng, config.count)):
        kind = _choice(rng, config.kinds)
        value = 1.0 if coin(rng, config.p_white) else 0.0
        items.append({**_sample_item(rng, kind, ctx.shape, uniform(rng, config.size)), "value": value})
    return {"items": items}


def _apply_annotations(x, y, params, ctx):
    """The items drawn at the same place in x and y (white or black, antialiased cover)."""
    x = np.array(x, dtype=np.float32, copy=True)
    y = np.array(y, dtype=np.float32, copy=True)
    for item in params["items"]:
        mask = Image.new("L", (x.shape[1], x.shape[0]), 0)
        _draw_item(ImageDraw.Draw(mask), item, x.shape)
        cover = np.asarray(mask, dtype=np.float32) * np.float32(1 / 255)
        hit = cover > 0
        for img in (x, y):
            img[hit] += cover[hit] * (np.float32(item["value"]) - img[hit])
    return x, y


ANNOTATIONS = Effect("annotations", _sample_annotations, _apply_annotations)


def annotations(x, y, rng, config: AnnotationConfig):
    """The effect once: (x, y, record)."""
    return ANNOTATIONS.run(x, y, rng, config, Context(x.shape))


# --------------------------------------------------------------------------- crop

SIDES = ("top", "bottom", "left", "right")


def _sample_crop(rng, config: CropConfig, ctx) -> dict | None:
    """Sides and depths of the bands, outside the central rectangle of ``central`` area."""
    if not coin(rng, config.p):
        return None
    H, W = ctx.shape
    side = math.sqrt(config.central)
    margin = ((1 - side) / 2 * H, (1 - side) / 2 * W)
    sides = [s for s in SIDES if rng.random() < 0.5]
    if not sides:
        sides = [SIDES[int(rng.integers(0, 4))]]
    fill = _choice(rng, config.fills)
    bands = {s: int(math.ceil(rng.uniform(0, 1) * margin[0 if s in ("top", "bottom") else 1])) for s in sides}
    return {"bands": bands, "fill": fill}


def _apply_crop(x, y, params, ctx):
    """Bands filled with zero or the target's median, identically in x and y."""
    H, W = x.shape
    value = float(np.median(y)) if params["fill"] == "median" else 0.0
    ctx.note(fill_value=value)
    x = np.array(x, dtype=np.float32, copy=True)
    y = np.array(y, dtype=np.float32, copy=True)
    for s, depth in params["bands"].items():
        if depth == 0:
            continue
        region = {"top": np.s_[:depth, :], "bottom": np.s_[H - depth :, :], "left": np.s_[:, :depth], "right": np.s_[:, W - depth :]}[s]
        x[region] = value
        y[region] = value
    return x, y


CROP = Effect("crop", _sample_crop, _apply_crop)


def crop(x, y, rng, config: CropConfig):
    """The effect once: (x, y, record)."""
    return CROP.run(x, y, rng, config, Context(x.shape))
