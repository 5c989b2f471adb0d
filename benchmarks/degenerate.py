"""Degenerate draws: how often the first draw of a sample is degenerate (what emsim before the
redraw returned as the pair), why, and a check that no returned pair is degenerate.

    python benchmarks/degenerate.py [--n 10000] [--size 32] [--seed 0] [--against REV]

n samples in all, split evenly over TEM/STEM/SEM x HR/LR, default configs at size^2.
``--against REV`` instead counts the pairs an older commit (one without redraws, e.g. 3b8e16f)
returned that today's ``degeneracy`` rejects, checked on its (x, y) with y as the clean image.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OLD_CHILD = """
import sys, numpy as np
try:
    from emsim.pairs import make_pair, resolve_config
except ImportError:  # trees before the stage packages
    from emsim.pipeline import make_pair, resolve_config
modality, resolution, size, n, seed, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
cfg = resolve_config(modality=modality, resolution=resolution, shape=(size, size))
pairs = [make_pair(seed, i, cfg) for i in range(n)]
np.savez(out, x=np.stack([p.x for p in pairs]), y=np.stack([p.y for p in pairs]), std_mean=np.asarray(cfg.tone_map.std_mean_ratio))
"""


def against(rev: str, n: int, size: int, seed: int) -> None:
    """Degenerate pairs returned by commit ``rev`` (see the module docstring)."""
    import numpy as np

    from compare_commits import checkout

    from emsim.pairs.clean import degeneracy

    total = collections.Counter()
    with tempfile.TemporaryDirectory() as tmp, checkout(rev, Path(tmp) / "old") as tree:
        for resolution in ("hr", "lr"):
            for modality in ("tem", "stem", "sem"):
                t, out = time.perf_counter(), Path(tmp) / "pairs.npz"
                env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_NUM_THREADS": "1"}
                args = [modality, resolution, str(size), str(n // 6), str(seed), str(out)]
                subprocess.run([sys.executable, "-c", OLD_CHILD, *args], cwd=tree, env=env, check=True)
                d = np.load(out)
                std_mean = tuple(d["std_mean"].tolist())
                why = [degeneracy(y, x, y, std_mean) for x, y in zip(d["x"], d["y"])]
                reasons = collections.Counter(w.split(" = ")[0].split(" outside")[0] for w in why if w)
                total.update(reasons)
                k = sum(reasons.values())
                print(f"{modality:<4} {resolution} at {rev}: {len(why)} pairs, degenerate {k} ({100 * k / len(why):.2f} %); {dict(reasons)} [{time.perf_counter() - t:.0f} s]", flush=True)
    print(f"all: {json.dumps(dict(total))}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--against", default=None, help="count the degenerate pairs this older commit returned")
    args = ap.parse_args()
    if args.against:
        return against(args.against, args.n, args.size, args.seed)
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
