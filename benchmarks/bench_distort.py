"""Distortion throughput per image on one core, after JIT warm-up.

    python benchmarks/bench_distort.py [--quick] [--sizes 256 1024]

For each modality and image size it prints:
- default: mean time per image of ``distort`` with the default config (effects occur with
  their probabilities, doses from the default law), averaged over many seeds;
- chain (all on): every effect of the modality's detector chain with probability 1, no
  post-processing -- the "whole chain" cost; median over seeds;
- +post: the same with every post-processing effect on;
- per effect: median time of each effect alone (p = 1).
Medians and, for the chains, minima are printed: on a shared machine the minimum is the
better estimate of the uncontended cost.
Scan jitter runs through a ``resample`` callable that returns a precomputed image, so the
rendering cost of the exact path is excluded; the paper's bicubic fallback is timed as
its own line ("jitter bicubic").
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from emsim.distort import DistortionConfig, PostConfig, ScanConfig, TemConfig, all_off, distort  # noqa: E402
from emsim.distort import counting, detector, digitise, fastscan, jitter, masks, mtf, postprocess, rowlines, sensor  # noqa: E402


def clean_image(n: int) -> tuple[np.ndarray, float]:
    """A tone-mapped SrTiO3 image along [110] at 0.1 A per pixel, and its pixel size."""
    from emsim.imaging.known import default_structure, render_file
    from emsim.imaging.tonemap import tone_map

    raw, _ = render_file(default_structure(), 0.1, (n, n), (1, 1, 0), contrast="random", seed=0)
    return tone_map(raw, np.random.default_rng(0))[0], 0.1


def _on(cfg):
    return dataclasses.replace(cfg, **{k: 1.0 for k in ("p", "p_readout") if hasattr(cfg, k)})


def all_on(post: bool) -> DistortionConfig:
    base = DistortionConfig()
    tem = TemConfig(*(_on(getattr(base.tem, f.name)) for f in dataclasses.fields(TemConfig)))
    scan = {m: ScanConfig(*(_on(getattr(getattr(base, m), f.name)) for f in dataclasses.fields(ScanConfig))) for m in ("stem", "sem")}
    scan["sem"] = dataclasses.replace(scan["sem"], black_pixels=base.sem.black_pixels)  # none in SEM
    pp = PostConfig(*(_on(getattr(base.post, f.name)) for f in dataclasses.fields(PostConfig))) if post else all_off().post
    return DistortionConfig(dose=base.dose, tem=tem, post=pp, **scan)


def timed(fn, reps: int) -> list[float]:
    fn()  # warm-up / compile
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def chain_times(clean, dr, modality, cfg, reps, seed0=1):
    resample = (lambda dx, dy: clean) if modality != "tem" else None
    seeds = iter(range(seed0, seed0 + reps + 1))
    return timed(lambda: distort(clean, modality, dr, np.random.default_rng(next(seeds)), cfg, resample=resample), reps)


def effect_times(clean, dr, modality, reps):
    """Each effect of the chain alone (p = 1), on the clean image."""
    cfg = all_on(post=True)
    rng = np.random.default_rng(0)
    alpha = 200.0 / float(clean.mean())
    mc = getattr(cfg, modality)
    x = clean
    if modality == "tem":
        cases = {
            "mtf": lambda: mtf.mtf(clean, rng, mc.mtf),
            "shot noise": lambda: counting.count(rng, x, alpha),
            "fixed pattern": lambda: sensor.fixed_pattern(x, rng, mc.fixed_pattern),
            "dark current": lambda: sensor.dark_current(x, rng, mc.dark_current, alpha),
            "thermal": lambda: sensor.thermal(x, rng, mc.thermal, alpha),
            "flicker": lambda: sensor.flicker(x, rng, mc.flicker, alpha),
            "reset": lambda: sensor.reset(x, rng, mc.reset, alpha),
        }
    else:
        bound = mc.jitter.bound
        cases = {
            "jitter draw (xy)": lambda: jitter.sample(rng, clean.shape, dataclasses.replace(mc.jitter, p_x=0.0, p_y=0.0), bound),
            "jitter bicubic": lambda: jitter.bicubic(clean, *jitter.sample(np.random.default_rng(1), clean.shape, dataclasses.replace(mc.jitter, p_x=0.0, p_y=0.0), bound)[:2], dr),
            "detector": lambda: detector.detector(x, rng, mc.detector, alpha),
            "fast scan": lambda: fastscan.fast_scan(x, rng, mc.fast_scan),
            "row lines": lambda: rowlines.row_lines(x, rng, mc.row_lines),
        }
    cases.update(
        {
            "black pixels": lambda: masks.black_pixels(x, rng, mc.black_pixels),
            "zingers": lambda: masks.zingers(x, rng, mc.zingers),
            "clip": lambda: digitise.clip(x, rng, mc.clip),
            "quantise": lambda: digitise.quantise(x, rng, mc.quantise),
            "interpolation": lambda: postprocess.interpolation(x, x, rng, cfg.post.interpolation),
            "blur": lambda: postprocess.blur(x, rng, cfg.post.blur),
            "annotations": lambda: postprocess.annotations(x, x, rng, cfg.post.annotations),
            "crop": lambda: postprocess.crop(x, x, rng, cfg.post.crop),
        }
    )
    if modality == "sem":
        del cases["black pixels"]
    return {k: statistics.median(timed(f, reps)) for k, f in cases.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--modalities", nargs="+", default=["tem", "stem", "sem"])
    args = ap.parse_args()
    for n in args.sizes:
        clean, dr = clean_image(n)
        reps = (20 if n <= 256 else 5) if args.quick else (200 if n <= 256 else 30)
        for modality in args.modalities:
            default = chain_times(clean, dr, modality, DistortionConfig(), reps)
            chain = chain_times(clean, dr, modality, all_on(post=False), max(3, reps // 4))
            full = chain_times(clean, dr, modality, all_on(post=True), max(3, reps // 4))
            print(
                f"\n{modality} {n}x{n}: default {statistics.mean(default) * 1e3:.2f} ms/image (mean of {reps}, median {statistics.median(default) * 1e3:.2f}); "
                f"chain all on {statistics.median(chain) * 1e3:.2f} ms (min {min(chain) * 1e3:.2f}); "
                f"+post {statistics.median(full) * 1e3:.2f} ms (min {min(full) * 1e3:.2f})"
            )
            for k, v in effect_times(clean, dr, modality, max(3, reps // 4)).items():
                print(f"    {k:<18} {v * 1e3:8.3f} ms")


if __name__ == "__main__":
    main()
