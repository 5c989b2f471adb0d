"""Ground truth beyond the clean image (emsim.pairs.truth) and its storage."""

import dataclasses

import numpy as np
import pytest

from emsim.config import merge
from emsim.distort import DetectorConfig, DoseConfig, JitterConfig, all_off
from emsim.errors import EmsimError
from emsim.imaging.atom_models import zpower_models
from emsim.pairs import PairConfig, clean_image, make_pair
from emsim.pairs.truth import columns, specimen_masks
from emsim.specimen import Specimen
from emsim.specimen.structure import tile, zone_axis_rotation

A = 3.905  # SrTiO3, Pm-3m
FRAC = np.array([[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
NUMBERS = np.array([38, 22, 8, 8, 8], dtype=np.uint8)


def _srtio3(cells_xy=4, cells_z=6, dr=0.25, tilt=None):
    """SrTiO3 [001] filling a field of cells_xy cells, cells_z cells thick."""
    cell = np.eye(3) * A
    R = zone_axis_rotation(cell, (0, 0, 1)) if tilt is None else tilt
    n = int(round(cells_xy * A / dr))
    eps = 1e-6
    pos, num = tile(FRAC, NUMBERS, cell, R, np.array([-1.0, -1.0, -eps]), np.array([n * dr + 1.0, n * dr + 1.0, cells_z * A - eps]))
    info = {"type": "crystalline", "n_specimen_atoms": len(num), "crystal": {"lengths": [A] * 3, "angles": [90.0] * 3}, "orientation": {"kind": "zone_axis", "zone_axis": [0, 0, 1], "rotation": R.tolist()}}
    return Specimen(pos, num, (pos.min(0), pos.max(0)), dr, (n, n), info), n


def test_zone_axis_column_table_matches_the_structure():
    spec, n = _srtio3()
    models, _ = zpower_models([8, 22, 38])
    tone = {"invert": None, "beta": None, "scale": 0.5}
    t = columns(spec, models, tone, (n, n), 0.25)
    cols, species = t["columns"], t["species"]
    assert t["linear_tone"] == 1.0
    # per cell: an Sr, a Ti-O and two O columns; 4 x 4 cells in the field (its x, y < n dr)
    assert len(cols) == 4 * 4 * 4
    heights = {}
    for c, (x, y, col, row, h, scs) in enumerate(cols):
        zs = tuple(sorted(int(z) for k, z, cnt in species if k == c))
        heights.setdefault(zs, set()).add(int(h))
        comp = {int(z): int(cnt) for k, z, cnt in species if k == c}
        assert scs == pytest.approx(0.5 * sum(models[z].integrated_intensity() * m for z, m in comp.items()) / 0.25**2)  # summed over pixels
        assert col == pytest.approx(x / 0.25) and row == pytest.approx(y / 0.25)
    assert heights == {(38,): {6}, (8, 22): {12}, (8,): {6}}
    # the column positions are the lattice sites
    frac = np.mod(cols[:, :2] / A, 1.0)
    assert np.all(np.isclose(frac, 0, atol=1e-9) | np.isclose(frac, 0.5, atol=1e-9) | np.isclose(frac, 1, atol=1e-9))


def test_tilted_columns_are_grouped_along_the_tilted_axis():
    from emsim.specimen.orientation import axis_angle

    tilt = axis_angle((1.0, 0.0, 0.0), np.radians(3.0))
    spec, n = _srtio3(tilt=tilt)
    t = columns(spec, zpower_models([8, 22, 38])[0], {"scale": 1.0, "invert": None, "beta": None}, (n, n), 0.25)
    assert sorted(set(t["columns"][:, 4].astype(int).tolist())) == [6, 12]  # heights survive the tilt


def test_masks_agree_with_the_atoms():
    spec, n = _srtio3()
    m = specimen_masks(spec, (n, n), 0.25)
    px = np.rint(spec.positions[:, :2] / 0.25).astype(int)
    inside = (px[:, 0] >= 0) & (px[:, 0] < n) & (px[:, 1] >= 0) & (px[:, 1] < n)
    assert np.all(m[px[inside, 1], px[inside, 0]] == 2)
    yy, xx = np.mgrid[:n, :n] * 0.25
    d = np.min(np.hypot(xx[..., None] - spec.positions[None, None, :, 0], yy[..., None] - spec.positions[None, None, :, 1]), axis=-1)
    assert np.all(m[d > 1.0 + 0.25 * 1.5] == 0) and np.any(m == 0)


def _only(**effects):
    base = all_off()
    return dataclasses.replace(base, dose=DoseConfig(e_per_px=50.0), stem=dataclasses.replace(base.stem, **effects))


def test_displacement_truth_reproduces_the_jittered_clean_image():
    cfg = PairConfig(shape=(48, 48), distort=_only(jitter=JitterConfig(p=1.0, p_x=0.0, p_y=0.0)))
    for i in range(3):
        p = make_pair(2, i, cfg, truth=("displacement",))
        d = p.truth["displacement"]
        assert d.shape == (2, 48, 48) and np.abs(d).max() > 0
        clean = clean_image(2, i, cfg, redraws=p.record["redraws"])
        np.testing.assert_allclose(clean.resample(d[0], d[1]), p.x, atol=1e-5)  # float32 displacements


def test_counts_truth_is_the_poisson_mean_of_x():
    cfg = PairConfig(shape=(96, 96), distort=_only(detector=DetectorConfig(p=1.0, sigma=0.0, baseline=0.0)))
    for i in range(2):
        p = make_pair(4, i, cfg, truth=("counts",))
        lam = p.truth["counts"].astype(np.float64)
        k = p.x.astype(np.float64) * p.record["distortions"]["dose"]["alpha"]
        assert lam.mean() == pytest.approx(50.0, rel=1e-4)  # the dose drawn: 50 e/px on average
        z = (k - lam) / np.sqrt(np.maximum(lam, 1e-9))
        assert abs(z.mean()) < 5 / np.sqrt(z.size) and z.var() == pytest.approx(1.0, rel=0.05)


def test_lr_masks_label_scene_objects_and_sr_truth_grids():
    from emsim.scenes import KINDS

    cfg = merge(PairConfig, PairConfig(shape=(64, 64)), {"resolution": "lr"})
    p = make_pair(1, 0, cfg, truth=("masks", "columns"))
    labels = set(np.unique(p.truth["masks"]).tolist()) - {0}
    assert labels and labels <= {KINDS.index(k) + 1 for k in p.record["scene"]["objects"]}
    assert len(p.truth["columns"]["atoms"]) == 0
    sr = merge(PairConfig, PairConfig(shape=(64, 64)), {"task": "sr", "sr": {"scale": 4}})
    p = make_pair(1, 0, sr, truth=("masks", "displacement", "counts"))
    assert p.truth["masks"].shape == (64, 64) and p.truth["displacement"].shape == (2, 16, 16) and p.truth["counts"].shape == (16, 16)
    with pytest.raises(EmsimError, match="unknown truth"):
        make_pair(1, 0, cfg, truth="colums")


def test_store_round_trip_and_torch(tmp_path):
    from emsim.dataset import store
    from emsim.dataset.generate import generate

    cfg = PairConfig(shape=(32, 32))
    out = tmp_path / "t.zarr"
    generate(out, 5, cfg, workers=1, shard_size=2, progress=False, truth="columns,masks,displacement,counts")
    g = store.open_group(str(out), "r")
    for i in range(5):
        ref = make_pair(0, i, cfg, truth=("columns", "masks", "displacement", "counts")).truth
        got = store.truth(g, i)
        for k in ("masks", "displacement", "counts"):
            np.testing.assert_array_equal(got[k], ref[k])
        for k in ("atoms", "columns", "species"):
            np.testing.assert_allclose(got["columns"][k], ref["columns"][k].astype(np.float32))
    assert store.verify(str(out)) == {}
    torch = pytest.importorskip("torch")
    from emsim.dataset.torch import ZarrPairs, collate

    batch = next(iter(torch.utils.data.DataLoader(ZarrPairs(out, truth=("masks", "columns")), batch_size=2, collate_fn=collate)))
    assert batch[2]["masks"].shape == (2, 32, 32) and len(batch[2]["columns"]) == 2
    with pytest.raises(EmsimError, match="no counts"):
        generate(tmp_path / "u.zarr", 2, cfg, workers=1, progress=False)
        ZarrPairs(tmp_path / "u.zarr", truth=("counts",))
