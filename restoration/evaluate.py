"""Evaluation of restoration and super-resolution models against baselines.

Restoration (``evaluate_pairs``): the model; BM3D (``baselines.bm3d``); a Gaussian filter
with its best sigma (the single sigma, from a grid, that maximises the mean PSNR over the
evaluated pairs: an oracle baseline); and the raw input. Reports mean PSNR (eq. 1), SSIM and
seconds per image.

Super-resolution (``evaluate_sr``): the model (whole-image forward); ``bicubic`` (Keys, on
the simulator's probe grid: LR pixel (i, j) is HR pixel (s i, s j), so the bicubic image equals the LR image at
the probe pixels); ``nearest`` (nearest-neighbour infill, Ede 2019's input); ``lbnlm``
(paired library-based non-local means, Algorithm 1 of the paired-SR paper) with a
library built from ``library_pairs`` -- or, when none are given, leave-one-out from the
evaluated pairs (each image's library excludes it). LB-NLM's time includes building its
libraries, amortised over the images. Metrics (``sr_metrics``): PSNR, SSIM, their 3x3/5x5
Gaussian-filtered variants, MS-SSIM and the Canny edge similarity, averaged over pairs.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from emsim.errors import EmsimError

from .archs import upscale
from .metrics import METRICS, psnr, sr_metrics, ssim

GAUSS_SIGMAS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


def column_errors(outputs, pairs, truths) -> dict:
    """Column-position error (pm: RMS and 95th percentile) and relative SCS error of
    restored images against the column truth of their samples: the columns are fitted
    (``emsim.analysis.quantify``) from their true positions in the output and in the clean
    target y, and both the positions and the SCS are compared with the target's fit (so
    the Gaussian model's own bias on overlapping, non-Gaussian columns cancels and the
    errors are those of the distortions and their restoration). SCS: the median relative
    error over the columns at least a quarter as strong as the image's median column
    (fainter ones have SCS near 0). ``truths``: per pair None or
    (column table, pixel size A); pairs without columns are skipped."""
    from emsim.analysis.quantify import fit_columns

    d_pm, d_scs = [], []
    for (_, y), out, t in zip(pairs, outputs, truths):
        if t is None or len(t[0]) == 0:
            continue
        cols, dr = t
        ref, fit = fit_columns(y, cols[:, 2:4]), fit_columns(out, cols[:, 2:4])
        d_pm.append(np.hypot(fit["col"] - ref["col"], fit["row"] - ref["row"]) * dr * 100)
        visible = np.abs(ref["scs"]) >= 0.25 * np.nanmedian(np.abs(ref["scs"]))
        d_scs.append((fit["scs"] / ref["scs"] - 1)[visible])
    if not d_pm:
        return {}
    d, e = np.concatenate(d_pm), np.concatenate(d_scs)
    d, e = d[np.isfinite(d)], e[np.isfinite(e)]
    return {"pos_rms_pm": float(np.sqrt(np.mean(d * d))), "pos_p95_pm": float(np.percentile(d, 95)), "scs_rel_median": float(np.median(np.abs(e))), "columns": int(d.size)}


def evaluate_pairs(pairs, model=None, device="cpu", baselines=("bm3d", "gaussian", "raw"), tile: int = 512, truths=None) -> list[dict]:
    """Rows {method, psnr, ssim, seconds_per_image, n} over (x, y) pairs (numpy 2D); with
    ``truths`` (per pair None or (column table, pixel size)), also ``column_errors``."""
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
        from .baselines.bm3d import bm3d_denoise

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
        row = {
            "method": name,
            "psnr": float(np.mean([psnr(y, o) for (_, y), o in zip(pairs, outs)])),
            "ssim": float(np.mean([ssim(y, o) for (_, y), o in zip(pairs, outs)])),
            "seconds_per_image": timing[name] / len(pairs),
            "n": len(pairs),
        }
        if truths is not None:
            row.update(column_errors(outs, pairs, truths))
        rows.append(row)
    return rows


def _store_indices(path: str, n: int | None, start: int | None):
    from emsim.dataset import store

    idx = store.complete_indices(path)
    if n is not None:
        idx = idx[start : start + n] if start is not None else idx[-n:]
    return store.open_group(path, "r"), idx


def store_pairs(path: str, n: int | None = None, start: int | None = None):
    """(x, y) numpy pairs of a store's complete samples (the last n, i.e. the held-out
    ones a training run on this store validated on, unless ``start`` is given)."""
    g, idx = _store_indices(path, n, start)
    return [(np.asarray(g["x"][k], dtype=np.float32), np.asarray(g["y"][k], dtype=np.float32)) for k in idx]


def store_column_truths(path: str, n: int | None = None, start: int | None = None):
    """Per sample of ``store_pairs``: (column table, pixel size), or None for every sample
    when the store holds no column truth."""
    from emsim.dataset import store

    g, idx = _store_indices(path, n, start)
    if "columns" not in store.spec_of(dict(g.attrs)["emsim"]).truth:
        return None
    return [(store.truth(g, k, ("columns",))["columns"]["columns"].astype(np.float64), float(g["pixel_size"][k])) for k in idx]


def format_table(rows: list[dict]) -> str:
    """The rows of ``evaluate_pairs`` as a text table."""
    cols = "pos_rms_pm" in rows[0]
    extra = f" {'pos RMS/pm':>10} {'pos p95/pm':>10} {'SCS err':>8}" if cols else ""
    count = f", {rows[0]['columns']} columns" if cols else ""
    lines = [f"{'method':<24} {'PSNR/dB':>8} {'SSIM':>7} {'s/image':>9}{extra}   (n = {rows[0]['n']}{count})"]
    for r in rows:
        tail = f" {r['pos_rms_pm']:>10.2f} {r['pos_p95_pm']:>10.2f} {r['scs_rel_median']:>8.4f}" if cols else ""
        lines.append(f"{r['method']:<24} {r['psnr']:>8.2f} {r['ssim']:>7.4f} {r['seconds_per_image']:>9.4f}{tail}")
    return "\n".join(lines)


def write_csv(path: str | Path, rows: list[dict]) -> None:
    """Rows (``evaluate_pairs`` or ``evaluate_sr``) as CSV, one column per key."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


# --------------------------------------------------------------------------- super-resolution

SR_BASELINES = ("bicubic", "nearest", "lbnlm")
LIBRARY_PAIRS = 16  # earlier store samples used for the LB-NLM library


def _scale_of(pairs) -> int:
    scales = set()
    for x, y in pairs:
        if x.ndim != 2 or y.ndim != 2 or x.shape[0] == 0 or y.shape[0] % x.shape[0]:
            raise EmsimError(f"pair shapes {x.shape} -> {y.shape} are not an integer SR factor apart")
        s = y.shape[0] // x.shape[0]
        if y.shape != (s * x.shape[0], s * x.shape[1]):
            raise EmsimError(f"pair shapes {x.shape} -> {y.shape} are not an integer SR factor apart")
        scales.add(s)
    if len(scales) != 1:
        raise EmsimError(f"pairs have different SR factors {sorted(scales)}")
    return scales.pop()


def sr_array(model, lr: np.ndarray, device="cpu", tile: int = 256) -> np.ndarray:
    """Apply an SR model (raw intensities in and out) to a 2D LR image (tiled)."""
    from .infer import restore_array

    return restore_array(model, lr, tile=tile, overlap=min(32, tile // 4), device=device)


def evaluate_sr(pairs, model=None, device="cpu", baselines=("bicubic", "lbnlm"), library_pairs=None, lbnlm_config=None) -> list[dict]:
    """SR model and baselines on (lr, hr) pairs of one integer factor.

    Parameters
    ----------
    pairs : iterable of (lr, hr) 2D numpy arrays
    model : an SR generator of the pairs' factor, or None (baselines only)
    device : torch device of the model
    baselines : any of ``SR_BASELINES``
    library_pairs : (lr, hr) pairs for LB-NLM's library (None: leave-one-out)
    lbnlm_config : ``baselines.lbnlm.LBNLMConfig`` (None: the defaults)

    Returns
    -------
    list of rows {method, psnr, ssim, psnr_g3, ssim_g3, psnr_g5, ssim_g5, ms_ssim,
    edge_sim, seconds_per_image, n}
    """
    from emsim.imaging.resample import cubic_upsample, nearest_fill

    pairs = [(np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32)) for x, y in pairs]
    if not pairs:
        raise EmsimError("no pairs to evaluate")
    unknown = set(baselines) - set(SR_BASELINES)
    if unknown:
        raise EmsimError(f"unknown SR baselines {sorted(unknown)} (use {', '.join(SR_BASELINES)}, e.g. --baselines bicubic,lbnlm)")
    s = _scale_of(pairs)
    outputs: dict[str, list] = {}
    timing: dict[str, float] = {}
    if model is not None:
        ms = upscale(model)
        if ms != s:
            raise EmsimError(f"the model upscales by {ms}, the pairs by {s}")
        t = time.perf_counter()
        outputs["model"] = [sr_array(model, x, device) for x, _ in pairs]
        timing["model"] = time.perf_counter() - t
    if "bicubic" in baselines:
        t = time.perf_counter()
        outputs["bicubic"] = [cubic_upsample(x, s) for x, _ in pairs]
        timing["bicubic"] = time.perf_counter() - t
    if "nearest" in baselines:
        t = time.perf_counter()
        outputs["nearest"] = [nearest_fill(x, s) for x, _ in pairs]
        timing["nearest"] = time.perf_counter() - t
    if "lbnlm" in baselines:
        from .baselines.lbnlm import LBNLMConfig, build_library, lbnlm_upscale

        cfg = lbnlm_config or LBNLMConfig()
        t = time.perf_counter()
        if library_pairs:
            lib = build_library(library_pairs, s, cfg)
            outputs["lbnlm"] = [lbnlm_upscale(x, lib) for x, _ in pairs]
        else:
            if len(pairs) < 2:
                raise EmsimError("LB-NLM without library pairs needs at least 2 pairs (leave-one-out)")
            outputs["lbnlm"] = [lbnlm_upscale(x, build_library(pairs[:i] + pairs[i + 1 :], s, cfg)) for i, (x, _) in enumerate(pairs)]
        timing["lbnlm"] = time.perf_counter() - t
    rows = []
    for name, outs in outputs.items():
        per = [sr_metrics(y, o) for (_, y), o in zip(pairs, outs)]
        row = {"method": name}
        row.update({k: float(np.mean([m[k] for m in per])) for k in METRICS})
        row.update({"seconds_per_image": timing[name] / len(pairs), "n": len(pairs)})
        rows.append(row)
    return rows


def format_sr_table(rows: list[dict]) -> str:
    """The rows of ``evaluate_sr`` as a text table."""
    head = f"{'method':<10} {'PSNR':>7} {'SSIM':>7} {'PSNR-g3':>8} {'SSIM-g3':>8} {'PSNR-g5':>8} {'SSIM-g5':>8} {'MS-SSIM':>8} {'edge':>6} {'s/image':>8}   (n = {rows[0]['n']}; PSNR in dB)"
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['method']:<10} {r['psnr']:>7.2f} {r['ssim']:>7.4f} {r['psnr_g3']:>8.2f} {r['ssim_g3']:>8.4f} "
            f"{r['psnr_g5']:>8.2f} {r['ssim_g5']:>8.4f} {r['ms_ssim']:>8.4f} {r['edge_sim']:>6.3f} {r['seconds_per_image']:>8.4f}"
        )
    return "\n".join(lines)


def evaluate_sr_store(path, ckpt, n, baselines, device) -> tuple[list[dict], str]:
    """Evaluate on the last ``n`` complete samples of a store whose ``x`` is (N, H/s, W/s)
    and ``y`` (N, H, W); LB-NLM's library comes from up to 16 samples before them (or
    leave-one-out when there are none). Returns (rows, table text)."""
    from emsim.dataset import store

    idx = store.complete_indices(path)
    if n is not None and n < 1:
        raise EmsimError(f"--n must be >= 1, got {n}")
    n = len(idx) if n is None else min(int(n), len(idx))
    if n == 0:
        raise EmsimError(f"{path} has no complete samples")
    pairs = store_pairs(path, n)
    library = []
    if "lbnlm" in baselines:
        start = max(0, len(idx) - n - LIBRARY_PAIRS)
        count = len(idx) - n - start
        library = store_pairs(path, count, start) if count > 0 else []
    model = None
    if ckpt:
        from .checkpoint import load_generator

        model = load_generator(ckpt, device, sr=True)
    rows = evaluate_sr(pairs, model, device, tuple(baselines), library_pairs=library or None)
    return rows, format_sr_table(rows)
