"""Shared helpers of the LR-only pipelines: per-sample generators, random crops and the
dihedral ("basic") augmentation (random flips and 90-degree rotations)."""

from __future__ import annotations

import numpy as np

from ...errors import EmsimError


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """Generator of sample ``index``: SeedSequence(seed, spawn_key=(index,)), as the simulator."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(index),)))


def random_crop(rng: np.random.Generator, img: np.ndarray, size: int, multiple: int = 1) -> tuple[np.ndarray, list[int]]:
    """A size x size crop at a uniform position (offsets are multiples of ``multiple``, so an
    HR crop keeps its probe grid aligned); returns (crop, [row, col])."""
    H, W = img.shape
    if H < size or W < size:
        raise EmsimError(f"image of {H}x{W} is smaller than the {size}x{size} crop")
    r = int(rng.integers(0, (H - size) // multiple + 1)) * multiple
    c = int(rng.integers(0, (W - size) // multiple + 1)) * multiple
    return np.ascontiguousarray(img[r : r + size, c : c + size]), [r, c]


def dihedral(rng: np.random.Generator, img: np.ndarray) -> tuple[np.ndarray, dict]:
    """Random horizontal flip and rotation by k * 90 degrees (each of the 8 equally likely)."""
    flip = bool(rng.random() < 0.5)
    k = int(rng.integers(0, 4))
    out = np.rot90(img[:, ::-1] if flip else img, k)
    return np.ascontiguousarray(out), {"flip": flip, "rot90": k}
