"""Atom physics: electron scattering factors, projected potentials, rms radii, atom model.

Scattering factors use the Lobato & Van Dyck (2014) parameterisation shipped in
``resources/lobato2014_scattering_factors.json``::

    f_e(g) = sum_i a_i (2 + b_i g^2) / (1 + b_i g^2)^2          (g in 1/A, f_e in A)

Its 2D inverse Fourier transform gives the projected potential in closed form. With
(2 + b g^2)/(1 + b g^2)^2 = 1/(1 + b g^2) + 1/(1 + b g^2)^2 and k = 1/sqrt(b),

    V_p(r) = 2 pi a0 e sum_i a_i [ (2 pi / b_i) K0(2 pi k_i r) + 2 pi^2 r b_i^(-3/2) K1(2 pi k_i r) ]

in V*A (2 pi a0 e = h^2 / (2 pi m0 e) = 47.878 V*A^2). The rms radius of eq. 21 of
Lobato et al. (2023) is computed from V_p by numerical quadrature.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from importlib import resources

import numpy as np
from scipy import integrate, special

from ..errors import EmsimError

N_ELEMENTS = 103
A0 = 0.52917721  # Bohr radius, A
E_CHARGE = 14.3996454  # e^2 / (4 pi eps0), eV*A  ->  "e" in V*A
POTENTIAL_PREFACTOR = 2.0 * math.pi * A0 * E_CHARGE  # V*A^2


@functools.cache
def _table() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Coefficient arrays a[Z, 5], b[Z, 5] (row 0 unused) and symbols[Z]."""
    with resources.files("emsim.resources").joinpath("lobato2014_scattering_factors.json").open() as f:
        data = json.load(f)["elements"]
    a = np.zeros((N_ELEMENTS + 1, 5))
    b = np.ones((N_ELEMENTS + 1, 5))
    symbols = [""] * (N_ELEMENTS + 1)
    for sym, e in data.items():
        z = int(e["Z"])
        a[z], b[z], symbols[z] = e["a"], e["b"], sym
    if any(not s for s in symbols[1:]):
        raise RuntimeError("scattering-factor table is incomplete")
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b, tuple(symbols)


def check_z(Z) -> np.ndarray:
    """Validate atomic numbers (1..103) and return them as an int array."""
    z = np.asarray(Z)
    if z.size and (not np.issubdtype(z.dtype, np.integer) or z.min() < 1 or z.max() > N_ELEMENTS):
        bad = z.ravel()[(z.ravel() < 1) | (z.ravel() > N_ELEMENTS)] if np.issubdtype(z.dtype, np.number) else z
        raise EmsimError(f"atomic numbers must be integers in 1..{N_ELEMENTS}, got {np.ravel(bad)[:5].tolist()}")
    return z.astype(np.int64)


def symbol(Z: int) -> str:
    return _table()[2][int(check_z(Z))]


def scattering_factor(Z, g) -> np.ndarray:
    """Electron scattering factor f_e(g) in A for atomic number(s) Z at g (1/A); broadcasts."""
    a, b, _ = _table()
    z, g = np.broadcast_arrays(check_z(Z), np.asarray(g, dtype=float))
    bg = b[z] * g[..., None] ** 2
    return np.sum(a[z] * (2.0 + bg) / (1.0 + bg) ** 2, axis=-1)


def _projected_potential_terms(a: np.ndarray, b: np.ndarray, r) -> np.ndarray:
    r = np.asarray(r, dtype=float)[..., None]
    x = 2.0 * math.pi * r / np.sqrt(b)
    terms = a * (2.0 * math.pi / b * special.k0(x) + 2.0 * math.pi**2 * r * b**-1.5 * special.k1(x))
    return POTENTIAL_PREFACTOR * np.sum(terms, axis=-1)


def projected_potential(Z: int, r) -> np.ndarray:
    """Projected atomic potential V_p(r) in V*A at radius r (A), closed form with K0/K1."""
    a, b, _ = _table()
    z = int(check_z(Z))
    return _projected_potential_terms(a[z], b[z], r)


@functools.cache
def _rms_radius_table() -> np.ndarray:
    """Eq. 21, r_hat = [int r^2 V_p r dr / int V_p r dr]^(1/2), by adaptive quadrature.

    All 103 elements are integrated at once (``quad_vec``); V_p decays like
    exp(-2 pi r / sqrt(b_max)), so the integral is taken far past that.
    """
    a, b, _ = _table()
    a, b = a[1:], b[1:]
    r_max = 40.0 * math.sqrt(b.max()) / (2.0 * math.pi) + 5.0

    def moments(r):
        v = _projected_potential_terms(a, b, r)
        return np.concatenate([r * v, r**3 * v])

    total = 0.0
    for lo, hi in zip([0.0, 0.05, 0.5, 2.0], [0.05, 0.5, 2.0, r_max]):
        total = total + integrate.quad_vec(moments, lo, hi, epsabs=0.0, epsrel=1e-11, limit=400)[0]
    out = np.zeros(N_ELEMENTS + 1)
    out[1:] = np.sqrt(total[N_ELEMENTS:] / total[:N_ELEMENTS])
    out.setflags(write=False)
    return out


def rms_radius(Z):
    """Rms radius r_hat_Z (A) of the projected potential (eq. 21); vectorised over Z."""
    z = check_z(Z)
    r = _rms_radius_table()[z]
    return float(r) if np.ndim(r) == 0 else r


def all_rms_radii() -> np.ndarray:
    """r_hat_Z for Z = 1..103 (index 0 -> Z = 1)."""
    return _rms_radius_table()[1:].copy()


def butterworth_area(n: float) -> float:
    """int_0^inf s / (1 + s^(2n)) ds = (pi / 2n) / sin(pi / n)  (n > 1)."""
    return (math.pi / (2.0 * n)) / math.sin(math.pi / n)


@dataclasses.dataclass(frozen=True)
class AtomModel:
    """Projected signal of one atom (eq. 17), with the width r_m shared by all three terms:

        f(r) = h1 exp(-s^2 / 2) + h2 exp(-s) + h3 / (1 + s^(2n)),   s = r / r_m.

    Eq. 17 as printed has typos in the exponents (``2(r_m^2)^2``, ``r_m^m``); this is the
    intended form. The asymmetric variant used for low-resolution "soft particles" stretches
    the profile to an ellipse: r_m along the axis at ``angle`` (radians, from +x towards +y)
    and ``aspect * r_m`` across it; ``aspect = 1`` is the radially symmetric atom.
    """

    h1: float
    h2: float
    h3: float
    n: float
    r_m: float
    aspect: float = 1.0
    angle: float = 0.0

    def __post_init__(self):
        if not (self.r_m > 0 and self.n > 1 and self.aspect > 0):
            raise EmsimError(f"AtomModel needs r_m > 0, n > 1, aspect > 0; got {self}")
        if min(self.h1, self.h2, self.h3) < 0:
            raise EmsimError(f"AtomModel amplitudes must be non-negative; got {self}")

    @property
    def peak(self) -> float:
        return self.h1 + self.h2 + self.h3

    def profile_s(self, s):
        """Profile as a function of the reduced radius s = r / r_m."""
        s = np.asarray(s, dtype=float)
        return self.h1 * np.exp(-0.5 * s * s) + self.h2 * np.exp(-s) + self.h3 / (1.0 + s ** (2.0 * self.n))

    def profile(self, r):
        """f(r) for the symmetric model (r in A, vectorised)."""
        return self.profile_s(np.asarray(r, dtype=float) / self.r_m)

    def profile_xy(self, dx, dy):
        """f at offsets (dx, dy) in A from the atom centre, honouring aspect and angle."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        u = (c * np.asarray(dx) + s * np.asarray(dy)) / self.r_m
        v = (-s * np.asarray(dx) + c * np.asarray(dy)) / (self.aspect * self.r_m)
        return self.profile_s(np.hypot(u, v))

    def integrated_intensity(self) -> float:
        """int f d^2r = 2 pi r_m^2 aspect (h1 + h2 + h3 * pi / (2n sin(pi/n)))  (eq. 22)."""
        return 2.0 * math.pi * self.r_m**2 * self.aspect * (self.h1 + self.h2 + self.h3 * butterworth_area(self.n))

    def scaled(self, factor: float) -> "AtomModel":
        return dataclasses.replace(self, h1=self.h1 * factor, h2=self.h2 * factor, h3=self.h3 * factor)

    def to_dict(self) -> dict:
        return {k: float(v) for k, v in dataclasses.asdict(self).items()}
