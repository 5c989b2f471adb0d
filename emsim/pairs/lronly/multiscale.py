"""Multi-scale LR-only training pairs (Moeller et al. 2023, Sec. 3.2, Fig. 2, Table 1).

From a real LR image, each pair comes from one of four sub-processes:

1. crop an s*h x s*w HR target from the image and degrade it to h x w;
2. downscale the image by alpha in A (nearest neighbour), then as (1);
3. upscale the image by beta in B (bicubic), then as (1);
4. downscale the image by gamma in G (nearest neighbour), crop an h x w LR *input* and
   make its HR target by bicubic upscaling by s (the "convergence to bicubic" process).

The degradation of (1)-(3) is one of the six Pillow kernels nearest (the noise-preserving
one), Lanczos, bilinear, bicubic, box and Hamming, all centred on the probe grid (see
``resize``). The paper enumerates every factor of A, B, G once per image and every kernel
once per crop; as a sampler we draw the variant -- (1), or (2, alpha), (3, beta), (4, gamma)
-- uniformly from those feasible for the image (each target zoom level equally often),
then the kernel uniformly.

Defaults: the 4x row "alpha 0.25:0.95, beta 1.1:2, gamma 0.55:0.75" of Table 1 (the main
configuration plus (4) for convergence to bicubic beyond the configured zoom levels).
Steps follow the text: alpha in steps of 0.05; beta and gamma at integer target zoom
levels (5 MX training data: beta = 6..10 MX / 5 MX; gamma = 11..15 MX / 20 MX). We read
"beta 1.1:2" as the interval whose integer zoom levels are 6..10 MX (beta = 1.2..2.0).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...errors import ConfigError, EmsimError
from .crops import dihedral
from ...imaging.resample import cubic_upsample
from .resize import KERNELS, downscale, rescale_crop, rescaled_size

ALPHA_DEFAULT = tuple(round(0.25 + 0.05 * i, 2) for i in range(15))  # 0.25 .. 0.95
BETA_DEFAULT = (1.2, 1.4, 1.6, 1.8, 2.0)  # 6 .. 10 MX from 5 MX
GAMMA_DEFAULT = (0.55, 0.6, 0.65, 0.7, 0.75)  # targets 11 .. 15 MX at 4x from 5 MX


@dataclasses.dataclass(frozen=True)
class MultiScaleConfig:
    """``scale``: SR factor s; ``alpha``/``beta``/``gamma``: factor sets A, B, G of
    sub-processes (2)/(3)/(4) (empty switches a sub-process off); ``single_scale``: use
    sub-process (1); ``kernels``: the degradation kernels of (1)-(3); ``dihedral``: random
    flips and 90-degree rotations of the crop (not in the paper; off)."""

    scale: int = 4
    alpha: tuple[float, ...] = ALPHA_DEFAULT
    beta: tuple[float, ...] = BETA_DEFAULT
    gamma: tuple[float, ...] = GAMMA_DEFAULT
    single_scale: bool = True
    kernels: tuple[str, ...] = KERNELS
    dihedral: bool = False

    def __post_init__(self):
        if self.scale < 2:
            raise ConfigError(f"multiscale.scale = {self.scale} must be an integer >= 2")
        if any(not 0 < a < 1 for a in self.alpha):
            raise ConfigError(f"multiscale.alpha = {list(self.alpha)} must lie in (0, 1)")
        if any(not b > 1 for b in self.beta):
            raise ConfigError(f"multiscale.beta = {list(self.beta)} must be > 1")
        if any(not 0 < g <= 1 for g in self.gamma):
            raise ConfigError(f"multiscale.gamma = {list(self.gamma)} must lie in (0, 1]")
        if not self.kernels or set(self.kernels) - set(KERNELS):
            raise ConfigError(f"multiscale.kernels = {list(self.kernels)} must be a non-empty subset of {list(KERNELS)}")
        if not (self.single_scale or self.alpha or self.beta or self.gamma):
            raise ConfigError("multiscale: all four sub-processes are switched off")

    def variants(self) -> list[tuple[int, float]]:
        """(sub-process, factor) pairs the sampler draws from."""
        out = [(1, 1.0)] if self.single_scale else []
        return out + [(2, float(a)) for a in self.alpha] + [(3, float(b)) for b in self.beta] + [(4, float(g)) for g in self.gamma]


def feasible_variants(config: MultiScaleConfig, shape: tuple[int, int], hr_size: int) -> list[tuple[int, float]]:
    """Variants whose (rescaled) image holds the crop: hr_size for (1)-(3), hr_size/s for (4)."""
    H, W = shape
    lr_size = hr_size // config.scale
    out = []
    for sub, f in config.variants():
        need = lr_size if sub == 4 else hr_size
        if min(rescaled_size(H, f), rescaled_size(W, f)) >= need:
            out.append((sub, f))
    return out


def multiscale_pair(rng: np.random.Generator, image: np.ndarray, config: MultiScaleConfig, hr_size: int, variants=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """(lr, hr, record) of one multi-scale pair from a real LR ``image`` (HR crop
    hr_size^2, a multiple of s; LR (hr_size/s)^2)."""
    s = config.scale
    if hr_size % s:
        raise EmsimError(f"HR crop {hr_size} is not a multiple of the scale {s}")
    img = np.asarray(image, dtype=np.float32)
    variants = feasible_variants(config, img.shape, hr_size) if variants is None else variants
    if not variants:
        raise EmsimError(f"image of {img.shape[0]}x{img.shape[1]} is too small for {hr_size}^2 multi-scale crops")
    sub, f = variants[int(rng.integers(0, len(variants)))]
    size = hr_size // s if sub == 4 else hr_size
    Hs, Ws = rescaled_size(img.shape[0], f), rescaled_size(img.shape[1], f)
    top, left = int(rng.integers(0, Hs - size + 1)), int(rng.integers(0, Ws - size + 1))
    method = "bicubic" if sub == 3 else "nearest"
    crop = rescale_crop(img, f, method, top, left, (size, size)) if sub != 1 else np.ascontiguousarray(img[top : top + size, left : left + size])
    record = {"pipeline": "multiscale", "subprocess": sub, "factor": f, "crop": [top, left], "scale": s}
    if config.dihedral:
        crop, record["dihedral"] = dihedral(rng, crop)
    if sub == 4:
        record["kernel"] = "bicubic_up"
        return crop, cubic_upsample(crop, s), record
    kernel = config.kernels[int(rng.integers(0, len(config.kernels)))]
    record["kernel"] = kernel
    return downscale(crop, s, kernel), crop, record


__all__ = ["MultiScaleConfig", "multiscale_pair", "feasible_variants"]
