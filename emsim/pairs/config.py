"""What defines a dataset of pairs: ``PairConfig`` (with ``SRConfig``) and how it is resolved
from defaults, a config file and overrides."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from ..config import Range, check_probability, check_range, load_file, merge
from ..distort import MODALITIES, DistortionConfig
from ..errors import ConfigError
from ..imaging.atom_models import AtomModelConfig
from ..imaging.tonemap import ToneMapConfig
from ..scenes import SceneConfig
from ..specimen import SpecimenConfig

RESOLUTIONS = ("hr", "lr", "mixed")
MIN_SIZE = 16

__all__ = ["MIN_SIZE", "MODALITIES", "RESOLUTIONS", "PairConfig", "SRConfig", "output_shapes", "resolve_config"]


@dataclasses.dataclass(frozen=True)
class SRConfig:
    """Super-resolution pairs (``emsim.pairs.sr``). scale: s; mode: scan | paired; target:
    clean | noisy (scan mode). Paired mode: hr_fraction of the LR field's area imaged at
    HR; misregistration ranges (uniform): shift (fraction of the HR field, within the LR
    field), rotation (degrees), scale (relative magnification error)."""

    scale: int = 4
    mode: Literal["scan", "paired"] = "scan"
    target: Literal["clean", "noisy"] = "clean"
    hr_fraction: float = 0.25
    shift: Range = (-0.25, 0.25)
    rotation: Range = (-3.0, 3.0)
    magnification: Range = (0.98, 1.02)

    def __post_init__(self):
        if not 2 <= self.scale <= 16:
            raise ConfigError(f"sr.scale must lie in [2, 16], got {self.scale}")
        if self.mode not in ("scan", "paired"):
            raise ConfigError(f"sr.mode must be scan or paired, got {self.mode!r}")
        if self.target not in ("clean", "noisy"):
            raise ConfigError(f"sr.target must be clean or noisy, got {self.target!r}")
        if not 0.01 <= self.hr_fraction <= 1.0:
            raise ConfigError(f"sr.hr_fraction must lie in [0.01, 1], got {self.hr_fraction}")
        check_range("sr.shift", self.shift, -1.0, 1.0)
        check_range("sr.rotation", self.rotation, -45.0, 45.0)
        check_range("sr.magnification", self.magnification, 0.5, 2.0)


@dataclasses.dataclass(frozen=True)
class PairConfig:
    """Everything that defines a dataset of pairs; defaults are the paper's.

    modality: tem | stem | sem. resolution: hr (atomic-resolution specimens), lr
    (low-resolution scenes) or mixed (lr with probability ``p_lr``). shape: (H, W) pixels.
    lr_pixel_size: pixel size (A) the distortions see for LR scenes (rendered in pixel
    units): the HR range, so scan jitter and dose per pixel are distributed as for HR
    images. exact_jitter: evaluate the atom model at jittered probe positions (HR) instead
    of the paper's bicubic resampling. task: restore (x and y on one grid) or sr (x an LR
    scan at ``sr.scale`` times the pixel size, see ``emsim.pairs.sr``).
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
            output_shapes(self)  # size divisible by the scale
            if self.sr.mode == "paired" and self.resolution != "hr":
                raise ConfigError(f"paired SR acquisitions need atomic-resolution specimens (resolution hr, not {self.resolution})")


def output_shapes(config: PairConfig) -> tuple[tuple[int, int], tuple[int, int]]:
    """(x shape, y shape) of a dataset's samples. Restoration: both ``config.shape``. SR: y
    is config.shape; x the LR scan (scan mode) or the LR image of the whole field (paired
    mode)."""
    H, W = config.shape
    if config.task != "sr":
        return (H, W), (H, W)
    s = config.sr.scale
    if H % s or W % s:
        raise ConfigError(f"image size {H}x{W} must be divisible by the SR scale {s}")
    if config.sr.mode == "scan":
        return (H // s, W // s), (H, W)
    k = 1.0 / math.sqrt(config.sr.hr_fraction)
    return (int(round(H * k / s)), int(round(W * k / s))), (H, W)


def resolve_config(path=None, **overrides) -> PairConfig:
    """PairConfig from defaults, then a TOML/YAML/JSON file, then explicit overrides
    (None values are ignored). A file, like an override, changes only the settings it
    names: every other field keeps its default, also inside a table the file touches
    (e.g. ``[distort.sem.jitter]`` leaves SEM's own black-pixel and detector defaults).
    Unknown keys and bad values raise ConfigError."""
    config = PairConfig() if path is None else merge(PairConfig, PairConfig(), load_file(path))
    changes = {k: v for k, v in overrides.items() if v is not None}
    return merge(PairConfig, config, changes) if changes else config
