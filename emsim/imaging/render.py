"""Clean (undistorted) images as a linear superposition of atom profiles (eq. 16).

    y(r) = sum_Z sum_i f_Z(|r - r_i|)

Pixel (i, j) samples the point (x, y) = (j * dr, i * dr): point sampling of the analytic
image, as a scanned probe or an ideal detector would.

Algorithm (chosen by measurement, see benchmarks/bench_render.py):

* Cutoff: a profile is dropped beyond the reduced radius s_c = r / r_m where it has fallen
  below ``PEAK_TOL`` (1e-4) of its peak *and* the mass beyond s_c is below ``MASS_TOL``
  (5e-4) of its integral (the budget: the image stays within 1e-3 of its maximum of the
  float64 direct sum; measured on default specimens: max 4.9e-4, regular and jittered). The mass criterion bounds the error where many tails overlap
  (thick specimens, where the lost mass is a near-uniform offset), the peak criterion where
  they do not. The exponential term makes s_c ~ 9 (11 at 1e-5 / 1e-4: 1.5x more pixels).
* Splat: each species' profile is tabulated at s = k / 2048 (linear interpolation error
  <= 3e-6 of h3 for n <= 16) and added, in numba, to the pixels inside its cutoff ellipse.
  Cost ~ (2 s_c r_m / dr)^2 pixels per atom.
* Split for wide atoms: the profile is split with a smooth window w(rho) (rho in pixels,
  see ``_window``) into a core f*w, splatted as above, and a smooth tail f*(1-w). All atoms of a
  species are deposited on a periodic grid with 8x8 Lagrange weights (exact sub-pixel
  positions to interpolation accuracy) and convolved by FFT with the tail sampled at
  integer offsets. The window is the smallest whose measured 8-point interpolation error
  stays below ``INTERP_TOL`` (1e-5) of the peak; the split is taken only where a cost model
  says it is cheaper. Narrow atoms (r_m below ~1 pixel) have tails that are not
  band-limited on the pixel grid and are always splatted whole.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sfft
from scipy import ndimage, special

from . import _kernels
from ._kernels import S_STEP, TAPS
from ..errors import EmsimError
from .physics import AtomModel, butterworth_area

PEAK_TOL = 1e-4
MASS_TOL = 5e-4
INTERP_TOL = 1e-5
# the FFT tails end where the profile is 10x smaller: their cut must not spoil their smoothness
TAIL_PEAK_TOL, TAIL_MASS_TOL = PEAK_TOL / 10, MASS_TOL / 10
# Cost model (ns, measured on the 2-core dev VM): one splatted pixel, one splatted row, one
# atom's TAPS x TAPS deposit, one P*log2(P) unit of a float32 real FFT.
_NS_PER_PIXEL = 4.0
_NS_PER_ROW = 15.0
_NS_PER_DEPOSIT = 115.0
_NS_PER_FFT_UNIT = 0.17
_NS_PLANNING = 2e6  # what the split search of one species costs (~1-2 ms, measured)
_MAX_TAIL_CELLS = 2**23  # FFT-tail grid points on an extended region (see Renderer._tails_fit)


# --------------------------------------------------------------------------- profile geometry


def cutoff_s(model: AtomModel, peak_tol: float = PEAK_TOL, mass_tol: float = MASS_TOL) -> float:
    """Reduced radius beyond which the profile is dropped (see module docstring)."""
    h1, h2, h3, n = model.h1, model.h2, model.h3, model.n
    peak = model.peak
    mass = h1 + h2 + h3 * butterworth_area(n)

    def excess(s: float) -> bool:
        value = h1 * math.exp(-0.5 * s * s) + h2 * math.exp(-s) + h3 / (1.0 + s ** (2 * n))
        # tail masses: Gaussian e^{-s^2/2}; exponential (1+s)e^{-s}; Butterworth <= s^(2-2n)/(2n-2)
        tail = h1 * math.exp(-0.5 * s * s) + h2 * (1 + s) * math.exp(-s) + h3 * s ** (2 - 2 * n) / (2 * n - 2)
        return value > peak_tol * peak or tail > mass_tol * mass

    lo, hi = 1.0, 2.0
    while excess(hi):
        lo, hi = hi, 2 * hi
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if excess(mid) else (lo, mid)
    return hi


def _window(rho, rho2: float):
    """Core window in pixels: an erfc step centred at 0.6 rho2 with width 0.12 rho2, so it
    is 1 - 1e-12 at the centre and 1.5e-6 at rho2. Of the windows tried (C-infinity bumps,
    erfc steps of other widths) it gives the smallest cores at the 1e-5 tolerance."""
    return 0.5 * special.erfc((np.asarray(rho, dtype=float) - 0.6 * rho2) / (0.12 * rho2))


def _lagrange_weights(d: float) -> np.ndarray:
    """The deposit's interpolation weights (nodes -3..4), as in _kernels._lagrange."""
    nodes = np.arange(TAPS) - 3.0
    return np.array([np.prod([(d - nodes[k]) / (nodes[m] - nodes[k]) for k in range(TAPS) if k != m]) for m in range(TAPS)])


_SHIFTS = np.array([0.25, 0.5, 0.75])
# _SHIFT_MATRIX[m, j]: weight of sample k + m in the value shifted by _SHIFTS[j] at sample k + 4
_SHIFT_MATRIX = np.array([_lagrange_weights(d)[::-1] for d in _SHIFTS]).T


TAYLOR_ORDER = 6  # derivatives matched by the smooth continuation (measured best of 6, 10, 14)
MAX_TAIL_PEAK = 4.0  # a continuation overshooting this many peaks is rejected (float32 cancellation)


@dataclasses.dataclass(frozen=True)
class _Split:
    """A decomposition f = core + tail of a profile with a compact core of radius ``rho``
    pixels (L = r_m in pixels), the tail smooth enough for the Lagrange/FFT path:

    - ``window``: tail = f (1 - w), core = f w, with the erfc window ``_window``;
    - ``taylor``: tail = g, the profile outside rho and, inside, the degree-``TAYLOR_ORDER``
      Taylor polynomial of f as a function of s^2 at s1 = rho / L (so g is C^k at rho and a
      smooth polynomial in x, y inside); core = f - g, exactly zero beyond rho. The core
      needs no transition zone, so it is 2-3x smaller than the window's for narrow atoms;
      for wide atoms the polynomial overshoots and the window wins (the planner measures
      both)."""

    kind: str
    rho: float
    L: float
    coeffs: tuple = ()

    @classmethod
    def taylor(cls, model: AtomModel, rho: float, L: float) -> "_Split | None":
        s1 = rho / L
        u1 = s1 * s1
        radius = 0.6 * min(u1, u1 - 1.0)  # inside the disc free of the Butterworth poles and the branch point at 0
        if radius <= 0.05:
            return None
        z = u1 + radius * np.exp(2j * np.pi * np.arange(64) / 64)  # Cauchy integral by FFT
        vals = model.h1 * np.exp(-z / 2) + model.h2 * np.exp(-np.sqrt(z)) + model.h3 / (1 + z**model.n)
        c = np.real(np.fft.fft(vals) / 64)[: TAYLOR_ORDER + 1] / radius ** np.arange(TAYLOR_ORDER + 1)
        return cls("taylor", rho, L, tuple(c.tolist()))

    def tail_s(self, model: AtomModel, s):
        """Tail at reduced radius s."""
        s = np.asarray(s, dtype=float)
        if self.kind == "window":
            return model.profile_s(s) * (1.0 - _window(s * self.L, self.rho))
        s1 = self.rho / self.L
        inside = s < s1
        poly = np.polyval(np.asarray(self.coeffs)[::-1], s * s - s1 * s1)
        return np.where(inside, poly, model.profile_s(s))

    def core_s(self, model: AtomModel, s):
        """Core (what is splatted exactly) at reduced radius s < rho / L."""
        return model.profile_s(s) - self.tail_s(model, s)


def _tail_interp_error(model: AtomModel, split: _Split, r_cut: float, os: int = 1) -> float:
    """Max error (relative to the peak) of Lagrange-shifting the tail kernel, sampled with
    ``os`` points per pixel, along a line through its centre by 1/4, 1/2, 3/4 sample.
    Infinite for a continuation that overshoots MAX_TAIL_PEAK peaks."""
    x = np.arange(0.0, math.ceil(os * r_cut) + 2 * TAPS)

    def tail(rho):
        rho = np.abs(rho) / os  # pixels
        return split.tail_s(model, rho / split.L) * (rho <= r_cut)

    samples = tail(x)
    if split.kind == "taylor" and np.abs(samples[: int(os * split.rho) + 2]).max() > MAX_TAIL_PEAK * model.peak:
        return math.inf
    n = x.size - TAPS  # the target x[k+4] - d uses the samples x[k], ..., x[k+7]
    approx = sliding_window_view(samples, TAPS)[:n] @ _SHIFT_MATRIX
    exact = tail(x[4 : n + 4, None] - _SHIFTS)
    return float(np.abs(approx - exact).max()) / model.peak


@functools.cache
def _basis(n_entries: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model-independent parts of eq. 17 on the table grid: exp(-s^2/2), exp(-s), log(s)."""
    s = np.arange(n_entries) * S_STEP
    with np.errstate(divide="ignore"):
        return np.exp(-0.5 * s * s), np.exp(-s), np.log(s)


def _table(model: AtomModel, s_max: float, split: "_Split | None" = None) -> np.ndarray:
    """Profile (or the split's core) at s = k * S_STEP up to s_max, float32, with two
    trailing zeros so the splat can interpolate up to the cutoff."""
    n = int(math.ceil(s_max / S_STEP)) + 1
    size = 1 << max(12, (n - 1).bit_length())  # share the cached basis between calls
    g, e, logs = (b[:n] for b in _basis(size))
    vals = model.h1 * g + model.h2 * e + model.h3 / (1.0 + np.exp(2.0 * model.n * logs))
    if split is not None:
        vals = vals - split.tail_s(model, np.arange(n) * S_STEP)
    out = np.zeros(n + 2, dtype=np.float32)
    out[:n] = vals
    return out


@dataclasses.dataclass
class _Plan:
    """How one species is rendered."""

    model: AtomModel
    L: float  # r_m in pixels
    s_cut: float  # full cutoff (reduced radius) of a whole-profile splat
    s_tail: float = 0.0  # where an FFT tail ends (reduced radius), when split
    split: _Split | None = None  # core + FFT tail, else the whole profile is splatted
    oversample: int = 1  # the tail's FFT grid has this many points per pixel

    @property
    def r_cut_px(self) -> float:
        return self.s_cut * self.L * max(1.0, self.model.aspect)

    @property
    def r_tail_px(self) -> float:
        return self.s_tail * self.L

    def quadratic_form(self) -> tuple[float, float, float]:
        """s^2 = a dx^2 + 2 b dx dy + c dy^2 for offsets in pixels."""
        m = self.model
        cs, sn = math.cos(m.angle), math.sin(m.angle)
        l1, l2 = 1.0 / self.L**2, 1.0 / (m.aspect * self.L) ** 2
        return cs * cs * l1 + sn * sn * l2, cs * sn * (l1 - l2), sn * sn * l1 + cs * cs * l2

    def table(self) -> tuple[np.ndarray, float]:
        """(table, s_max^2) of what is splatted: the whole profile or the windowed core."""
        if self.split is None:
            return _table(self.model, self.s_cut), self.s_cut**2
        s_core = self.split.rho / self.L
        return _table(self.model, s_core, self.split), s_core**2


def _fft_shape(shape, r_cut: float, ext: int = 0) -> tuple[int, int]:
    """Periodic grid for the tail of atoms within r_cut + TAPS/2 of the output region
    [-ext, n + ext): their deposits, shifted by _tail_origin, lie inside the grid, and
    convolving them with a kernel of radius r_cut does not wrap onto the output."""
    # even sizes, so the even kernel's transform is a DCT-I of one quadrant
    return tuple(2 * sfft.next_fast_len((n + 2 * ext + 2 * _tail_origin(r_cut) + 2) // 2, real=True) for n in shape)


def _tail_origin(r_cut: float) -> int:
    """Grid index of output pixel 0: room for the farthest contributing atom's stencil."""
    return int(math.ceil(r_cut)) + TAPS


def _first_taylor(radii, model: AtomModel, L: float, good, stride: int = 4) -> "_Split | None":
    """Smallest passing Taylor split over increasing ``radii``: every ``stride``-th radius
    (and the last) is tested, then the ones skipped just before the first that passes. The
    error is not monotonic in rho, so an isolated smaller passing radius may be missed (a
    slightly larger core, never a less accurate one); ~1/stride of the tests of a full scan.
    When no coarse radius passes, the skipped ones are scanned in order."""
    def test(k):
        split = _Split.taylor(model, radii[k], L)
        return split if good(split) else None

    n = len(radii)
    coarse = list(range(0, n, stride)) + ([n - 1] if n and (n - 1) % stride else [])
    prev = -1
    for k in coarse:
        if (split := test(k)) is not None:
            return next((sp for j in range(prev + 1, k) if (sp := test(j)) is not None), split)
        prev = k
    return next((sp for j in range(n) if j not in coarse and (sp := test(j)) is not None), None)


def _plan_species(model: AtomModel, pixel_size: float, n_atoms: int, shape, allow_split: bool) -> _Plan:
    """Choose, by the cost model, between a whole-profile splat and a core splat plus an FFT
    tail on a grid with 1, 2 or 3 points per pixel (finer grids make narrow tails smooth)."""
    L = model.r_m / pixel_size
    plan = _Plan(model, L, cutoff_s(model))
    if not allow_split or model.aspect != 1.0 or n_atoms == 0:
        return plan
    area = shape[0] * shape[1]
    r_cut = plan.r_cut_px
    plan.s_tail = cutoff_s(model, TAIL_PEAK_TOL, TAIL_MASS_TOL)
    r_tail = plan.r_tail_px

    def splat_cost(rho: float) -> float:
        return n_atoms * (min(math.pi * rho * rho, area) * _NS_PER_PIXEL + min(2 * rho + 1, shape[0]) * _NS_PER_ROW)

    best_cost = splat_cost(r_cut)
    if best_cost < _NS_PLANNING:  # searching for a split would cost more than it could save
        return plan
    for os in (1, 2, 3):
        m0, m1 = _fft_shape((os * shape[0], os * shape[1]), os * r_tail)
        fixed = 2 * m0 * m1 * math.log2(m0 * m1) * _NS_PER_FFT_UNIT + n_atoms * _NS_PER_DEPOSIT
        # geometric candidate core radii (pixels) that would beat the best plan so far
        cands = [float(rho) for rho in (1.0 / os) * 1.1 ** np.arange(120) if rho < r_cut and splat_cost(rho) + fixed < best_cost]
        if not cands:
            continue

        def good(split) -> bool:
            return split is not None and _tail_interp_error(model, split, r_tail, os) <= INTERP_TOL

        found = _first_taylor([rho for rho in cands if rho >= 1.2 * L], model, L, good)
        # window: the error falls with the radius, so bisect
        window = [rho for rho in cands if found is None or rho < found.rho]
        if window and good(_Split("window", window[-1], L)):
            lo, hi = -1, len(window) - 1
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if good(_Split("window", window[mid], L)) else (mid, hi)
            found = _Split("window", window[hi], L)
        if found is not None:
            best_cost = splat_cost(found.rho) + fixed
            plan.split, plan.oversample = found, os
    return plan


# --------------------------------------------------------------------------- rendering


def _check_inputs(xy, Z, models, pixel_size, shape):
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] < 2:
        raise EmsimError(f"xy must have shape (N, 2), got {xy.shape}")
    Z = np.asarray(Z).reshape(-1)
    if Z.shape[0] != xy.shape[0]:
        raise EmsimError(f"xy has {xy.shape[0]} atoms but Z has {Z.shape[0]}")
    if Z.size and (not np.issubdtype(Z.dtype, np.integer) or Z.min() < 0):
        raise EmsimError("species keys must be non-negative integers")
    if not pixel_size > 0:
        raise EmsimError(f"pixel size must be positive, got {pixel_size}")
    shape = (int(shape[0]), int(shape[1])) if np.ndim(shape) else (int(shape), int(shape))
    if min(shape) < 1:
        raise EmsimError(f"image shape must be positive, got {shape}")
    present = np.nonzero(np.bincount(Z))[0] if Z.size else np.zeros(0, dtype=np.int64)
    missing = sorted(set(present.tolist()) - set(models))
    if missing:
        raise EmsimError(f"no atom model for species {missing}")
    if not np.all(np.isfinite(xy[:, :2])):
        raise EmsimError("atom positions must be finite")
    return xy[:, :2], Z, present, shape


def render_clean(xy, Z, models: dict, pixel_size: float, shape, *, offsets=None, split: bool = True) -> np.ndarray:
    """Render atoms into a float32 image (eq. 16).

    xy: (N, 2) positions in A, x along columns, y along rows; pixel (i, j) samples
    (j * pixel_size, i * pixel_size). Atoms outside the field still contribute within
    their cutoff. Z: (N,) species keys into ``models`` (key -> AtomModel). shape: (H, W).
    offsets: optional (dx, dy), each broadcastable to (H, W), in A: pixel (i, j) then samples
    (j * dr + dx[i, j], i * dr + dy[i, j]) -- the exact way to render scan jitter.
    split: allow the core + FFT-tail split for wide atoms (False: plain exact splat).
    """
    return Renderer(xy, Z, models, pixel_size, shape, split=split).render(offsets)


class Renderer:
    """A field of atoms prepared once (species plans, sorted atoms, tables and the smooth
    FFT tails on a region extended by ``max_offset`` A), rendered at the regular pixel
    grid or at displaced probe positions (scan jitter) as often as needed. The tails are
    smooth on the grid they were computed on, so displaced renders interpolate them
    (cubic spline) instead of recomputing them; the sharp cores are always evaluated
    exactly."""

    def __init__(self, xy, Z, models: dict, pixel_size: float, shape, *, split: bool = True, max_offset: float = 0.0):
        xy, Z, present, shape = _check_inputs(xy, Z, models, pixel_size, shape)
        self.pixel_size, self.shape = float(pixel_size), shape
        self.empty = xy.shape[0] == 0
        if self.empty:
            return
        index = np.zeros(int(present.max()) + 1, dtype=np.int64)
        index[present] = np.arange(present.size)
        band = max(1.0, shape[0] / 64)
        self.u, self.v, self.starts = _kernels.group_by_key(index[Z], present.size, xy[:, 0] / pixel_size, xy[:, 1] / pixel_size, band)
        counts = np.diff(self.starts)
        self._plans = [_plan_species(models[int(z)], pixel_size, int(c), shape, split) for z, c in zip(present, counts)]
        self._args = _splat_args(self.starts, self._plans)
        self._whole_args = None  # whole-profile tables, for displaced renders beyond the tails' reach
        self._max_offset_px = max_offset / pixel_size
        self._tails = None  # oversampling -> [field on the extended region, its spline coefficients]
        self._ext = 0

    def _tails_fit(self, ext_px: float) -> bool:
        """Whether the FFT tails on the field extended by ext_px stay within the memory
        bound: 2^23 grid points or 4x the unextended grid (scan jitter of many field widths,
        as extreme configs draw, would otherwise need grids of 10^9 points)."""
        e = _ext_px(ext_px)
        for os in {p.oversample for p in self._plans if p.split is not None}:
            r = os * max(p.r_tail_px for p in self._plans if p.split is not None and p.oversample == os)
            fine = (os * self.shape[0], os * self.shape[1])
            if math.prod(_fft_shape(fine, r, os * e)) > max(_MAX_TAIL_CELLS, 4 * math.prod(_fft_shape(fine, r))):
                return False
        return True

    def _reach(self, ext_px: float) -> float:
        """Extension (pixels) to compute the tails on for displacements up to ext_px: the
        Renderer's whole ``max_offset`` when that fits, so later renders reuse them."""
        return max(ext_px, self._max_offset_px) if self._tails_fit(self._max_offset_px) else ext_px

    def _prepare_tails(self, ext_px: float) -> None:
        """FFT tails on the field extended by ext_px (+3 for the interpolation stencil)."""
        self._ext = _ext_px(ext_px)
        self._tails = {}
        for os in sorted({p.oversample for p in self._plans if p.split is not None}):
            group = [(i, p) for i, p in enumerate(self._plans) if p.split is not None and p.oversample == os]
            self._tails[os] = [_render_tails(group, self.u, self.v, self.starts, self.shape, self._ext, os), None]

    def render(self, offsets=None) -> np.ndarray:
        img = np.zeros(self.shape, dtype=np.float32)
        if self.empty:
            return img
        if offsets is None:
            _kernels.splat(img, self.u, self.v, *self._args)
            if self._tails is None:
                self._prepare_tails(self._reach(0.0))
            e = self._ext
            for os, (field, _) in self._tails.items():
                img += field[e * os :: os, e * os :: os][: self.shape[0], : self.shape[1]]
            return img
        su, sv, ext_px = _sample_points(offsets, self.pixel_size, self.shape)
        rows = _row_bounds(su, sv)
        if not self._tails_fit(ext_px):  # displaced far beyond the field: splat whole profiles (exact)
            if self._whole_args is None:
                self._whole_args = _splat_args(self.starts, [dataclasses.replace(p, split=None, oversample=1) for p in self._plans])
            _kernels.splat_displaced(img, self.u, self.v, *self._whole_args, su, sv, *rows)
            return img
        _kernels.splat_displaced(img, self.u, self.v, *self._args, su, sv, *rows)
        if self._tails is None or (self._tails and ext_px + 3 > self._ext):
            self._prepare_tails(self._reach(ext_px))
        for os, entry in self._tails.items():
            if entry[1] is None:  # cubic-spline coefficients of the smooth tail field
                entry[1] = ndimage.spline_filter(entry[0], order=3, mode="nearest", output=np.float64)
            coords = [(sv + self._ext) * os, (su + self._ext) * os]
            img += ndimage.map_coordinates(entry[1], coords, order=3, mode="nearest", prefilter=False, output=np.float32)
        return img


def _ext_px(ext_px: float) -> int:
    """Margin (pixels) of the tails' region for displacements up to ext_px: +3 for the
    cubic interpolation stencil."""
    return int(math.ceil(ext_px)) + 3 if ext_px > 0 else 0


def _splat_args(starts, plans) -> tuple:
    """Arguments of the splat kernels for these species plans: quadratic forms, s_max^2 and
    the stacked profile tables."""
    tables, s2max = zip(*(p.table() for p in plans))
    stacked = np.zeros((len(tables), max(len(t) for t in tables)), dtype=np.float32)
    for i, t in enumerate(tables):
        stacked[i, : len(t)] = t
    qa, qb, qc = (np.array(q) for q in zip(*(p.quadratic_form() for p in plans)))
    return (starts, qa, qb, qc, np.array(s2max) * (1 - 1e-12), stacked)


def _row_bounds(su, sv):
    """Per image row: lowest and highest sampled row coordinate, and the largest column
    displacement (pixels), so the displaced splat visits only reachable rows/columns."""
    cols = np.arange(su.shape[1])[None, :]
    return sv.min(axis=1), sv.max(axis=1), np.abs(su - cols).max(axis=1)


def _sample_points(offsets, pixel_size, shape):
    """Sample positions (pixel units) of displaced pixels and the largest displacement."""
    dx, dy = (np.broadcast_to(np.asarray(o, dtype=np.float64), shape) for o in offsets)
    if not (np.all(np.isfinite(dx)) and np.all(np.isfinite(dy))):
        raise EmsimError("sampling offsets must be finite")
    su = np.arange(shape[1])[None, :] + dx / pixel_size
    sv = np.arange(shape[0])[:, None] + dy / pixel_size
    ext = float(max(np.abs(dx).max(), np.abs(dy).max()) / pixel_size)
    return np.ascontiguousarray(su), np.ascontiguousarray(sv), ext


def _render_tails(group, u, v, starts, shape, ext: int, os: int) -> np.ndarray:
    """Sum over the species of a group of (Lagrange-deposited atoms) (*) (tail kernel), by
    float32 FFT on a grid with ``os`` points per pixel, over the region
    [-ext, H + ext) x [-ext, W + ext) (returned at the fine resolution)."""
    r_cut = os * max(p.r_tail_px for _, p in group)
    fine = (os * shape[0], os * shape[1])
    m0, m1 = _fft_shape(fine, r_cut, os * ext)
    n0, n1 = fine[0] + 2 * os * ext, fine[1] + 2 * os * ext
    off = _tail_origin(r_cut) + os * ext
    acc = None
    for i, p in group:
        grid = np.zeros((m0, m1), dtype=np.float32)
        sl = slice(starts[i], starts[i + 1])
        _kernels.deposit_lagrange(grid, u[sl] * os + off, v[sl] * os + off)
        term = sfft.rfft2(grid, workers=1)
        term *= _tail_transform(p, m0, m1, os)
        acc = term if acc is None else acc + term
    field = sfft.irfft2(acc, s=(m0, m1), workers=1)
    o = off - os * ext
    return field[o : o + n0, o : o + n1]


def _tail_transform(p: _Plan, m0: int, m1: int, os: int) -> np.ndarray:
    """DFT (rfft2 layout) of the tail f * (1 - w) sampled at offsets of 1/os pixel on the
    periodic m0 x m1 grid. The kernel is real and even, so its transform is the DCT-I of
    one quadrant, mirrored."""
    r_c = os * p.r_tail_px
    h0, h1 = m0 // 2 + 1, m1 // 2 + 1
    iy = np.arange(min(h0, int(r_c) + 1))
    ix = np.arange(min(h1, int(r_c) + 1))
    rho = np.hypot(iy[:, None], ix[None, :]) / os  # pixels
    vals = p.split.tail_s(p.model, rho / p.L)
    quadrant = np.zeros((h0, h1), dtype=np.float32)
    quadrant[: iy.size, : ix.size] = np.where(rho <= p.r_tail_px, vals, 0.0)
    d = sfft.dctn(quadrant, type=1, workers=1)
    return np.concatenate([d, d[-2:0:-1]], axis=0)


def render_direct(xy, Z, models: dict, pixel_size: float, shape, *, offsets=None) -> np.ndarray:
    """Slow float64 reference: every atom evaluated at every pixel, no cutoff (eq. 16)."""
    xy, Z, _, shape = _check_inputs(xy, Z, models, pixel_size, shape)
    X, Y = np.meshgrid(np.arange(shape[1]) * pixel_size, np.arange(shape[0]) * pixel_size)
    if offsets is not None:
        X = X + np.broadcast_to(offsets[0], shape)
        Y = Y + np.broadcast_to(offsets[1], shape)
    out = np.zeros(shape)
    for (x, y), z in zip(xy, Z):
        out += models[int(z)].profile_xy(X - x, Y - y)
    return out
