"""Multi-scale LR-only training pairs (Moeller et al. 2023, Sec. 3.2, Fig. 2, Table 1).

From a real LR image, each pair comes from one of four sub-processes:

1. crop an s*h x s*w HR target from the image and degrade it to h x w;
2. downscale the image by alpha in A (nearest neighbour), then as (1);
3. upscale the image by beta in B (bicubic), then as (1);
4. downscale the image by gamma in G (nearest neighbour), crop an h x w LR *input* and
   make its HR target by bicubic upscaling by s (the "convergence to bicubic" process).

The degradation of (1)-(3) is one of the six Pillow kernels nearest (the noise-preserving
one), Lanczos, bilinear, bicubic, box and Hamming, on the config's pixel grid (``resize``:
Pillow's own "centre" grid by default). The paper enumerates every factor of A, B, G once
per image and every kernel once per crop, so a crop of (1)-(3) yields six pairs and a crop
of (4) one (its target is the bicubic upscaling): as a sampler we draw the variant -- (1),
or (2, alpha), (3, beta), (4, gamma) -- among those feasible for the image with these
weights (``variant_weights``: with the default 4x sets (4) makes 5 of 131 pairs, ~4 %),
then the kernel uniformly.

Factor sets (Table 1; None in the config: the set of its scale). Steps follow the text:
alpha in steps of 0.05 (4x), beta and gamma at integer target zoom levels.

- 4x (STEM, 5 MX training data), the row "alpha 0.25:0.95, beta 1.1:2, gamma 0.55:0.75"
  (the main configuration plus (4), convergence to bicubic beyond the configured zoom
  levels): beta = 6..10 MX / 5 MX (we read "1.1:2" as the interval whose integer zoom
  levels are 6..10 MX), gamma = 11..15 MX / 20 MX (the target of (4) is s gamma times the
  training zoom level).
- 2x (STM, 24 nm images; a smaller nm value is a higher zoom level), the sets of the 2x
  rows: alpha 0.5:0.96 = 24 nm / 25..48 nm (targets 48-25 nm), beta 1.04:1.71 =
  24 nm / 14..23 nm (targets 23-14 nm), gamma 0.86:0.92 = 12 nm / 13..14 nm ((4)'s
  targets 14-13 nm, beyond (3)'s range).

Other scales have no Table 1 row: give alpha, beta and gamma explicitly.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from ...errors import ConfigError, EmsimError
from ...imaging.resample import GRIDS
from .crops import dihedral
from .resize import KERNELS, downscale, rescale, rescale_crop, rescaled_size

FACTOR_SETS = {
    4: {"alpha": tuple(round(0.25 + 0.05 * i, 2) for i in range(15)), "beta": tuple(n / 5 for n in range(6, 11)), "gamma": tuple(n / 20 for n in range(11, 16))},
    2: {"alpha": tuple(24 / n for n in range(25, 49)), "beta": tuple(24 / n for n in range(23, 13, -1)), "gamma": tuple(12 / n for n in (14, 13))},
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class MultiScaleConfig:
    """``scale``: SR factor s; ``alpha``/``beta``/``gamma``: factor sets A, B, G of
    sub-processes (2)/(3)/(4) (empty switches a sub-process off; None: Table 1's set of
    the scale, ``FACTOR_SETS``); ``single_scale``: use sub-process (1); ``kernels``: the
    degradation kernels of (1)-(3); ``dihedral``: random flips and 90-degree rotations of
    the crop (not in the paper, but in the KAIR training code its public configs run;
    off); ``grid``: the pixel grid (``resize``)."""

    scale: int = 4
    alpha: tuple[float, ...] | None = None
    beta: tuple[float, ...] | None = None
    gamma: tuple[float, ...] | None = None
    single_scale: bool = True
    kernels: tuple[str, ...] = KERNELS
    dihedral: bool = False
    grid: Literal["centre", "probe"] = "centre"

    def __post_init__(self):
        if self.scale < 2:
            raise ConfigError(f"multiscale.scale = {self.scale} must be an integer >= 2")
        for name in ("alpha", "beta", "gamma"):
            if getattr(self, name) is None:
                if self.scale not in FACTOR_SETS:
                    raise ConfigError(f"multiscale: Table 1 has no factor sets for {self.scale}x (only {', '.join(f'{k}x' for k in sorted(FACTOR_SETS))}); give alpha, beta and gamma")
                object.__setattr__(self, name, FACTOR_SETS[self.scale][name])
        if self.grid not in GRIDS:
            raise ConfigError(f"multiscale.grid = {self.grid!r} (use {' or '.join(GRIDS)})")
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

    def degrade(self, hr: np.ndarray) -> np.ndarray:
        """The validation input of an HR reference: nearest-neighbour downscaling by the
        scale (the papers' standard evaluation)."""
        return downscale(hr, self.scale, "nearest", self.grid)


def variant_weights(config: MultiScaleConfig, variants) -> np.ndarray:
    """Relative frequencies of ``variants``: the pairs a crop of each yields in the paper
    (one per kernel for (1)-(3), one for (4))."""
    return np.array([1.0 if sub == 4 else float(len(config.kernels)) for sub, _ in variants])


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
    w = variant_weights(config, variants)
    sub, f = variants[int(rng.choice(len(variants), p=w / w.sum()))]
    size = hr_size // s if sub == 4 else hr_size
    Hs, Ws = rescaled_size(img.shape[0], f), rescaled_size(img.shape[1], f)
    top, left = int(rng.integers(0, Hs - size + 1)), int(rng.integers(0, Ws - size + 1))
    method = "bicubic" if sub == 3 else "nearest"
    crop = rescale_crop(img, f, method, top, left, (size, size), config.grid) if sub != 1 else np.ascontiguousarray(img[top : top + size, left : left + size])
    record = {"pipeline": "multiscale", "subprocess": sub, "factor": f, "crop": [top, left], "scale": s, "grid": config.grid}
    if config.dihedral:
        crop, record["dihedral"] = dihedral(rng, crop)
    if sub == 4:
        record["kernel"] = "bicubic_up"
        return crop, rescale(crop, s, "bicubic", config.grid), record
    kernel = config.kernels[int(rng.integers(0, len(config.kernels)))]
    record["kernel"] = kernel
    return downscale(crop, s, kernel, config.grid), crop, record


__all__ = ["FACTOR_SETS", "MultiScaleConfig", "feasible_variants", "multiscale_pair", "variant_weights"]
