"""Clean images of known structures: orient along a zone axis, tile, project, render."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from .atom_models import AtomModelConfig, sample_atom_models, zpower_models
from ..errors import EmsimError
from .render import cutoff_s, render_clean
from ..specimen.structure import read_structure, repeat_length, rotation_to_z, tile, zone_axis_rotation


def default_structure() -> Path:
    """The bundled SrTiO3 (Pm-3m) cif, the default of ``emsim render``."""
    return Path(str(resources.files("emsim.resources").joinpath("SrTiO3.cif")))


def render_structure(
    atoms,
    pixel_size: float,
    shape,
    zone_axis=(0, 0, 1),
    *,
    contrast: str = "zpower",
    gamma: float = 1.7,
    width: float = 0.35,
    seed: int | None = None,
    thickness: float | None = None,
) -> tuple[np.ndarray, dict]:
    """Render an ase.Atoms crystal viewed along ``zone_axis`` into an (H, W) image.

    The cell is oriented so [uvw] runs along the beam, tiled to fill the field (plus the
    atom cutoff, so edge pixels see their neighbours) and ``thickness`` A along the beam
    (default: one lattice repeat along [uvw], so every column holds its atoms once).
    A finite structure (not periodic in all three directions: a molecule, cluster or
    nanoparticle, e.g. an .xyz without a cell) is rendered as it is, centred in the field,
    viewed along ``zone_axis`` read as a Cartesian direction; ``thickness`` does not apply.
    contrast: "zpower" (integrated intensity ~ Z^gamma, probe-limited columns of width
    ``width`` A, HAADF-like) or "random" (the paper's randomised atom model, drawn from
    ``seed``). Returns (image, record).
    """
    H, W = shape
    if not pixel_size > 0:
        raise EmsimError(f"pixel size must be positive, got {pixel_size}")
    if contrast == "zpower":
        models, model_record = zpower_models(atoms.numbers, gamma, width)
    elif contrast == "random":
        models, model_record = sample_atom_models(np.random.default_rng(seed), atoms.numbers, AtomModelConfig())
    else:
        raise EmsimError(f"unknown contrast {contrast!r} (use zpower or random)")
    periodic = bool(all(atoms.pbc) and atoms.cell.rank == 3)
    if periodic:
        rotation = zone_axis_rotation(atoms.cell.array, zone_axis)
        depth = repeat_length(atoms.cell.array, zone_axis) if thickness is None else float(thickness)
        if not depth > 0:
            raise EmsimError(f"thickness must be positive, got {thickness}")
        margin = max(cutoff_s(m) * m.r_m for m in models.values())
        eps = 1e-6 * depth  # atoms on the boundary plane z = depth belong to the next repeat
        lo = np.array([-margin, -margin, -eps])
        hi = np.array([W * pixel_size + margin, H * pixel_size + margin, depth - eps])
        positions, numbers = tile(atoms.get_scaled_positions(wrap=True), atoms.numbers, atoms.cell.array, rotation, lo, hi)
    else:
        if len(atoms) == 0:
            raise EmsimError("the structure holds no atoms")
        rotation = rotation_to_z(np.asarray(zone_axis, dtype=float))
        positions, numbers = atoms.positions @ rotation.T, atoms.numbers
        centre = 0.5 * (positions[:, :2].min(axis=0) + positions[:, :2].max(axis=0))
        positions[:, :2] += 0.5 * pixel_size * np.array([W - 1, H - 1]) - centre
        depth = float(np.ptp(positions[:, 2]))
    image = render_clean(positions[:, :2], numbers, models, pixel_size, (H, W))
    record = {
        "formula": atoms.get_chemical_formula(),
        "zone_axis": [int(v) for v in zone_axis],
        "periodic": periodic,
        "thickness": depth,
        "pixel_size": pixel_size,
        "n_atoms": int(len(numbers)),
        "rotation": rotation.tolist(),
        "contrast": model_record,
    }
    return image, record


def render_file(path, *args, **kwargs) -> tuple[np.ndarray, dict]:
    """``render_structure`` on a structure file (any format ase reads)."""
    image, record = render_structure(read_structure(path), *args, **kwargs)
    record["structure"] = str(path)
    return image, record
