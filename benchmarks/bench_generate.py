"""Dataset throughput: pairs per second per core and per-stage breakdown, and memory.

    python benchmarks/bench_generate.py throughput [--size 256] [--n 24]
    python benchmarks/bench_generate.py memory [--small 1000 --large 20000]

throughput: for each modality and resolution, n pairs generated in-process on one core
(workers=1) into a temporary store; reports pairs/s and the mean milliseconds per pair
of each stage (specimen or scene, render, tone, distort, write). memory: peak RSS of
`emsim generate` (one worker, so the whole run is one process) for a small and a large n
at 64^2 low-resolution scenes: flat if the generator streams.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")


def throughput(size: int, n: int, modalities, resolutions, exact_jitter: bool) -> None:
    try:
        from emsim.dataset.generate import generate
        from emsim.pairs import resolve_config
    except ImportError:  # trees before the stage packages (PYTHONPATH=old checkout)
        from emsim.generate import generate
        from emsim.pipeline import resolve_config

    print(f"{size}x{size}, {n} pairs each, one core (exact jitter: {exact_jitter})")
    for resolution in resolutions:
        for modality in modalities:
            cfg = resolve_config(modality=modality, resolution=resolution, shape=(size, size), exact_jitter=exact_jitter)
            with tempfile.TemporaryDirectory() as tmp:
                generate(f"{tmp}/warm.zarr", 2, cfg, seed=99, workers=1, shard_size=2, progress=False)  # JIT caches
                t = time.perf_counter()
                s = generate(f"{tmp}/s.zarr", n, cfg, seed=0, workers=1, shard_size=min(n, 16), progress=False)
                wall = time.perf_counter() - t
            stages = ", ".join(f"{k} {1e3 * v / n:.1f}" for k, v in s.stage_seconds.items())
            print(f"  {modality:<4} {resolution}: {n / wall:6.2f} pairs/s ({1e3 * wall / n:7.1f} ms/pair; stages ms: {stages})")


def memory(small: int, large: int) -> None:
    print("peak RSS of `emsim generate --resolution lr --size 64 --workers 1`")
    for n in (small, large):
        with tempfile.TemporaryDirectory() as tmp:
            code = (
                "import resource, sys; from cli.main import main; "
                f"sys.argv = ['emsim', 'generate', '--resolution', 'lr', '--size', '64', '--n', '{n}', '--out', '{tmp}/s.zarr', '--workers', '1', '--quiet']; "
                "\ntry:\n main()\nexcept SystemExit:\n pass\n"
                "print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
            )
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            rss = int(out.split("RSS")[-1]) / 1024
            print(f"  n = {n:>6}: peak RSS {rss:7.1f} MiB, {time.perf_counter() - t:6.1f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["throughput", "memory"])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--modalities", nargs="+", default=["tem", "stem", "sem"])
    ap.add_argument("--resolutions", nargs="+", default=["hr", "lr"])
    ap.add_argument("--bicubic-jitter", action="store_true", help="the paper's interpolated jitter instead of exact re-evaluation")
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--large", type=int, default=20000)
    args = ap.parse_args()
    if args.what == "throughput":
        throughput(args.size, args.n, args.modalities, args.resolutions, not args.bicubic_jitter)
    else:
        memory(args.small, args.large)


if __name__ == "__main__":
    main()
