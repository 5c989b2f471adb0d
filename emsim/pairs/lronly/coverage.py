"""Coverage downsampling (Ede 2019, "Deep learning supersampled scanning transmission
electron microscopy", Sec. II): nearest-neighbour downsampling of a STEM image to probe
coverage c = 1/s^2 is physically a scan with s times the probe spacing. One pixel per
s x s block is kept -- on the "centre" grid (default) the one Pillow's NEAREST keeps,
``x[s//2::s, s//2::s]``; on the "probe" grid (the simulator's) the block's top-left pixel,
``x[::s, ::s]`` (``resize.downscale``) -- and the result is either kept small (an SR input)
or nearest-neighbour infilled back to full size (Ede's generator input, for same-size
restoration networks: each block shows its kept pixel).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from ...errors import ConfigError
from ...imaging.resample import GRIDS, nearest_fill
from .crops import dihedral, random_crop
from .resize import downscale


@dataclasses.dataclass(frozen=True)
class CoverageConfig:
    """``s``: the allowed block sizes (Ede's unified network: s = 4..10, coverage
    1/16 .. 1/100), one drawn uniformly per sample; ``fill``: "none" keeps the small image
    (needs a single s, the SR factor), "nearest" infills it to the HR size; ``dihedral``:
    random flips and 90-degree rotations of the HR crop (Ede's eight-fold augmentation);
    ``grid``: "centre" (Pillow's) or "probe" (``resize``)."""

    s: tuple[int, ...] = (4,)
    fill: Literal["none", "nearest"] = "none"
    dihedral: bool = True
    grid: Literal["centre", "probe"] = "centre"

    def __post_init__(self):
        if not self.s or any(int(v) != v or v < 1 for v in self.s):
            raise ConfigError(f"coverage.s = {list(self.s)} must be positive integers")
        if self.fill not in ("none", "nearest"):
            raise ConfigError(f"coverage.fill = {self.fill!r} (use none or nearest)")
        if self.fill == "none" and len(set(self.s)) > 1:
            raise ConfigError("coverage.fill = 'none' needs a single s (LR size must match the SR factor)")
        if self.grid not in GRIDS:
            raise ConfigError(f"coverage.grid = {self.grid!r} (use {' or '.join(GRIDS)})")

    @property
    def scale(self) -> int:
        """The SR factor of the pairs (1 when the LR is infilled to HR size)."""
        return int(self.s[0]) if self.fill == "none" else 1


    def degrade(self, hr: np.ndarray) -> np.ndarray:
        """The validation input of an HR reference: its coverage downsampling at the first s."""
        return coverage_downsample(hr, int(self.s[0]), self.fill, self.grid)


def coverage_downsample(hr: np.ndarray, s: int, fill: str = "none", grid: str = "centre") -> np.ndarray:
    """Keep one pixel per s x s block (``downscale(hr, s, "nearest", grid)``); ``fill="nearest"``
    infills each block with its pixel, to ``hr``'s shape (a partial last block repeats the
    last kept pixel)."""
    lr = downscale(hr, s, "nearest", grid)
    if fill != "nearest":
        return lr
    H, W = np.shape(hr)
    full = np.pad(lr, ((0, -(-H // s) - lr.shape[0]), (0, -(-W // s) - lr.shape[1])), mode="edge")
    return nearest_fill(full, s, (H, W))


def coverage_pair(rng: np.random.Generator, image: np.ndarray, config: CoverageConfig, hr_size: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """(lr, hr, record): a random hr_size^2 crop of a real image as the target and its
    coverage-downsampled version as the input."""
    s = int(config.s[int(rng.integers(0, len(config.s)))]) if len(config.s) > 1 else int(config.s[0])
    hr, pos = random_crop(rng, image, hr_size)
    record = {"pipeline": "coverage", "s": s, "coverage": 1.0 / (s * s), "crop": pos, "fill": config.fill}
    if config.dihedral:
        hr, record["dihedral"] = dihedral(rng, hr)
    return coverage_downsample(hr, s, config.fill, config.grid), hr, record
