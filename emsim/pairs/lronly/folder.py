"""Real LR images as a deterministic, unbounded source of LR-only training pairs, and the
held-out validation of an LR-only run.

``LROnlyPairs(folder, config, hr_size, seed)`` reads every .tif/.tiff/.npy/.png image of a
folder (sorted by name; or takes a list of paths or arrays) and returns, for stream
position p = 0, 1, 2, ... (unbounded), the pair made from image p mod n_images by the
pipeline of ``config`` (``MultiScaleConfig``, ``PixMixConfig`` or ``CoverageConfig``, or
their names) with the generator SeedSequence(seed, spawn_key=(p,)): ``pairs[p] -> (lr, hr,
record)``, float32 numpy arrays and a JSON-able record of everything drawn. Every training
step thus sees fresh pairs; ``length`` bounds a finite view. ``emsim.dataset.torch`` wraps
it as a torch Dataset (``LROnlyDataset``, ``make_torch_dataset``).

``LROnlyData(folder, config, ..., val_source=None)`` is a training run's split: the stream
over the training images (``train``) and fixed validation pairs (``validation``) from
images it never trains on -- HR references (``val_source``; their LR is the pipeline's
``degrade``: nearest-neighbour downscaling for multiscale/PixMix, coverage downsampling for
coverage; the target is the reference) or, without them, the last max(1, n // 10) sorted
images, held out and used as references at their own zoom level.

``intensity`` maps gray values: "raw" (as read), "image" (each image min-max scaled to
[0, 1] -- for 8-bit images that span 0..255 the papers' /255), "crop" (each pair scaled by
its HR crop's min and max, Ede 2019's [0, 1] crops).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...config import jsonable, to_dict
from ...errors import EmsimError
from ...io import read_image
from .coverage import CoverageConfig, coverage_pair
from .crops import sample_rng
from .mixing import MixingConfig, MixingSet
from .multiscale import MultiScaleConfig, feasible_variants, multiscale_pair
from .pixmix import PixMixConfig, feasible_scales, pixmix_pair

PIPELINES = {"multiscale": MultiScaleConfig, "pixmix": PixMixConfig, "coverage": CoverageConfig}
SUFFIXES = (".tif", ".tiff", ".npy", ".png")
INTENSITIES = ("raw", "image", "crop")


def find_images(folder: str | Path) -> list[Path]:
    """The image files of a folder (not recursive), sorted by name."""
    d = Path(folder)
    if not d.is_dir():
        raise EmsimError(f"image folder not found: {d}")
    files = sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise EmsimError(f"no images ({', '.join(SUFFIXES)}) in {d}")
    return files


def image_items(source) -> list:
    """A folder's image paths (``find_images``), or the given list of paths / 2D arrays."""
    if isinstance(source, (str, Path)):
        return find_images(source)
    items = list(source)
    if not items:
        raise EmsimError("no images given")
    return items


def item_names(items: list) -> list[str]:
    """File names of paths, ``image_<i>`` for arrays."""
    return [Path(it).name if isinstance(it, (str, Path)) else f"image_{i}" for i, it in enumerate(items)]


def load_images(source, intensity: str = "raw") -> tuple[list[str], list[np.ndarray]]:
    """(names, float32 images) of ``image_items(source)``, checked 2D and finite; with
    ``intensity="image"`` each min-max scaled to [0, 1]."""
    if intensity not in INTENSITIES:
        raise EmsimError(f"unknown intensity mapping {intensity!r} (use {', '.join(INTENSITIES)})")
    items = image_items(source)
    names = item_names(items)
    images = [read_image(it) if isinstance(it, (str, Path)) else np.asarray(it, dtype=np.float32) for it in items]
    for name, img in zip(names, images):
        if img.ndim != 2:
            raise EmsimError(f"{name}: expected a 2D image, got shape {img.shape}")
        if not np.all(np.isfinite(img)):
            raise EmsimError(f"{name}: image has non-finite values")
    if intensity == "image":
        images = [unit_range(img, float(img.min()), float(img.max())) for img in images]
    return names, images


def unit_range(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(a - lo) / (hi - lo) as float32 (a constant range maps to 0)."""
    return ((np.asarray(a, dtype=np.float64) - lo) / (hi - lo) if hi > lo else np.zeros_like(a, dtype=np.float64)).astype(np.float32)


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


def _crop_scaled(lr: np.ndarray, hr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = float(hr.min()), float(hr.max())
    return unit_range(lr, lo, hi), unit_range(hr, lo, hi)


class LROnlyPairs:
    """Deterministic (lr, hr, record) pairs from real LR images, at any stream position.

    ``source``: a folder, a list of image paths or a list of 2D arrays; ``hr_size``: side
    of the HR crops (a multiple of the SR factor); ``length``: None (unbounded) or the
    number of positions of a finite view (negative indices count from its end);
    ``mixing``: PixMix's mixing set -- a ``MixingSet``; a folder of images (a missing or
    empty folder receives the default generated set, cached for next time); a
    ``MixingConfig`` (generated in memory); or None (the default set, in memory);
    ``intensity``: "raw", "image" or "crop" (see the module)."""

    def __init__(self, source, config=None, hr_size: int = 256, seed: int = 0, length: int | None = None, mixing=None, intensity: str = "raw"):
        self.config = _pipeline_config(config)
        self.hr_size, self.seed, self.intensity = int(hr_size), int(seed), intensity
        self.names, self.images = load_images(source, intensity)
        self.length = None if length is None else int(length)
        if self.length is not None and self.length < 1:
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
        self._ranges = [(float(im.min()), float(im.max())) for im in self.images]
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

    @property
    def grid(self) -> str:
        """The pipeline's pixel grid ("centre" or "probe")."""
        return self.config.grid

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError("an unbounded LROnlyPairs stream has no length")
        return self.length

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        k = int(index)
        if self.length is not None and k < 0:
            k += self.length
        if k < 0 or (self.length is not None and k >= self.length):
            raise IndexError(f"index {index} out of range for {'an unbounded stream' if self.length is None else f'{self.length} pairs'}")
        i = k % len(self.images)
        rng = sample_rng(self.seed, k)
        img, cfg = self.images[i], self.config
        if isinstance(cfg, MultiScaleConfig):
            lr, hr, rec = multiscale_pair(rng, img, cfg, self.hr_size, self._choices[i])
        elif isinstance(cfg, PixMixConfig):
            lr, hr, rec = pixmix_pair(rng, img, self.mixing, cfg, self.hr_size, self._choices[i], self._ranges[i])
        else:
            lr, hr, rec = coverage_pair(rng, img, cfg, self.hr_size)
        if self.intensity == "crop":
            lr, hr = _crop_scaled(lr, hr)
        rec = {"index": k, "seed": self.seed, "image": i, "name": self.names[i], **rec}
        return lr.astype(np.float32), hr.astype(np.float32), jsonable(rec)


def reference_pairs(source, config, hr_size: int, n: int, intensity: str = "raw") -> list[tuple[np.ndarray, np.ndarray, dict]]:
    """Fixed validation pairs from HR reference images: hr_size^2 crops on a grid from each
    image's top-left corner, taken round-robin over the images (so all contribute), at most
    ``n``; the target is the crop, the input ``config.degrade(crop)``.

    Parameters
    ----------
    source : folder, list of paths or list of 2D arrays
    config : an LR-only pipeline config (or its name)
    hr_size : side of the crops
    n : maximum number of pairs
    intensity : "raw", "image" or "crop" (see the module)

    Returns
    -------
    list of (lr, hr, record) with records {name, crop}
    """
    cfg = _pipeline_config(config)
    names, images = load_images(source, intensity)
    grids = []
    for name, img in zip(names, images):
        H, W = img.shape
        if min(H, W) < hr_size:
            raise EmsimError(f"{name}: reference of {H}x{W} is smaller than the {hr_size}x{hr_size} validation crop")
        grids.append([(r, c) for r in range(0, H - hr_size + 1, hr_size) for c in range(0, W - hr_size + 1, hr_size)])
    out = []
    for k in range(max(len(g) for g in grids)):
        for name, img, g in zip(names, images, grids):
            if k < len(g) and len(out) < n:
                r, c = g[k]
                hr = np.ascontiguousarray(img[r : r + hr_size, c : c + hr_size])
                lr = cfg.degrade(hr)
                if intensity == "crop":
                    lr, hr = _crop_scaled(lr, hr)
                out.append((lr.astype(np.float32), hr.astype(np.float32), {"name": name, "crop": [r, c]}))
    return out


class LROnlyData:
    """The data of an LR-only training run: the unbounded training stream ``train`` (an
    ``LROnlyPairs``) and fixed validation pairs (``validation``) from images it never
    trains on.

    ``source``: the LR images (folder or list); ``val_source``: HR references (folder or
    list), or None to hold out the last max(1, n // 10) sorted images (at least 2 images
    are then needed); the other arguments are those of ``LROnlyPairs``."""

    def __init__(self, source, config=None, hr_size: int = 256, seed: int = 0, mixing=None, val_source=None, intensity: str = "raw"):
        items = image_items(source)
        if val_source is None:
            if len(items) < 2:
                raise EmsimError("LR-only training needs held-out validation: give at least 2 images (the last 10 % are held out) or a folder of HR references (--val-folder)")
            k = max(1, len(items) // 10)
            items, self.val_items, self.val_kind = items[:-k], items[-k:], "held-out images"
        else:
            self.val_items, self.val_kind = image_items(val_source), "references"
        self.train = LROnlyPairs(items, config, hr_size, seed, mixing=mixing, intensity=intensity)

    @property
    def scale(self) -> int:
        """SR factor of the pairs."""
        return self.train.scale

    @property
    def grid(self) -> str:
        """Pixel grid of the pairs."""
        return self.train.grid

    def validation(self, n: int) -> list[tuple[np.ndarray, np.ndarray, dict]]:
        """Up to ``n`` fixed validation pairs (``reference_pairs`` of the held-out images)."""
        return reference_pairs(self.val_items, self.train.config, self.train.hr_size, n, self.train.intensity)

    def describe(self) -> dict:
        """JSON-able summary: pipeline config, crop size, seed, intensity, image names."""
        t = self.train
        return {"pipeline": type(t.config).__name__, "config": to_dict(t.config), "hr_size": t.hr_size, "seed": t.seed, "intensity": t.intensity, "train_images": t.names, "validation": self.val_kind, "validation_images": item_names(self.val_items)}
