"""Evaluation of restoration and super-resolution models against baselines.

Restoration (``evaluate_pairs``): the model; BM3D (``baselines.bm3d``); a Gaussian filter
with its best sigma (the single sigma, from a grid, that maximises the mean PSNR over the
evaluated pairs: an oracle baseline); and the raw input. Reports mean PSNR (eq. 1), SSIM and
seconds per image.

Super-resolution, methods: the model (whole-image forward, tiled); ``bicubic`` (Keys, on the
pairs' pixel grid: "probe" for emsim's scans -- LR pixel (i, j) is HR pixel (s i, s j), so
the bicubic image equals the LR image at the probe pixels -- or Pillow's "centre" grid);
``nearest`` (nearest-neighbour infill, Ede 2019's input); ``lbnlm`` (paired library-based
non-local means, Algorithm 1 of the paired-SR paper, ``baselines.lbnlm``). LB-NLM's time
includes building its libraries, amortised over the images. Metrics: ``sr_metrics`` (both
PSNR conventions, SSIM, the 3x3/5x5 Gaussian-filtered variants, MS-SSIM, the Canny edge
similarity, Otsu foreground/background PSNR), averaged over the compared images. Protocols:

- ``evaluate_sr`` / ``evaluate_sr_store(protocol="store")``: (lr, hr) pairs as they are.
  Scan pairs are aligned (hr = s x lr). Paired acquisitions (``emsim.pairs.sr`` paired
  mode: lr a whole field, hr a misregistered sub-region) are registered as the paired-SR
  paper does (``register_pair``: HR onto the bicubic-upsampled LR, shift, rotation and
  scale); every method's whole-field output is warped by that transform onto the HR image
  and the metrics are taken over the largest box valid in both (``valid_box``). LB-NLM's
  library comes from ``library_pairs`` (a store's samples before the evaluated ones),
  registered alike, or leave-one-out from the evaluated pairs.
- ``evaluate_sr_self`` (``protocol="self"``): the paired-SR paper's self-training: each
  (registered) pair is cut into 3 x 4 sub-images (``split_pair``); LB-NLM's library comes
  from the pair's own 9 training sub-images and every method is scored on its 3 test
  sub-images (the right 25 %).
- ``evaluate_zoom`` (``protocol="zoom"``): Moeller et al. 2023's standard evaluation on a
  folder of HR reference images (Sec. 4.2): a zoom pyramid of pseudo-real references, the
  images downscaled by nearest neighbour by z = L / L_ref for the integer zoom levels L from
  L_ref / s to L_ref (20MX references: 5..20MX at 4x, 10..20MX at 2x; z = 1 is the raw
  image), each degraded by nearest-neighbour downscaling by s to the model input. Pillow's
  pixel-centre grid by default (the paper's resizing). LB-NLM: leave-one-out over the
  images of one level.
"""

from __future__ import annotations

import csv
import textwrap
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from emsim.errors import EmsimError

from .archs import upscale
from .metrics import METRICS, ms_ssim_scales, psnr, sr_metrics, ssim

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
ZOOM_REFERENCE = 20  # Moeller 2023: references at 20MX, pseudo-real levels down to 20/s MX
SR_COLUMNS = (  # (row key, table header, format)
    ("psnr_maxy", "PSNRmax", ".2f"), ("psnr_255", "PSNR255", ".2f"), ("ssim", "SSIM", ".4f"),
    ("psnr_maxy_g3", "PSNRmax-g3", ".2f"), ("psnr_255_g3", "PSNR255-g3", ".2f"), ("ssim_g3", "SSIM-g3", ".4f"),
    ("psnr_maxy_g5", "PSNRmax-g5", ".2f"), ("psnr_255_g5", "PSNR255-g5", ".2f"), ("ssim_g5", "SSIM-g5", ".4f"),
    ("ms_ssim", "MS-SSIM", ".4f"), ("edge_sim", "edge", ".3f"), ("psnr_maxy_fg", "PSNRmax-fg", ".2f"), ("psnr_maxy_bg", "PSNRmax-bg", ".2f"),
    ("seconds_per_image", "s/image", ".4f"),
)
SR_LEGEND = (
    "PSNR in dB. PSNRmax: MAX = max(y) of the unfiltered reference (emsim's); PSNR255: the papers' 8-bit convention "
    "(y min-max to 0..255, the estimate by the same map, rounded and clipped; MAX = 255). -g3/-g5: both images after "
    "OpenCV's 3x3/5x5 GaussianBlur (binomial kernels; Moeller 2024), peak and SSIM's L those of the unfiltered y. "
    "SSIM: scikit-image, L = range(y). MS-SSIM: Wang 2003, L = range(y), {scales} (5 need >= 176 px; fewer: the first M "
    "weights renormalised). edge: Canny edge similarity (paired-SR eq. 4). -fg/-bg: over the Otsu foreground / "
    "background of y (paired-SR Sec. IV-C)."
)


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


def _check_sr(pairs, model, baselines, scale, paired: bool) -> tuple[list, int]:
    """(float32 pairs, SR factor) after checking baselines, factor and model."""
    pairs = [(np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32)) for x, y in pairs]
    if not pairs:
        raise EmsimError("no pairs to evaluate")
    unknown = set(baselines) - set(SR_BASELINES)
    if unknown:
        raise EmsimError(f"unknown SR baselines {sorted(unknown)} (use {', '.join(SR_BASELINES)}, e.g. --baselines bicubic,lbnlm)")
    if paired and scale is None:
        raise EmsimError("paired acquisitions need their SR factor (the shapes do not tell it)")
    s = int(scale) if paired else _scale_of(pairs)
    if scale is not None and int(scale) != s:
        raise EmsimError(f"the pairs are {s}x apart, not {scale}x")
    if model is not None and upscale(model) != s:
        raise EmsimError(f"the model upscales by {upscale(model)}, the pairs by {s}")
    return pairs, s


def _sr_outputs(pairs, model, device, baselines, s: int, grid: str) -> tuple[dict, dict]:
    """Outputs and total seconds of the model, bicubic and nearest (those requested)."""
    from emsim.imaging.resample import cubic_upsample, nearest_fill

    methods = {"bicubic": lambda x: cubic_upsample(x, s, grid), "nearest": lambda x: nearest_fill(x, s)}
    if model is not None:
        methods = {"model": lambda x: sr_array(model, x, device), **methods}
    outputs: dict[str, list] = {}
    timing: dict[str, float] = {}
    for name, f in methods.items():
        if name == "model" or name in baselines:
            t = time.perf_counter()
            outputs[name] = [f(x) for x, _ in pairs]
            timing[name] = time.perf_counter() - t
    return outputs, timing


def _sr_rows(outputs: dict, timing: dict, pairs, transforms=None) -> list[dict]:
    """Mean ``sr_metrics`` per method; with ``transforms`` (paired acquisitions) each output
    is first warped onto its HR image and both are cropped to their common valid box."""
    from .baselines.registration import valid_box, warp

    rows = []
    for name, outs in outputs.items():
        per = []
        for i, ((_, y), o) in enumerate(zip(pairs, outs)):
            if transforms is not None:
                o, valid = warp(o, transforms[i], y.shape, order=3)
                box = valid_box(valid)
                y, o = y[box], o[box]
            per.append((sr_metrics(y, o), ms_ssim_scales(y.shape)))
        row = {"method": name}
        row.update({k: float(np.mean([m[k] for m, _ in per])) for k in METRICS})
        row.update({"ms_ssim_scales": min(m for _, m in per), "seconds_per_image": timing[name] / len(pairs), "n": len(pairs)})
        rows.append(row)
    return rows


def evaluate_sr(pairs, model=None, device="cpu", baselines=("bicubic", "lbnlm"), library_pairs=None, lbnlm_config=None, scale=None, paired=False, grid="probe") -> list[dict]:
    """SR model and baselines on (lr, hr) pairs of one integer factor.

    Parameters
    ----------
    pairs : iterable of (lr, hr) 2D numpy arrays
    model : an SR generator of the pairs' factor, or None (baselines only)
    device : torch device of the model
    baselines : any of ``SR_BASELINES``
    library_pairs : (lr, hr) pairs for LB-NLM's library (None: leave-one-out)
    lbnlm_config : ``baselines.lbnlm.LBNLMConfig`` (None: the defaults on ``grid``)
    scale : the SR factor (None: from the shapes; required when ``paired``)
    paired : the pairs are paired acquisitions (hr a misregistered sub-region of the lr
        field): register each and compare the registered region (module docstring)
    grid : pixel grid of the bicubic upsampling ("probe" or "centre")

    Returns
    -------
    list of rows {method, the ``METRICS``, ms_ssim_scales (the fewest MS-SSIM scales used),
    seconds_per_image, n}
    """
    from .baselines.registration import register_pair

    pairs, s = _check_sr(pairs, model, baselines, scale, paired)
    transforms = [register_pair(x, y, s)[0] for x, y in pairs] if paired else None
    outputs, timing = _sr_outputs(pairs, model, device, baselines, s, grid)
    if "lbnlm" in baselines:
        from .baselines.lbnlm import LBNLMConfig, build_library, lbnlm_upscale

        cfg = lbnlm_config or LBNLMConfig(grid=grid)
        t = time.perf_counter()
        if library_pairs:
            lib_t = [register_pair(x, y, s)[0] for x, y in library_pairs] if paired else None
            lib = build_library(library_pairs, s, cfg, lib_t)
            outputs["lbnlm"] = [lbnlm_upscale(x, lib) for x, _ in pairs]
        else:
            if len(pairs) < 2:
                raise EmsimError("LB-NLM without library pairs needs at least 2 pairs (leave-one-out)")

            def others(seq, i):
                return None if seq is None else seq[:i] + seq[i + 1 :]

            outputs["lbnlm"] = [lbnlm_upscale(x, build_library(others(pairs, i), s, cfg, others(transforms, i))) for i, (x, _) in enumerate(pairs)]
        timing["lbnlm"] = time.perf_counter() - t
    return _sr_rows(outputs, timing, pairs, transforms)


def evaluate_sr_self(pairs, model=None, device="cpu", baselines=("bicubic", "lbnlm"), lbnlm_config=None, scale=None, paired=False, grid="probe") -> list[dict]:
    """The paired-SR paper's self-training protocol (Sec. III-B): every pair (registered
    first when ``paired``) is split into 3 x 4 sub-images (``split_pair``); LB-NLM's library
    is built from the pair's 9 training sub-images, and all methods are scored on the 3
    test sub-images of every pair. Arguments and rows as ``evaluate_sr`` (n: the number of
    test sub-images)."""
    from .baselines.lbnlm import LBNLMConfig, lbnlm_upscale, self_training, split_pair
    from .baselines.registration import register_pair

    pairs, s = _check_sr(pairs, model, baselines, scale, paired)
    cfg = lbnlm_config or LBNLMConfig(grid=grid)
    tests, sr, t_lib = [], [], 0.0
    for x, y in pairs:
        T = register_pair(x, y, s)[0] if paired else None
        if "lbnlm" in baselines:
            t = time.perf_counter()
            lib, test = self_training(x, y, s, cfg, T)
            sr += [lbnlm_upscale(lr, lib) for lr, _ in test]
            t_lib += time.perf_counter() - t
        else:
            test = split_pair(x, y, s, T)[1]
        tests += test
    outputs, timing = _sr_outputs(tests, model, device, baselines, s, grid)
    if "lbnlm" in baselines:
        outputs["lbnlm"], timing["lbnlm"] = sr, t_lib
    return _sr_rows(outputs, timing, tests)


def zoom_levels(scale: int, reference: int = ZOOM_REFERENCE) -> list[int]:
    """Moeller 2023's integer zoom levels ceil(reference / scale) .. reference."""
    if int(reference) < 1:
        raise EmsimError(f"the zoom reference level must be >= 1, got {reference}")
    return list(range(-(-int(reference) // int(scale)), int(reference) + 1))


def zoom_pairs(images, scale: int, level: int, reference: int = ZOOM_REFERENCE, grid: str = "centre") -> list[tuple[np.ndarray, np.ndarray]]:
    """(LR input, pseudo-real HR target) per image at one zoom level: the image downscaled
    by nearest neighbour by level / reference (the raw image at the reference level), its
    bottom/right cropped to a multiple of ``scale``, and the target downscaled by
    nearest neighbour by ``scale`` (``emsim.pairs.lronly.resize``, on ``grid``)."""
    from emsim.pairs.lronly.resize import downscale, rescale

    if not 1 <= int(level) <= int(reference):
        raise EmsimError(f"zoom level {level} must lie in 1..{reference} (the reference level)")
    out = []
    for img in images:
        z = rescale(img, level / reference, "nearest", grid) if level != reference else np.asarray(img, dtype=np.float32)
        H, W = (z.shape[0] // scale) * scale, (z.shape[1] // scale) * scale
        if min(H, W) < scale:
            raise EmsimError(f"an image of {np.shape(img)} is too small for zoom level {level}/{reference} at {scale}x")
        hr = np.ascontiguousarray(z[:H, :W])
        out.append((downscale(hr, scale, "nearest", grid), hr))
    return out


def evaluate_zoom(source, model=None, device="cpu", baselines=("bicubic", "lbnlm"), scale=None, levels=None, reference: int = ZOOM_REFERENCE, grid: str = "centre", lbnlm_config=None) -> list[dict]:
    """Moeller 2023's standard evaluation (module docstring) on HR reference images.

    Parameters
    ----------
    source : a folder of images (``emsim.pairs.lronly.find_images``) or a list of 2D arrays
    model, device, baselines, lbnlm_config : as ``evaluate_sr`` (LB-NLM: leave-one-out
        over the images of each level)
    scale : SR factor (None: the model's, else 4)
    levels : integer zoom levels (None: ``zoom_levels(scale, reference)``)
    reference : zoom level of the reference images (20: 20MX)
    grid : pixel grid of the degradations and the bicubic baseline

    Returns
    -------
    rows of ``evaluate_sr``, each with zoom_level and zoom (= level / reference) first
    """
    from emsim.io import read_image
    from emsim.pairs.lronly.folder import find_images

    images = [read_image(p) for p in find_images(source)] if isinstance(source, (str, Path)) else [np.asarray(a, dtype=np.float32) for a in source]
    if not images:
        raise EmsimError("no reference images for the zoom protocol")
    s = upscale(model) if model is not None and scale is None else int(scale or 4)
    rows = []
    for level in levels or zoom_levels(s, reference):
        for r in evaluate_sr(zoom_pairs(images, s, level, reference, grid), model, device, baselines, lbnlm_config=lbnlm_config, scale=s, grid=grid):
            rows.append({"zoom_level": int(level), "zoom": level / reference, **r})
    return rows


def format_sr_table(rows: list[dict], note: str = "") -> str:
    """The rows of the SR evaluations as a text table (zoom rows with their level first),
    with a legend of what each column measures; ``note``: appended to the header."""
    zoom = "zoom_level" in rows[0]
    head = (f"{'level':>5} {'zoom':>6} " if zoom else "") + f"{'method':<10} " + " ".join(f"{h:>{max(len(h), 7)}}" for _, h, _ in SR_COLUMNS)
    lines = [f"{head}   (n = {rows[0]['n']}{'; ' + note if note else ''})"]
    for r in rows:
        lead = f"{r['zoom_level']:>5} {r['zoom']:>6.3f} " if zoom else ""
        lines.append(lead + f"{r['method']:<10} " + " ".join(f"{r[k]:>{max(len(h), 7)}{f}}" for k, h, f in SR_COLUMNS))
    m = sorted({r["ms_ssim_scales"] for r in rows})
    lines.append(textwrap.fill(SR_LEGEND.format(scales=f"M = {'/'.join(map(str, m))} scale{'s' if m != [1] else ''} here"), 110))
    return "\n".join(lines)


def sr_store_layout(path: str, indices) -> tuple[int | None, bool]:
    """(SR factor, paired?) of a store: from its config (attrs) and each sample's
    record["sr"], which must agree; (None, False) for a store that records neither (the
    factor then comes from the shapes)."""
    from emsim.dataset import store

    g = store.open_group(path, "r")
    cfg = store.read_attrs(path).get("config") or {}
    found = set()
    if cfg.get("task") == "sr":
        sr = cfg.get("sr", {})
        found.add((int(sr.get("scale", 4)), sr.get("mode", "scan")))
    for k in indices:
        sr = store.read_record(g, k).get("sr")
        if sr:
            found.add((int(sr["scale"]), sr.get("mode", "scan")))
    if len(found) > 1:
        raise EmsimError(f"{path}: its samples disagree on the SR factor/mode: {sorted(found)}")
    if not found:
        return None, False
    s, mode = found.pop()
    return s, mode == "paired"


def evaluate_sr_store(path, ckpt, n, baselines, device, protocol: str = "store") -> tuple[list[dict], str]:
    """Evaluate on the last ``n`` complete samples of an SR store (scan or paired mode,
    read from the store): ``protocol`` "store" (``evaluate_sr``; LB-NLM's library from up
    to 16 samples before them, or leave-one-out when there are none) or "self"
    (``evaluate_sr_self``). Returns (rows, table text)."""
    from emsim.dataset import store

    if protocol not in ("store", "self"):
        raise EmsimError(f"unknown store protocol {protocol!r} (use store or self)")
    idx = store.complete_indices(path)
    if n is not None and n < 1:
        raise EmsimError(f"--n must be >= 1, got {n}")
    n = len(idx) if n is None else min(int(n), len(idx))
    if n == 0:
        raise EmsimError(f"{path} has no complete samples")
    pairs = store_pairs(path, n)
    start = len(idx) - n
    if "lbnlm" in baselines and protocol == "store":
        start = max(0, start - LIBRARY_PAIRS)
    library = store_pairs(path, len(idx) - n - start, start) if start < len(idx) - n else []
    scale, paired = sr_store_layout(path, idx[start:])
    model = None
    if ckpt:
        from .checkpoint import load_generator

        model = load_generator(ckpt, device, sr=True)
    if protocol == "self":
        rows = evaluate_sr_self(pairs, model, device, tuple(baselines), scale=scale, paired=paired)
    else:
        rows = evaluate_sr(pairs, model, device, tuple(baselines), library_pairs=library or None, scale=scale, paired=paired)
    note = ("paired acquisitions, registered" if paired else "aligned scans") + f"; {scale or _scale_of(pairs)}x; protocol {protocol}"
    return rows, format_sr_table(rows, note)
