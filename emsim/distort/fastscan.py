"""Fast-scan blur: the finite response time of scintillator, PMT and readout electronics
(Lobato et al. 2023, eq. 47-50), a causal 1D convolution along the fast-scan direction.

    Im <- Im (*) psf_detector (*) psf_readout                                 (eq. 47)
    psf_detector(m) ~ alpha / (alpha^2 + 4 pi^2 m^2)          (half Lorentzian, eq. 48)
    psf_readout(m)  ~ exp(-m / beta) sin(2 pi m / gamma + theta)  (damped oscillator, eq. 49)

m >= 0 is the lag in pixels: the signal recorded at pixel k contains the decaying response
to the pixels scanned before it (k - m). The paper writes both PSFs on x <= 0; with its
exp(-x / beta) that only decays for x >= 0, so the physical reading is a kernel on lags
m = -x >= 0 (the image is smeared towards +x, the scan direction). Eq. 50's constant is the
continuous integral of a damped oscillator (with 4 pi / gamma in place of 2 pi / gamma);
here each PSF is normalised by its exact discrete sum, so both sum to 1 and a flat line
stays flat.

Implementation (exact up to the Lorentzian's far tail):
- Lorentzian: taps m < ``TAPS`` (32) exactly; the 1/m^2 tail beyond is replaced by a
  geometric tail h(L) r^(m - L) with the exact tail mass and the exact value at m = L (a
  one-pole recursion), so the sum is exact and no mass is lost. Against the exact
  kernel (float64, 2e5 taps) the result differs by < 7e-4 (mean < 2e-4) of the signal
  range at the widest default PSF (alpha = 8);
- readout: the sampled damped sinusoid is exactly a two-pole IIR filter,
  Z{r^m sin(w m + theta)} = (sin theta + r sin(w - theta) z^-1) / (1 - 2 r cos w z^-1 + r^2 z^-2),
  r = exp(-1 / beta), w = 2 pi / gamma;
- each scan line starts in the steady state of its first pixel (the beam rests there
  during the fly-back).

Ranges (the paper fitted them to experimental data but does not publish them): the
Lorentzian's half width at half maximum alpha / 2 pi from 0.08 to 1.3 px (alpha in
[0.5, 8]), i.e. from slow scans to dwell times of ~0.05 us with a ~30 ns scintillator;
readout decay beta in [0.5, 4] px, period gamma in [3, 20] px, phase theta in [0.2, pi/2]
(theta -> 0 with a fast decay would turn the oscillator into a pure one-pixel delay).
"""

from __future__ import annotations

import dataclasses
import math

import numba
import numpy as np

from ..config import Range, check_probability, check_range, coin, uniform
from ._ranges import pin_scalars
from .effect import Effect, on_x, run_on_x

TAPS = 32


@dataclasses.dataclass(frozen=True)
class FastScanConfig:
    """p: occurrence; alpha: Lorentzian parameter (eq. 48); p_readout: occurrence of the
    readout oscillator given the effect; beta, gamma (px), theta (rad): eq. 49."""

    p: float = 0.5
    alpha: Range = (0.5, 8.0)
    p_readout: float = 1.0
    beta: Range = (0.5, 4.0)
    gamma: Range = (3.0, 20.0)
    theta: Range = (0.2, math.pi / 2)

    def __post_init__(self):
        pin_scalars(self)
        check_probability("fast_scan.p", self.p)
        check_probability("fast_scan.p_readout", self.p_readout)
        check_range("fast_scan.alpha", self.alpha, 1e-3, 1e3)
        check_range("fast_scan.beta", self.beta, 1e-3, 1e3)
        check_range("fast_scan.gamma", self.gamma, 2.01, 1e4)
        check_range("fast_scan.theta", self.theta, 0.0, math.pi / 2)


def lorentzian_taps(alpha: float, taps: int = TAPS) -> tuple[np.ndarray, float, float]:
    """Normalised detector PSF: (taps m < L, tail value c at m = L, tail ratio r) with
    sum(taps) + c / (1 - r) = 1 and c / (1 - r) the exact mass of the tail m >= L."""
    c2 = (alpha / (2 * math.pi)) ** 2
    m = np.arange(taps, dtype=np.float64)
    head = 1.0 / (m * m + c2)
    # sum_{m >= 0} 1 / (m^2 + c^2) = (1 + pi c coth(pi c)) / (2 c^2)
    pc = math.pi * math.sqrt(c2)
    total = (1.0 + pc / math.tanh(pc)) / (2.0 * c2)
    tail = total - head.sum()
    value = 1.0 / (taps * taps + c2)
    tail = max(tail, value)  # guards round-off; exact tail always exceeds its first term
    r = 1.0 - value / tail
    return head / total, value / total, r


def lorentzian_kernel(alpha: float, n: int) -> np.ndarray:
    """Reference: the first n lags of the normalised discrete half-Lorentzian (float64)."""
    c2 = (alpha / (2 * math.pi)) ** 2
    pc = math.pi * math.sqrt(c2)
    m = np.arange(n, dtype=np.float64)
    return (1.0 / (m * m + c2)) / ((1.0 + pc / math.tanh(pc)) / (2.0 * c2))


def readout_iir(beta: float, gamma: float, theta: float) -> tuple[float, float, float, float]:
    """(b0, b1, a1, a2) of y_k = b0 u_k + b1 u_(k-1) + a1 y_(k-1) - a2 y_(k-2), unit DC gain."""
    r, w = math.exp(-1.0 / beta), 2.0 * math.pi / gamma
    b0, b1 = math.sin(theta), r * math.sin(w - theta)
    a1, a2 = 2.0 * r * math.cos(w), r * r
    gain = (b0 + b1) / (1.0 - a1 + a2)
    return b0 / gain, b1 / gain, a1, a2


def readout_kernel(beta: float, gamma: float, theta: float, n: int) -> np.ndarray:
    """Reference: the first n lags of the sampled damped oscillator, normalised to sum 1."""
    m = np.arange(max(n, 20000), dtype=np.float64)
    h = np.exp(-m / beta) * np.sin(2 * math.pi * m / gamma + theta)
    return (h / h.sum())[:n]


@numba.njit(cache=True, error_model="numpy")
def _fast_scan(x, head, c, r, b0, b1, a1, a2, out):
    H, W = x.shape
    L = head.size
    buf = np.empty(W + L, dtype=np.float32)
    acc = np.empty(W, dtype=np.float32)
    readout = b1 != 0.0 or a1 != 0.0 or a2 != 0.0 or b0 != 1.0
    for i in range(H):
        x0 = x[i, 0]
        buf[:L] = x0  # the line starts in the steady state of its first pixel
        buf[L:] = x[i]
        acc[:] = 0.0
        for m in range(L):  # FIR head; slices keep the inner loop free of index wrap-around
            hm = head[m]
            src = buf[L - m : L - m + W]
            for k in range(W):
                acc[k] += hm * src[k]
        t = c * x0 / (1.0 - r)  # geometric tail, steady state
        u1 = y1 = y2 = float(x0)
        for k in range(W):
            if k > 0:
                t = r * t + c * buf[k]  # buf[k] = x[k - L] (x0 before the line)
            u = acc[k] + t
            if readout:
                y = b0 * u + b1 * u1 + a1 * y1 - a2 * y2
                u1 = u
                y2 = y1
                y1 = y
                out[i, k] = y
            else:
                out[i, k] = u


def apply_fast_scan(x: np.ndarray, alpha: float, readout=None) -> np.ndarray:
    """Causal blur of every row by the detector PSF and (optionally) the readout PSF given
    as (beta, gamma, theta). float32."""
    head, c, r = lorentzian_taps(alpha)
    b0, b1, a1, a2 = readout_iir(*readout) if readout is not None else (1.0, 0.0, 0.0, 0.0)
    out = np.empty(x.shape, dtype=np.float32)
    _fast_scan(np.ascontiguousarray(x, dtype=np.float32), head.astype(np.float32), c, r, b0, b1, a1, a2, out)
    return out


def _sample(rng, config: FastScanConfig, ctx=None) -> dict | None:
    if not coin(rng, config.p):
        return None
    rec: dict = {"alpha": uniform(rng, config.alpha), "readout": None}
    if coin(rng, config.p_readout):
        rec["readout"] = {"beta": uniform(rng, config.beta), "gamma": uniform(rng, config.gamma), "theta": uniform(rng, config.theta)}
    return rec


def _apply(x, params, ctx):
    """Eq. 47: the causal detector (and readout) blur of every scan line."""
    r = params["readout"]
    return apply_fast_scan(x, params["alpha"], None if r is None else (r["beta"], r["gamma"], r["theta"]))


FAST_SCAN = Effect("fast_scan", _sample, on_x(_apply))


def fast_scan(x, rng, config: FastScanConfig):
    """The effect (eq. 47) once: (blurred x, record)."""
    return run_on_x(FAST_SCAN, x, rng, config)
