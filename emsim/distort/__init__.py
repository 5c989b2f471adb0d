"""Physically modelled distortions of clean EM images (Lobato et al. 2023, eq. 27-55).

    x, y, record = distort(clean, modality, pixel_size, rng, config, resample=None)

``clean`` is a tone-mapped image (intensity, full scale 1). x (distorted input) and y
(target) are float32 arrays of the same shape, both in these intensity units: counting
noise is divided by the dose scale alpha and quantisation is round(g x) / g, so x and y
compare directly. y is the clean image after the effects the paper embeds in the target
(the TEM camera MTF, interpolation, annotations, cropping).

Chains, in order (each effect has an occurrence probability ``p`` in its sub-config; p = 0
switches it off, a scalar pins a range):

- tem:  mtf (x and y) -> shot noise -> fixed pattern -> dark current -> thermal ->
        flicker -> reset -> black pixels -> zingers -> clip -> quantise
- stem: jitter -> detector (Poisson + PMT) -> fast scan -> row lines -> black pixels ->
        zingers -> clip -> quantise
- sem:  as stem, with SEM defaults: black pixels off (the paper: dark spots in SEM images
        are pores, not detector faults) and fewer scintillator photons per secondary
        electron (a wider PMT pulse-height spread)
- all:  interpolation (x and y) -> blur (x) -> annotations (x and y) -> crop (x and y)

Occurrence probabilities the paper does not give (it gives jitter 0.9 and says the rest
were "randomly added"): effects every detector has always occur (TEM MTF and shot noise,
S(T)EM detector noise, p = 1); common acquisition artefacts occur often (fast-scan blur
0.5, quantisation 0.5 -- invisible at fine steps anyway, TEM fixed pattern, dark current
and thermal noise 0.5, flicker and reset 0.3); faults are rarer (row lines 0.2, TEM black
pixels and zingers 0.2, S(T)EM 0.1, saturation 0.1); post-processing is applied to a
minority of images (0.1 each, blur 0.2).

The dose (``dose``) is drawn for every image: alpha = electrons per pixel / E{y}.
``record`` holds the modality, pixel size, dose and one entry per effect (None when it did
not occur); it is JSON-serialisable.

``resample(dx, dy)``: optional callable returning the clean image evaluated at probe
positions displaced by (dx, dy) A (pixel (i, j) at (j dr + dx[i, j], i dr + dy[i, j])), used
for scan jitter; without it jitter falls back to the paper's cubic interpolation.
``max_displacement(config)`` bounds |dx|, |dy| (the specimen's extended box d_ext).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..config import coin, jsonable
from ..errors import EmsimError
from . import counting, detector, digitise, dose, fastscan, jitter, masks, mtf, postprocess, rowlines, sensor
from .counting import ShotNoiseConfig
from .detector import SEM_DETECTOR, DetectorConfig
from .digitise import ClipConfig, QuantiseConfig
from .dose import DoseConfig
from .fastscan import FastScanConfig
from .jitter import JitterConfig
from .masks import BlackPixelConfig, ZingerConfig
from .mtf import MtfConfig
from .postprocess import AnnotationConfig, BlurConfig, CropConfig, InterpolationConfig, PostConfig
from .rowlines import RowLineConfig
from .sensor import DarkCurrentConfig, FixedPatternConfig, FlickerConfig, ResetConfig, ThermalConfig

MODALITIES = ("tem", "stem", "sem")

__all__ = [
    "MODALITIES", "DistortionConfig", "TemConfig", "ScanConfig", "PostConfig", "DoseConfig",
    "MtfConfig", "ShotNoiseConfig", "FixedPatternConfig", "DarkCurrentConfig", "ThermalConfig", "FlickerConfig",
    "ResetConfig", "BlackPixelConfig", "ZingerConfig", "ClipConfig", "QuantiseConfig",
    "JitterConfig", "DetectorConfig", "FastScanConfig", "RowLineConfig", "InterpolationConfig",
    "BlurConfig", "AnnotationConfig", "CropConfig", "distort", "max_displacement", "all_off",
]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class TemConfig:
    """TEM chain (eq. 27-40); see the effect modules for units and the reasoning behind
    ranges the paper does not give."""

    mtf: MtfConfig = MtfConfig()
    shot_noise: ShotNoiseConfig = ShotNoiseConfig()
    fixed_pattern: FixedPatternConfig = FixedPatternConfig()
    dark_current: DarkCurrentConfig = DarkCurrentConfig()
    thermal: ThermalConfig = ThermalConfig()
    flicker: FlickerConfig = FlickerConfig()
    reset: ResetConfig = ResetConfig()
    black_pixels: BlackPixelConfig = BlackPixelConfig()
    zingers: ZingerConfig = ZingerConfig()
    clip: ClipConfig = ClipConfig()
    quantise: QuantiseConfig = QuantiseConfig()


@dataclasses.dataclass(frozen=True)
class ScanConfig:
    """Scanned chain (STEM eq. 41-55; SEM uses it with its own defaults, ``SEM_DEFAULT``).

    Defaults where the paper is silent: black pixels (lost samples in transmission, a
    detector that briefly does not respond) are sparse and short (0.7-7 per 256^2 image,
    walks of 0-2 steps); zingers (X-rays and cosmic rays in the small scintillator) are
    0.3-3 per 256^2 image, walks of 0-3 steps."""

    jitter: JitterConfig = JitterConfig()
    detector: DetectorConfig = DetectorConfig()
    fast_scan: FastScanConfig = FastScanConfig()
    row_lines: RowLineConfig = RowLineConfig()
    black_pixels: BlackPixelConfig = BlackPixelConfig(p=0.1, density=(1e-5, 1e-4), steps=(0, 2))
    zingers: ZingerConfig = ZingerConfig(p=0.1, density=(5e-6, 5e-5), steps=(0, 3))
    clip: ClipConfig = ClipConfig()
    quantise: QuantiseConfig = QuantiseConfig()


SEM_DEFAULT = ScanConfig(detector=SEM_DETECTOR, black_pixels=BlackPixelConfig(p=0.0))


@dataclasses.dataclass(frozen=True)
class DistortionConfig:
    """Everything the distortion stage draws from; defaults are the paper's.

    dose: shared dose law. tem / stem / sem: per-modality chains (sem defaults: no black
    pixels, SEM detector). post: post-processing, shared by all modalities."""

    dose: DoseConfig = DoseConfig()
    tem: TemConfig = TemConfig()
    stem: ScanConfig = ScanConfig()
    sem: ScanConfig = SEM_DEFAULT
    post: PostConfig = PostConfig()


def max_displacement(config: DistortionConfig | None = None, modality: str | None = None) -> float:
    """Largest probe displacement (A) scan jitter can produce: the extended-box margin
    d_ext the specimen needs. Over both scanned modalities unless one is named (tem: 0)."""
    config = DistortionConfig() if config is None else config
    if modality is not None and modality not in MODALITIES:
        raise EmsimError(f"unknown modality {modality!r} (use {', '.join(MODALITIES)})")
    names = ("stem", "sem") if modality is None else ((modality,) if modality != "tem" else ())
    return max([getattr(config, m).jitter.bound for m in names], default=0.0)


def all_off() -> DistortionConfig:
    """A config with every effect switched off (x == y); a base for narrow datasets."""
    post = PostConfig(*(dataclasses.replace(getattr(PostConfig(), f.name), p=0.0) for f in dataclasses.fields(PostConfig)))
    scan = ScanConfig(*(dataclasses.replace(getattr(ScanConfig(), f.name), p=0.0) for f in dataclasses.fields(ScanConfig)))
    tem = TemConfig(*(dataclasses.replace(getattr(TemConfig(), f.name), p=0.0) for f in dataclasses.fields(TemConfig)))
    return DistortionConfig(tem=tem, stem=scan, sem=scan, post=post)


def _tem(y, rng, cfg: TemConfig, alpha: float, rec: dict):
    y, rec["mtf"] = mtf.mtf(y, rng, cfg.mtf)
    x = y
    rec["shot_noise"] = None
    if coin(rng, cfg.shot_noise.p):
        x = counting.count(rng, x, alpha)
        rec["shot_noise"] = {"alpha": alpha}
    x, rec["fixed_pattern"] = sensor.fixed_pattern(x, rng, cfg.fixed_pattern)
    x, rec["dark_current"] = sensor.dark_current(x, rng, cfg.dark_current, alpha)
    x, rec["thermal"] = sensor.thermal(x, rng, cfg.thermal, alpha)
    x, rec["flicker"] = sensor.flicker(x, rng, cfg.flicker, alpha)
    x, rec["reset"] = sensor.reset(x, rng, cfg.reset, alpha)
    x, rec["black_pixels"] = masks.black_pixels(x, rng, cfg.black_pixels)
    x, rec["zingers"] = masks.zingers(x, rng, cfg.zingers)
    x, rec["clip"] = digitise.clip(x, rng, cfg.clip)
    x, rec["quantise"] = digitise.quantise(x, rng, cfg.quantise)
    return x, y


def _scan(y, rng, cfg: ScanConfig, alpha: float, rec: dict, pixel_size: float, bound: float, resample):
    x, rec["jitter"] = jitter.jitter(y, rng, cfg.jitter, pixel_size, bound, resample)
    x, rec["detector"] = detector.detector(x, rng, cfg.detector, alpha)
    x, rec["fast_scan"] = fastscan.fast_scan(x, rng, cfg.fast_scan)
    x, rec["row_lines"] = rowlines.row_lines(x, rng, cfg.row_lines)
    x, rec["black_pixels"] = masks.black_pixels(x, rng, cfg.black_pixels)
    x, rec["zingers"] = masks.zingers(x, rng, cfg.zingers)
    x, rec["clip"] = digitise.clip(x, rng, cfg.clip)
    x, rec["quantise"] = digitise.quantise(x, rng, cfg.quantise)
    return x, y


def _check(clean, modality, pixel_size, config, resample) -> np.ndarray:
    if modality not in MODALITIES:
        raise EmsimError(f"unknown modality {modality!r} (use {', '.join(MODALITIES)})")
    clean = np.asarray(clean)
    if clean.ndim != 2 or min(clean.shape) < 2:
        raise EmsimError(f"clean image must be 2D and at least 2x2 pixels, got shape {clean.shape}")
    if not np.issubdtype(clean.dtype, np.number) or np.issubdtype(clean.dtype, np.complexfloating):
        raise EmsimError(f"clean image must be real-valued, got dtype {clean.dtype}")
    clean = clean.astype(np.float32)
    if not np.all(np.isfinite(clean)):
        raise EmsimError("clean image contains non-finite values")
    try:
        ok = float(pixel_size) > 0 and np.isfinite(float(pixel_size))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise EmsimError(f"pixel size must be a positive number of A, got {pixel_size!r}")
    if config is not None and not isinstance(config, DistortionConfig):
        raise EmsimError(f"config must be a DistortionConfig, got {type(config).__name__}")
    if resample is not None and not callable(resample):
        raise EmsimError("resample must be a callable resample(dx, dy) -> image")
    return clean


def distort(clean, modality: str, pixel_size: float, rng: np.random.Generator, config: DistortionConfig | None = None, resample=None):
    """Distort a clean image; returns (x, y, record). See the module docstring."""
    clean = _check(clean, modality, pixel_size, config, resample)
    config = DistortionConfig() if config is None else config
    pixel_size = float(pixel_size)
    alpha, dose_rec = dose.sample_dose(rng, float(clean.mean(dtype=np.float64)), pixel_size, config.dose)
    rec: dict = {"modality": modality, "pixel_size": pixel_size, "dose": dose_rec}
    if modality == "tem":
        x, y = _tem(clean, rng, config.tem, alpha, rec)
    else:
        cfg = getattr(config, modality)
        x, y = _scan(clean, rng, cfg, alpha, rec, pixel_size, max_displacement(config), resample)
    post = config.post
    x, y, rec["interpolation"] = postprocess.interpolation(x, y, rng, post.interpolation)
    x, rec["blur"] = postprocess.blur(x, rng, post.blur)
    x, y, rec["annotations"] = postprocess.annotations(x, y, rng, post.annotations)
    x, y, rec["crop"] = postprocess.crop(x, y, rng, post.crop)
    y = np.asarray(y, dtype=np.float32)
    x = np.array(x, dtype=np.float32, copy=True) if x is y else np.asarray(x, dtype=np.float32)
    return x, y, jsonable(rec)
