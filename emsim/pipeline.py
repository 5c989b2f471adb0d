"""One training pair as a pure function of (seed, index, config).

    config -> specimen (HR) or scene (LR) -> clean image -> tone mapping -> distortions

``make_pair(seed, index, config)`` seeds ``numpy.random.SeedSequence(seed,
spawn_key=(index,))`` and spawns one child per stage, so any sample can be regenerated
alone and a store is identical whatever the worker count, backend or resumption.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Literal

import numpy as np

from .config import Range, check_probability, check_range, coin, from_dict, uniform
from .contrast import AtomModelConfig, sample_atom_models
from .distort import MODALITIES, DistortionConfig, distort, max_displacement
from .errors import ConfigError
from .render import Renderer
from .scenes import SceneConfig, generate_scene
from .specimen import SpecimenConfig, generate_specimen
from .sr_pairs import SRConfig, make_sr_pair
from .sr_pairs import output_shapes as sr_output_shapes
from .tonemap import ToneMapConfig, apply_tone_map, tone_map

RESOLUTIONS = ("hr", "lr", "mixed")
MIN_SIZE = 16
STAGES = ("kind", "specimen", "contrast", "tone", "distort")


@dataclasses.dataclass(frozen=True)
class PairConfig:
    """Everything that defines a dataset of pairs; defaults are the paper's.

    modality: tem | stem | sem. resolution: hr (atomic-resolution specimens), lr
    (low-resolution scenes) or mixed (lr with probability ``p_lr``). shape: (H, W) pixels.
    lr_pixel_size: pixel size (A) the distortions see for LR scenes (rendered in pixel
    units): the HR range, so scan jitter and dose per pixel are distributed as for HR
    images. exact_jitter: evaluate the atom model at jittered probe positions (HR) instead
    of the paper's bicubic resampling. task: restore (x and y on one grid) or sr (x an LR
    scan at ``sr.scale`` times the pixel size, see emsim.sr_pairs).
    """

    modality: Literal["tem", "stem", "sem"] = "stem"
    resolution: Literal["hr", "lr", "mixed"] = "hr"
    p_lr: float = 0.5
    shape: tuple[int, int] = (256, 256)
    lr_pixel_size: Range = (0.025, 0.9)
    exact_jitter: bool = True
    task: Literal["restore", "sr"] = "restore"
    sr: SRConfig = SRConfig()
    specimen: SpecimenConfig = SpecimenConfig()
    atom_model: AtomModelConfig = AtomModelConfig()
    scene: SceneConfig = SceneConfig()
    tone_map: ToneMapConfig = ToneMapConfig()
    distort: DistortionConfig = DistortionConfig()

    def __post_init__(self):
        if self.modality not in MODALITIES:
            raise ConfigError(f"unknown modality {self.modality!r} (use {', '.join(MODALITIES)})")
        if self.resolution not in RESOLUTIONS:
            raise ConfigError(f"unknown resolution {self.resolution!r} (use {', '.join(RESOLUTIONS)})")
        check_probability("p_lr", self.p_lr)
        if min(self.shape) < MIN_SIZE or max(self.shape) > 8192:
            raise ConfigError(f"image size {list(self.shape)} must lie in [{MIN_SIZE}, 8192] pixels")
        check_range("lr_pixel_size", self.lr_pixel_size, 1e-4, 1e4)
        if self.task not in ("restore", "sr"):
            raise ConfigError(f"unknown task {self.task!r} (use restore or sr)")
        if self.task == "sr":
            sr_output_shapes(self)  # size divisible by the scale


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


def stage_rngs(seed: int, index: int) -> dict[str, np.random.Generator]:
    """Independent generators for the stages of sample ``index``."""
    children = np.random.SeedSequence(int(seed), spawn_key=(int(index),)).spawn(len(STAGES))
    return {name: np.random.Generator(np.random.PCG64(c)) for name, c in zip(STAGES, children)}


def make_pair(seed: int, index: int, config: PairConfig = PairConfig()) -> Pair:
    """Sample ``index`` of the dataset with ``seed`` and ``config`` (pure function)."""
    if config.task == "sr":
        return make_sr_pair(seed, index, config)
    rngs = stage_rngs(seed, index)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    resolution = config.resolution
    if resolution == "mixed":
        resolution = "lr" if coin(rngs["kind"], config.p_lr) else "hr"
    record: dict = {"seed": int(seed), "index": int(index), "modality": config.modality, "resolution": resolution}
    resample = None
    if resolution == "hr":
        d_ext = max_displacement(config.distort)
        specimen = generate_specimen(rngs["specimen"], config.specimen, config.shape, d_ext=d_ext)
        timings["specimen"] = time.perf_counter() - t
        t = time.perf_counter()
        pixel_size = specimen.pixel_size
        models, record["atom_models"] = sample_atom_models(rngs["contrast"], np.unique(specimen.numbers) if len(specimen.numbers) else [1], config.atom_model)
        renderer = Renderer(specimen.positions[:, :2], specimen.numbers, models, pixel_size, config.shape, max_offset=d_ext)
        raw = renderer.render()
        record["specimen"] = specimen.info
        timings["render"] = time.perf_counter() - t
    else:
        pixel_size = uniform(rngs["kind"], config.lr_pixel_size)
        raw, record["scene"] = generate_scene(rngs["specimen"], config.scene, config.shape)
        timings["scene"] = time.perf_counter() - t
    record["pixel_size"] = pixel_size
    t = time.perf_counter()
    clean, record["tone_map"] = tone_map(raw, rngs["tone"], config.tone_map)
    if resolution == "hr" and config.exact_jitter:

        def resample(dx, dy):
            """The tone-mapped clean image evaluated at displaced probe positions."""
            shape = config.shape
            img = renderer.render(offsets=(dx, dy))
            rows = np.arange(shape[0])[:, None] + np.broadcast_to(dy, shape) / pixel_size
            cols = np.arange(shape[1])[None, :] + np.broadcast_to(dx, shape) / pixel_size
            return apply_tone_map(img, record["tone_map"], coords=(rows, cols))

    timings["tone"] = time.perf_counter() - t
    t = time.perf_counter()
    x, y, record["distortions"] = distort(clean, config.modality, pixel_size, rngs["distort"], config.distort, resample=resample)
    timings["distort"] = time.perf_counter() - t
    return Pair(np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32), record, timings)


class PairSampler:
    """What ``emsim.generate`` needs to drive make_pair (importable as emsim.pipeline:SAMPLER)."""

    config_class = PairConfig

    def __call__(self, seed: int, index: int, config: PairConfig) -> Pair:
        return make_pair(seed, index, config)

    @staticmethod
    def config_from_dict(d: dict) -> PairConfig:
        return from_dict(PairConfig, d)

    @staticmethod
    def output_shapes(config: PairConfig) -> tuple[tuple[int, int], tuple[int, int]]:
        if config.task == "sr":
            return sr_output_shapes(config)
        return tuple(config.shape), tuple(config.shape)


SAMPLER = PairSampler()


def resolve_config(path=None, **overrides) -> PairConfig:
    """PairConfig from defaults, then a TOML/YAML/JSON file, then explicit overrides
    (None values are ignored). Unknown keys and bad values raise ConfigError."""
    from .config import load_file, merge

    config = PairConfig() if path is None else from_dict(PairConfig, load_file(path))
    changes = {k: v for k, v in overrides.items() if v is not None}
    return merge(PairConfig, config, changes) if changes else config
