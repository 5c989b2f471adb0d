"""Same-run throughput ratio of pair generation between two source trees (e.g. HEAD and the
commit before a change), so machine noise cancels.

    python benchmarks/compare_commits.py --against HEAD~1 [--new REV] [--n 48] [--rounds 3]
        [--size 256] [--cases stem/hr tem/hr sem/hr stem/lr]

The commits are checked out with ``git worktree`` into a temporary folder (``--new``
default: the working tree as it is). Each round
runs, for every case and in alternating order, one subprocess per tree (one core,
NUMBA_NUM_THREADS=1) that makes samples 0..n-1 of the default config with ``make_pair``
twice and reports the mean CPU seconds per pair of the second pass: the steady state of a
long-lived worker, without the per-process cost of loading numba's caches for the kernels
the first pass meets (which would otherwise dominate LR pairs of ~20 ms); a discarded warm-up
round fills the JIT caches. Prints per case the mean
pairs/s of each tree over the rounds and the ratio new / old.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, sys, time
try:
    from emsim.pairs import make_pair, resolve_config
except ImportError:  # trees before the stage packages
    from emsim.pipeline import make_pair, resolve_config
modality, resolution, size, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
cfg = resolve_config(modality=modality, resolution=resolution, shape=(size, size))
for i in range(n):
    make_pair(seed, i, cfg)  # untimed pass: every kernel these samples use is compiled or loaded from the JIT cache
t = time.process_time()  # CPU time: less sensitive to other load than wall time
for i in range(n):
    make_pair(seed, i, cfg)
print(json.dumps({"seconds_per_pair": (time.process_time() - t) / n}))
"""


@contextlib.contextmanager
def checkout(rev: str, folder: Path):
    """Commit ``rev`` checked out (git worktree) at ``folder`` for the duration."""
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), rev], cwd=ROOT, check=True, capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=False, capture_output=True)


def run(tree: Path, case: str, size: int, n: int, seed: int = 0) -> float:
    modality, resolution = case.split("/")
    env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, modality, resolution, str(size), str(n), str(seed)], cwd=tree, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds_per_pair"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--against", default="HEAD~1", help="the old commit")
    ap.add_argument("--new", default=None, help="the new commit (default: the working tree)")
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--cases", nargs="+", default=["stem/hr", "tem/hr", "sem/hr", "stem/lr", "tem/lr"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as trees:
        old = trees.enter_context(checkout(args.against, Path(tmp) / "old"))
        new = trees.enter_context(checkout(args.new, Path(tmp) / "new")) if args.new else ROOT
        for case in args.cases:  # warm-up: numba compiles each tree's kernels into its caches
            for tree in (new, old):
                run(tree, case, args.size, 8, seed=1)
        times = {case: {"new": [], "old": []} for case in args.cases}
        for r in range(args.rounds):
            for case in args.cases:
                order = (("new", new), ("old", old)) if r % 2 == 0 else (("old", old), ("new", new))
                for name, tree in order:
                    times[case][name].append(run(tree, case, args.size, args.n))
        print(f"{args.size}x{args.size}, samples 0..{args.n - 1} of the default config, one core, {args.rounds} interleaved rounds; new = {args.new or 'working tree'}, old = {args.against}")
        for case, t in times.items():
            new, prev = (len(t[k]) / sum(t[k]) for k in ("new", "old"))  # 1 / mean seconds per pair
            print(f"  {case:<8} new {new:7.2f} pairs/s   old {prev:7.2f} pairs/s   ratio {new / prev:5.3f}   (rounds new {[round(1 / v, 2) for v in t['new']]}, old {[round(1 / v, 2) for v in t['old']]})")


if __name__ == "__main__":
    main()
