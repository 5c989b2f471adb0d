"""Random crystals (Lobato et al. 2023, "Specimen generation", step 1, crystalline).

A random crystal is drawn as follows (all ranges are ``CrystalConfig`` defaults):

1. Space group uniform in 1-230, in spglib's standard setting (the first Hall number of the
   group: unique axis b for monoclinic groups, hexagonal axes for the R groups).
2. Conventional lattice: lengths U[3.1, 25] A (never below 2.5 ``min_distance[0]``) and angles U[45, 120] deg, drawn consistently
   with the crystal system (triclinic: all free; monoclinic: alpha = gamma = 90; orthorhombic:
   angles 90; tetragonal: a = b; trigonal and hexagonal: a = b, gamma = 120; cubic: a = b = c).
   Cells with V / (a b c) < ``min_volume_factor`` are degenerate (nearly flat) and redrawn.
3. Up to 16 distinct elements, Z uniform without replacement in [1, 103].
4. Asymmetric-unit sites, one at a time (random sequential addition of symmetry orbits):
   a random fractional position is expanded by the group's operations (spglib's database,
   by Hall number). Images closer than ``merge_distance`` to it are merged: the position
   moves to their mean, repeated until the close images coincide (near a special position
   this is its projection onto it, as the mean of a point's images under a site-symmetry
   group lies on the group's fixed subspace; a cascade may end on a higher-symmetry
   position; no convergence in 32 steps rejects the position). Atoms thus land on special
   positions more often the larger the merge distance is relative to the cell, as in real
   small high-symmetry cells. A position is accepted when its orbit keeps at least
   ``min_distance[0]`` from every atom (periodic images included) and the number density
   stays below ``max_number_density``; else another is tried (``site_tries``). Each element
   gets one site; ``extra_sites`` more sites of random elements follow (paper silent on the
   count; optional sites that do not fit are skipped).
5. The nearest-neighbour distance of the finished cell must lie in ``min_distance``
   ([0.95, 7] A). The lower bound holds by construction; while the upper one fails, further
   sites are added (up to ``max_sites``): the paper restarts instead, which would reject most
   large cells with few atoms and bias the lattice lengths towards small values.
   Any failure restarts from step 1; after ``max_tries`` restarts an ``EmsimError`` is raised.

Why ``max_number_density`` (paper silent): real solids hold at most ~0.18 atoms/A^3 (diamond);
random orbits of high-multiplicity groups can pack up to ~1 atom/A^3 at a 0.95 A minimum
distance. Such specimens are unphysical, project to a featureless grey and cost up to 5x the
atoms (time and memory of every later stage), so cells denser than 0.2 atoms/A^3 are not
built (13% of the cells drawn without the cap exceed it; median 0.045 atoms/A^3).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings

import numba as nb
import numpy as np

from ..config import IntRange, Range, check_range, integers, uniform
from ..errors import ConfigError, EmsimError

SYSTEMS = ("triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic")
_SYSTEM_FIRST_GROUP = (1, 3, 16, 75, 143, 168, 195)


@dataclasses.dataclass(frozen=True)
class CrystalConfig:
    """Random crystal parameters; defaults are the paper's ranges (see module docstring)."""

    elements: IntRange = (1, 16)  # number of distinct elements
    z: IntRange = (1, 103)  # atomic numbers
    space_group: IntRange = (1, 230)
    length: Range = (3.1, 25.0)  # lattice lengths, A
    angle: Range = (45.0, 120.0)  # lattice angles, degrees
    min_distance: Range = (0.95, 7.0)  # allowed nearest-neighbour distance in the cell, A
    extra_sites: IntRange = (0, 4)  # asymmetric-unit sites beyond one per element
    max_sites: int = 48  # sites at most, when filling a sparse cell to min_distance[1]
    merge_distance: float = 0.95  # images closer than this merge onto a special position, A
    max_number_density: float = 0.2  # atoms / A^3
    min_volume_factor: float = 0.3  # V / (a b c) below this is a degenerate cell
    site_tries: int = 20  # random positions tried per site
    max_tries: int = 200  # restarts before giving up

    def __post_init__(self):
        check_range("crystal.elements", self.elements, 1, 103)
        check_range("crystal.z", self.z, 1, 103)
        if self.elements[1] > self.z[1] - self.z[0] + 1:
            raise ConfigError(f"crystal.elements = {list(self.elements)} exceeds the {self.z[1] - self.z[0] + 1} elements in crystal.z")
        check_range("crystal.space_group", self.space_group, 1, 230)
        check_range("crystal.length", self.length, 0.5, 1000.0)
        check_range("crystal.angle", self.angle, 10.0, 170.0)
        check_range("crystal.min_distance", self.min_distance, 0.01, 100.0)
        if self.min_distance[1] < 1.05 * self.min_distance[0]:
            # the cell's nearest-neighbour distance must land in the range (step 5): a pinned
            # or hairline range is never hit by random orbits (found by the config fuzzer)
            raise ConfigError(f"crystal.min_distance = {list(self.min_distance)}: high must exceed low by 5% or more (a nearest-neighbour distance cannot be pinned)")
        # the cell's nearest-neighbour distance must come below min_distance[1] by chance: at
        # 0.1 A that takes 56 tries on average (one sample in ~20 exhausts 200; found by the
        # config fuzzer), at 0.3 A 4.6, at 0.6 A 1.3 (measured, default lengths; the shortest
        # real bond is 0.74 A)
        if self.min_distance[1] < 0.3:
            raise ConfigError(f"crystal.min_distance = {list(self.min_distance)}: high must be 0.3 A or more (random orbits rarely come closer)")
        # a random space group's orbits need cell edges of about 2.5 nearest-neighbour distances
        # (found by the config fuzzer; measured with min_distance[0] = 0.95 A and 200 tries:
        # pinned edges of 1.6 A never fit, 1.9 A fit in 85 % of samples, 2.2 A and up in all)
        if self.length[1] < 2.5 * self.min_distance[0]:
            raise ConfigError(f"crystal.length = {list(self.length)}: the longest edge must be 2.5 x crystal.min_distance[0] = {2.5 * self.min_distance[0]:.3g} A or more for random space groups to fit")
        # a typical cell must hold the elements' orbits below the density cap (found by the
        # config fuzzer). Measured, 30 crystals per point, elements up to 16, 200 tries, edges
        # from lo = 2.5 min_distance[0] to hi: all fit once cap x mid^3 (mid = (lo + hi) / 2)
        # reaches 2 atoms for hi / lo <= 2.5, 3 at 5, 6 at 10.5, 8 at 25; required: 2 + hi / 2 lo.
        lo = self.edges[0]
        need = (2 + self.length[1] / (2 * lo)) * self.elements[0] / ((lo + self.length[1]) / 2) ** 3
        if self.max_number_density < need:
            raise ConfigError(f"crystal.max_number_density = {self.max_number_density:.3g} atoms/A^3 leaves too few atoms per cell of crystal.length = {list(self.length)}: {need:.3g} or more is needed")
        check_range("crystal.extra_sites", self.extra_sites, 0, 1000)
        check_range("crystal.max_sites", (self.elements[1], self.max_sites), 1, 1000)
        check_range("crystal.merge_distance", (0.0, self.merge_distance), 0.0, 100.0)
        check_range("crystal.max_number_density", (0.0, self.max_number_density), 0.0, 100.0)
        if not self.max_number_density > 0:
            raise ConfigError("crystal.max_number_density must be positive")
        check_range("crystal.min_volume_factor", (0.0, self.min_volume_factor), 0.0, 0.99)
        # angles drawn only where the system frees them (random_lattice): a range such as
        # pinned 120 deg with triclinic groups only gives flat cells (found by the fuzzer)
        systems = {crystal_system(g) for g in range(self.space_group[0], self.space_group[1] + 1)}
        best = max(best_volume_factor(system, self.angle) for system in systems)
        if best < self.min_volume_factor:
            raise ConfigError(f"crystal.angle = {list(self.angle)} gives no cell of the groups in crystal.space_group = {list(self.space_group)} with V / (a b c) >= crystal.min_volume_factor = {self.min_volume_factor} (best {best:.3g})")
        check_range("crystal.site_tries", (1, self.site_tries), 1, 1_000_000)
        check_range("crystal.max_tries", (1, self.max_tries), 1, 1_000_000)

    @property
    def edges(self) -> tuple[float, float]:
        """The range lattice edges are drawn from: ``length`` above 2.5 ``min_distance[0]``
        (shorter edges almost never hold a random group's orbits; see the check above)."""
        return max(self.length[0], 2.5 * self.min_distance[0]), self.length[1]


@dataclasses.dataclass(frozen=True)
class Crystal:
    """A periodic cell: ``cell`` rows are the lattice vectors (A, a along x), ``frac`` the
    fractional positions in [0, 1), ``numbers`` the atomic numbers; ``record`` is JSON-ready."""

    cell: np.ndarray
    frac: np.ndarray
    numbers: np.ndarray
    system: str
    record: dict

    @property
    def hexagonal(self) -> bool:
        """Hexagonal lattice (a = b, gamma = 120): trigonal and hexagonal systems."""
        return self.system in ("trigonal", "hexagonal")


# --------------------------------------------------------------------------- symmetry data


def crystal_system(number: int) -> str:
    """Crystal system of space group ``number`` (1-230)."""
    if not 1 <= number <= 230:
        raise EmsimError(f"space group must lie in 1..230, got {number}")
    k = sum(number >= g for g in _SYSTEM_FIRST_GROUP) - 1
    return SYSTEMS[k]


# spglib 2.x warns (DeprecationWarning) about its error handling on every call; our calls
# are database look-ups that cannot fail for valid Hall numbers, so the notice is silenced.


@functools.cache
def _first_hall_numbers() -> tuple[int, ...]:
    import spglib

    first: dict[int, int] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for hall in range(1, 531):
            first.setdefault(spglib.get_spacegroup_type(hall).number, hall)
    return tuple(first[n] for n in range(1, 231))


def hall_number(number: int) -> int:
    """spglib's standard (first) Hall number of space group ``number``."""
    crystal_system(number)
    return _first_hall_numbers()[number - 1]


@functools.cache
def symmetry_operations(hall: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(rotations (n, 3, 3) float, translations (n, 3), international symbol) of a Hall
    setting, centring translations included, acting on fractional coordinates."""
    import spglib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ops = spglib.get_symmetry_from_database(hall)
        sg = spglib.get_spacegroup_type(hall)
    return ops["rotations"].astype(np.float64), ops["translations"].astype(np.float64), sg.international_short


# --------------------------------------------------------------------------- lattice


def _volume_factor_sq(ca, cb, cg):
    """(V / (a b c))^2 from the angles' cosines (scalars or arrays)."""
    return 1.0 - ca * ca - cb * cb - cg * cg + 2.0 * ca * cb * cg


def volume_factor(angles_deg) -> float:
    """V / (a b c) of a cell with angles (alpha, beta, gamma); 0 for impossible angles."""
    v = _volume_factor_sq(*np.cos(np.radians(angles_deg)))
    return math.sqrt(v) if v > 0 else 0.0


def best_volume_factor(system: str, angle, n: int = 13) -> float:
    """Largest V / (a b c) that ``random_lattice`` can draw for ``system`` with free angles in
    ``angle`` (deg), over an n-point grid per free angle (the factor is smooth, so the grid
    finds the best to ~1e-2)."""
    grid = np.linspace(angle[0], angle[1], n)
    if system == "triclinic":
        v = _volume_factor_sq(*np.meshgrid(*[np.cos(np.radians(grid))] * 3, indexing="ij"))
        return math.sqrt(max(float(v.max()), 0.0))
    if system == "monoclinic":
        return max(volume_factor((90.0, b, 90.0)) for b in grid)
    return volume_factor((90.0, 90.0, 120.0 if system in ("trigonal", "hexagonal") else 90.0))


def cell_from_parameters(lengths, angles_deg) -> np.ndarray:
    """Lattice vectors as rows, a along x, b in the xy plane (ase's convention)."""
    from ase.geometry import cellpar_to_cell

    return np.asarray(cellpar_to_cell(list(lengths) + list(angles_deg)), dtype=np.float64)


def random_lattice(rng: np.random.Generator, system: str, config: CrystalConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """Lengths (from ``config.edges``) and angles for ``system``; None when the drawn angles
    give a degenerate cell."""
    L = [uniform(rng, config.edges) for _ in range(3)]
    ang = [90.0, 90.0, 90.0]
    if system == "triclinic":
        ang = [uniform(rng, config.angle) for _ in range(3)]
    elif system == "monoclinic":
        ang[1] = uniform(rng, config.angle)
    elif system in ("tetragonal", "trigonal", "hexagonal"):
        L[1] = L[0]
        if system != "tetragonal":
            ang[2] = 120.0
    elif system == "cubic":
        L = [L[0]] * 3
    if volume_factor(ang) < config.min_volume_factor:
        return None
    return np.array(L), np.array(ang)


def image_shifts(cell: np.ndarray, cutoff: float) -> np.ndarray:
    """Integer lattice translations (as float rows) that can bring a pair whose fractional
    difference is reduced to [-1/2, 1/2] within ``cutoff``: |n_i| <= cutoff / h_i + 1/2,
    h_i the spacing of the lattice planes spanned by the other two vectors."""
    inv = np.linalg.inv(cell)  # columns: reciprocal vectors b_i, |b_i| = 1 / h_i
    n = np.floor(cutoff * np.linalg.norm(inv, axis=0) + 0.5).astype(int)
    grids = np.meshgrid(*(np.arange(-k, k + 1) for k in n), indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1).astype(np.float64)


def nearest_image_shifts(cell: np.ndarray, cutoff: float) -> np.ndarray:
    """``image_shifts`` enough to find a pair's *nearest* image whenever it lies within
    ``cutoff``: the reduced difference is itself an image no farther than half the sum of
    the cell's edge lengths, so no cutoff beyond that is needed (exact; a merge distance
    of 60 A on a 4 A cubic cell otherwise builds 3 x 10^4 shifts)."""
    return image_shifts(cell, min(cutoff, 0.5 * float(np.linalg.norm(cell, axis=1).sum())))


@nb.njit(cache=True, nogil=True)
def _nearest(p, pts, cell, shift_cart, skip, d_stop):
    """Distance from fractional point ``p`` to the nearest periodic image of ``pts`` (rows,
    fractional), ignoring the zero-distance self pair of row ``skip``. Returns early with a
    value < d_stop once one is found."""
    best = np.inf
    stop2 = d_stop * d_stop
    for j in range(pts.shape[0]):
        f0 = pts[j, 0] - p[0]
        f1 = pts[j, 1] - p[1]
        f2 = pts[j, 2] - p[2]
        f0 -= np.rint(f0)
        f1 -= np.rint(f1)
        f2 -= np.rint(f2)
        c0 = f0 * cell[0, 0] + f1 * cell[1, 0] + f2 * cell[2, 0]
        c1 = f0 * cell[0, 1] + f1 * cell[1, 1] + f2 * cell[2, 1]
        c2 = f0 * cell[0, 2] + f1 * cell[1, 2] + f2 * cell[2, 2]
        for s in range(shift_cart.shape[0]):
            d0 = c0 + shift_cart[s, 0]
            d1 = c1 + shift_cart[s, 1]
            d2 = c2 + shift_cart[s, 2]
            r2 = d0 * d0 + d1 * d1 + d2 * d2
            if j == skip and r2 < 1e-16:
                continue
            if r2 < best:
                best = r2
                if best < stop2:
                    return math.sqrt(best)
    return math.sqrt(best)


def min_distance(cell, frac, reps=None, cutoff: float = 10.0) -> float:
    """Nearest-neighbour distance of a periodic structure (inf if above ``cutoff``).
    ``reps``: indices of one atom per symmetry orbit (default: all atoms)."""
    cell = np.asarray(cell, dtype=np.float64)
    frac = np.ascontiguousarray(frac, dtype=np.float64)
    shifts = nearest_image_shifts(cell, cutoff) @ cell
    reps = range(len(frac)) if reps is None else reps
    d = min((_nearest(frac[i], frac, cell, shifts, i, 0.0) for i in reps), default=np.inf)
    return float(d) if d <= cutoff else math.inf


# --------------------------------------------------------------------------- orbits


def _orbit(x, rot, trans, cell, merge_shifts, tol):
    """Snap ``x`` onto a nearby special position (see module docstring) and return
    (x, its distinct images (m, 3) in [0, 1)), or None if the merge does not converge."""
    for _ in range(32):
        y = np.einsum("kij,j->ki", rot, x) + trans
        d = y - x
        d -= np.rint(d)
        if tol <= 0:
            break
        c = (d[:, None, :] + merge_shifts[None]) @ cell
        r2 = np.einsum("kmi,kmi->km", c, c)
        m = np.argmin(r2, axis=1)
        r = np.sqrt(r2[np.arange(len(m)), m])
        close = r < tol
        if close.sum() <= 1 or r[close].max() < 1e-7:
            break
        x = (x + (d + merge_shifts[m])[close].mean(axis=0)) % 1.0
    else:
        return None
    y = _wrap(y)
    return _wrap(x), y[_distinct(y, 1e-6)]


def _wrap(f: np.ndarray) -> np.ndarray:
    """Fractional coordinates into [0, 1) (x % 1 gives 1.0 for tiny negative x)."""
    f = f % 1.0
    f[f >= 1.0] = 0.0
    return f


@nb.njit(cache=True, nogil=True)
def _distinct(y, tol):
    """Indices of the first of each group of fractional points equal modulo 1 (within tol)."""
    keep = np.empty(y.shape[0], dtype=np.int64)
    m = 0
    for i in range(y.shape[0]):
        new = True
        for a in range(m):
            j = keep[a]
            same = True
            for c in range(3):
                f = y[i, c] - y[j, c]
                if abs(f - np.rint(f)) > tol:
                    same = False
                    break
            if same:
                new = False
                break
        if new:
            keep[m] = i
            m += 1
    return keep[:m]


# --------------------------------------------------------------------------- crystal


def _try_crystal(rng, config: CrystalConfig):
    number = integers(rng, config.space_group)
    system = crystal_system(number)
    lattice = random_lattice(rng, system, config)
    if lattice is None:
        return None, "degenerate cell"
    lengths, angles = lattice
    cell = cell_from_parameters(lengths, angles)
    volume = abs(float(np.linalg.det(cell)))
    hall = hall_number(number)
    rot, trans, symbol = symmetry_operations(hall)
    n_el = integers(rng, config.elements)
    zs = rng.choice(np.arange(config.z[0], config.z[1] + 1), n_el, replace=False)
    n_sites = n_el + integers(rng, config.extra_sites)
    d_lo, d_hi = config.min_distance
    shifts = nearest_image_shifts(cell, d_hi) @ cell
    merge_shifts = nearest_image_shifts(cell, config.merge_distance)
    max_atoms = config.max_number_density * volume
    frac = np.zeros((0, 3))
    numbers = np.zeros(0, dtype=np.int64)
    sites = []
    nearest = np.inf
    k = 0
    while True:
        required = k < n_el
        if k >= n_sites and (nearest <= d_hi or k >= config.max_sites):
            break
        z = int(zs[k]) if required else int(rng.choice(zs))
        placed = False
        for _ in range(config.site_tries):
            got = _orbit(rng.random(3), rot, trans, cell, merge_shifts, config.merge_distance)
            if got is None:
                continue
            x, images = got
            if len(frac) + len(images) > max_atoms:
                continue
            pts = np.concatenate([frac, images])
            self_index = len(frac) + int(np.argmin(np.abs((images - x + 0.5) % 1.0 - 0.5).sum(axis=1)))
            d = _nearest(x, pts, cell, shifts, self_index, d_lo)
            if d < d_lo:
                continue
            frac, numbers = pts, np.concatenate([numbers, np.full(len(images), z)])
            nearest = min(nearest, d)
            sites.append({"z": z, "position": x.tolist(), "multiplicity": len(images)})
            placed = True
            break
        if not placed:
            if required:
                return None, "site does not fit"
            if k >= n_sites:
                break  # cannot fill the cell further
        k += 1
    if not nearest <= d_hi:
        return None, "sparse cell"
    record = {
        "space_group": number,
        "hall_number": hall,
        "symbol": symbol,
        "system": system,
        "lengths": lengths.tolist(),
        "angles": angles.tolist(),
        "elements": sorted(int(z) for z in zs),
        "sites": sites,
        "atoms_per_cell": int(len(frac)),
        "number_density": len(frac) / volume,
        "min_distance": float(nearest),
    }
    return Crystal(cell, frac, numbers, system, record), None


def random_crystal(rng: np.random.Generator, config: CrystalConfig = CrystalConfig()) -> Crystal:
    """Draw a random crystal (module docstring); bounded by ``config.max_tries`` restarts."""
    reasons: dict[str, int] = {}
    for attempt in range(config.max_tries):
        crystal, why = _try_crystal(rng, config)
        if crystal is not None:
            crystal.record["tries"] = attempt + 1
            return crystal
        reasons[why] = reasons.get(why, 0) + 1
    summary = ", ".join(f"{v}x {k}" for k, v in sorted(reasons.items()))
    raise EmsimError(f"no random crystal satisfied the constraints in {config.max_tries} tries ({summary}); widen crystal.length or crystal.min_distance")
