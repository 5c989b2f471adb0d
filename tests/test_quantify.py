"""Atomic-column quantification (emsim.analysis.quantify) on clean rendered crystals."""

import csv
import dataclasses

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import cli
from emsim.analysis.quantify import fit_columns
from emsim.distort import DetectorConfig
from emsim.imaging.atom_models import zpower_models
from emsim.imaging.physics import AtomModel
from emsim.imaging.render import render_clean
from emsim.pairs.truth import columns
from emsim.specimen import Specimen
from emsim.specimen.structure import tile, zone_axis_rotation


def _patch(frac, numbers, a, dr, n, cells_z, margin=3.0):
    """A cubic crystal [001] filling the field but a vacuum margin (so every column that
    reaches the image is in its column table), and its specimen record."""
    cell = np.eye(3) * a
    R = zone_axis_rotation(cell, (0, 0, 1))
    pos, num = tile(np.asarray(frac, float), np.asarray(numbers, np.uint8), cell, R, np.array([margin, margin, -1e-6]), np.array([n * dr - margin, n * dr - margin, cells_z * a - 1e-6]))
    info = {"type": "crystalline", "n_specimen_atoms": len(num), "crystal": {"lengths": [a] * 3, "angles": [90.0] * 3}, "orientation": {"kind": "zone_axis", "zone_axis": [0, 0, 1], "rotation": R.tolist()}}
    return Specimen(pos, num, (pos.min(0), pos.max(0)), dr, (n, n), info)


LINEAR = {"scale": 1.0, "invert": None, "beta": None}


def test_gaussian_columns_recovered_within_1_pm_and_1_percent():
    """SrTiO3 [001] with Gaussian atoms: columns of three kinds, starts off by 0.3 px."""
    dr, n = 0.1, 200
    spec = _patch([[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]], [38, 22, 8, 8, 8], 3.905, dr, n, 5)
    models = {z: AtomModel(float(z) ** 0.85, 0.0, 0.0, 8.0, 0.4) for z in (8, 22, 38)}
    img = render_clean(spec.positions[:, :2], spec.numbers, models, dr, (n, n)) + 0.05
    cols = columns(spec, models, LINEAR, (n, n), dr)["columns"]
    assert len(cols) == 49 and set(cols[:, 4]) == {5.0, 10.0}
    start = cols[:, 2:4] + np.random.default_rng(0).normal(0, 0.3, (len(cols), 2))
    fit = fit_columns(img, start)
    err_pm = np.hypot(fit["col"] - cols[:, 2], fit["row"] - cols[:, 3]) * dr * 100
    assert err_pm.max() < 1.0
    np.testing.assert_allclose(fit["scs"], cols[:, 5], rtol=0.01)
    assert fit["background"] == pytest.approx(np.full(len(cols), 0.05), abs=0.01)


def test_voronoi_scs_of_non_gaussian_columns():
    """Pt [001] with emsim's HAADF-like atom model (exponential tails): positions within
    1 pm; the Gaussian volume misses the tails, the Voronoi integral does not."""
    dr, n = 0.08, 240
    spec = _patch([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]], [78] * 4, 3.924, dr, n, 8)
    models, _ = zpower_models([78])
    img = render_clean(spec.positions[:, :2], spec.numbers, models, dr, (n, n))
    cols = columns(spec, models, LINEAR, (n, n), dr)["columns"]
    fit = fit_columns(img, cols[:, 2:4])
    inner = np.hypot(cols[:, 2] - n / 2, cols[:, 3] - n / 2) < 0.25 * n
    assert inner.sum() >= 20
    assert (np.hypot(fit["col"] - cols[:, 2], fit["row"] - cols[:, 3]) * dr * 100).max() < 1.0
    np.testing.assert_allclose(fit["scs_voronoi"][inner], cols[inner, 5], rtol=0.01)
    assert np.all(fit["scs"][inner] < 0.9 * cols[inner, 5])  # the Gaussian misses the tails


def test_quantify_cli_from_a_table_and_from_a_store(tmp_path):
    dr, n = 0.1, 120
    spec = _patch([[0, 0, 0], [0.5, 0.5, 0.5]], [38, 22], 3.905, dr, n, 3)
    models = {z: AtomModel(1.0, 0.0, 0.0, 8.0, 0.4) for z in (22, 38)}
    img = render_clean(spec.positions[:, :2], spec.numbers, models, dr, (n, n))
    cols = columns(spec, models, LINEAR, (n, n), dr)["columns"]
    np.save(tmp_path / "img.npy", img)
    with open(tmp_path / "cols.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["col", "row"])
        w.writerows(cols[:, 2:4] + 0.2)
    res = CliRunner().invoke(cli, ["quantify", str(tmp_path / "img.npy"), "--columns", str(tmp_path / "cols.csv"), "--out", str(tmp_path / "fit.csv")])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(open(tmp_path / "fit.csv")))
    assert len(rows) == len(cols) and abs(float(rows[0]["col"]) - cols[0, 2]) < 0.01
    res = CliRunner().invoke(cli, ["quantify", str(tmp_path / "img.npy"), "--out", str(tmp_path / "fit.csv")])
    assert res.exit_code == 2 and "--columns" in res.output
    from emsim.dataset.generate import generate
    from emsim.pairs import resolve_config

    cfg = resolve_config(shape=(64, 64), specimen={"kinds": [1.0, 0.0, 0.0], "orientation": {"p_zone_axis": 1.0, "mistilt": 0.0}, "support": {"p": 0.0}})
    generate(tmp_path / "s.zarr", 2, cfg, workers=1, progress=False, truth="columns")
    res = CliRunner().invoke(cli, ["quantify", str(tmp_path / "s.zarr"), "--index", "0", "--image", "y", "--out", str(tmp_path / "s.csv")])
    assert res.exit_code == 0, res.output
    assert "position error vs truth" in res.output


def test_positions_agree_with_atomap(rng):
    """atomap (the maintained Python library: 2D Gaussian refinement) and emsim's fitter on
    the same noisy SrTiO3 image: both near the truth, and within ~1 pm RMS of each other."""
    import warnings

    am = pytest.importorskip("atomap.api")
    dr, n = 0.1, 200
    spec = _patch([[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]], [38, 22, 8, 8, 8], 3.905, dr, n, 5)
    models = {z: AtomModel(float(z) ** 0.85, 0.0, 0.0, 8.0, 0.4) for z in (8, 22, 38)}
    img = render_clean(spec.positions[:, :2], spec.numbers, models, dr, (n, n)) + 10.0
    img = img + rng.normal(0, 2.0, img.shape)
    cols = columns(spec, models, LINEAR, (n, n), dr)["columns"]
    start = cols[:, 2:4] + rng.normal(0, 0.3, (len(cols), 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sub = am.Sublattice(start.copy(), image=img)
        sub.find_nearest_neighbors()
        sub.refine_atom_positions_using_2d_gaussian(show_progressbar=False)
    ref = np.asarray(sub.atom_positions)
    fit = fit_columns(img, start)
    inner = np.hypot(cols[:, 2] - n / 2, cols[:, 3] - n / 2) < 0.3 * n

    def rms_pm(a, b):
        return float(np.sqrt(np.mean((np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1])[inner] * dr * 100) ** 2)))

    ours = np.column_stack([fit["col"], fit["row"]])
    assert rms_pm(ours, cols[:, 2:4]) < 2.0 and rms_pm(ref, cols[:, 2:4]) < 2.0
    assert rms_pm(ours, ref) < 1.5


def test_evaluate_reports_column_errors(tmp_path):
    """On a store with column truth, `emsim evaluate` adds column-position and SCS errors:
    zero for an undistorted input, larger for a noisy one."""
    pytest.importorskip("torch")
    from emsim.dataset.generate import generate
    from emsim.distort import DoseConfig, all_off
    from emsim.pairs import resolve_config
    from restoration.evaluate import evaluate_pairs, store_column_truths, store_pairs

    spec = {"kinds": [1.0, 0.0, 0.0], "pixel_size": [0.1, 0.15], "orientation": {"p_zone_axis": 1.0, "mistilt": 0.0}, "support": {"p": 0.0}}
    rows = {}
    for name, dist in (("clean", all_off()), ("noisy", dataclasses.replace(all_off(), dose=DoseConfig(e_per_px=20.0), stem=dataclasses.replace(all_off().stem, detector=DetectorConfig(p=1.0))))):
        out = tmp_path / f"{name}.zarr"
        cfg = dataclasses.replace(resolve_config(shape=(64, 64), specimen=spec), distort=dist)
        generate(out, 3, cfg, workers=1, progress=False, truth="columns")
        rows[name] = evaluate_pairs(store_pairs(str(out)), baselines=("raw",), truths=store_column_truths(str(out)))[0]
    assert rows["clean"]["columns"] > 0
    assert rows["clean"]["pos_rms_pm"] < 0.5 and rows["clean"]["scs_rel_median"] < 1e-3
    assert rows["noisy"]["pos_rms_pm"] > 2 * rows["clean"]["pos_rms_pm"] and rows["noisy"]["scs_rel_median"] > 0.01
