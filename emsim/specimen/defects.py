"""Point defects (Lobato et al. 2023, "Specimen generation", step 2).

With probability 0.8, n_sel ~ U{0, ..., round(0.25 N)} distinct atoms are chosen; each is
displaced with probability 0.5 by N(0, r_Z) per axis. The paper only describes the
displacement; we read the other chosen atoms as vacancies and remove them, so the "defect"
step also thins the structure (set ``p_displace = 1`` for displacements only).

Atomic radius r_Z: ase's covalent radii (Cordero et al. 2008; 0.31 A for H to ~2.4 A).
A displacement of the order of the bond radius moves an atom visibly out of its column
(interstitials, adatoms, disorder), which is what defects should teach a restoration network.
The projected-potential rms radius (``physics.rms_radius``, 0.1-0.3 A) is an atom's
blurring width, smaller than a typical pixel, so displacements on that scale would be
indistinguishable from thermal vibration.

Atoms displaced out of their box are dropped (the box edges lie outside the image field).
"""

from __future__ import annotations

import dataclasses

import numba as nb
import numpy as np

from ..config import check_probability, coin, integers

MAX_FRACTION = 0.25


@dataclasses.dataclass(frozen=True)
class DefectConfig:
    """p: probability of defects; max_fraction: n_max / N; p_displace: displaced (else removed)."""

    p: float = 0.8
    max_fraction: float = MAX_FRACTION
    p_displace: float = 0.5

    def __post_init__(self):
        check_probability("defects.p", self.p)
        check_probability("defects.max_fraction", self.max_fraction)
        check_probability("defects.p_displace", self.p_displace)


def atomic_radius(numbers) -> np.ndarray:
    """Covalent radius (A) per atom (ase.data.covalent_radii; 0 beyond its table)."""
    from ase.data import covalent_radii

    table = np.zeros(256)
    table[: len(covalent_radii)] = covalent_radii
    return table[np.asarray(numbers)]


def apply_defects(rng: np.random.Generator, positions: np.ndarray, numbers, keep: np.ndarray, lo, hi, config: DefectConfig = DefectConfig()) -> dict | None:
    """Defects among the atoms with ``keep`` True, in place: displaced rows of ``positions``
    move, vacancies and atoms displaced out of [lo, hi) get ``keep`` False. Returns the
    record (None: no defects drawn)."""
    if not coin(rng, config.p):
        return None
    candidates = np.flatnonzero(keep)
    n_max = int(round(config.max_fraction * len(candidates)))
    n_sel = integers(rng, (0, n_max))
    chosen = candidates[rng.choice(len(candidates), n_sel, replace=False)] if n_sel else candidates[:0]
    displaced = rng.random(n_sel) < config.p_displace
    moved, vacant = chosen[displaced], chosen[~displaced]
    keep[vacant] = False
    steps = rng.normal(size=(len(moved), 3))
    sigma = atomic_radius(np.arange(256))  # by atomic number (uint8 keys)
    left = _displace(positions, moved, steps, sigma, np.asarray(numbers), np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64), keep)
    return {"n_max": n_max, "selected": int(n_sel), "displaced": int(len(moved)), "vacancies": int(len(vacant)), "left_box": int(left), "radius": "covalent"}


@nb.njit(cache=True, nogil=True)
def _displace(positions, idx, steps, sigma, numbers, lo, hi, keep):
    """positions[i] += steps * sigma[Z_i] for i in idx; atoms leaving [lo, hi) lose keep."""
    left = 0
    for a in range(idx.shape[0]):
        i = idx[a]
        s = sigma[numbers[i]]
        out = False
        for c in range(3):
            v = positions[i, c] + steps[a, c] * s
            positions[i, c] = v
            if v < lo[c] or v >= hi[c]:
                out = True
        if out:
            keep[i] = False
            left += 1
    return left
