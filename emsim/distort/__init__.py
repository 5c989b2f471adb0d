"""Stage 3: physically modelled distortions of clean EM images (Lobato et al. 2023, eq. 27-55).

    x, y, record = distort(clean, modality, pixel_size, rng, config, resample=None)
    x, y, record = replay(clean, record, resample=None)

``clean`` is a tone-mapped image (intensity, full scale 1). x (distorted input) and y
(target) are float32 arrays of the same shape, both in these intensity units: counting
noise is divided by the dose scale alpha and quantisation is round(g x) / g, so x and y
compare directly. y is the clean image after the effects the paper embeds in the target
(the TEM camera MTF, interpolation, annotations, cropping).

Effects (``effect.Effect``): each samples its parameters, then applies them; each draws
from its own stream derived from the sample's distortion seed and its name, so p = 0 on
one effect changes no other effect's draws, and ``replay`` puts a record's distortions
onto any clean image (bit for bit onto its own). Chains (``CHAINS``), in order; each
effect has an occurrence probability ``p`` in its sub-config (p = 0 switches it off, a
scalar pins a range):

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

The dose (``dose``) is drawn for every image: alpha = electrons per pixel / E{y}; a replay
uses the recorded alpha (the same electrons per unit intensity). ``record`` holds the
modality, pixel size, the distortion seed, the dose and one entry per effect (None when it
did not occur); it is JSON-serialisable.

``resample(dx, dy)``: optional callable returning the clean image evaluated at probe
positions displaced by (dx, dy) A (pixel (i, j) at (j dr + dx[i, j], i dr + dy[i, j])), used
for scan jitter; without it jitter falls back to the paper's cubic interpolation.
``max_displacement(config)`` bounds |dx|, |dy| (the specimen's extended box d_ext).

May import: ``emsim.config``, ``emsim.errors``, ``emsim.imaging`` (the Keys kernel).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..config import jsonable
from ..errors import EmsimError
from .counting import SHOT_NOISE, ShotNoiseConfig
from .detector import DETECTOR, SEM_DETECTOR, DetectorConfig
from .digitise import CLIP, QUANTISE, ClipConfig, QuantiseConfig
from .dose import DoseConfig, sample_dose
from .effect import Context, Effect, new_seed, stream
from .fastscan import FAST_SCAN, FastScanConfig
from .jitter import JITTER, JitterConfig
from .masks import BLACK_PIXELS, ZINGERS, BlackPixelConfig, ZingerConfig
from .mtf import MTF, MtfConfig
from .postprocess import ANNOTATIONS, BLUR, CROP, INTERPOLATION, AnnotationConfig, BlurConfig, CropConfig, InterpolationConfig, PostConfig
from .rowlines import ROW_LINES, RowLineConfig
from .sensor import DARK_CURRENT, FIXED_PATTERN, FLICKER, RESET, THERMAL, DarkCurrentConfig, FixedPatternConfig, FlickerConfig, ResetConfig, ThermalConfig

MODALITIES = ("tem", "stem", "sem")

__all__ = [
    "MODALITIES", "DistortionConfig", "TemConfig", "ScanConfig", "PostConfig", "DoseConfig",
    "MtfConfig", "ShotNoiseConfig", "FixedPatternConfig", "DarkCurrentConfig", "ThermalConfig", "FlickerConfig",
    "ResetConfig", "BlackPixelConfig", "ZingerConfig", "ClipConfig", "QuantiseConfig",
    "JitterConfig", "DetectorConfig", "FastScanConfig", "RowLineConfig", "InterpolationConfig",
    "BlurConfig", "AnnotationConfig", "CropConfig", "CHAINS", "COUNTING", "POST", "Context", "Effect",
    "distort", "sample", "replay", "max_displacement", "all_off",
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


SCAN_CHAIN = (JITTER, DETECTOR, FAST_SCAN, ROW_LINES, BLACK_PIXELS, ZINGERS, CLIP, QUANTISE)
CHAINS: dict[str, tuple[Effect, ...]] = {
    "tem": (MTF, SHOT_NOISE, FIXED_PATTERN, DARK_CURRENT, THERMAL, FLICKER, RESET, BLACK_PIXELS, ZINGERS, CLIP, QUANTISE),
    "stem": SCAN_CHAIN,
    "sem": SCAN_CHAIN,
}
POST = (INTERPOLATION, BLUR, ANNOTATIONS, CROP)
COUNTING = {"tem": SHOT_NOISE.name, "stem": DETECTOR.name, "sem": DETECTOR.name}  # where electrons are counted


def _effects(config: DistortionConfig, modality: str):
    """(effect, its config) in chain order: the modality's chain, then post-processing."""
    chain = getattr(config, modality)
    return [(e, getattr(chain, e.name)) for e in CHAINS[modality]] + [(e, getattr(config.post, e.name)) for e in POST]


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


def sample(seed: int, clean: np.ndarray, modality: str, pixel_size: float, config: DistortionConfig) -> dict:
    """Draw the distortions of one image (each effect from its own stream of ``seed``): the
    record ``replay`` applies. Uses only the image's shape and mean (for the dose)."""
    ctx = Context(clean.shape, pixel_size=pixel_size, bound=max_displacement(config, modality))
    alpha, dose_rec = sample_dose(stream(seed, "dose"), float(clean.mean(dtype=np.float64)), pixel_size, config.dose)
    record: dict = {"modality": modality, "pixel_size": pixel_size, "seed": int(seed), "dose": dose_rec}
    for effect, cfg in _effects(config, modality):  # an effect switched off needs no stream
        record[effect.name] = effect.sample(stream(seed, effect.name), cfg, ctx) if cfg.p > 0 else None
    return record


def replay(clean, record: dict, resample=None, before: dict | None = None):
    """Apply the distortions of ``record`` to a clean image: (x, y, record with the values
    the effects derived from this image). Onto the image the record was drawn for, x and y
    are bit for bit those of ``distort``; onto another, the noise fields, scan path and
    artefacts are the same. A record with exact jitter needs ``resample`` for that field.
    ``before``: a dict whose keys name effects; each gets the image x just before that
    effect's place in the chain (whether it occurred or not)."""
    modality = record.get("modality") if isinstance(record, dict) else None
    if modality not in MODALITIES or "dose" not in record:
        raise EmsimError("not a distortion record (a pair's record['distortions'])")
    clean = _check(clean, modality, record["pixel_size"], None, resample)
    jit = record.get("jitter")
    if jit and jit.get("method") == "exact" and resample is None:
        raise EmsimError("this record's scan jitter was evaluated exactly: pass resample= (the field at displaced probes; emsim.pairs.clean_image gives it)")
    return _apply(clean, record, resample, before)


def _apply(clean: np.ndarray, record: dict, resample, before: dict | None = None):
    ctx = Context(clean.shape, pixel_size=float(record["pixel_size"]), alpha=float(record["dose"]["alpha"]), resample=resample)
    out = dict(record)
    x = y = clean  # a private float32 copy (_check)
    for effect in CHAINS[record["modality"]] + POST:
        if before is not None and effect.name in before:
            before[effect.name] = np.array(x, dtype=np.float32)
        params = record.get(effect.name)
        if params is not None:
            ctx.notes = {}
            x, y = effect.apply(x, y, params, ctx)
            out[effect.name] = {**params, **ctx.notes}
    y = np.asarray(y, dtype=np.float32)
    x = np.array(x, dtype=np.float32, copy=True) if x is y else np.asarray(x, dtype=np.float32)
    return x, y, jsonable(out)


def distort(clean, modality: str, pixel_size: float, rng, config: DistortionConfig | None = None, resample=None, before: dict | None = None):
    """Distort a clean image; returns (x, y, record). ``rng``: a Generator (one seed is drawn
    from it) or the distortion seed itself; ``before``: as for ``replay``. See the module
    docstring."""
    clean = _check(clean, modality, pixel_size, config, resample)
    config = DistortionConfig() if config is None else config
    seed = int(rng) if isinstance(rng, (int, np.integer)) else new_seed(rng)
    return _apply(clean, sample(seed, clean, modality, float(pixel_size), config), resample, before)
