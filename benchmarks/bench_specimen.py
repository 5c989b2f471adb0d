"""Specimen generation: time, atom count and peak memory per specimen, one core.

    python benchmarks/bench_specimen.py [--seeds 200] [--sizes 256 1024] [--worst] [--rsa]

For each image size, specimens are drawn with the default (paper) config for seeds
0..N-1 (pixel size drawn too) after a JIT warm-up. Prints the median, 95th percentile and
maximum of the wall time and atom count, the median time per (specimen type, support type)
class and the stage split (crystal, tiling, amorphous RSA, points, cuts) summed over
all seeds. ``--worst`` times the worst cases of the issue (256^2 and 1024^2, dr = 0.9 A, 30 nm
support), each in a fresh process whose peak RSS growth is the memory figure; ``--rsa``
compares the amorphous RSA with ``packing.random_packing``.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from emsim.specimen import build as spec_mod  # noqa: E402
from emsim.config import from_dict  # noqa: E402
from emsim.errors import EmsimError  # noqa: E402
from emsim.specimen import SpecimenConfig, generate_specimen  # noqa: E402

STAGES = collections.Counter()


def _timed(name, fn):
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            STAGES[name] += time.perf_counter() - t

    return wrapper


def instrument():
    """Wrap the stage functions that specimen.py calls (by module attribute)."""
    for name in ("random_crystal", "tile", "amorphous_block", "isolated_atoms", "_cut"):
        setattr(spec_mod, name, _timed(name, getattr(spec_mod, name)))


def pct(values, q):
    return float(np.percentile(values, q))


def run_size(n: int, seeds: int) -> None:
    STAGES.clear()
    times, atoms, done, classes, refused = [], [], [], collections.defaultdict(list), []
    for seed in range(seeds):
        t = time.perf_counter()
        try:
            s = generate_specimen(np.random.default_rng(seed), shape=(n, n))
        except EmsimError as e:  # above SpecimenConfig.max_atoms
            refused.append((seed, str(e)))
            continue
        dt = time.perf_counter() - t
        times.append(dt)
        atoms.append(len(s))
        done.append(seed)
        sup = s.info["support"]
        classes[(s.info["type"], sup["type"] if sup else "none")].append(dt)
    ms = np.array(times) * 1e3
    print(f"\n{n}x{n}, {len(times)} of {seeds} seeds: time median {np.median(ms):.1f} ms, p95 {pct(ms, 95):.1f} ms, max {ms.max():.0f} ms (seed {done[int(np.argmax(ms))]}); mean {ms.mean():.1f} ms")
    print(f"  atoms median {np.median(atoms):.3g}, p95 {pct(atoms, 95):.3g}, max {max(atoms):.3g}")
    slow = np.argsort(ms)[::-1][:5]
    print("  slowest: " + ", ".join(f"seed {done[k]} {ms[k]:.0f} ms {atoms[k]:.3g} atoms" for k in slow))
    for seed, msg in refused:
        print(f"  refused seed {seed}: {msg}")
    print("  class (specimen, support): count, median ms")
    for k in sorted(classes):
        print(f"    {k[0]:>11} + {k[1]:<11} {len(classes[k]):4d} {statistics.median(classes[k]) * 1e3:8.1f}")
    total = sum(times)
    print("  stage share of the total time: " + ", ".join(f"{k} {v / total:.0%}" for k, v in STAGES.most_common()) + f", rest {1 - sum(STAGES.values()) / total:.0%}")


DENSE = {"space_group": 1, "length": 3.1, "elements": 1, "extra_sites": 5}  # 6 atoms / 29.8 A^3
WORST = {
    "crystal on crystal": {"kinds": [1, 0, 0], "support": {"p": 1, "p_crystalline": 1, "thickness": 300}},
    "crystal on amorphous": {"kinds": [1, 0, 0], "support": {"p": 1, "p_crystalline": 0, "thickness": 300}},
    "amorphous on amorphous": {"kinds": [0, 1, 0], "support": {"p": 1, "p_crystalline": 0, "thickness": 300}},
    "amorphous at the cap (d 0.95)": {"kinds": [0, 1, 0], "amorphous": {"z": 3, "min_distance": 0.95, "density": 7.0}, "support": {"p": 1, "p_crystalline": 0, "thickness": 300, "amorphous": {"z": 3, "min_distance": 0.95, "density": 7.0}}},
    "amorphous jammed (d 1.6)": {"kinds": [0, 1, 0], "amorphous": {"z": 3, "min_distance": 1.6, "density": 7.0}, "support": {"p": 1, "p_crystalline": 0, "thickness": 300, "amorphous": {"z": 3, "min_distance": 1.6, "density": 7.0}}},
    "dense crystal (0.2 atoms/A^3)": {"kinds": [1, 0, 0], "crystal": DENSE, "support": {"p": 1, "p_crystalline": 1, "thickness": 300, "crystal": DENSE}},
}


def _one(name: str, seed: int, size: int) -> None:
    """Child process: one worst case; prints time, atoms and peak RSS growth (MiB)."""
    import resource

    cfg = from_dict(SpecimenConfig, WORST[name])
    for warm in range(4):  # imports and numba cache loads of every code path
        generate_specimen(np.random.default_rng(warm), cfg, shape=(16, 16), pixel_size=0.9)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    s = generate_specimen(np.random.default_rng(seed), cfg, shape=(size, size), pixel_size=0.9)
    dt = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(dt, len(s), (peak - base) / 1024)


def run_worst(seeds: int, size: int) -> None:
    import subprocess
    import sys

    print(f"\nworst cases: {size}x{size}, dr = 0.9 A, 30 nm support, seeds 0..{seeds - 1}, each in a fresh process: max time, atoms, peak RSS growth")
    for name in WORST:
        rows = []
        for seed in range(seeds):
            out = subprocess.run([sys.executable, __file__, "--one", name, str(seed), str(size)], capture_output=True, text=True, check=True)
            rows.append([float(v) for v in out.stdout.split()[-3:]])
        t, n, m = np.max(rows, axis=0)
        print(f"  {name:<32} {t * 1e3:7.0f} ms {n:>10.3g} atoms {m:6.0f} MiB")


def run_rsa() -> None:
    """Packing speed: ns per RSA candidate on amorphous-like boxes."""
    from emsim.specimen.packing import random_packing

    print("\nRSA (packing.random_packing), ns per candidate (best of 2)")
    for box, d, rho in (([138, 138, 118], 1.2, 0.087), ([250, 250, 230], 1.14, 0.2), ([250, 250, 300], 1.6, 0.2)):
        n = int(rho * np.prod(box))
        best = np.inf
        for rep in range(2):
            t = time.perf_counter()
            pos, info = random_packing(np.random.default_rng(rep), np.zeros(3), box, d, n, 0.1)
            best = min(best, (time.perf_counter() - t) / info["attempts"])
        print(f"  box {box} d {d}: {best * 1e9:.0f} ns ({len(pos)} atoms, jammed {info['jammed']})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--sizes", type=int, nargs="*", default=[256, 1024])
    ap.add_argument("--worst", action="store_true", help="also time the worst cases (fresh process each)")
    ap.add_argument("--worst-seeds", type=int, default=3)
    ap.add_argument("--worst-sizes", type=int, nargs="*", default=[256, 1024])
    ap.add_argument("--rsa", action="store_true", help="also time the RSA packing")
    ap.add_argument("--one", nargs=3, metavar=("CASE", "SEED", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        return _one(args.one[0], int(args.one[1]), int(args.one[2]))
    for seed in range(3):  # JIT warm-up (and numba cache load)
        generate_specimen(np.random.default_rng(seed), shape=(32, 32))
    instrument()
    for n in args.sizes:
        run_size(n, args.seeds)
    if args.worst:
        for size in args.worst_sizes:
            run_worst(args.worst_seeds, size)
    if args.rsa:
        run_rsa()


if __name__ == "__main__":
    main()
