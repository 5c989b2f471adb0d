"""PixMix for LR-only SR training (Moeller et al. 2024, Sec. 4, Fig. 3; PixMix: Hendrycks
et al. 2022, Algorithm 1).

Pipeline per pair: random multi-scale augmentation of the real LR image (a factor from a
set of 30, 15 down by nearest neighbour in 0.25..0.95 and 15 up by bicubic in 1.2..4.0:
"image sizes between 25% and 400%", "equally distributed between up- and downscaling")
and a random HR crop x; a random crop of a mixing image (optionally bicubic-upscaled by
an integer b first; the default mixing images are twice the default crop, so the crop
position varies); K ~ U{0, ..., K_max} mixing iterations; a degradation with one of the
six Pillow kernels to the LR input. Resampling is on the config's pixel grid (``resize``:
Pillow's "centre" grid by default).

PixMix (reference code): mixed = augment(x) or x (probability 1/2 each); then K times:
partner = augment(x) or the mixing crop (1/2 each), operation = add or multiply (1/2
each), mixed = clip(op(mixed, partner), 0, 1). Weights (a, b) = (m_k, m_k^mix) come from
one of two cases with probability 1/2: a ~ B(beta, 1), b ~ B(1, beta); or
a = 1 + B(1, beta), b = -B(1, beta) (eq. 1-2 and the text after them). As in the
reference code (which eq. 1-2 abbreviate), addition mixes the images centred to [-1, 1]
and multiplication the images scaled to [0, 2]:
    add(x1, x2) = (a (2 x1 - 1) + b (2 x2 - 1) + 1) / 2,
    mul(x1, x2) = (2 x1)^a (2 x2)^b / 2.
Mixing works on absolute gray values in [0, 1], as the paper's 8-bit images (G = [0, 255])
divided by 255: the crop is scaled by its whole image's gray scale (``value_range``: the
image's min .. max unless given; an 8-bit image that spans 0..255 gives the paper's
/255), clipped to [0, 1] (as Pillow's 8-bit bicubic upscaling clips), and the mixed
target is mapped back to the image's units. So a crop keeps its own contrast and
brightness within the image -- which autocontrast, equalise, posterise and solarise act
on -- and the mixing weights act on the same scale for every crop.

Defaults: K_max = 30, beta = 2 (the paper's best for STEM); Hendrycks' ImageNet default is
K_max = 4, beta = 4. Mixing-image upscaling b is off (it "does not improve results").
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from ...errors import ConfigError, EmsimError
from ...imaging.resample import GRIDS
from .augment import AUGMENTATIONS, OPS, augment
from .crops import dihedral
from .resize import KERNELS, downscale, rescale_crop, rescaled_size

SCALES_DEFAULT = tuple(round(0.25 + 0.05 * i, 2) for i in range(15)) + tuple(round(1.2 + 0.2 * i, 1) for i in range(15))


@dataclasses.dataclass(frozen=True)
class PixMixConfig:
    """``scale``: SR factor; ``k_max``: maximum mixing iterations; ``beta``: shape of the
    weight distributions; ``augmentations``/``magnitude``: the operation set and the range
    of the magnitude fraction; ``p_augment``: probability that a partner (and the start
    image) is an augmented copy of the crop rather than the mixing crop / the crop itself;
    ``mix_upscale``: (low, high) integer range of b, or None for no upscaling;
    ``scales``: multi-scale factors (< 1: nearest, > 1: bicubic); ``kernels``: the
    degradations; ``dihedral``: random flips/rotations of the crop (the paper's "basic
    augmentation"; off); ``grid``: the pixel grid (``resize``)."""

    scale: int = 4
    k_max: int = 30
    beta: float = 2.0
    augmentations: tuple[str, ...] = AUGMENTATIONS
    magnitude: tuple[float, float] = (0.1, 1.0)
    p_augment: float = 0.5
    mix_upscale: tuple[int, int] | None = None
    scales: tuple[float, ...] = SCALES_DEFAULT
    kernels: tuple[str, ...] = KERNELS
    dihedral: bool = False
    grid: Literal["centre", "probe"] = "centre"

    def __post_init__(self):
        if self.scale < 2:
            raise ConfigError(f"pixmix.scale = {self.scale} must be an integer >= 2")
        if self.grid not in GRIDS:
            raise ConfigError(f"pixmix.grid = {self.grid!r} (use {' or '.join(GRIDS)})")
        if self.k_max < 0:
            raise ConfigError(f"pixmix.k_max = {self.k_max} must be >= 0")
        if not self.beta > 0:
            raise ConfigError(f"pixmix.beta = {self.beta} must be > 0")
        if not self.augmentations or set(self.augmentations) - set(OPS):
            raise ConfigError(f"pixmix.augmentations = {list(self.augmentations)} must be a non-empty subset of {list(OPS)}")
        if not 0 < self.magnitude[0] <= self.magnitude[1] <= 1:
            raise ConfigError(f"pixmix.magnitude = {list(self.magnitude)} must satisfy 0 < low <= high <= 1")
        if not 0 <= self.p_augment <= 1:
            raise ConfigError(f"pixmix.p_augment = {self.p_augment} is not a probability")
        if self.mix_upscale is not None and not 1 <= self.mix_upscale[0] <= self.mix_upscale[1]:
            raise ConfigError(f"pixmix.mix_upscale = {list(self.mix_upscale)} must satisfy 1 <= low <= high")
        if any(not f > 0 for f in self.scales):
            raise ConfigError(f"pixmix.scales = {list(self.scales)} must be positive")
        if not self.kernels or set(self.kernels) - set(KERNELS):
            raise ConfigError(f"pixmix.kernels = {list(self.kernels)} must be a non-empty subset of {list(KERNELS)}")

    def degrade(self, hr: np.ndarray) -> np.ndarray:
        """The validation input of an HR reference: nearest-neighbour downscaling by the
        scale (the paper's evaluation)."""
        return downscale(hr, self.scale, "nearest", self.grid)


def mixing_weights(rng: np.random.Generator, beta: float) -> tuple[float, float, int]:
    """(m_k, m_k^mix, case): case 1 a ~ B(beta, 1), b ~ B(1, beta); case 2 a = 1 + B(1, beta),
    b = -B(1, beta); each case with probability 1/2."""
    if rng.random() < 0.5:
        return float(rng.beta(beta, 1.0)), float(rng.beta(1.0, beta)), 1
    return 1.0 + float(rng.beta(1.0, beta)), -float(rng.beta(1.0, beta)), 2


def mix_add(x1: np.ndarray, x2: np.ndarray, a: float, b: float) -> np.ndarray:
    """Eq. 1 on images centred to [-1, 1] (reference code), back to [0, 1] (unclipped)."""
    return ((a * (2.0 * x1 - 1.0) + b * (2.0 * x2 - 1.0)) + 1.0) / 2.0


def mix_multiply(x1: np.ndarray, x2: np.ndarray, a: float, b: float) -> np.ndarray:
    """Eq. 2 on images scaled to [0, 2] (reference code), back to [0, 1] (unclipped)."""
    return (np.power(2.0 * x1, a) * np.power(np.maximum(2.0 * x2, 1e-37), b)) / 2.0


def pixmix(rng: np.random.Generator, x: np.ndarray, mix: np.ndarray, config: PixMixConfig) -> tuple[np.ndarray, dict]:
    """PixMix of crop ``x`` with mixing crop ``mix`` (both in [0, 1], same shape)."""
    x = np.asarray(x, dtype=np.float64)
    mix = np.asarray(mix, dtype=np.float64)
    if x.shape != mix.shape:
        raise EmsimError(f"pixmix: crop {x.shape} and mixing crop {mix.shape} differ in shape")

    def aug():
        out, rec = augment(rng, x, config.augmentations, config.magnitude)
        return out.astype(np.float64), rec

    record: dict = {"start": None}
    mixed = x
    if rng.random() < config.p_augment:
        mixed, record["start"] = aug()
    k = int(rng.integers(0, config.k_max + 1))
    record["k"], steps = k, []
    for _ in range(k):
        if rng.random() < config.p_augment:
            partner, prec = aug()
        else:
            partner, prec = mix, "mixing"
        op = "add" if rng.random() < 0.5 else "multiply"
        a, b, case = mixing_weights(rng, config.beta)
        mixed = np.clip((mix_add if op == "add" else mix_multiply)(mixed, partner, a, b), 0.0, 1.0)
        steps.append({"partner": prec, "op": op, "a": a, "b": b, "case": case})
    record["steps"] = steps
    return mixed.astype(np.float32), record


def mixing_crop(rng: np.random.Generator, mixing, size: int, upscale: tuple[int, int] | None, grid: str = "centre") -> tuple[np.ndarray, dict]:
    """A random size^2 crop of a random mixing image (bicubic-upscaled on ``grid`` by an
    integer b drawn from ``upscale``; images smaller than the crop are upscaled just enough
    to hold it)."""
    if len(mixing) == 0:
        raise EmsimError("pixmix needs a non-empty mixing set")
    j = int(rng.integers(0, len(mixing)))
    img = np.asarray(mixing[j], dtype=np.float32)
    b = float(rng.integers(upscale[0], upscale[1] + 1)) if upscale is not None else 1.0
    b = max(b, size / min(img.shape))  # round(n * size / n) = size: the crop fits
    Hs, Ws = rescaled_size(img.shape[0], b), rescaled_size(img.shape[1], b)
    top, left = int(rng.integers(0, Hs - size + 1)), int(rng.integers(0, Ws - size + 1))
    crop = rescale_crop(img, b, "bicubic", top, left, (size, size), grid) if b != 1.0 else img[top : top + size, left : left + size]
    return np.clip(crop, 0.0, 1.0).astype(np.float32), {"mixing_image": j, "b": b, "crop": [top, left]}


def feasible_scales(config: PixMixConfig, shape: tuple[int, int], hr_size: int) -> list[float]:
    """Multi-scale factors whose rescaled image holds an hr_size crop (1.0 if none does)."""
    ok = [float(f) for f in config.scales if min(rescaled_size(shape[0], f), rescaled_size(shape[1], f)) >= hr_size]
    if not ok and min(shape) >= hr_size:
        ok = [1.0]
    return ok


def pixmix_pair(rng: np.random.Generator, image: np.ndarray, mixing, config: PixMixConfig, hr_size: int, scales=None, value_range=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """(lr, hr, record) of one PixMix pair from a real LR ``image`` and a mixing set
    (a sequence of 2D arrays in [0, 1]); ``scales``: the feasible multi-scale factors
    (default ``feasible_scales``); ``value_range``: (lo, hi), the image's gray scale
    (default its min and max)."""
    s = config.scale
    if hr_size % s:
        raise EmsimError(f"HR crop {hr_size} is not a multiple of the scale {s}")
    img = np.asarray(image, dtype=np.float32)
    scales = feasible_scales(config, img.shape, hr_size) if scales is None else scales
    if not scales:
        raise EmsimError(f"image of {img.shape[0]}x{img.shape[1]} is too small for {hr_size}^2 crops")
    f = scales[int(rng.integers(0, len(scales)))]
    Hs, Ws = rescaled_size(img.shape[0], f), rescaled_size(img.shape[1], f)
    top, left = int(rng.integers(0, Hs - hr_size + 1)), int(rng.integers(0, Ws - hr_size + 1))
    crop = rescale_crop(img, f, "nearest" if f < 1 else "bicubic", top, left, (hr_size, hr_size), config.grid)
    record: dict = {"pipeline": "pixmix", "factor": f, "crop": [top, left], "scale": s, "grid": config.grid}
    if config.dihedral:
        crop, record["dihedral"] = dihedral(rng, crop)
    lo, hi = (float(img.min()), float(img.max())) if value_range is None else (float(value_range[0]), float(value_range[1]))
    hi = hi if hi > lo else lo + 1.0
    mix, record["mixing"] = mixing_crop(rng, mixing, hr_size, config.mix_upscale, config.grid)
    mixed, record["pixmix"] = pixmix(rng, np.clip((crop - lo) / (hi - lo), 0.0, 1.0), mix, config)
    hr = (lo + mixed.astype(np.float64) * (hi - lo)).astype(np.float32)
    kernel = config.kernels[int(rng.integers(0, len(config.kernels)))]
    record["kernel"], record["range"] = kernel, [lo, hi]
    return downscale(hr, s, kernel, config.grid), hr, record
