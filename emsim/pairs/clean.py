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
import math
import time
from typing import Callable

import numpy as np

from ..config import coin, uniform
from ..distort import max_displacement
from ..distort.effect import new_seed
from ..errors import EmsimError
from ..imaging.atom_models import sample_atom_models
from ..imaging.render import Renderer
from ..imaging.tonemap import apply_tone_map, tone_map
from ..scenes import generate_scene
from ..specimen import generate_specimen

STAGES = ("kind", "specimen", "contrast", "tone", "distort")
MAX_REDRAWS = 31


@dataclasses.dataclass
class Pair:
    """A (distorted x, clean y) pair and the JSON record of everything drawn."""

    x: np.ndarray
    y: np.ndarray
    record: dict
    timings: dict  # seconds per stage (not part of the record: it is not deterministic)
    truth: dict = dataclasses.field(default_factory=dict)  # requested ground truth (emsim.pairs.truth)

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
    stands in), the ``record`` of what was drawn for it, and for HR images the
    ``specimen`` and its atom ``models`` (for ground truth)."""

    image: np.ndarray
    pixel_size: float
    resample: Callable | None
    record: dict
    timings: dict
    specimen: object = None
    models: dict | None = None


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


def clean_image(seed: int, index: int, config, rngs: dict | None = None, redraws: int = 0) -> CleanImage:
    """The clean stage of restoration sample ``index`` (pure function of seed, index,
    config); ``redraws``: of its attempt after that many redraws (``record["redraws"]``)."""
    if rngs is None:
        rngs = stage_rngs(seed, index)
        for _ in range(int(redraws)):  # replay the discarded attempts' draws
            clean_image(seed, index, config, rngs)
            new_seed(rngs["distort"])
    timings: dict[str, float] = {}
    t = time.perf_counter()
    record: dict = {"resolution": draw_resolution(rngs["kind"], config)}
    renderer = specimen = models = None
    if record["resolution"] == "hr":
        d_ext = max_displacement(config.distort, config.modality)
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
    return CleanImage(image, pixel_size, resample, record, timings, specimen, models)


def degeneracy(clean: np.ndarray, x: np.ndarray, y: np.ndarray, std_mean) -> str | None:
    """Why a drawn pair must not reach a store or a DataLoader, or None: a non-finite x or
    y, a constant clean image, target or input (e.g. a specimen left without atoms in the
    field by its cuts), or a clean image outside eq. 25's Std/E range ``std_mean``."""
    for name, a in (("x", x), ("y", y), ("clean image", clean)):
        if not np.all(np.isfinite(a)):
            return f"non-finite {name}"
        if float(a.max()) - float(a.min()) <= 1e-6 * max(abs(float(a.max())), 1e-30):
            return f"constant {name}"
    mean = float(clean.mean(dtype=np.float64))
    ratio = float(clean.std(dtype=np.float64)) / mean if mean > 0 else math.inf
    if not std_mean[0] * (1 - 1e-3) <= ratio <= std_mean[1] * (1 + 1e-3):
        return f"clean image Std/E = {ratio:.3g} outside eq. 25's {list(std_mean)}"
    return None


def with_redraws(attempt, std_mean, what: str) -> Pair:
    """``attempt() -> (pair, clean image)`` repeated, continuing the sample's own stage
    streams (so the sample stays a pure function of seed, index and config), until the
    pair is not degenerate (``degeneracy``); the record keeps the number of ``redraws`` (and
their ``redraw_reasons``)."""
    timings: dict[str, float] = {}
    reasons = []
    for k in range(MAX_REDRAWS + 1):
        pair, clean = attempt()
        for key, v in pair.timings.items():
            timings[key] = timings.get(key, 0.0) + v
        why = degeneracy(clean, pair.x, pair.y, std_mean)
        if why is None:
            pair.record["redraws"] = k
            if reasons:
                pair.record["redraw_reasons"] = reasons
            pair.timings = timings
            return pair
        reasons.append(why)
    raise EmsimError(f"{what}: every one of {MAX_REDRAWS + 1} draws is degenerate (last: {why}); the config cannot make valid pairs")
