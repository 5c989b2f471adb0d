"""Distribution of what the default config draws, per modality and resolution: percentiles
of raw PSNR(x, y) (peak max(y)), of the detected counts per pixel at the mean signal
(mean(y)^2 / var(x - c y), c the least-squares scale) and of the sim-to-real issue's
estimator mean(y) / var(x - c y), and of the dose drawn (e/px).

    python benchmarks/distribution.py [--n 1000] [--size 256] [--seed 7] [--cases stem/hr ...]
    PYTHONPATH=/path/to/other/checkout python benchmarks/distribution.py ...   # another version

Needs only ``make_pair`` and ``resolve_config`` (so it also runs against older trees).
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def pair_numbers(x, y) -> tuple[float, float, float]:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    c = (x * y).sum() / (y * y).sum()
    var = np.var(x - c * y)
    mse = np.mean((x - y) ** 2)
    return 10 * np.log10(y.max() ** 2 / mse), y.mean() ** 2 / var, y.mean() / var


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cases", nargs="+", default=["tem/hr", "stem/hr", "sem/hr", "tem/lr", "stem/lr", "sem/lr"])
    ap.add_argument("--json", default=None, help="also write the percentiles here")
    args = ap.parse_args()
    try:
        from emsim.pairs import make_pair, resolve_config
    except ImportError:
        from emsim.pipeline import make_pair, resolve_config
    q = (5, 10, 50, 90, 95)
    out = {}
    print(f"{args.size}^2, samples 0..{args.n - 1} of seed {args.seed}; percentiles {q}")
    for case in args.cases:
        modality, resolution = case.split("/")
        cfg = resolve_config(modality=modality, resolution=resolution, shape=(args.size, args.size))
        rows = []
        for i in range(args.n):
            p = make_pair(args.seed, i, cfg)
            if np.ptp(p.y) == 0 or not np.isfinite(p.x).all():
                rows.append((np.nan,) * 4)
                continue
            rows.append((*pair_numbers(p.x, p.y), p.record["distortions"]["dose"]["e_per_px"]))
        r = np.array(rows)
        out[case] = {name: np.nanpercentile(r[:, k], q).tolist() for k, name in enumerate(("psnr", "counts", "alpha_pair", "e_per_px"))}
        out[case]["psnr_mean"] = float(np.nanmean(r[:, 0][np.isfinite(r[:, 0])]))
        fmt = lambda v: " ".join(f"{a:8.3g}" for a in v)  # noqa: E731
        print(f"{case:<8} PSNR dB {fmt(out[case]['psnr'])} (mean {out[case]['psnr_mean']:.2f}) | counts {fmt(out[case]['counts'])} | mean(y)/var {fmt(out[case]['alpha_pair'])} | e/px {fmt(out[case]['e_per_px'])}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
