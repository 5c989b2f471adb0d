"""Scale-free image statistics, coverage, and `emsim stats` (emsim.analysis.stats)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import cli
from emsim.analysis.stats import coverage, image_stats, noise_fit, pair_stats, row_statistics, spectrum_slope
from emsim.distort import counting


def _lattice(shape=(192, 192), period=(9.0, 11.0)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (0.3 + 0.7 * (np.cos(np.pi * xx / period[1]) * np.cos(np.pi * yy / period[0])) ** 2).astype(np.float32)


@pytest.mark.parametrize("n", [3.0, 30.0, 300.0])
def test_noise_fit_recovers_the_counts_and_is_scale_free(rng, n):
    clean = _lattice()
    alpha = n / clean.mean()
    x = counting.count(rng, clean, alpha)
    fit = noise_fit(x)
    assert fit["counts"] == pytest.approx(n, rel=0.06)
    assert fit["gain"] == pytest.approx(1 / alpha, rel=0.25)  # Poisson: var = m / alpha (gain and offset trade off)
    assert noise_fit(4 * x)["counts"] == pytest.approx(fit["counts"], rel=1e-9)
    assert pair_stats(x, clean)["counts_pair"] == pytest.approx(n, rel=0.03)


def test_gaussian_read_noise_is_the_offset(rng):
    clean = _lattice()
    x = clean + rng.normal(0, 0.02, clean.shape)
    fit = noise_fit(x)
    assert fit["gain"] < 1e-4 and fit["offset"] == pytest.approx(0.02**2, rel=0.1)


def test_spectrum_slope_and_saturation(rng):
    assert spectrum_slope(rng.random((128, 128))) == pytest.approx(0.0, abs=0.15)
    from scipy import ndimage

    assert spectrum_slope(ndimage.gaussian_filter(rng.random((128, 128)), 4)) < -3
    x = np.minimum(_lattice(), 0.8)
    assert image_stats(x)["saturated"] == pytest.approx((np.sum(_lattice() >= 0.8) - 1) / x.size, rel=1e-6)


@pytest.mark.parametrize("size", [64, 400])
def test_unclipped_images_have_no_saturation_at_any_size(rng, size):
    """The one pixel that holds an image's maximum (minimum) is not saturation: 0 at every
    size (it used to read 1/(H W), which separated 128^2 stores from 400^2 micrographs)."""
    s = image_stats(rng.gamma(5.0, 1.0, (size, size)))
    assert s["saturated"] == 0.0 and s["zeros"] == 0.0
    x = np.minimum(rng.gamma(5.0, 1.0, (size, size)), 9.0)
    assert image_stats(x)["saturated"] == pytest.approx(np.mean(x == 9.0) - 1 / x.size)


def test_row_shifts_are_measured(rng):
    """Rows of a smooth pattern shifted by a known AR(1) series: the shift statistics."""
    W, H = 256, 200
    xx = np.arange(W)
    shifts = np.zeros(H)
    for i in range(1, H):
        shifts[i] = 0.6 * shifts[i - 1] + rng.normal(0, 0.3)
    img = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (xx - s) / 23.0) * np.cos(2 * np.pi * (xx - s) / 61.0) for s in shifts])
    st = row_statistics(img)
    true = np.diff(shifts)
    robust = 1.4826 * np.median(np.abs(true - np.median(true)))  # the estimator on the true series
    assert st["row_shift_std"] == pytest.approx(robust, rel=0.1)
    assert st["row_shift_std"] == pytest.approx(true.std(), rel=0.2)
    assert st["row_shift_phi"] == pytest.approx(np.corrcoef(true[:-1], true[1:])[0, 1], abs=0.1)


def test_row_shifts_ignore_rows_without_structure(rng):
    """Rows that cross no structure (every 32nd row: faint white noise, so its
    cross-correlation peak falls anywhere in +-3 px) barely move row_shift_std (measured over
    8 seeds: 1.06-1.24 x the structured rows' true spread); the plain standard deviation
    used before read 0.61 px here, 1.8 x the truth."""
    W, H = 256, 384
    xx = np.arange(W)
    shifts = rng.normal(0, 0.25, H)
    img = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (xx - s) / 23.0) * np.cos(2 * np.pi * (xx - s) / 61.0) for s in shifts])
    blank = np.arange(H) % 32 == 0
    img[blank] = 0.5 + 1e-3 * rng.standard_normal((blank.sum(), W))
    true = np.diff(shifts)[~(blank[:-1] | blank[1:])]
    assert 0.9 < row_statistics(img)["row_shift_std"] / true.std() < 1.4


def test_coverage_of_a_similar_and_of_a_different_set(rng):
    def images(n_lo, n_hi, k):
        clean = _lattice((96, 96))
        return [{"name": f"i{j}", **image_stats(counting.count(rng, clean, d / clean.mean()))} for j, d in enumerate(np.geomspace(n_lo, n_hi, k))]

    source = images(5, 500, 40)
    assert coverage(source, images(10, 300, 10))["covered"] >= 0.8
    far = coverage(source, images(5e4, 1e5, 5))
    assert far["covered"] == 0 and min(r["ood"] for r in far["reference"]) > far["limit"]


def test_stats_cli_store_against_folder(tmp_path):
    from emsim.dataset.generate import generate
    from emsim.pairs import resolve_config

    store = tmp_path / "s.zarr"
    generate(store, 8, resolve_config(shape=(64, 64)), workers=1, shard_size=4, progress=False)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        np.save(folder / f"{i}.npy", counting.count(np.random.default_rng(i), _lattice((64, 64)), 100.0))
    res = CliRunner().invoke(cli, ["stats", str(store), "--against", str(folder), "--out", str(tmp_path / "s.json"), "--png", str(tmp_path / "h.png")])
    assert res.exit_code == 0, res.output
    assert "coverage:" in res.output and "psnr" in res.output
    d = json.loads((tmp_path / "s.json").read_text())
    assert len(d["source"]) == 8 and len(d["reference"]) == 3 and 0 <= d["coverage"]["covered"] <= 1
    assert (tmp_path / "h.png").stat().st_size > 1000
    res = CliRunner().invoke(cli, ["stats", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "no store, folder or image" in res.output


def test_real_stem_images_are_read_and_measured(real_stem_images):
    from emsim.analysis.stats import source_stats

    rows = source_stats(real_stem_images)
    assert len(rows) == 2
    for r in rows:
        assert 100 < r["counts"] < 1e5 and 0.05 < r["std_mean"] < 1 and r["spectrum_slope"] < -2
