"""`emsim calibrate`: recovery of known distortion parameters from emsim images of a known
crystal, the config it writes, and coverage of the calibrating images."""

import dataclasses
import math

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import cli
from emsim.analysis.calibrate import calibrate, to_toml
from emsim.distort import DetectorConfig, DoseConfig, FastScanConfig, JitterConfig, all_off, distort
from emsim.pairs import resolve_config

DR, PHI = 0.1, 0.35


def clean_lattice():
    """SrTiO3 [001] rendered by emsim at 0.1 A (the clean image the distortions act on)."""
    from emsim.imaging.known import default_structure, render_file

    img, _ = render_file(default_structure(), DR, (160, 160))
    return (0.2 + img / img.max()).astype(np.float32)


@pytest.fixture(scope="module")
def lattice():
    return clean_lattice()


def known_images(clean, dose, sx, sy, fast, n=3):
    base = all_off()
    jit = JitterConfig(p=1.0, sigma=max(sx, sy), sigma_y=sy or None, phi=PHI, p_x=float(sy == 0), p_y=float(sx == 0)) if (sx or sy) else JitterConfig(p=0.0)
    stem = dataclasses.replace(base.stem, jitter=jit, detector=DetectorConfig(p=1.0), fast_scan=FastScanConfig(p=float(fast), p_readout=0.0, alpha=3.0))
    cfg = dataclasses.replace(base, dose=DoseConfig(e_per_px=dose), stem=stem)
    return [distort(clean, "stem", DR, seed, cfg)[0] for seed in range(n)]


GRID = [(300, sx, sy, fast) for sx, sy in ((0, 0), (0.03, 0), (0, 0.03)) for fast in (False, True)] + [(40, 0, 0, False), (40, 0, 0, True)]


@pytest.mark.parametrize("dose,sx,sy,fast", GRID)
def test_known_parameters_are_recovered(lattice, dose, sx, sy, fast):
    """From three images (their estimates' median): dose within 20 %, fast-scan blur on/off,
    jitter sigma within 30 % and none above 0.15 px where there is none (at 300 e/px; below ~50 e/px
    one image does not tell jitter from noise)."""
    est = calibrate(known_images(lattice, dose, sx, sy, fast), "stem", DR)[1]["estimate"]
    assert est["e_per_px"] == pytest.approx(dose, rel=0.2)
    assert (est["fast_alpha"] > 0) == fast
    if dose >= 300:
        for got, true in ((est["jitter_x"], sx), (est["jitter_y"], sy)):
            s_px = true / math.sqrt(1 - PHI**2) / DR  # stationary standard deviation in pixels
            assert got == pytest.approx(s_px, rel=0.3) if true else got < 0.15  # px: the noise floor of a 160^2 frame


def test_config_file_and_coverage(lattice, tmp_path):
    """The written config loads as any config file, changes only what calibration names, and
    a store made from it covers the calibrating images (``emsim stats --against``)."""
    import tifffile

    folder = tmp_path / "real"
    folder.mkdir()
    for i, x in enumerate(known_images(lattice, 200, 0.03, 0, True, n=3)):
        tifffile.imwrite(folder / f"{i}.tif", x)
    out = tmp_path / "cal.toml"
    res = CliRunner().invoke(cli, ["calibrate", *[str(p) for p in sorted(folder.iterdir())], "--modality", "stem", "--pixel-size", str(DR), "--out", str(out)])
    assert res.exit_code == 0, res.output
    cfg = resolve_config(out, shape=(128, 128))
    lo, hi = cfg.distort.dose.e_per_px
    assert lo < 200 < hi and cfg.distort.stem.fast_scan.p == 1 and cfg.distort.stem.jitter.p == 1
    assert cfg.distort.stem.detector == resolve_config().distort.stem.detector  # not named: the default
    assert cfg.specimen.pixel_size[0] < DR < cfg.specimen.pixel_size[1]
    from emsim.dataset.generate import generate

    generate(tmp_path / "cal.zarr", 32, cfg, workers=1, shard_size=8, progress=False)
    res = CliRunner().invoke(cli, ["stats", str(tmp_path / "cal.zarr"), "--against", str(folder)])
    assert res.exit_code == 0 and "coverage:" in res.output, res.output
    # what calibration sets (dose, jitter, fast-scan blur) covers the calibrating images: each of
    # their estimates lies inside the calibrated store's range. The specimen's contrast
    # (std_mean) is not calibrated, so whole-vector coverage is not asserted.
    from emsim.analysis.stats import source_stats

    src, ref = source_stats(tmp_path / "cal.zarr"), source_stats(folder)
    for key in ("counts", "jitter_x", "fast_scan"):
        lo, hi = np.quantile([r[key] for r in src], [0.02, 0.98])
        assert all(lo <= r[key] <= hi for r in ref), (key, lo, hi, [r[key] for r in ref])


def test_to_toml_round_trips():
    import tomllib

    d = {"modality": "sem", "distort": {"dose": {"e_per_px": [1.5, 2.5]}, "sem": {"jitter": {"p": 0.0}, "clip": {"p": 1.0, "level": [0.85, 1.0]}}}}
    assert tomllib.loads(to_toml(d)) == d


def test_bad_calibration_input(tmp_path):
    np.save(tmp_path / "tiny.npy", np.ones((8, 8), np.float32))
    res = CliRunner().invoke(cli, ["calibrate", str(tmp_path / "tiny.npy"), "--modality", "stem", "--out", str(tmp_path / "c.toml")])
    assert res.exit_code == 2 and "at least 32x32" in res.output and not (tmp_path / "c.toml").exists()
    res = CliRunner().invoke(cli, ["calibrate", str(tmp_path / "tiny.npy"), "--modality", "stem", "--out", str(tmp_path / "c.yaml")])
    assert res.exit_code == 2 and ".toml" in res.output


def test_real_images_calibrate(real_stem_images, tmp_path):
    """The atomap ADF/ABF frames: high-dose, fast-scan blurred scans; their config is usable."""
    out = tmp_path / "real.toml"
    files = sorted(str(p) for p in real_stem_images.iterdir())
    res = CliRunner().invoke(cli, ["calibrate", *files, "--modality", "stem", "--pixel-size", "0.093", "--out", str(out)])
    assert res.exit_code == 0, res.output
    cfg = resolve_config(out)
    assert cfg.distort.dose.e_per_px[0] > 100 and cfg.modality == "stem"
