"""Degenerate draws: how often the first draw of a sample is degenerate (what emsim before the
redraw returned as the pair), why, and a check that no returned pair is degenerate.

    python benchmarks/degenerate.py [--n 10000] [--size 32] [--seed 0]

n samples in all, split evenly over TEM/STEM/SEM x HR/LR, default configs at size^2.
"""

from __future__ import annotations

import argparse
import collections
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from emsim.pairs import make_pair, resolve_config
    from emsim.pairs.clean import degeneracy

    per = args.n // 6
    total = collections.Counter()
    for resolution in ("hr", "lr"):
        for modality in ("tem", "stem", "sem"):
            cfg = resolve_config(modality=modality, resolution=resolution, shape=(args.size, args.size))
            reasons, redrawn, bad, t = collections.Counter(), 0, 0, time.perf_counter()
            for i in range(per):
                p = make_pair(args.seed, i, cfg)
                if p.record["redraws"]:
                    redrawn += 1
                    reasons.update(r.split(" = ")[0].split(" outside")[0] for r in p.record["redraw_reasons"])
                bad += degeneracy(p.y, p.x, p.y, (0, float("inf"))) is not None
            total.update(reasons)
            print(f"{modality:<4} {resolution}: {per} samples, first draw degenerate {redrawn} ({100 * redrawn / per:.2f} %), returned degenerate {bad}; {dict(reasons)} [{time.perf_counter() - t:.0f} s]")
    print(f"all: {dict(total)}")


if __name__ == "__main__":
    main()
