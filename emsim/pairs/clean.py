"""The clean stage of a pair: specimen (HR) or scene (LR) -> atom models -> render -> tone map.

``clean_image(seed, index, config)`` returns the tone-mapped clean image that the
distortions start from, its pixel size, the record of everything drawn for it and, for HR
images with ``exact_jitter``, the resampler that evaluates the same field at displaced
probe positions (scan jitter). Stage generators: ``stage_rngs(seed, index)`` seeds
``numpy.random.SeedSequence(seed, spawn_key=(index,))`` and spawns one child per stage,
so any sample can be regenerated alone.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from ..config import coin, uniform
from ..distort import max_displacement
from ..imaging.atom_models import sample_atom_models
from ..imaging.render import Renderer
from ..imaging.tonemap import apply_tone_map, tone_map
from ..scenes import generate_scene
from ..specimen import generate_specimen

STAGES = ("kind", "specimen", "contrast", "tone", "distort")


@dataclasses.dataclass
class Pair:
    """A (distorted x, clean y) pair and the JSON record of everything drawn."""

    x: np.ndarray
    y: np.ndarray
    record: dict
    timings: dict  # seconds per stage (not part of the record: it is not deterministic)

    @property
    def modality(self) -> str:
        return self.record["modality"]

    @property
    def resolution(self) -> str:
        return self.record["resolution"]

    @property
    def pixel_size(self) -> float:
        return self.record["pixel_size"]

    @property
    def dose(self) -> float | None:
        return self.record["distortions"].get("dose", {}).get("e_per_A2")


@dataclasses.dataclass
class CleanImage:
    """The distortions' input: tone-mapped ``image`` (full scale 1) at ``pixel_size`` A,
    ``resample(dx, dy)`` (the same field at displaced probes, or None: cubic interpolation
    stands in), and the ``record`` of what was drawn for it."""

    image: np.ndarray
    pixel_size: float
    resample: Callable | None
    record: dict
    timings: dict


def stage_rngs(seed: int, index: int) -> dict[str, np.random.Generator]:
    """Independent generators for the stages of sample ``index``."""
    children = np.random.SeedSequence(int(seed), spawn_key=(int(index),)).spawn(len(STAGES))
    return {name: np.random.Generator(np.random.PCG64(c)) for name, c in zip(STAGES, children)}


def draw_resolution(rng: np.random.Generator, config) -> str:
    """hr or lr (``mixed``: lr with probability ``p_lr``)."""
    if config.resolution == "mixed":
        return "lr" if coin(rng, config.p_lr) else "hr"
    return config.resolution


def hr_specimen(rngs, config, field, d_ext: float):
    """Specimen of a field (H, W) and its random atom models: (specimen, models, record)."""
    specimen = generate_specimen(rngs["specimen"], config.specimen, field, d_ext=d_ext)
    species = np.unique(specimen.numbers) if len(specimen.numbers) else [1]
    models, model_record = sample_atom_models(rngs["contrast"], species, config.atom_model)
    return specimen, models, {"specimen": specimen.info, "atom_models": model_record}


def tone_resample(renderer: Renderer, tone_record: dict, pixel_size: float, shape, base=(0.0, 0.0), coord_scale: float = 1.0):
    """resample(dx, dy): the tone-mapped field at displaced probes (``base`` + the jitter's
    offsets, A); the tone map's coordinates are in the reference image's pixels
    (``coord_scale`` of these)."""

    def resample(dx, dy):
        ox = np.broadcast_to(base[0], shape) + np.broadcast_to(dx, shape)
        oy = np.broadcast_to(base[1], shape) + np.broadcast_to(dy, shape)
        img = renderer.render(offsets=(ox, oy))
        rows = (np.arange(shape[0])[:, None] + oy / pixel_size) * coord_scale
        cols = (np.arange(shape[1])[None, :] + ox / pixel_size) * coord_scale
        return apply_tone_map(img, tone_record, coords=(rows, cols))

    return resample


def clean_image(seed: int, index: int, config, rngs: dict | None = None) -> CleanImage:
    """The clean stage of restoration sample ``index`` (pure function of seed, index, config)."""
    rngs = stage_rngs(seed, index) if rngs is None else rngs
    timings: dict[str, float] = {}
    t = time.perf_counter()
    record: dict = {"resolution": draw_resolution(rngs["kind"], config)}
    renderer = None
    if record["resolution"] == "hr":
        d_ext = max_displacement(config.distort)
        specimen, models, parts = hr_specimen(rngs, config, config.shape, d_ext)
        timings["specimen"] = time.perf_counter() - t
        t = time.perf_counter()
        pixel_size = specimen.pixel_size
        renderer = Renderer(specimen.positions[:, :2], specimen.numbers, models, pixel_size, config.shape, max_offset=d_ext)
        raw = renderer.render()
        record.update(parts)
        timings["render"] = time.perf_counter() - t
    else:
        pixel_size = uniform(rngs["kind"], config.lr_pixel_size)
        raw, record["scene"] = generate_scene(rngs["specimen"], config.scene, config.shape)
        timings["scene"] = time.perf_counter() - t
    record["pixel_size"] = pixel_size
    t = time.perf_counter()
    image, record["tone_map"] = tone_map(raw, rngs["tone"], config.tone_map)
    resample = None
    if renderer is not None and config.exact_jitter:
        resample = tone_resample(renderer, record["tone_map"], pixel_size, config.shape)
    timings["tone"] = time.perf_counter() - t
    return CleanImage(image, pixel_size, resample, record, timings)
