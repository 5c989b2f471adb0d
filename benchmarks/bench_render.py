"""Renderer throughput: N random atoms into an n x n image, one core, after JIT warm-up.

    python benchmarks/bench_render.py [--quick]

Atom models come from the paper's sampler (4 random species), so widths follow the
r_m distribution of eq. 18-20; the pixel size sets the width in pixels (L = r_m / dr).
Prints median wall time over repeats, for the plain exact splat and for the default
(core splat + FFT tail where the cost model takes it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from emsim.imaging.atom_models import sample_atom_models  # noqa: E402
from emsim.imaging.render import render_clean  # noqa: E402


def bench(n_atoms: int, n_px: int, dr: float, split: bool, reps: int, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    species = rng.choice(np.arange(1, 104), 4, replace=False)
    models, _ = sample_atom_models(rng, species)
    xy = rng.uniform(0, n_px * dr, (n_atoms, 2))
    Z = rng.choice(species, n_atoms)
    render_clean(xy[:100], Z[:100], models, dr, (n_px, n_px), split=split)  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        render_clean(xy, Z, models, dr, (n_px, n_px), split=split)
        times.append(time.perf_counter() - t)
    mean_L = float(np.mean([m.r_m for m in models.values()]) / dr)
    return statistics.median(times), mean_L


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer cases and repeats")
    args = ap.parse_args()
    cases = [(100_000, 256, dr) for dr in (0.9, 0.6, 0.3, 0.1)]
    if not args.quick:
        cases += [(1_000_000, 1024, dr) for dr in (0.9, 0.3)]
    print(f"{'atoms':>9} {'image':>6} {'dr/A':>5} {'r_m/dr':>6} {'splat/ms':>9} {'default/ms':>10} {'atoms/s':>10}")
    for n_atoms, n_px, dr in cases:
        reps = 1 if n_atoms >= 1_000_000 or args.quick else 3
        plain, L = bench(n_atoms, n_px, dr, False, reps)
        best, _ = bench(n_atoms, n_px, dr, True, reps)
        print(f"{n_atoms:>9} {n_px:>5}^2 {dr:>5.2f} {L:>6.2f} {plain * 1e3:>9.1f} {best * 1e3:>10.1f} {n_atoms / best:>10.3g}")


if __name__ == "__main__":
    main()
