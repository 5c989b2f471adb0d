"""TEM camera modulation-transfer function (Lobato et al. 2023, eq. 27-29).

    MTF(u, v) = MTF_r(g) sinc(pi u / 2) sinc(pi v / 2),   g = sqrt(u^2 + v^2)   (eq. 28)
    MTF_r(g) = a exp(-g^2 / 2 b^2) + (1 - a) exp(-g^2 / 2 c^2)                (eq. 29)

(u, v) in units of the Nyquist frequency; sinc(t) = sin(t) / t is the pixel aperture.
(a, b, c) are redrawn until MTF_r is positive and monotonically decreasing on 1000 points
over 10 Nyquist units (the paper's test). The PSF blur (eq. 27) is part of the target.

Convolution uses the DCT-II: filtering the half-sample-symmetric extension of the image
with a symmetric PSF is diagonal in the DCT basis (coefficient k has frequency k / 2N
cycles/px = k / N Nyquist units), so the boundaries are reflective, with no wrap-around
and no padding.

Ranges (the paper gives none): b, c in [0.15, 2.5] Nyquist units spans a PSF of ~2 px
Gaussian width (scintillator-coupled CCD, MTF(Nyquist) ~ 0.05) to near-ideal (direct
detector in counting mode, MTF_r(1) ~ 0.9); a in [0, 1.2] lets a narrow low-frequency
drop (the scintillator halo) coexist with a wide component, and values above 1 give the
overshooting shapes the positivity/monotonicity test exists to reject.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import fft as sfft

from ..config import Range, check_probability, check_range, coin, uniform
from ._ranges import pin_scalars
from .effect import Context, Effect

MAX_TRIES = 1000


@dataclasses.dataclass(frozen=True)
class MtfConfig:
    """p: occurrence (every camera has an MTF: 1). a, b, c: ranges of eq. 29."""

    p: float = 1.0
    a: Range = (0.0, 1.2)
    b: Range = (0.15, 2.5)
    c: Range = (0.15, 2.5)

    def __post_init__(self):
        pin_scalars(self)
        check_probability("mtf.p", self.p)
        check_range("mtf.a", self.a, -10.0, 10.0)
        check_range("mtf.b", self.b, 1e-3, 100.0)
        check_range("mtf.c", self.c, 1e-3, 100.0)


def mtf_r(g, a: float, b: float, c: float) -> np.ndarray:
    """Rotationally symmetric part of the MTF (eq. 29), g in Nyquist units."""
    g2 = np.square(np.asarray(g, dtype=np.float64))
    return a * np.exp(-g2 / (2 * b * b)) + (1 - a) * np.exp(-g2 / (2 * c * c))


def is_valid(a: float, b: float, c: float) -> bool:
    """The paper's test: positive and monotonically decreasing on 1000 points over [0, 10].

    Checked as non-negative and non-increasing: a narrow MTF underflows to exactly 0 in
    float64 long before g = 10, which a strict test would reject."""
    m = mtf_r(np.linspace(0.0, 10.0, 1000), a, b, c)
    return bool(np.all(m >= 0) and np.all(np.diff(m) <= 0))


def mtf_2d(shape, a: float, b: float, c: float, freqs=None) -> np.ndarray:
    """Eq. 28 on the DCT frequency grid of ``shape`` (or on given (v, u) in Nyquist units).

    Both Gaussians of eq. 29 factor into u and v, so the grid is two outer products."""
    if freqs is None:
        v, u = np.arange(shape[0]) / shape[0], np.arange(shape[1]) / shape[1]
    else:
        v, u = (np.asarray(f, dtype=np.float64) for f in freqs)
    su, sv = np.sinc(u / 2), np.sinc(v / 2)  # np.sinc(t) = sin(pi t) / (pi t)
    out = np.zeros((v.size, u.size), dtype=np.float64)
    for weight, width in ((a, b), (1.0 - a, c)):
        if weight != 0.0:
            gv = weight * np.exp(-(v * v) / (2 * width * width)) * sv
            gu = np.exp(-(u * u) / (2 * width * width)) * su
            out += gv[:, None] * gu[None, :]
    return out


def apply_mtf(y: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """y convolved with the PSF of eq. 28-29 (reflective boundaries), float32."""
    spec = sfft.dctn(np.asarray(y, dtype=np.float32), type=2, norm="ortho")
    spec *= mtf_2d(y.shape, a, b, c).astype(np.float32)
    return sfft.idctn(spec, type=2, norm="ortho").astype(np.float32, copy=False)


def sample(rng: np.random.Generator, config: MtfConfig, ctx=None) -> dict | None:
    """Draw (a, b, c) until valid; None if the effect does not occur."""
    if not coin(rng, config.p):
        return None
    for tries in range(1, MAX_TRIES + 1):
        a, b, c = uniform(rng, config.a), uniform(rng, config.b), uniform(rng, config.c)
        if is_valid(a, b, c):
            return {"a": a, "b": b, "c": c, "tries": tries}
    # only reachable with pinned or pathological ranges: fall back to a single Gaussian
    return {"a": 1.0, "b": config.b[1], "c": config.b[1], "tries": MAX_TRIES, "fallback": True}


def _apply(x, y, params, ctx):
    """Eq. 27: the camera PSF blurs the image, and it is part of the target (x = y)."""
    y = apply_mtf(y, params["a"], params["b"], params["c"])
    return y, y


MTF = Effect("mtf", sample, _apply)


def mtf(y: np.ndarray, rng: np.random.Generator, config: MtfConfig) -> tuple[np.ndarray, dict | None]:
    """The effect once: (y blurred by the camera PSF, record)."""
    _, y, rec = MTF.run(y, y, rng, config, Context(y.shape))
    return y, rec
