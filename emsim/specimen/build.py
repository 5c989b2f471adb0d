"""Random specimens (Lobato et al. 2023, "Specimen generation"): orchestration of the three
steps (type, orientation and cutting, support) in the simulation box.

Simulation box (paper): pixel size dr ~ U[0.025, 0.9] A, image (ny, nx), nz = max(nx, ny),
field l = (nx dr, ny dr, nz dr); the extended box adds n_e = round(d_ext / dr) pixels,
d_ext being the largest displacement the scan distortions can produce.

Frame: the renderer's image frame. The image field is x in [0, nx dr), y in [0, ny dr);
the extended box reaches ``e/2 + margin`` beyond it on each side in x and y (e = n_e dr).
``margin`` (10 A) holds atoms just outside the field whose profile tails reach into it:
without it the clean image darkens towards its borders. The specimen occupies
z in [0, (nz + n_e) dr), the support z < 0 (below it). ``Specimen.box`` holds the bounds
of everything generated; no atom lies outside it.

Specimen types (paper: crystalline, amorphous or individual points, weights not given):
crystalline 0.7, amorphous 0.15, individual points (random isolated atoms) 0.15; HR images
are mostly of crystals. Amorphous and point specimens are isotropic, so their "random 3D
orientation" is the identity (a rotation would not change their distribution).

Order within step 2 follows the paper: orient and crop, wedge, shape, defects.

Atom budget (paper silent). The cubic box holds ~(n dr)^3 rho atoms: up to 3e6 at 256^2 but
~1e8 at 1024^2 and dr = 0.9 A (a 92 nm thick crystal; 2.4 GB of positions, minutes to
render). A block (specimen or support) that would exceed ``max_atoms`` (5e6) is made thinner
along the beam instead (``structure.thin_box``: the specimen keeps its bottom face on the
support, the support its top face), which in projection changes column weights, not the
lattice image; ``info["thickness"]`` and ``info["thinned"]`` record it. At the default budget
a 256^2 specimen is never thinned, a thinned 1024^2 crystal at 0.1 atoms/A^3 is still ~5 nm
thick (a usual HR thickness), and a specimen with its support stays below ~450 MiB.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .amorphous import AmorphousConfig, amorphous_block
from ..config import Range, check_range, coin, jsonable, uniform
from .crystal import CrystalConfig, random_crystal
from .defects import DefectConfig, apply_defects
from ..errors import ConfigError, EmsimError, TooManyAtoms
from .orientation import OrientationConfig, sample_orientation
from .points import IsolatedAtomsConfig, isolated_atoms
from .shapes import ShapeConfig, WedgeConfig, check_weights, weighted_choice, sample_shape, sample_wedge, shape_keep, wedge_keep
from .structure import thin_box, tile
from .support import SupportConfig

KINDS = ("crystalline", "amorphous", "points")


@dataclasses.dataclass(frozen=True)
class SpecimenConfig:
    """Specimen generation; defaults are the paper's (module docstrings say where not)."""

    pixel_size: Range = (0.025, 0.9)  # A
    margin: float = 10.0  # A beyond the extended field in x and y
    kinds: tuple[float, float, float] = (0.7, 0.15, 0.15)  # crystalline, amorphous, points
    max_atoms: int = 5_000_000  # atom budget per block (specimen, support); see module docstring
    crystal: CrystalConfig = dataclasses.field(default_factory=CrystalConfig)
    amorphous: AmorphousConfig = dataclasses.field(default_factory=AmorphousConfig)
    points: IsolatedAtomsConfig = dataclasses.field(default_factory=IsolatedAtomsConfig)
    orientation: OrientationConfig = dataclasses.field(default_factory=OrientationConfig)
    wedge: WedgeConfig = dataclasses.field(default_factory=WedgeConfig)
    shape: ShapeConfig = dataclasses.field(default_factory=ShapeConfig)
    defects: DefectConfig = dataclasses.field(default_factory=DefectConfig)
    support: SupportConfig = dataclasses.field(default_factory=SupportConfig)

    def __post_init__(self):
        check_range("specimen.pixel_size", self.pixel_size, 1e-4, 100.0)
        if not 0.0 <= self.margin <= 1e4:
            raise ConfigError(f"specimen.margin = {self.margin} must lie in [0, 10000] A")
        check_weights("specimen.kinds", self.kinds)
        if self.max_atoms < 1:
            raise ConfigError(f"specimen.max_atoms = {self.max_atoms} must be positive")


@dataclasses.dataclass(frozen=True)
class SimulationBox:
    """Field and extended box (module docstring). ``lo``/``hi``: the specimen's extended
    box (z from 0); ``field``: l = (nx dr, ny dr, nz dr)."""

    pixel_size: float
    shape: tuple[int, int]
    extension: int  # n_e, pixels
    margin: float
    field: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def simulation_box(shape, pixel_size: float, d_ext: float = 0.0, margin: float = 10.0) -> SimulationBox:
    """The paper's simulation box for an (ny, nx) image at pixel size ``pixel_size``."""
    try:
        ny, nx = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise EmsimError(f"image shape must be two integers (ny, nx), got {shape!r}") from None
    if min(ny, nx) < 1:
        raise EmsimError(f"image shape must be positive, got {(ny, nx)}")
    if not (pixel_size > 0 and np.isfinite(pixel_size)):
        raise EmsimError(f"pixel size must be positive, got {pixel_size}")
    if not (d_ext >= 0 and np.isfinite(d_ext)):
        raise EmsimError(f"d_ext must be a non-negative length, got {d_ext}")
    n_e = int(round(d_ext / pixel_size))
    nz = max(nx, ny)
    field = np.array([nx, ny, nz], dtype=float) * pixel_size
    pad = 0.5 * n_e * pixel_size + margin
    lo = np.array([-pad, -pad, 0.0])
    hi = np.array([field[0] + pad, field[1] + pad, (nz + n_e) * pixel_size])
    return SimulationBox(float(pixel_size), (ny, nx), n_e, float(margin), field, lo, hi)


@dataclasses.dataclass
class Specimen:
    """Atoms in the image frame: ``positions`` (N, 3) A, ``numbers`` (N,) atomic numbers
    (uint8), ``box`` = (lo, hi) bounds of the extended box, support included; ``info`` is
    the JSON-serialisable record of every draw."""

    positions: np.ndarray
    numbers: np.ndarray
    box: tuple[np.ndarray, np.ndarray]
    pixel_size: float
    shape: tuple[int, int]
    info: dict

    def __len__(self) -> int:
        return len(self.numbers)

    @property
    def xy(self) -> np.ndarray:
        """Projected positions (N, 2) for ``render.render_clean``."""
        return self.positions[:, :2]

    def to_ase(self):
        """ase.Atoms (cell: the box, displaced to its lower corner; no periodicity)."""
        import ase

        lo, hi = self.box
        atoms = ase.Atoms(numbers=self.numbers.astype(np.int64), positions=self.positions, cell=np.diag(hi - lo), celldisp=lo, pbc=False)
        atoms.info.update(pixel_size=self.pixel_size, image_shape=f"{self.shape[0]}x{self.shape[1]}", specimen_type=self.info.get("type", ""))
        return atoms


def _body(rng, kind, lo, hi, dr, *, crystal, amorphous, points, orientation, max_atoms, keep_top=False):
    """Step 1 plus orientation and cropping: atoms filling [lo, hi), thinned along z to the
    atom budget (module docstring). Returns (positions, numbers, record, lo, hi) with the box
    actually filled."""
    if kind == "crystalline":
        c = random_crystal(rng, crystal)
        R, orient = sample_orientation(rng, c.cell, c.hexagonal, orientation)
        lo, hi = thin_box(lo, hi, c.record["number_density"], max_atoms, keep_top)
        for attempt in range(8):  # a thin slab of a large cell can overshoot the mean density
            try:
                pos, num = tile(c.frac, c.numbers.astype(np.uint8), c.cell, R, lo, hi, max_atoms)
                break
            except TooManyAtoms as e:
                if attempt == 7:
                    raise
                lo, hi = thin_box(lo, hi, e.n / float(np.prod(hi - lo)), max_atoms, keep_top)
        return pos, num, {"crystal": c.record, "orientation": orient}, lo, hi
    if kind == "amorphous":
        pos, num, rec = amorphous_block(rng, lo, hi, amorphous, max_atoms, keep_top)
        lo, hi = lo.copy(), hi.copy()
        lo[2], hi[2] = rec["z_range"]
        return pos, num, {"amorphous": rec, "orientation": {"kind": "isotropic"}}, lo, hi
    pos, num, rec = isolated_atoms(rng, lo, hi, dr, points)
    return pos, num, {"points": rec, "orientation": {"kind": "isotropic"}}, lo, hi


def _cut(rng, pos, num, lo, hi, field_lo, field_hi, *, wedge, shape, defects) -> tuple[np.ndarray, np.ndarray, dict]:
    """Step 2 after orientation: wedge, shape (if ``shape``), defects; one compaction."""
    keep = np.ones(len(pos), dtype=bool)
    regions, wedge_rec = sample_wedge(rng, field_lo[:2], field_hi[:2], lo[2], hi[2], wedge)
    if regions:
        keep &= wedge_keep(pos, regions)
    shape_rec = None
    if shape is not None:
        region, keep_inside, shape_rec = sample_shape(rng, field_lo, field_hi, shape)
        if region is not None:
            keep &= shape_keep(pos, region, keep_inside)
    defect_rec = apply_defects(rng, pos, num, keep, lo, hi, defects)
    if not keep.all():  # np.compress: 4x faster than boolean indexing of (N, 3)
        pos, num = np.compress(keep, pos, axis=0), np.compress(keep, num)
    return pos, num, {"wedge": wedge_rec, "shape": shape_rec, "defects": defect_rec}


def generate_specimen(
    rng: np.random.Generator,
    config: SpecimenConfig = SpecimenConfig(),
    shape=(256, 256),
    pixel_size: float | None = None,
    d_ext: float = 0.0,
) -> Specimen:
    """Draw a random specimen for an image of ``shape`` = (ny, nx) (module docstring).
    ``pixel_size`` None draws it from ``config.pixel_size``; ``d_ext`` (A) is the largest
    scan-distortion displacement (e.g. ``emsim.distort.max_displacement``)."""
    dr = uniform(rng, config.pixel_size) if pixel_size is None else float(pixel_size)
    box = simulation_box(shape, dr, d_ext, config.margin)
    field_lo = np.zeros(3)
    field_hi = box.field
    kind = KINDS[weighted_choice(rng, config.kinds)]
    pos, num, body, lo, hi = _body(rng, kind, box.lo, box.hi, dr, crystal=config.crystal, amorphous=config.amorphous, points=config.points, orientation=config.orientation, max_atoms=config.max_atoms)
    pos, num, cuts = _cut(rng, pos, num, lo, hi, field_lo, field_hi, wedge=config.wedge, shape=config.shape, defects=config.defects)
    n_specimen = len(num)
    thickness = float(hi[2] - lo[2])
    thinned = bool(thickness < box.hi[2] - box.lo[2])
    support = None
    sc: SupportConfig = config.support
    if coin(rng, sc.p):
        s_kind = "crystalline" if coin(rng, sc.p_crystalline) else "amorphous"
        s_thickness = uniform(rng, sc.thickness)
        s_lo = np.array([box.lo[0], box.lo[1], -s_thickness])
        s_hi = np.array([box.hi[0], box.hi[1], 0.0])
        s_pos, s_num, s_body, s_lo, s_hi = _body(rng, s_kind, s_lo, s_hi, dr, crystal=sc.crystal, amorphous=sc.amorphous, points=config.points, orientation=sc.orientation, max_atoms=config.max_atoms, keep_top=True)
        s_pos, s_num, s_cuts = _cut(rng, s_pos, s_num, s_lo, s_hi, field_lo, field_hi, wedge=sc.wedge, shape=None, defects=sc.defects)
        support = {"type": s_kind, "thickness": float(-s_lo[2]), "thickness_drawn": s_thickness, "n_atoms": int(len(s_num)), **s_body, **s_cuts}
        del support["shape"]
        pos = np.concatenate([pos, s_pos]) if len(s_pos) else pos
        num = np.concatenate([num, s_num]) if len(s_num) else num
        lo = np.array([lo[0], lo[1], s_lo[2]])
    present = np.flatnonzero(np.bincount(num, minlength=1)) if len(num) else np.zeros(0, dtype=int)
    info = {
        "type": kind,
        "pixel_size": dr,
        "image_shape": list(box.shape),
        "d_ext": float(d_ext),
        "extension_px": box.extension,
        "margin": box.margin,
        "field": box.field,
        "thickness": thickness,
        "thinned": thinned,
        "box": {"lo": lo, "hi": hi},
        **body,
        **cuts,
        "support": support,
        "n_atoms": int(len(num)),
        "n_specimen_atoms": int(n_specimen),
        "elements": present,
    }
    return Specimen(pos, num, (lo, hi), dr, box.shape, jsonable(info))
