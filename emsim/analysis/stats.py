"""Scale-free statistics of EM images that need no clean image, and the coverage of one set
of images (a store, the data a model was trained on) by another (a user's micrographs).

Per image (``image_stats``):

- ``counts``: detected counts per pixel at the mean signal, N = mean(x)^2 / var(mean(x)),
  from a Poisson-Gaussian fit var = a m + b of the local noise variance against the local
  mean (``noise_fit``: a separable [1, -2, 1]^2 high-pass in 4 x 4 blocks, which cancels
  smooth signal up to x^2 y^2; per mean-quantile bin the median block variance; least
  squares line).
  For pure counting noise N is the mean number of electrons per pixel (alpha E{y}); it is
  invariant to the image's scale. ``gain`` a and ``offset`` b are in the image's units.
- ``std_mean``: Std/E (the quantity of eq. 25).
- ``spectrum_slope``: slope of the radially averaged power spectrum in log-log over 0.02-0.45
  cycles/px (0 for white noise, about -2 to -4 for smooth images).
- ``row_col_corr``: lag-1 autocorrelation along the slow (rows) minus the fast (columns)
  scan axis; scan noise decorrelates rows, fast-scan blur correlates columns.
- ``row_shift_std``, ``row_shift_phi``: the horizontal shift (px) between consecutive rows by
  cross-correlation (parabolic sub-pixel peak within +-3 px): its standard deviation and
  lag-1 autocorrelation (scan jitter). The standard deviation is the robust one, 1.4826
  MAD (equal for Gaussian shifts): a row that crosses no structure (between atomic columns,
  vacuum) has a flat cross-correlation whose argmax falls anywhere in +-3 px, and those
  rows set the plain standard deviation (clean emsim images: 0.40 px plain, 0.14 px
  robust; atomap's real ADF/ABF frames, structure in every row: 0.12-0.14 px both).
- ``jitter_x``, ``jitter_y`` (px), ``jitter_phi_x``, ``jitter_phi_y``, ``fast_scan``:
  scan-distortion estimates (``scan_distortions``).
- ``saturated``, ``zeros``: fractions of pixels tied with the image's maximum / minimum value
  beyond the one pixel that always holds it (``tied_fraction``), so 0 for an unclipped
  image of any size (counting that pixel gave 1/(H W): 6.1e-5 at 128^2 against 6.6e-6 for a
  400 x 380 micrograph, a 5.7-sigma difference in coverage from the sizes alone).

Pairs (``pair_stats``) add ``psnr`` (peak max(y)), ``counts_pair`` = mean(y)^2 /
var(x - c y) (c the least-squares scale, the clean-image version of ``counts``),
``alpha_pair`` = mean(y) / var(x - c y) (the estimator the sim-to-real issue used, equal to
the counts at unit intensity for emsim's intensity units) and the clean image's
``clean_std_mean`` and ``clean_spectrum_slope``.

Coverage (``coverage``): the clean-free features, standardised with SOURCE's mean and
standard deviation (counts and row shifts on a log scale); each reference image's distance
to its nearest SOURCE image divided by the median nearest-neighbour distance within
SOURCE is its out-of-distribution score; a reference image is covered if its score is at
most the 95th percentile of SOURCE's own (leave-one-out) scores.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import EmsimError
from ..io import READ_SUFFIXES, read_input

IMAGE_FEATURES = ("counts", "gain", "offset", "std_mean", "spectrum_slope", "row_col_corr", "row_shift_std", "row_shift_phi", "jitter_x", "jitter_phi_x", "jitter_y", "jitter_phi_y", "fast_scan", "saturated", "zeros")
PAIR_FEATURES = ("psnr", "counts_pair", "alpha_pair", "clean_std_mean", "clean_spectrum_slope")
# features compared in ``coverage``, with the transform that makes them roughly Gaussian
DISTANCE = {"counts": np.log10, "std_mean": np.log10, "spectrum_slope": None, "row_col_corr": None, "row_shift_std": lambda v: np.log10(v + 0.01), "saturated": lambda v: np.log10(v + 1e-5), "zeros": lambda v: np.log10(v + 1e-5)}
_BLOCK = 4
_BINS = 16
# median of the block means of d^2 over sigma^2 for white noise (4 x 4 blocks of the
# overlapping high-pass; measured over 1e7 samples)
_MEDIAN_BIAS = 0.863


def _highpass(x: np.ndarray) -> np.ndarray:
    """[1, -2, 1] x [1, -2, 1] / 6 on the interior: zero on every p(x) q(y) with p or q of
    degree < 2 (so on smooth signal up to x^2 y^2), variance sigma^2 for white noise."""
    r = x[:-2] - 2 * x[1:-1] + x[2:]
    return (r[:, :-2] - 2 * r[:, 1:-1] + r[:, 2:]) / 6.0


def noise_fit(x: np.ndarray) -> dict:
    """Poisson-Gaussian noise model var = gain m + offset of an image, and the counts per
    pixel at its mean signal (see module docstring).

    Parameters
    ----------
    x : 2D array

    Returns
    -------
    dict with ``gain``, ``offset`` (image units) and ``counts`` (inf for a noiseless image).
    """
    x = np.asarray(x, dtype=np.float64)
    d = _highpass(x)
    m = x[1:-1, 1:-1]
    h, w = (d.shape[0] // _BLOCK) * _BLOCK, (d.shape[1] // _BLOCK) * _BLOCK
    if h == 0 or w == 0:
        raise EmsimError(f"image of shape {x.shape} is too small for the noise fit")

    def blocks(a):
        return a[:h, :w].reshape(h // _BLOCK, _BLOCK, w // _BLOCK, _BLOCK).mean(axis=(1, 3)).ravel()

    var, mean = blocks(d * d), blocks(m)
    edges = np.unique(np.quantile(mean, np.linspace(0, 1, _BINS + 1)))
    which = np.clip(np.searchsorted(edges, mean, side="right") - 1, 0, max(0, edges.size - 2))
    bm, bv, bn = [], [], []
    for k in range(max(1, edges.size - 1)):
        sel = which == k
        if sel.sum() >= 4:
            bm.append(mean[sel].mean())
            bv.append(np.median(var[sel]) / _MEDIAN_BIAS)
            bn.append(sel.sum())
    bm, bv, bn = np.array(bm), np.array(bv), np.array(bn, dtype=float)
    gain, offset = 0.0, float(np.average(bv, weights=bn))
    if bm.size >= 2 and np.ptp(bm) > 0:
        A = np.stack([bm, np.ones_like(bm)], axis=1) * np.sqrt(bn)[:, None]
        g, o = np.linalg.lstsq(A, bv * np.sqrt(bn), rcond=None)[0]
        if g > 0:
            gain, offset = float(g), float(o)
    mu = float(x.mean())
    noise = gain * mu + offset
    return {"gain": gain, "offset": offset, "counts": mu * mu / noise if noise > 0 else math.inf}


def spectrum_slope(x: np.ndarray, fmin: float = 0.02, fmax: float = 0.45) -> float:
    """Slope of log P(f) against log f, P the radially averaged power spectrum of the
    Hann-windowed, mean-removed image, f in cycles/px."""
    x = np.asarray(x, dtype=np.float64)
    z = (x - x.mean()) * np.outer(np.hanning(x.shape[0]), np.hanning(x.shape[1]))
    p = np.abs(np.fft.rfft2(z)) ** 2
    f = np.hypot(np.fft.fftfreq(x.shape[0])[:, None], np.fft.rfftfreq(x.shape[1])[None, :])
    edges = np.geomspace(fmin, fmax, 13)
    idx = np.digitize(f, edges)
    pts = [(f[idx == i].mean(), p[idx == i].mean()) for i in range(1, edges.size) if np.any(idx == i)]
    pts = [(a, b) for a, b in pts if b > 0]
    if len(pts) < 3:
        return float("nan")
    lf, lp = np.log(np.array(pts)).T
    return float(np.polyfit(lf, lp, 1)[0])


def row_statistics(x: np.ndarray, max_shift: int = 3) -> dict:
    """Scan-noise statistics: ``row_col_corr`` and the row-to-row shift series'
    ``row_shift_std`` (px) and ``row_shift_phi`` (see module docstring)."""
    z = np.asarray(x, dtype=np.float64)
    z = z - z.mean()
    energy = float((z * z).sum())
    if energy == 0:
        return {"row_col_corr": 0.0, "row_shift_std": 0.0, "row_shift_phi": 0.0}
    ac_rows = float((z[1:] * z[:-1]).sum()) / energy
    ac_cols = float((z[:, 1:] * z[:, :-1]).sum()) / energy
    zr = z - z.mean(axis=1, keepdims=True)
    a, b = zr[:-1], zr[1:]
    W = z.shape[1]
    L = min(max_shift, W // 4)
    lags = np.arange(-L, L + 1)
    cc = np.stack([(a[:, max(0, -s) : W - max(0, s)] * b[:, max(0, s) : W - max(0, -s)]).mean(axis=1) for s in lags])
    k = np.clip(np.argmax(cc, axis=0), 1, lags.size - 2)
    cols = np.arange(cc.shape[1])
    c0, c1, c2 = cc[k - 1, cols], cc[k, cols], cc[k + 1, cols]
    denom = c0 - 2 * c1 + c2
    frac = np.where(denom < 0, 0.5 * (c0 - c2) / np.where(denom < 0, denom, -1.0), 0.0)
    shifts = lags[k] + np.clip(frac, -0.5, 0.5)
    s = shifts - shifts.mean()
    phi = float((s[1:] * s[:-1]).sum() / (s * s).sum()) if s.size > 2 and (s * s).sum() > 0 else 0.0
    from scipy.stats import median_abs_deviation

    robust_std = float(median_abs_deviation(shifts, scale="normal"))
    return {"row_col_corr": ac_rows - ac_cols, "row_shift_std": robust_std, "row_shift_phi": phi}


def _phi_from_r1(r1: float) -> float:
    """phi of an AR(1) series d whose second difference e_i = d_i - (d_i-1 + d_i+1)/2 has
    lag-1 autocorrelation r1 (r1 = -2/3 at phi = 0, rising with phi)."""
    phi = np.linspace(0.0, 0.95, 96)
    r = (-1 + 1.75 * phi - phi**2 + 0.25 * phi**3) / (1.5 - 2 * phi + 0.5 * phi**2)
    return float(np.interp(r1, r, phi))


def scan_distortions(x: np.ndarray, noise_var: float) -> dict:
    """Scan-distortion estimates of an image, no clean image needed (``noise_var``: the
    noise variance at the mean, from ``noise_fit``).

    A pixel sampled at a displaced probe differs from the mean of its vertical neighbours by
    the displacement difference times the local gradient: with diff = x_ij - (x_i-1,j +
    x_i+1,j)/2, E[diff^2] = A f_x^2 + B f_y^2 + C, and the lag-1 product along the row
    E[diff_ij diff_i,j+1] = A1 f_x f_x' + ... . For X-jitter (independent between rows,
    AR(1) along the scan) A = 1.5 s_x^2, A1 = 1.5 s_x^2 phi_x: ``jitter_x`` = s_x (the
    stationary standard deviation, px) and ``jitter_phi_x``. Per row, e_i = sum diff f_y /
    sum f_y^2 estimates dy_i - (dy_i-1 + dy_i+1)/2 of the Y-jitter lines, whose variance (less
    the noise's) is s_y^2 (1 - phi)(3 - phi) / 2 for an AR(1) series, and whose lag-1
    autocorrelation gives phi_y: ``jitter_y`` (px), ``jitter_phi_y``. ``fast_scan``: the
    lag-1 correlation along x minus along y of the high-passed image (about 0 for white
    noise, positive when the detector's response smears the noise along the fast axis)."""
    x = np.asarray(x, dtype=np.float64)
    c = x[1:-1, 1:-1]
    up, dn = x[:-2, 1:-1], x[2:, 1:-1]
    diff = c - 0.5 * (up + dn)
    fy = 0.5 * (dn - up)
    fx = 0.5 * (x[1:-1, 2:] - x[1:-1, :-2])
    X = np.stack([fx.ravel() ** 2, fy.ravel() ** 2, np.ones(fx.size)], axis=1)
    A = np.linalg.lstsq(X, diff.ravel() ** 2, rcond=None)[0][0]
    X1 = np.stack([(fx[:, 1:] * fx[:, :-1]).ravel(), (fy[:, 1:] * fy[:, :-1]).ravel(), np.ones(fx[:, 1:].size)], axis=1)
    A1 = np.linalg.lstsq(X1, (diff[:, 1:] * diff[:, :-1]).ravel(), rcond=None)[0][0]
    w = (fy * fy).sum(axis=1)
    safe = np.where(w > 0, w, 1.0)
    e = np.where(w > 0, (diff * fy).sum(axis=1) / safe, 0.0)
    e = e - e.mean()
    e_noise = float(np.mean(np.where(w > 0, 1.5 * noise_var / safe, 0.0)))
    vy = max(float(np.var(e)) - e_noise, 0.0)
    phi_y = _phi_from_r1(float((e[1:] * e[:-1]).mean()) / vy) if vy > 0 else 0.0
    d = _highpass(x)
    d = d - d.mean()
    dd = float((d * d).sum()) or 1.0
    aniso = float((d[:, 1:] * d[:, :-1]).sum() - (d[1:] * d[:-1]).sum()) / dd
    return {
        "jitter_x": math.sqrt(max(A, 0.0) / 1.5),
        "jitter_phi_x": float(np.clip(A1 / A, 0.0, 0.99)) if A > 0 else 0.0,
        "jitter_y": math.sqrt(vy / (0.5 * (1 - phi_y) * (3 - phi_y))),
        "jitter_phi_y": phi_y,
        "fast_scan": aniso,
    }


def tied_fraction(x: np.ndarray, value: float) -> float:
    """Fraction of pixels equal to ``value`` (an extreme of ``x``) beyond the first: 0 when
    only one pixel holds the extreme, whatever the image size."""
    return max(int(np.count_nonzero(x == value)) - 1, 0) / x.size


def image_stats(x: np.ndarray) -> dict:
    """The clean-free statistics of one image (``IMAGE_FEATURES``)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or min(x.shape) < 8:
        raise EmsimError(f"image statistics need a 2D image of at least 8x8 pixels, got shape {x.shape}")
    mu = float(x.mean())
    out = noise_fit(x)
    out["std_mean"] = float(x.std()) / mu if mu > 0 else float("nan")
    out["spectrum_slope"] = spectrum_slope(x)
    out.update(row_statistics(x))
    out.update(scan_distortions(x, out["gain"] * mu + out["offset"]))
    out["saturated"] = tied_fraction(x, x.max())
    out["zeros"] = tied_fraction(x, x.min())
    return out


def pair_stats(x: np.ndarray, y: np.ndarray) -> dict:
    """``image_stats(x)`` plus the statistics that need the clean image y (``PAIR_FEATURES``)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    out = image_stats(x)
    c = float((x * y).sum() / (y * y).sum()) if (y * y).sum() > 0 else 1.0
    resid = float(np.var(x - c * y))
    mse = float(np.mean((x - y) ** 2))
    peak = float(y.max())
    my = float(y.mean())
    out["psnr"] = 10 * math.log10(peak * peak / mse) if mse > 0 and peak > 0 else math.inf
    out["counts_pair"] = my * my / resid if resid > 0 else math.inf
    out["alpha_pair"] = my / resid if resid > 0 else math.inf
    out["clean_std_mean"] = float(y.std()) / my if my > 0 else float("nan")
    out["clean_spectrum_slope"] = spectrum_slope(y)
    return out


# --------------------------------------------------------------------------- sources


def _image_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in READ_SUFFIXES)
    if not files:
        raise EmsimError(f"no images ({', '.join(READ_SUFFIXES)}) in {path}")
    return files


def source_stats(source, n: int = 256) -> list[dict]:
    """Statistics of every image of ``source``: an emsim store (up to ``n`` complete
    samples, evenly spaced; pair statistics), a folder of images or one image file.
    Each row has ``name`` and the features."""
    from ..dataset import store

    path = Path(str(source))
    if "://" in str(source) or (path.is_dir() and (path / "zarr.json").exists()):
        g = store.open_group(str(source), "r")
        store.read_attrs(str(source))
        idx = store.complete_indices(str(source))
        if idx.size == 0:
            raise EmsimError(f"store {source} holds no complete sample")
        pick = idx[np.unique(np.linspace(0, idx.size - 1, min(n, idx.size)).astype(int))]
        return [{"name": f"{path.name}[{k}]", **pair_stats(g["x"][k], g["y"][k])} for k in pick]
    if not path.exists():
        raise EmsimError(f"no store, folder or image at {source}")
    return [{"name": f.name, **image_stats(read_input(f)[0])} for f in _image_files(path)]


def _matrix(rows: list[dict]) -> np.ndarray:
    cols = []
    for key, fn in DISTANCE.items():
        v = np.array([r.get(key, np.nan) for r in rows], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            cols.append(fn(v) if fn is not None else v)
    return np.stack(cols, axis=1)


def coverage(source: list[dict], reference: list[dict]) -> dict:
    """Out-of-distribution score of each reference image against ``source`` (rows of
    ``source_stats``) and the share of reference images covered (see module docstring)."""
    if len(source) < 3:
        raise EmsimError(f"coverage needs at least 3 source images, got {len(source)}")
    S, R = _matrix(source), _matrix(reference)
    S = np.where(np.isfinite(S), S, np.nanmedian(np.where(np.isfinite(S), S, np.nan), axis=0))
    fill = np.nanmedian(np.where(np.isfinite(S), S, np.nan), axis=0)
    R = np.where(np.isfinite(R), R, fill)
    mu, sd = S.mean(axis=0), S.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    Zs, Zr = (S - mu) / sd, (R - mu) / sd
    dss = np.linalg.norm(Zs[:, None] - Zs[None], axis=2)
    np.fill_diagonal(dss, np.inf)
    own = dss.min(axis=1)
    scale = float(np.median(own)) or 1.0
    limit = float(np.quantile(own / scale, 0.95))
    drs = np.linalg.norm(Zr[:, None] - Zs[None], axis=2)
    nearest = drs.argmin(axis=1)
    scores = drs.min(axis=1) / scale
    per = [{"name": r["name"], "ood": float(sc), "covered": bool(sc <= limit), "nearest": source[int(j)]["name"]} for r, sc, j in zip(reference, scores, nearest)]
    return {"reference": per, "covered": float(np.mean([p["covered"] for p in per])), "limit": limit, "features": list(DISTANCE)}


# --------------------------------------------------------------------------- outputs


def write_csv(path: str | Path, rows: list[dict]) -> Path:
    """Rows (dicts, possibly with different keys) as a CSV table."""
    import csv

    p = Path(path)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(p, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    return p


def histogram_png(path: str | Path, source: list[dict], reference: list[dict] | None = None, features=None) -> Path:
    """A PNG with one histogram per feature: SOURCE filled grey, REFERENCE outlined black,
    on the transformed axes ``coverage`` uses."""
    from PIL import Image, ImageDraw

    features = list(features or DISTANCE)
    tw, th, pad = 260, 150, 24
    cols = 3
    rows_n = math.ceil(len(features) / cols)
    img = Image.new("L", (cols * tw, rows_n * th), 255)
    draw = ImageDraw.Draw(img)
    for k, key in enumerate(features):
        x0, y0 = (k % cols) * tw, (k // cols) * th
        fn = DISTANCE.get(key)
        sets = [np.array([r.get(key, np.nan) for r in rows], dtype=float) for rows in ([source] + ([reference] if reference else []))]
        with np.errstate(divide="ignore", invalid="ignore"):
            sets = [fn(v) if fn is not None else v for v in sets]
        sets = [v[np.isfinite(v)] for v in sets]
        allv = np.concatenate(sets) if sets else np.zeros(0)
        label = key if fn is None else f"{key} (transformed)"
        draw.text((x0 + 4, y0 + 2), label, fill=0)
        if allv.size == 0:
            continue
        lo, hi = float(allv.min()), float(allv.max())
        hi = hi if hi > lo else lo + 1.0
        edges = np.linspace(lo, hi, 21)
        hists = [np.histogram(v, edges)[0] / max(1, v.size) for v in sets]
        top = max(float(h.max()) for h in hists) or 1.0
        bw = (tw - 2 * pad) / 20
        for j, h in enumerate(hists):
            for b, c in enumerate(h):
                bx = x0 + pad + b * bw
                by = y0 + th - pad - (th - 2 * pad) * c / top
                box = [bx, by, bx + bw - 1, y0 + th - pad]
                draw.rectangle(box, fill=170) if j == 0 else draw.rectangle(box, outline=0)
        draw.text((x0 + pad, y0 + th - pad + 4), f"{lo:.3g}", fill=0)
        draw.text((x0 + tw - pad - 40, y0 + th - pad + 4), f"{hi:.3g}", fill=0)
    p = Path(path)
    img.save(p)
    return p
