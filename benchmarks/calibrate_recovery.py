"""Calibration recovery table: ``emsim calibrate`` on emsim STEM images of SrTiO3 [001] with
known dose, scan jitter (X or Y) and fast-scan blur, over the grid of
``tests/test_calibrate.py`` (three images per point, their estimates' median).

    python benchmarks/calibrate_recovery.py [--n 3] [--json out.json]

Jitter is reported as the stationary standard deviation in pixels, sigma / sqrt(1 - phi^2) / dr,
which is what the estimator measures.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_calibrate import DR, GRID, PHI, clean_lattice, known_images

from emsim.analysis.calibrate import calibrate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3, help="images per grid point")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    clean, rows = clean_lattice(), []
    print(f"{'e/px':>6} {'est':>7} {'err':>6} | {'jit x px':>8} {'est':>6} | {'jit y px':>8} {'est':>6} | fast  est alpha | s")
    for dose, sx, sy, fast in GRID:
        t = time.perf_counter()
        est = calibrate(known_images(clean, dose, sx, sy, fast, n=args.n), "stem", DR)[1]["estimate"]
        px = [s / math.sqrt(1 - PHI**2) / DR for s in (sx, sy)]
        row = {"dose": dose, "est_dose": est["e_per_px"], "jitter_x_px": px[0], "est_jitter_x_px": est["jitter_x"], "jitter_y_px": px[1], "est_jitter_y_px": est["jitter_y"], "fast": fast, "est_fast_alpha": est["fast_alpha"]}
        rows.append(row)
        print(f"{dose:6.0f} {row['est_dose']:7.1f} {100 * (row['est_dose'] / dose - 1):+5.1f}% | {px[0]:8.3f} {row['est_jitter_x_px']:6.3f} | {px[1]:8.3f} {row['est_jitter_y_px']:6.3f} | {'on ' if fast else 'off'}   {row['est_fast_alpha']:9.2f} | {time.perf_counter() - t:.0f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
