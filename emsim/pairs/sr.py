"""Physically paired LR/HR super-resolution samples (what real acquisitions cannot give).

Two modes (``SRConfig.mode``):

- ``scan``: one specimen; the HR target is the clean image at pixel size dr on an H x W
  grid; the LR input is a scan of the same field at s * dr, i.e. point sampling of the
  analytic image at the coarser probe grid: LR pixel (i, j) is the probe position of HR
  pixel (s i, s j) (so without distortions LR == HR[::s, ::s] exactly). The LR scan gets its
  own distortion realisation (jitter evaluated exactly at its displaced probes, dose,
  detector noise, ...). The target is clean, or (``target = "noisy"``) an independent HR
  acquisition of the same field with its own distortions, as the seed papers had.
- ``paired`` (after the paired-acquisition SEM paper): an LR image of a whole field and an
  HR image of a sub-region covering ``hr_fraction`` (0.25) of its area, each with its own
  distortions, and the HR acquisition misregistered by a small random shift, rotation and
  scale whose true values are recorded (``record["sr"]["transform"]``).

Both images share one tone mapping (drawn on the reference image, replayed on the other at
its own sample coordinates), so their intensities correspond. Post-processing that changes
geometry or content (interpolation, annotations, cropping) would break the pairing and is
switched off for SR; the x-only blur stays.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from ..config import uniform
from ..distort import COUNTING, distort, max_displacement
from ..errors import EmsimError
from ..imaging.render import Renderer
from ..imaging.tonemap import apply_tone_map, tone_map
from ..scenes import generate_scene
from .clean import Pair, draw_resolution, hr_specimen, stage_rngs, tone_resample, with_redraws
from .config import SRConfig, output_shapes
from .truth import ground_truth


def _sr_distortion(config):
    """The config's distortions without the geometry-changing post-processing."""
    post = config.distort.post
    post = dataclasses.replace(
        post,
        interpolation=dataclasses.replace(post.interpolation, p=0.0),
        annotations=dataclasses.replace(post.annotations, p=0.0),
        crop=dataclasses.replace(post.crop, p=0.0),
    )
    return dataclasses.replace(config.distort, post=post)


def make_sr_pair(seed: int, index: int, config, truth=()) -> Pair:
    """SR sample ``index`` (pure function of seed, index, config); x is the LR input.
    Degenerate draws are redrawn as for restoration pairs (``clean.with_redraws``).
    ``truth``: as for ``make_pair`` (columns and masks on the HR grid; scan mode only)."""
    if config.sr.mode == "paired" and set(truth) & {"columns", "masks"}:
        raise EmsimError("columns and masks truth are not available for paired SR acquisitions (the HR field is rotated)")
    rngs = stage_rngs(seed, index)
    extra_rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=(int(index), 99))))
    return with_redraws(lambda: _attempt(seed, index, config, rngs, extra_rng, truth), config.tone_map.std_mean_ratio, f"SR sample {index} of seed {seed}")


def _attempt(seed: int, index: int, config, rngs, extra_rng, truth=()) -> tuple[Pair, np.ndarray]:
    """One draw of an SR sample: (pair, the image the tone map was drawn on)."""
    sr = config.sr
    s = sr.scale
    resolution = draw_resolution(rngs["kind"], config)
    shape_x, shape_y = output_shapes(config)
    H, W = shape_y
    dist = _sr_distortion(config)
    d_ext = max_displacement(dist, config.modality)
    record = {"seed": int(seed), "index": int(index), "modality": config.modality, "resolution": resolution, "task": "sr"}
    timings: dict[str, float] = {}
    t = time.perf_counter()

    specimen = models = None
    if resolution == "lr":  # scenes in pixel units; the LR scan point-samples the HR scene
        dr = uniform(rngs["kind"], config.lr_pixel_size)
        raw, record["scene"] = generate_scene(rngs["specimen"], config.scene, (H, W))
        y_clean, record["tone_map"] = tone_map(raw, rngs["tone"], config.tone_map)
        x_clean = y_clean[::s, ::s].copy()
        resample_lr = resample_hr = None
        timings["scene"] = time.perf_counter() - t
    else:
        field = (H, W) if sr.mode == "scan" else (shape_x[0] * s, shape_x[1] * s)
        specimen, models, parts = hr_specimen(rngs, config, field, d_ext)
        dr = specimen.pixel_size
        record.update(parts)
        timings["specimen"] = time.perf_counter() - t
        t = time.perf_counter()
        xy, Z = specimen.positions[:, :2], specimen.numbers
        lr = Renderer(xy, Z, models, s * dr, shape_x, max_offset=d_ext)
        if sr.mode == "scan":
            hr = Renderer(xy, Z, models, dr, (H, W), max_offset=d_ext)
            y_clean, record["tone_map"] = tone_map(hr.render(), rngs["tone"], config.tone_map)
            x_clean = y_clean[::s, ::s].copy()  # probes of the LR scan are HR pixels (s i, s j)
            resample_lr = tone_resample(lr, record["tone_map"], s * dr, shape_x, coord_scale=s) if config.exact_jitter else None
            resample_hr = tone_resample(hr, record["tone_map"], dr, (H, W)) if config.exact_jitter else None
        else:
            x_clean, record["tone_map"] = tone_map(lr.render(), rngs["tone"], config.tone_map)
            base, hr_xy, transform = _misregistered_grid(extra_rng, sr, xy, shape_x, s * dr, (H, W), dr)
            record["sr_transform"] = transform
            keep = _near(hr_xy, (H, W), dr, margin=30.0 + d_ext)
            hr = Renderer(hr_xy[keep], Z[keep], models, dr, (H, W), max_offset=d_ext + float(np.abs(base).max()))
            raw_hr = hr.render(offsets=base)
            coords = ((np.arange(H)[:, None] + base[1] / dr) / s + transform["origin_lr_px"][0], (np.arange(W)[None, :] + base[0] / dr) / s + transform["origin_lr_px"][1])
            y_clean = apply_tone_map(raw_hr, record["tone_map"], coords=coords)
            resample_lr = tone_resample(lr, record["tone_map"], s * dr, shape_x) if config.exact_jitter else None
            resample_hr = None  # the HR image is distorted with the paper's cubic resampling
        timings["render"] = time.perf_counter() - t
    record["pixel_size"] = dr * s  # of the input x
    record["sr"] = {"scale": s, "mode": sr.mode, "target": sr.target, "hr_pixel_size": dr, "shape_lr": list(shape_x), "shape_hr": [H, W]}
    if "sr_transform" in record:
        record["sr"]["transform"] = record.pop("sr_transform")
    t = time.perf_counter()
    before = {COUNTING[config.modality]: None} if "counts" in truth else None
    x, _, record["distortions"] = distort(x_clean, config.modality, s * dr, rngs["distort"], dist, resample=resample_lr, before=before)
    if sr.mode == "paired" or sr.target == "noisy":
        y, _, record["hr_distortions"] = distort(y_clean, config.modality, dr, extra_rng, dist, resample=resample_hr)
    else:
        y = y_clean
    timings["distort"] = time.perf_counter() - t
    toned = x_clean if sr.mode == "paired" else y_clean
    pair = Pair(np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32), record, timings)
    pair.truth = ground_truth(truth, specimen, models, record, (H, W), dr, record["distortions"], before, shape_x)
    return pair, toned


def _near(xy, shape, dr, margin):
    return (xy[:, 0] > -margin) & (xy[:, 0] < shape[1] * dr + margin) & (xy[:, 1] > -margin) & (xy[:, 1] < shape[0] * dr + margin)


def _misregistered_grid(rng, sr: SRConfig, xy, shape_lr, dr_lr, shape_hr, dr):
    """Where the HR acquisition's pixels sit: centred on the LR field plus a random shift,
    rotated and magnified by random amounts. Returns (per-pixel offsets (dx, dy) in A from
    the regular HR grid of the shifted frame, atom positions in that frame, transform)."""
    H, W = shape_hr
    field = np.array([shape_lr[1] * dr_lr, shape_lr[0] * dr_lr])  # x, y extent (A)
    size = np.array([W * dr, H * dr])
    room = np.maximum(0.0, (field - size * max(sr.magnification[1], 1.0) * 1.1) / 2)
    shift = np.array([uniform(rng, sr.shift), uniform(rng, sr.shift)]) * size
    shift = np.clip(shift, -room, room)
    theta = math.radians(uniform(rng, sr.rotation))
    mag = uniform(rng, sr.magnification)
    centre = field / 2 + shift  # of the HR field, in the LR field's frame (A)
    # HR pixel (i, j) samples centre + mag * R(theta) (q - q_c), q = (j dr, i dr)
    jj, ii = np.meshgrid(np.arange(W) * dr, np.arange(H) * dr)
    qc = np.array([(W - 1) / 2 * dr, (H - 1) / 2 * dr])
    c, s_ = math.cos(theta), math.sin(theta)
    px = centre[0] + mag * (c * (jj - qc[0]) - s_ * (ii - qc[1]))
    py = centre[1] + mag * (s_ * (jj - qc[0]) + c * (ii - qc[1]))
    origin = centre - qc  # the frame in which the regular HR grid starts at 0
    offsets = (px - origin[0] - jj, py - origin[1] - ii)
    transform = {
        "shift_A": shift.tolist(),
        "rotation_deg": math.degrees(theta),
        "magnification": mag,
        "centre_A": centre.tolist(),
        "origin_lr_px": [origin[1] / dr_lr, origin[0] / dr_lr],  # (row, col) of HR (0, 0) before rotation
        "hr_pixel_A": dr,
        "lr_pixel_A": dr_lr,
    }
    return np.stack(offsets), xy - origin, transform
