"""A folder of real LR images as a deterministic source of LR-only training pairs.

``LROnlyPairs(folder, config, hr_size, seed)`` reads every .tif/.tiff/.npy/.png image of a
folder (sorted by name; or takes a list of paths or arrays) and returns, for index k,
the pair made from image k mod n_images by the pipeline of ``config``
(``MultiScaleConfig``, ``PixMixConfig`` or ``CoverageConfig``, or their names) with the
generator SeedSequence(seed, spawn_key=(k,)): ``pairs[k] -> (lr, hr, record)``, float32
numpy arrays and a JSON-able record of everything drawn. ``emsim.dataset.torch`` wraps it
as a torch Dataset (``LROnlyDataset``, ``make_torch_dataset``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...config import jsonable
from ...errors import EmsimError
from ...io import read_image
from .coverage import CoverageConfig, coverage_pair
from .crops import sample_rng
from .mixing import MixingConfig, MixingSet
from .multiscale import MultiScaleConfig, feasible_variants, multiscale_pair
from .pixmix import PixMixConfig, feasible_scales, pixmix_pair

PIPELINES = {"multiscale": MultiScaleConfig, "pixmix": PixMixConfig, "coverage": CoverageConfig}
SUFFIXES = (".tif", ".tiff", ".npy", ".png")


def find_images(folder: str | Path) -> list[Path]:
    """The image files of a folder (not recursive), sorted by name."""
    d = Path(folder)
    if not d.is_dir():
        raise EmsimError(f"image folder not found: {d}")
    files = sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise EmsimError(f"no images ({', '.join(SUFFIXES)}) in {d}")
    return files


def _pipeline_config(config):
    if config is None:
        return MultiScaleConfig()
    if isinstance(config, str):
        if config not in PIPELINES:
            raise EmsimError(f"unknown LR-only pipeline {config!r} (use {', '.join(PIPELINES)})")
        return PIPELINES[config]()
    if not isinstance(config, tuple(PIPELINES.values())):
        raise EmsimError(f"not an LR-only pipeline config: {type(config).__name__}")
    return config


class LROnlyPairs:
    """Indexable, deterministic (lr, hr, record) pairs from real LR images.

    ``source``: a folder, a list of image paths or a list of 2D arrays; ``hr_size``: side
    of the HR crops (a multiple of the SR factor); ``length``: number of indices (default
    64 per image); ``mixing``: PixMix's mixing set -- a ``MixingSet``; a folder of images
    (a missing or empty folder receives the default generated set, cached for next time);
    a ``MixingConfig`` (generated in memory); or None (the default set, in memory)."""

    def __init__(self, source, config=None, hr_size: int = 256, seed: int = 0, length: int | None = None, mixing=None):
        self.config = _pipeline_config(config)
        self.hr_size, self.seed = int(hr_size), int(seed)
        if isinstance(source, (str, Path)):
            paths = find_images(source)
            self.names = [p.name for p in paths]
            self.images = [read_image(p) for p in paths]
        else:
            items = list(source)
            if not items:
                raise EmsimError("no images given")
            self.names = [Path(it).name if isinstance(it, (str, Path)) else f"image_{i}" for i, it in enumerate(items)]
            self.images = [read_image(it) if isinstance(it, (str, Path)) else np.asarray(it, dtype=np.float32) for it in items]
        for name, img in zip(self.names, self.images):
            if img.ndim != 2:
                raise EmsimError(f"{name}: expected a 2D image, got shape {img.shape}")
            if not np.all(np.isfinite(img)):
                raise EmsimError(f"{name}: image has non-finite values")
        self.length = 64 * len(self.images) if length is None else int(length)
        if self.length < 1:
            raise EmsimError(f"length must be >= 1, got {self.length}")
        cfg = self.config
        if isinstance(cfg, (MultiScaleConfig, PixMixConfig)) and self.hr_size % cfg.scale:
            raise EmsimError(f"hr_size {self.hr_size} is not a multiple of the scale {cfg.scale}")
        if isinstance(cfg, MultiScaleConfig):
            self._choices = [feasible_variants(cfg, im.shape, self.hr_size) for im in self.images]
        elif isinstance(cfg, PixMixConfig):
            self._choices = [feasible_scales(cfg, im.shape, self.hr_size) for im in self.images]
        else:
            self._choices = [[1.0] if min(im.shape) >= self.hr_size else [] for im in self.images]
        for name, ch, im in zip(self.names, self._choices, self.images):
            if not ch:
                raise EmsimError(f"{name}: image of {im.shape[0]}x{im.shape[1]} is too small for {self.hr_size}x{self.hr_size} crops")
        self.mixing = None
        if isinstance(cfg, PixMixConfig):
            if mixing is None or isinstance(mixing, MixingConfig):
                self.mixing = MixingSet.generate(mixing or MixingConfig())
            elif isinstance(mixing, (str, Path)):  # a folder of images, or where to cache the default set
                d = Path(mixing)
                self.mixing = MixingSet.load(d) if d.is_dir() and any(d.iterdir()) else MixingSet.generate(MixingConfig(), d)
            else:
                self.mixing = mixing

    @property
    def scale(self) -> int:
        """SR factor between the pair's HR and LR (1 for infilled coverage pairs)."""
        return int(self.config.scale)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        k = int(index)
        if k < 0:
            k += self.length
        if not 0 <= k < self.length:
            raise IndexError(f"index {index} out of range for {self.length} pairs")
        i = k % len(self.images)
        rng = sample_rng(self.seed, k)
        img, cfg = self.images[i], self.config
        if isinstance(cfg, MultiScaleConfig):
            lr, hr, rec = multiscale_pair(rng, img, cfg, self.hr_size, self._choices[i])
        elif isinstance(cfg, PixMixConfig):
            lr, hr, rec = pixmix_pair(rng, img, self.mixing, cfg, self.hr_size, self._choices[i])
        else:
            lr, hr, rec = coverage_pair(rng, img, cfg, self.hr_size)
        rec = {"index": k, "seed": self.seed, "image": i, "name": self.names[i], **rec}
        return lr.astype(np.float32), hr.astype(np.float32), jsonable(rec)
