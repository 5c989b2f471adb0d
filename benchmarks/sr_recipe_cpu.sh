#!/usr/bin/env bash
# One SR recipe end to end on the CPU (issue 17): an LR-only folder made from emsim's LR
# STEM scans, held-out HR references of other specimens drawn from the same config, SwinIR-light
# trained with a paper's recipe, then the store's held-out pairs scored against bicubic,
# nearest and LB-NLM (PSNR, SSIM, PSNR-g3/g5, MS-SSIM, edge similarity).
#
#     bash benchmarks/sr_recipe_cpu.sh OUT [STEPS=800] [N=48] [RECIPE=moeller2023] [REFS=noisy]
#
# The last N/3 samples are held out: their HR acquisitions are the validation folder and
# their (LR, clean HR) pairs the evaluation set; the first 2N/3 give only their LR scans to
# training. REFS=noisy validates, as the Moeller papers do, on HR acquisitions (same specimens
# and LR scans: only the target's distortions are drawn, on their own streams); REFS=clean on
# the clean HR images, which the noisy LR-only training data never resembles (its nearest-
# downscaled inputs are noise-free), so bicubic wins there by construction.
# A CPU run is ~10^3 steps, so EMA is 0.99: the recipe's 0.999 (for 150k steps) would keep
# 0.999^800 = 45 % of the initial weights. Batch 4 of 128^2 targets (the paper: 16 of 256^2).
set -euo pipefail
OUT=$1; STEPS=${2:-800}; N=${3:-48}; RECIPE=${4:-moeller2023}; REFS=${5:-noisy}; NV=$((N / 3))
cd "$(dirname "$0")/.."
rm -rf "$OUT" && mkdir -p "$OUT/lr" "$OUT/val"
echo 'ema = 0.99' > "$OUT/short.toml"
GEN=(emsim generate --task sr --scale 4 --modality stem --resolution lr --n "$N" --size 256 --seed 3 --workers 1 --quiet)
"${GEN[@]}" --out "$OUT/sr.zarr"
printf '[sr]\ntarget = "%s"\n' "$REFS" > "$OUT/refs.toml"
"${GEN[@]}" --config "$OUT/refs.toml" --out "$OUT/refs.zarr"
python - "$OUT" "$N" "$NV" <<'PY'
import sys, numpy as np, tifffile
from emsim.dataset.store import open_group
out, n, nv = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
x, refs = open_group(f"{out}/sr.zarr", "r")["x"][:], open_group(f"{out}/refs.zarr", "r")
assert np.array_equal(refs["x"][:], x), "the references' store must hold the same LR scans"
for i in range(n - nv):
    tifffile.imwrite(f"{out}/lr/{i:03d}.tif", x[i])
for i in range(n - nv, n):
    tifffile.imwrite(f"{out}/val/{i:03d}.tif", refs["y"][i])
print("LR-only training images", x[: n - nv].shape, "held-out HR references", refs["y"][n - nv :].shape)
PY
emsim train sr --recipe "$RECIPE" --config "$OUT/short.toml" --lr-only-folder "$OUT/lr" --val-folder "$OUT/val" --steps "$STEPS" --batch 4 --patch 128 --val-every "$STEPS" --ckpt-every "$STEPS" --workers 0 --device cpu --out "$OUT/run" --quiet
emsim evaluate --task sr --model "$OUT/run/best.pt" --data "$OUT/sr.zarr" --n "$NV" --baselines bicubic,nearest,lbnlm --csv "$OUT/eval.csv"
