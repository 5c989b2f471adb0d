import json

import numpy as np
from scipy import ndimage
import pytest
from click.testing import CliRunner

from cli.main import cli
from emsim.io import read_image


def run(*args):
    return CliRunner().invoke(cli, list(args))


def _local_max(img, i, j, r=2):
    return img[max(0, i - r) : i + r + 1, max(0, j - r) : j + r + 1].max()


def test_srtio3_001_zpower_column_ordering(tmp_path):
    out = tmp_path / "sto.npy"
    res = run("render", "--pixel-size", "0.05", "--size", "156", "--contrast", "zpower", "--out", str(out))
    assert res.exit_code == 0, res.output
    img = read_image(out)
    a = 3.905 / 0.05  # pixels per unit cell
    sr, tio, o = [], [], []
    for cx in range(2):
        for cy in range(2):
            sr.append(img[int(round(cy * a)), int(round(cx * a))])
            tio.append(img[int(round((cy + 0.5) * a)), int(round((cx + 0.5) * a))])
            o.append(img[int(round(cy * a)), int(round((cx + 0.5) * a))])
            # columns are local maxima at their projected positions
            i, j = int(round((cy + 0.5) * a)), int(round((cx + 0.5) * a))
            assert img[i, j] == pytest.approx(_local_max(img, i, j))
    assert min(sr) > max(tio) > max(o) > 0
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["formula"] == "O3SrTi" and rec["zone_axis"] == [0, 0, 1]


@pytest.mark.parametrize("suffix", [".tif", ".png", ".npy"])
def test_formats_and_size_pair(tmp_path, suffix):
    out = tmp_path / f"img{suffix}"
    res = run("render", "--size", "40", "64", "--pixel-size", "0.2", "--contrast", "random", "--seed", "4", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert read_image(out).shape == (40, 64)


def test_tiff_carries_the_pixel_size_for_imagej_and_hyperspy(tmp_path):
    """The pixel size (0.2 A = 0.02 nm) is in the resolution tags with an ImageJ unit (Fiji)
    and the DM scale tags rosettasciio (HyperSpy) reads, and read_input gets it back."""
    import tifffile

    from emsim.io import read_input

    out = tmp_path / "img.tif"
    assert run("render", "--size", "32", "--pixel-size", "0.2", "--out", str(out)).exit_code == 0
    with tifffile.TiffFile(out) as tf:
        assert tf.is_imagej and tf.imagej_metadata["unit"] == "nm"
        assert tf.pages[0].get_resolution() == pytest.approx((50.0, 50.0))  # pixels per nm
    assert read_input(out)[1]["scale"] == pytest.approx(0.02) and read_input(out)[1]["unit"] == "nm"
    tiff = pytest.importorskip("rsciio.tiff")
    axes = tiff.file_reader(str(out))[0]["axes"]
    assert [(a["scale"], a["units"]) for a in axes] == [(pytest.approx(0.02), "nm")] * 2


def test_random_contrast_is_seeded(tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    for p in (a, b):
        assert run("render", "--size", "32", "--contrast", "random", "--seed", "9", "--out", str(p)).exit_code == 0
    np.testing.assert_array_equal(np.load(a), np.load(b))


def test_structure_file_and_zone_axis(tmp_path):
    from ase.build import bulk

    path = tmp_path / "Au.xyz"
    bulk("Au", "fcc", a=4.08, cubic=True).write(path)
    assert run("render", str(path), "--zone-axis", "1", "1", "0", "--size", "48", "--out", str(tmp_path / "au.npy")).exit_code == 0


def test_finite_structure_rendered_in_place_and_centred(tmp_path):
    """A molecule (no cell, no periodicity) is not tiled: one atom gives one peak at the
    field centre; a zone axis tilts it as a Cartesian direction."""
    from ase import Atoms

    Atoms("Si", positions=[[5.0, -3.0, 2.0]]).write(tmp_path / "one.xyz")
    assert run("render", str(tmp_path / "one.xyz"), "--size", "33", "--pixel-size", "0.1", "--out", str(tmp_path / "one.npy")).exit_code == 0
    img = np.load(tmp_path / "one.npy")
    assert np.unravel_index(img.argmax(), img.shape) == (16, 16)
    assert img[16, 16] > 100 * img[0, 0]
    Atoms("Si2", positions=[[0, 0, 0], [0, 0, 3.0]]).write(tmp_path / "pair.xyz")
    for axis, n_peaks in (("0 0 1", 1), ("1 0 0", 2)):
        out = tmp_path / "pair.npy"
        assert run("render", str(tmp_path / "pair.xyz"), "--zone-axis", *axis.split(), "--size", "65", "--pixel-size", "0.1", "--out", str(out)).exit_code == 0
        img = np.load(out)
        peaks = (img == ndimage.maximum_filter(img, size=5)) & (img > 0.5 * img.max())
        assert peaks.sum() == n_peaks


@pytest.mark.parametrize(
    "args,msg",
    [
        (["missing.cif", "--out", "x.npy"], "not found"),
        (["--out", "x.jpg"], "unknown output format"),
        (["--out", "nodir/x.npy"], "does not exist"),
        (["--zone-axis", "0", "0", "0", "--out", "x.npy"], "zone axis"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, monkeypatch, args, msg):
    monkeypatch.chdir(tmp_path)
    res = run("render", *args)
    assert res.exit_code == 2
    assert msg in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x.npy").exists()
