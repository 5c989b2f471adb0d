"""Calibration of the distortion chain from real images: a config whose ranges are centred on
what the images show.

Method (simulation-based, because single-image estimators of dose and scan noise are biased
in ways that depend on the specimen): for each image,

1. a clean estimate c is made by smoothing the image (Gaussian, ``smooth`` px);
2. the scan/noise statistics of ``stats.image_stats`` that each respond mainly to one
   parameter are measured on the image: ``counts`` (dose), ``jitter_x`` and ``jitter_y``
   (X- and Y-jitter), ``fast_scan`` (fast-scan blur);
3. emsim's own distortions with candidate parameters theta (dose in e/px, jitter sigma_x,
   sigma_y in px, the fast-scan Lorentzian alpha) are applied to c (``reps`` realisations),
   the same statistics measured, and each parameter updated by the ratio of the image's
   statistic to the simulated one above the no-distortion baseline; a few iterations
   converge because each statistic is monotone in its parameter and every simulation uses
   the same noise seeds (common random numbers). Measuring on
   c-plus-simulated-distortions cancels the estimators' specimen-dependent biases. An
   effect is on only where the image's statistic exceeds the simulation without it by more
   than three realisation standard deviations and ``tolerance`` (relative).

Detected directly: saturation (a fraction > 1e-3 of pixels at the maximum), zingers and black
pixels (isolated pixels more than 8 noise standard deviations above / below the 3 x 3
median), row lines (runs of >= 8 identical values along a row). The estimates of several
images are combined by their median; the config's ranges are the estimates times
(1 -+ ``width``). The jitter's correlation phi and the readout oscillator are not
estimated (the defaults stay). TEM: dose only.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from ..config import merge, to_dict
from ..distort import DistortionConfig, all_off, distort
from ..errors import EmsimError
from .stats import image_stats, noise_fit, tied_fraction

STATS = {"e_per_px": "counts", "jitter_x": "jitter_x", "jitter_y": "jitter_y", "fast_alpha": "fast_scan"}
MAX_ALPHA = 8.0
MAX_JITTER = 3.0  # px


def _sim_config(theta: dict, modality: str, pixel_size: float) -> DistortionConfig:
    """The distortions of theta alone (jitter and fast scan pinned; detector noise as the
    modality's default, dose pinned)."""
    off = all_off()
    dose = {"e_per_px": max(theta["e_per_px"], 1e-3)}
    if modality == "tem":
        return merge(DistortionConfig, off, {"dose": dose, "tem": {"shot_noise": {"p": 1.0}}})
    sx, sy = theta["jitter_x"] * pixel_size, theta["jitter_y"] * pixel_size
    jit = {"p": 0.0} if sx == sy == 0 else {"p": 1.0, "p_x": float(sy == 0), "p_y": float(sx == 0), "sigma": max(sx, 1e-6), "sigma_y": max(sy, 1e-6), "phi": 0.35}
    fast = {"p": 1.0 if theta["fast_alpha"] > 0 else 0.0, "p_readout": 0.0, "alpha": max(theta["fast_alpha"], 1e-3)}
    default = getattr(DistortionConfig(), modality).detector
    return merge(DistortionConfig, off, {"dose": dose, modality: {"jitter": jit, "fast_scan": fast, "detector": to_dict(dataclasses.replace(default, p=1.0))}})


def _measure(img) -> dict:
    st = image_stats(img)
    return {k: st[v] for k, v in STATS.items()}


def _simulated(clean, theta, modality, pixel_size, reps, seed) -> tuple[dict, dict]:
    """Median and spread (standard deviation over realisations) of the statistics of
    ``reps`` realisations of theta's distortions on ``clean``."""
    cfg = _sim_config(theta, modality, pixel_size)
    rows = [_measure(distort(clean, modality, pixel_size, seed + r, cfg)[0]) for r in range(reps)]
    return {k: float(np.median([r[k] for r in rows])) for k in STATS}, {k: float(np.std([r[k] for r in rows])) for k in STATS}


def estimate(image: np.ndarray, modality: str, pixel_size: float = 0.1, *, smooth: float = 1.0, iters: int = 8, reps: int = 4, tolerance: float = 0.15, seed: int = 0) -> dict:
    """Distortion parameters of one image: ``e_per_px`` (mean detected electrons per pixel),
    ``jitter_x``, ``jitter_y`` (stationary standard deviation of the probe displacement, px),
    ``fast_alpha`` (0: no fast-scan blur), plus direct detections (see module docstring).

    Parameters
    ----------
    image : 2D array (any units; a positive offset is fine)
    modality : tem | stem | sem
    pixel_size : A (only converts jitter to the config's units; the estimate is in px)
    smooth : Gaussian width (px) of the clean estimate
    iters, reps : update iterations and simulated realisations per iteration
    tolerance : relative excess over the simulated baseline that switches an effect on

    Returns
    -------
    dict of the estimates and the measured statistics.
    """
    x = np.asarray(image, dtype=np.float64)
    if x.ndim != 2 or min(x.shape) < 32:
        raise EmsimError(f"calibration needs 2D images of at least 32x32 pixels, got shape {x.shape}")
    scale = float(np.abs(x).max()) or 1.0
    x = x / scale
    clean = ndimage.gaussian_filter(x, smooth, mode="reflect")
    clean = np.maximum(clean, 1e-6).astype(np.float32)
    real = _measure(x)
    zero = {"e_per_px": max(real["e_per_px"], 1e-3), "jitter_x": 0.0, "jitter_y": 0.0, "fast_alpha": 0.0}
    scan = ("jitter_x", "jitter_y", "fast_alpha") if modality != "tem" else ()

    def exceeds(k, sim, spread):  # above what the simulation without it gives, beyond its noise
        return real[k] > sim[k] + max(3 * spread[k], tolerance * max(abs(sim[k]), 0.05))

    # common random numbers: every simulation uses the same seeds, so the simulated
    # statistics are a smooth function of theta and the updates converge
    base, spread = _simulated(clean, zero, modality, pixel_size, reps, seed)
    theta = {**zero, **{k: (2.0 if k == "fast_alpha" else 0.3) for k in scan if exceeds(k, base, spread)}}
    for _ in range(3):  # fit, then drop the weakest effect the others already explain, refit
        for _ in range(iters):
            sim, _ = _simulated(clean, theta, modality, pixel_size, reps, seed)
            base, _ = _simulated(clean, {**zero, "e_per_px": theta["e_per_px"]}, modality, pixel_size, reps, seed)
            theta["e_per_px"] *= real["e_per_px"] / max(sim["e_per_px"], 1e-9)
            for k in scan:
                if theta[k] > 0:
                    gain = float(np.clip((real[k] - base[k]) / max(sim[k] - base[k], 1e-9), 0.5, 2.0))  # damped: the statistics saturate
                    theta[k] = float(np.clip(theta[k] * gain**0.8, 1e-3, MAX_ALPHA if k == "fast_alpha" else MAX_JITTER))
        dropped = [k for k in scan if theta[k] > 0 and not exceeds(k, *_simulated(clean, {**theta, k: 0.0}, modality, pixel_size, reps, seed))]
        if not dropped:
            break
        theta[min(dropped, key=lambda k: theta[k] / (MAX_ALPHA if k == "fast_alpha" else MAX_JITTER))] = 0.0
    return {**theta, **_direct(x), "measured": real, "baseline": base}


def _direct(x: np.ndarray) -> dict:
    """Saturation, zingers, black pixels and row lines found directly in an image."""
    fit = noise_fit(x)
    med = ndimage.median_filter(x, 3, mode="reflect")
    sigma = np.sqrt(np.maximum(fit["gain"] * med + fit["offset"], 1e-30))  # the local noise level
    resid = x - med
    n = x.size
    hot = ndimage.label(resid > 8 * sigma)[1]
    cold = ndimage.label((resid < -8 * sigma) & (x < np.percentile(x, 5)))[1]
    runs = 0
    for row in x:
        same = np.flatnonzero(np.diff(row) == 0)
        if same.size >= 7:
            breaks = np.flatnonzero(np.diff(same) != 1)
            lengths = np.diff(np.concatenate([[-1], breaks, [same.size - 1]]))
            runs += int((lengths >= 7).sum())
    return {"saturated": tied_fraction(x, x.max()), "zinger_density": hot / n, "black_density": cold / n, "row_line_rate": runs / x.shape[0]}


def calibrate(images, modality: str, pixel_size: float | None = None, width: float = 0.25, **kwargs) -> tuple[dict, dict]:
    """A config (nested dict of overrides of ``PairConfig``) centred on the images'
    estimated distortions, and a report (per-image estimates and their median).

    Parameters
    ----------
    images : list of 2D arrays
    modality : tem | stem | sem
    pixel_size : A (sets ``specimen.pixel_size`` around it and converts jitter; None: 0.1 A
        for the jitter conversion and the specimen's pixel-size range is left as it is)
    width : relative half-width of the ranges around the estimates
    kwargs : passed to ``estimate``
    """
    if modality not in ("tem", "stem", "sem"):
        raise EmsimError(f"unknown modality {modality!r} (use tem, stem or sem)")
    if not 0 < width < 1:
        raise EmsimError(f"width must lie in (0, 1), got {width}")
    dr = 0.1 if pixel_size is None else float(pixel_size)
    per = [estimate(img, modality, dr, **kwargs) for img in images]
    if not per:
        raise EmsimError("no images to calibrate from")
    keys = [k for k in per[0] if k not in ("measured", "baseline")]
    est = {k: float(np.median([p[k] for p in per])) for k in keys}

    def around(v, lo=0.0):
        return [max(lo, v * (1 - width)), v * (1 + width)]

    config: dict = {"modality": modality, "distort": {"dose": {"e_per_px": around(est["e_per_px"], 1e-3), "scale": 10.0}}}
    if pixel_size is not None:
        config["specimen"] = {"pixel_size": around(dr, 1e-3)}
    if modality != "tem":
        sx, sy = est["jitter_x"] * dr, est["jitter_y"] * dr
        jit = {"p": 1.0 if (sx > 0 or sy > 0) else 0.0}
        if sx > 0 or sy > 0:
            jit.update(p_x=float(sy == 0), p_y=float(sx == 0), sigma=around(sx if sx > 0 else sy))
            if sx > 0 and sy > 0:
                jit["sigma_y"] = around(sy)
        fast = {"p": 1.0 if est["fast_alpha"] > 0 else 0.0, "p_readout": 0.0}
        if est["fast_alpha"] > 0:
            fast["alpha"] = around(est["fast_alpha"], 1e-3)
        scan: dict = {"jitter": jit, "fast_scan": fast}
        scan["black_pixels"] = {"p": 1.0, "density": around(est["black_density"])} if est["black_density"] > 0 else {"p": 0.0}
        scan["row_lines"] = {"p": 1.0, "rate": around(est["row_line_rate"])} if est["row_line_rate"] > 0 else {"p": 0.0}
    else:
        scan = {"black_pixels": {"p": 1.0, "density": around(est["black_density"])} if est["black_density"] > 0 else {"p": 0.0}}
    scan["zingers"] = {"p": 1.0, "density": around(est["zinger_density"])} if est["zinger_density"] > 0 else {"p": 0.0}
    scan["clip"] = {"p": 1.0, "level": [0.85, 1.0]} if est["saturated"] > 1e-3 else {"p": 0.0}
    config["distort"][modality] = scan
    return config, {"estimate": est, "images": per, "width": width, "pixel_size": pixel_size}


def to_toml(config: dict) -> str:
    """A nested dict of settings as TOML (tables for sub-dicts; numbers, strings, lists)."""

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(a) for a in v) + "]"
        return repr(float(v)) if isinstance(v, float) else str(v)

    lines: list[str] = []

    def table(prefix, d):
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
        if scalars:
            if prefix:
                lines.append(f"\n[{prefix}]")
            lines.extend(f"{k} = {value(v)}" for k, v in scalars.items())
        for k, v in d.items():
            if isinstance(v, dict):
                table(f"{prefix}.{k}" if prefix else k, v)

    table("", config)
    return "\n".join(lines).lstrip() + "\n"
