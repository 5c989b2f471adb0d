"""Amorphous specimens (Lobato et al. 2023, "Specimen generation", step 1, amorphous).

One element Z ~ U{1..103}; atoms are placed at random in the box with a minimum distance
d ~ U[0.95, 1.6] A (random sequential addition, RSA) until the mass density
rho ~ U[2, 7] g/cm^3 is reached, i.e. N = rho V / m_Z atoms (masses from ase).

Choices where the paper is silent (documented in the record):

- Jamming. RSA approaches its jamming limit (packing fraction 0.384) only as t^(-1/3), so
  "stop at jamming" is taken as: stop when a window of candidates accepts fewer than
  ``jamming_acceptance`` (10%) of them, i.e. at saturation (packing fraction ~0.19-0.22,
  ~3.5 candidates per atom; 0.25 would need ~10x more candidates). The record keeps the
  density reached and ``jammed``.
- Number density cap. Light elements at the paper's mass densities would need up to
  4 atoms/A^3 (hydrogen at 7 g/cm^3); amorphous solids hold 0.05-0.16 (a-Si 0.05, a-SiO2
  0.066, metallic glasses ~0.065, tetrahedral a-C 0.165). The target is capped at
  ``max_number_density`` (0.15 atoms/A^3; it binds only for Z <= ~20 at high rho), which
  also bounds time and memory (the worst case, 256^2 at dr = 0.9 A on a 30 nm support).
- Locality. The box is filled in slabs along z (the beam): each slab is an RSA seeded with
  the atoms of the previous slab within d of its lower face, so the minimum distance holds
  everywhere, and each slab receives its share of the atoms. The only trace is a weak
  density modulation along z near slab faces at high packing fractions, which projects out.

The filling is ``packing.random_packing`` (slab-wise RSA, ~110 ns per candidate).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..config import IntRange, Range, check_probability, check_range, integers, uniform
from ..errors import ConfigError
from .packing import packing_fraction, random_packing
from .structure import thin_box

AMU_G = 1.66053906660e-24  # g per atomic mass unit
A3_CM3 = 1e-24  # cm^3 per A^3


@dataclasses.dataclass(frozen=True)
class AmorphousConfig:
    """z: atomic number range; min_distance (A); density (g/cm^3); see module docstring."""

    z: IntRange = (1, 103)
    min_distance: Range = (0.95, 1.6)
    density: Range = (2.0, 7.0)
    max_number_density: float = 0.15
    jamming_acceptance: float = 0.1

    def __post_init__(self):
        check_range("amorphous.z", self.z, 1, 103)
        check_range("amorphous.min_distance", self.min_distance, 0.1, 100.0)
        check_range("amorphous.density", self.density, 1e-3, 100.0)
        if not self.max_number_density > 0:
            raise ConfigError("amorphous.max_number_density must be positive")
        check_probability("amorphous.jamming_acceptance", self.jamming_acceptance)


def number_density(rho_g_cm3: float, z: int) -> float:
    """Atoms per A^3 of element z at mass density rho (g/cm^3)."""
    from ase.data import atomic_masses

    return rho_g_cm3 * A3_CM3 / (float(atomic_masses[z]) * AMU_G)


def amorphous_block(rng: np.random.Generator, lo, hi, config: AmorphousConfig = AmorphousConfig(), max_atoms: int | None = None, keep_top: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
    """A random amorphous element filling the box [lo, hi) (A), made thinner along z when it
    would need more than ``max_atoms`` atoms (``structure.thin_box``; the record's ``z_range``
    says what was filled). Returns (positions, numbers (uint8), record)."""
    z = integers(rng, config.z)
    d = uniform(rng, config.min_distance)
    rho = uniform(rng, config.density)
    n_rho = number_density(rho, z)
    n_density = min(n_rho, config.max_number_density)
    lo, hi = thin_box(lo, hi, n_density, max_atoms, keep_top)
    volume = float(np.prod(hi - lo))
    n_target = int(round(n_density * volume))
    positions, info = random_packing(rng, lo, hi, d, n_target, config.jamming_acceptance)
    reached = len(positions) / volume if volume > 0 else 0.0
    record = {
        "z": z,
        "min_distance": d,
        "density_target": rho,
        "number_density_target": n_rho,
        "capped": bool(n_rho > config.max_number_density),
        "jammed": info["jammed"],
        "density": reached * rho / n_rho,
        "number_density": reached,
        "packing_fraction": packing_fraction(len(positions), volume, d) if volume > 0 else 0.0,
        "n_atoms": int(len(positions)),
        "z_range": [float(lo[2]), float(hi[2])],
        "attempts": info["attempts"],
    }
    return positions, np.full(len(positions), z, dtype=np.uint8), record
