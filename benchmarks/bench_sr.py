"""SR speed on CPU: SwinIR-lightweight and CGRDN-SR forward times, LB-NLM library building
and filtering, global registration, bicubic and the LR-only pair sources.

    python benchmarks/bench_sr.py [--threads N] [--size 256] [--scale 4]

Pairs: emsim LR scenes (``emsim.scenes``) as HR images, LR = HR[::s, ::s] + 3% noise.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def timed(fn, reps: int = 3) -> float:
    """Best of ``reps`` runs after a warm-up (the machine may be shared)."""
    fn()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def scene_pairs(n: int, size: int, s: int, seed: int = 0):
    from emsim.scenes import SceneConfig, generate_scene

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        hr, _ = generate_scene(rng, SceneConfig(), (size, size))
        hr = (hr - hr.min()) / max(float(np.ptp(hr)), 1e-9)
        lr = hr[::s, ::s] + 0.03 * rng.standard_normal((size // s, size // s))
        out.append((lr.astype(np.float32), hr.astype(np.float32)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--size", type=int, default=256, help="HR side")
    ap.add_argument("--scale", type=int, default=4)
    args = ap.parse_args()
    import torch

    from emsim.pairs.lronly import LROnlyPairs, MixingConfig, MixingSet, cubic_upsample
    from restoration.baselines.lbnlm import LBNLMConfig, build_library, lbnlm_upscale
    from restoration.metrics import psnr
    from restoration.archs import n_parameters
    from restoration.baselines.registration import Transform, register, warp
    from restoration.archs.cgrdn_sr import CGRDNSR
    from restoration.archs.swinir import SwinIR

    if args.threads:
        torch.set_num_threads(args.threads)
    H, s = args.size, args.scale
    h = H // s
    print(f"CPU, {torch.get_num_threads()} torch threads; HR {H}x{H}, x{s}")
    for name, model in (("SwinIR-light", SwinIR(scale=s)), ("CGRDN-SR", CGRDNSR(scale=s))):
        model.eval()
        for lr_side in (h, 2 * h):
            x = torch.rand(1, 1, lr_side, lr_side)
            with torch.no_grad():
                t = timed(lambda: model(x), 3)
            print(f"{name} ({n_parameters(model):,} params) forward {lr_side}^2 -> {s * lr_side}^2: {t:.2f} s")
        model.train()
        x, y = torch.rand(4, 1, h // 2, h // 2), torch.rand(4, 1, H // 2, H // 2)

        def step():
            loss = (model(x) - y).abs().mean()
            loss.backward()

        print(f"{name} forward+backward, batch 4 of {h // 2}^2 LR: {timed(step, 2):.2f} s")

    pairs = scene_pairs(10, H, 2, seed=1)
    t = time.perf_counter()
    lib = build_library(pairs[:8], 2, LBNLMConfig())
    print(f"LB-NLM library (L = {len(lib)}, k = 50, K = 10) from 8 pairs of {H}^2: {time.perf_counter() - t:.2f} s")
    for stride in (1, 2):
        t = timed(lambda: lbnlm_upscale(pairs[8][0], lib, stride=stride), 2)
        gain = np.mean([psnr(hr, lbnlm_upscale(lr, lib, stride=stride)) - psnr(hr, cubic_upsample(lr, 2)) for lr, hr in pairs[8:]])
        print(f"LB-NLM x2 {H // 2}^2 -> {H}^2, stride {stride}: {t:.2f} s/image (PSNR {gain:+.2f} dB over bicubic on scenes)")
    print(f"bicubic x2 {H // 2}^2 -> {H}^2: {timed(lambda: cubic_upsample(pairs[8][0], 2), 5) * 1e3:.1f} ms")

    hr = pairs[9][1].astype(np.float64)
    true = Transform(4.3, -6.1, 2.2)
    moving, _ = warp(hr, true.inverse(hr.shape))
    got = register(hr, moving)
    t = timed(lambda: register(hr, moving), 2)
    print(f"registration {H}^2 (+-5 deg, all shifts): {t:.2f} s; error {abs(got.dy - true.dy):.3f}/{abs(got.dx - true.dx):.3f} px, {abs(got.angle - true.angle):.3f} deg")
    print(f"registration {H}^2 with 3 scales: {timed(lambda: register(hr, moving, scales=(0.97, 1.0, 1.03)), 2):.2f} s")

    imgs = [p[1] for p in pairs]
    t = time.perf_counter()
    mixing = MixingSet.generate(MixingConfig(n=16, size=256))
    print(f"mixing set, 16 images of 256^2: {time.perf_counter() - t:.2f} s")
    for name in ("multiscale", "pixmix", "coverage"):
        src = LROnlyPairs(imgs, name, hr_size=H // 2, seed=0, length=20, mixing=mixing)
        t = time.perf_counter()
        for k in range(20):
            src[k]
        print(f"LR-only {name} pair ({H // 2}^2 HR crop): {(time.perf_counter() - t) / 20 * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
