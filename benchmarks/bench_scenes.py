"""Low-resolution scene throughput on one core, after JIT warm-up.

    python benchmarks/bench_scenes.py [--quick] [--n 300]

Times ``generate_scene`` (draw the record + render it; no tone mapping) for default
scenes at 256^2 and 1024^2 and reports the median time per scene, scenes per second
(1 / median, and over the whole run), and the 90th percentile. Then the cost of each
object type: its draw and render times when it is in a scene, and the scenes-per-second
of scenes made of that type alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from emsim.scenes import _DRAW, _RENDER, KINDS, SceneConfig, draw_scene, generate_scene, render_scene  # noqa: E402


def scenes(n: int, shape, config=SceneConfig(), seed: int = 0):
    """Per-scene wall times (s) of generate_scene for seeds (seed, 0..n-1)."""
    generate_scene(np.random.default_rng([seed, 10**6]), config, shape)  # warm-up
    times = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        t = time.perf_counter()
        generate_scene(rng, config, shape)
        times.append(time.perf_counter() - t)
    return np.array(times)


def per_kind(n: int, shape, seed: int = 0) -> dict:
    """Median draw and render time (s) of each object type over n scenes that contain it."""
    out = {}
    for kind in KINDS:
        config = SceneConfig.only(kind)
        render_scene(draw_scene(np.random.default_rng(seed), config, shape))
        td, tr = [], []
        for i in range(n):
            rng = np.random.default_rng([seed, i])
            t = time.perf_counter()
            layer = {"kind": kind, **_DRAW[kind](rng, getattr(config, kind), shape)}
            t1 = time.perf_counter()
            _RENDER[kind](np.zeros(shape, dtype=np.float32), layer)
            t2 = time.perf_counter()
            td.append(t1 - t)
            tr.append(t2 - t1)
        out[kind] = (statistics.median(td), statistics.median(tr), np.percentile(np.add(td, tr), 90))
    return out


def report(label: str, t: np.ndarray) -> None:
    med = float(np.median(t))
    rest = f"mean {t.mean() * 1e3:6.2f} ms -> {len(t) / t.sum():6.1f}/s, p90 {np.percentile(t, 90) * 1e3:6.2f} ms, max {t.max() * 1e3:6.1f} ms, n={len(t)}"
    print(f"{label:>12}  median {med * 1e3:7.2f} ms -> {1 / med:7.1f} scenes/s   ({rest})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer scenes, no 1024^2")
    ap.add_argument("--n", type=int, default=300, help="scenes at 256^2")
    args = ap.parse_args()
    n = 60 if args.quick else args.n
    print("default scenes (random non-empty subset of the six types), generate_scene, one core:")
    report("256^2", scenes(n, (256, 256)))
    if not args.quick:
        report("1024^2", scenes(max(10, n // 10), (1024, 1024)))
    for shape in [(256, 256)] + ([] if args.quick else [(1024, 1024)]):
        m = n // 3 if shape[0] == 256 else max(5, n // 30)
        print(f"\nper object type at {shape[0]}^2 (alone in the scene; median over {m}):")
        print(f"{'type':>16} {'draw/ms':>8} {'render/ms':>10} {'p90/ms':>7}")
        for kind, (d, r, p90) in per_kind(m, shape).items():
            print(f"{kind:>16} {d * 1e3:8.2f} {r * 1e3:10.2f} {p90 * 1e3:7.2f}")


if __name__ == "__main__":
    main()
