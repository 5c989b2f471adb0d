"""Ground truth beyond the clean image, known at generation time (``make_pair(..., truth=)``).

- ``columns``: the projected atoms inside the field (x, y in A and in pixels, Z) and, for
  zone-axis crystals, the atomic columns: atoms sharing a position perpendicular to the
  (tilted) zone axis within ``COLUMN_TOL`` A. Per column: the centroid of its atoms'
  projected positions, its height (number of atoms), its species composition and its
  scattering cross-section (SCS): the column's integrated intensity in the clean image's
  units summed over pixels (its atoms' integrated atom-model intensities / dr^2 times the
  tone map's scale): the column's volume above the background in y where the tone map is
  linear, i.e. no contrast inversion and no power law (``linear_tone``).
- ``masks``: per pixel, uint8: HR 0 vacuum, 1 support, 2 specimen (an atom of that kind
  within ``MASK_RADIUS`` A of the pixel's probe position; specimen wins); LR: 0 background,
  k + 1 for the scene object kind ``emsim.scenes.KINDS[k]`` that changes the pixel most.
- ``displacement``: the scan jitter actually applied, (dx, dy) per pixel in A (zero for
  TEM and unjittered scans), float32 (2, H, W).
- ``counts``: the expected detected electrons per pixel before counting noise (alpha times
  the image entering the counting step), float32 (H, W): x is a Poisson draw of it / alpha.

All on the grid of x (SR pairs: ``columns`` and ``masks`` on the HR grid of y, the others
on x's LR grid).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..distort import COUNTING
from ..distort.jitter import displacements
from ..errors import EmsimError
from ..scenes import KINDS, render_layer

TRUTH = ("columns", "masks", "displacement", "counts")
COLUMN_TOL = 0.2  # A
MASK_RADIUS = 1.0  # A
ATOM_FIELDS = ("x", "y", "col", "row", "Z")
COLUMN_FIELDS = ("x", "y", "col", "row", "height", "scs")


def check_truth(truth) -> tuple[str, ...]:
    """Validated truth channel names (a comma-separated string or a sequence)."""
    names = tuple(t.strip() for t in truth.split(",") if t.strip()) if isinstance(truth, str) else tuple(truth or ())
    unknown = sorted(set(names) - set(TRUTH))
    if unknown:
        raise EmsimError(f"unknown truth channel(s) {', '.join(unknown)} (use {', '.join(TRUTH)})")
    return tuple(t for t in TRUTH if t in names)


def _field(xy, shape, dr):
    H, W = shape
    return (xy[:, 0] >= 0) & (xy[:, 0] < W * dr) & (xy[:, 1] >= 0) & (xy[:, 1] < H * dr)


def _zone_axis(info: dict) -> np.ndarray | None:
    """Unit vector of a zone-axis crystal's (tilted) zone axis in the image frame, or None."""
    orient = info.get("orientation") or {}
    if orient.get("kind") != "zone_axis" or "crystal" not in info:
        return None
    from ..specimen.crystal import cell_from_parameters

    cell = cell_from_parameters(info["crystal"]["lengths"], info["crystal"]["angles"])
    u = np.asarray(orient["zone_axis"], dtype=float) @ cell @ np.asarray(orient["rotation"]).T
    return u / np.linalg.norm(u)


def columns(specimen, models: dict, tone: dict, shape, pixel_size: float) -> dict:
    """Atom and column tables of a specimen (see module docstring): dict of float64 arrays
    ``atoms`` (N, 5: x, y, col, row, Z), ``columns`` (C, 6: x, y, col, row, height, scs),
    ``species`` (S, 3: column index, Z, count) and ``linear_tone``."""
    n = int(specimen.info.get("n_specimen_atoms", len(specimen.numbers)))
    pos, Z = specimen.positions[:n], specimen.numbers[:n].astype(np.int64)
    scale = float(tone.get("scale", 1.0))
    inside = _field(pos[:, :2], shape, pixel_size)
    atoms = np.column_stack([pos[inside, 0], pos[inside, 1], pos[inside, 0] / pixel_size, pos[inside, 1] / pixel_size, Z[inside]]).astype(np.float64)
    out = {**columns_empty(), "atoms": atoms.reshape(-1, 5), "linear_tone": float(tone.get("invert") is None and tone.get("beta") is None)}
    u = _zone_axis(specimen.info)
    if u is None or n == 0:
        return out
    e1 = np.cross(u, [0.0, 0.0, 1.0] if abs(u[2]) < 0.9 else [1.0, 0.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(u, e1)
    key = np.round(np.column_stack([pos @ e1, pos @ e2]) / COLUMN_TOL).astype(np.int64)
    _, col, height = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    col = col.ravel()
    sums = np.zeros((height.size, 2))
    np.add.at(sums, col, pos[:, :2])
    centre = sums / height[:, None]
    per_z = {int(z): models[int(z)].integrated_intensity() for z in np.unique(Z)}
    intensity = np.array([per_z[int(z)] for z in Z])
    scs = np.bincount(col, weights=intensity, minlength=height.size) * scale / pixel_size**2  # summed over pixels
    keep = _field(centre, shape, pixel_size)
    index = -np.ones(height.size, dtype=np.int64)
    index[keep] = np.arange(int(keep.sum()))
    out["columns"] = np.column_stack([centre[keep], centre[keep] / pixel_size, height[keep], scs[keep]]).astype(np.float64)
    pairs, counts = np.unique(np.column_stack([col, Z]), axis=0, return_counts=True)
    sel = keep[pairs[:, 0]]
    out["species"] = np.column_stack([index[pairs[sel, 0]], pairs[sel, 1], counts[sel]]).astype(np.float64)
    return out


def columns_empty() -> dict:
    """The column truth of an image without atoms (an LR scene)."""
    return {"atoms": np.zeros((0, 5)), "columns": np.zeros((0, 6)), "species": np.zeros((0, 3)), "linear_tone": 0.0}


def specimen_masks(specimen, shape, pixel_size: float) -> np.ndarray:
    """uint8 (H, W): 0 vacuum, 1 support, 2 specimen (see module docstring)."""
    H, W = shape
    n = int(specimen.info.get("n_specimen_atoms", len(specimen.numbers)))
    radius = max(MASK_RADIUS / pixel_size, 0.5)
    r = int(np.ceil(radius))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disk = (yy * yy + xx * xx) <= radius * radius
    out = np.zeros((H, W), dtype=np.uint8)
    for label, sel in ((1, slice(n, None)), (2, slice(0, n))):  # specimen drawn last: it wins
        xy = specimen.positions[sel, :2] / pixel_size
        hit = np.zeros((H + 2 * r, W + 2 * r), dtype=bool)
        c, rr = np.rint(xy[:, 0]).astype(np.int64) + r, np.rint(xy[:, 1]).astype(np.int64) + r
        ok = (c >= 0) & (c < W + 2 * r) & (rr >= 0) & (rr < H + 2 * r)
        hit[rr[ok], c[ok]] = True
        hit = ndimage.binary_dilation(hit, structure=disk)[r : r + H, r : r + W]
        out[hit] = label
    return out


def scene_masks(record: dict, shape) -> np.ndarray:
    """uint8 (H, W): 0 background, k + 1 where scene object kind KINDS[k] changes the
    rendered scene most (see module docstring)."""
    img = np.zeros(tuple(shape), dtype=np.float32)
    best = np.full(tuple(shape), 1e-6, dtype=np.float32)
    out = np.zeros(tuple(shape), dtype=np.uint8)
    for layer in record["layers"]:
        before = img.copy()
        render_layer(img, layer)
        change = np.abs(img - before)
        win = change > best
        out[win] = KINDS.index(layer["kind"]) + 1
        best = np.maximum(best, change)
    return out


def scan_displacement(distortions: dict, shape) -> np.ndarray:
    """(2, H, W) float32 A: the jitter (dx, dy) of a distortion record (zero without)."""
    jit = distortions.get("jitter")
    out = np.zeros((2, *shape), dtype=np.float32)
    if jit:
        dx, dy = displacements(jit, shape)
        out[0], out[1] = np.broadcast_to(dx, shape), np.broadcast_to(dy, shape)
    return out


def expected_counts(before: dict, distortions: dict) -> np.ndarray:
    """Expected detected electrons per pixel: alpha times the image entering the counting
    step (``before`` from ``emsim.distort.distort(..., before=)``)."""
    return (np.float32(distortions["dose"]["alpha"]) * np.maximum(before[COUNTING[distortions["modality"]]], 0)).astype(np.float32)


def ground_truth(names, specimen, models, record: dict, shape, pixel_size: float, distortions: dict, before: dict | None, shape_x=None) -> dict:
    """The requested truth channels of one sample; ``shape`` is the
    grid of the clean image (columns, masks), ``shape_x`` the grid of x (default ``shape``)."""
    out: dict = {}
    shape_x = tuple(shape if shape_x is None else shape_x)
    for name in names:
        if name == "columns":
            out[name] = columns(specimen, models, record["tone_map"], shape, pixel_size) if specimen is not None else columns_empty()
        elif name == "masks":
            out[name] = specimen_masks(specimen, shape, pixel_size) if specimen is not None else scene_masks(record["scene"], shape)
        elif name == "displacement":
            out[name] = scan_displacement(distortions, shape_x)
        else:
            out[name] = expected_counts(before, distortions)
    return out
