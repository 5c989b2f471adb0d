"""Evaluation of a restoration model against baselines on pairs from a store.

Methods: the model; BM3D (``bm3d`` package, noise sigma estimated from the input with
scikit-image's wavelet estimator); a Gaussian filter with its best sigma (the single sigma,
from a grid, that maximises the mean PSNR over the evaluated pairs: an oracle baseline);
and the raw input. Reports mean PSNR (eq. 1), SSIM and seconds per image.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from emsim.errors import EmsimError

from .metrics import psnr, ssim

GAUSS_SIGMAS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


def bm3d_denoise(x: np.ndarray) -> np.ndarray:
    """BM3D with the noise level estimated from the image itself."""
    import bm3d
    from skimage.restoration import estimate_sigma

    sigma = max(float(estimate_sigma(x)), 1e-4)
    return np.asarray(bm3d.bm3d(x.astype(np.float64), sigma_psd=sigma), dtype=np.float32)


def evaluate_pairs(pairs, model=None, device="cpu", baselines=("bm3d", "gaussian", "raw"), tile: int = 512) -> list[dict]:
    """Rows {method, psnr, ssim, seconds_per_image, n} over (x, y) pairs (numpy 2D)."""
    pairs = list(pairs)
    if not pairs:
        raise EmsimError("no pairs to evaluate")
    outputs: dict[str, list] = {}
    timing: dict[str, float] = {}
    if model is not None:
        import torch

        from .infer import restore_array

        t = time.perf_counter()
        outputs["model"] = [restore_array(model, x, tile=tile, overlap=min(64, tile // 4), device=device) for x, _ in pairs]
        if str(device).startswith("cuda"):
            torch.cuda.synchronize()
        timing["model"] = time.perf_counter() - t
    if "bm3d" in baselines:
        t = time.perf_counter()
        outputs["bm3d"] = [bm3d_denoise(x) for x, _ in pairs]
        timing["bm3d"] = time.perf_counter() - t
    if "gaussian" in baselines:
        t = time.perf_counter()
        best = max(GAUSS_SIGMAS, key=lambda s: np.mean([psnr(y, ndimage.gaussian_filter(x, s)) for x, y in pairs]))
        outputs[f"gaussian(sigma={best})"] = [ndimage.gaussian_filter(x, best) for x, _ in pairs]
        timing[f"gaussian(sigma={best})"] = (time.perf_counter() - t) / len(GAUSS_SIGMAS)
    if "raw" in baselines:
        outputs["raw"] = [x for x, _ in pairs]
        timing["raw"] = 0.0
    rows = []
    for name, outs in outputs.items():
        rows.append(
            {
                "method": name,
                "psnr": float(np.mean([psnr(y, o) for (_, y), o in zip(pairs, outs)])),
                "ssim": float(np.mean([ssim(y, o) for (_, y), o in zip(pairs, outs)])),
                "seconds_per_image": timing[name] / len(pairs),
                "n": len(pairs),
            }
        )
    return rows


def store_pairs(path: str, n: int | None = None, start: int | None = None):
    """(x, y) numpy pairs of a store's complete samples (the last n, i.e. the held-out
    ones a training run on this store validated on, unless ``start`` is given)."""
    from emsim.dataset import store

    g = store.open_group(path, "r")
    idx = store.complete_indices(path)
    if n is not None:
        idx = idx[start : start + n] if start is not None else idx[-n:]
    return [(np.asarray(g["x"][k], dtype=np.float32), np.asarray(g["y"][k], dtype=np.float32)) for k in idx]


def format_table(rows: list[dict]) -> str:
    lines = [f"{'method':<24} {'PSNR/dB':>8} {'SSIM':>7} {'s/image':>9}   (n = {rows[0]['n']})"]
    lines += [f"{r['method']:<24} {r['psnr']:>8.2f} {r['ssim']:>7.4f} {r['seconds_per_image']:>9.4f}" for r in rows]
    return "\n".join(lines)


def write_csv(path: str | Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
