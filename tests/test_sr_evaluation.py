"""SR evaluation protocols: paired-mode stores (scale and mode from the store, registered
regions), the paired-SR paper's self-training, Moeller 2023's zoom pyramid, and the CLI."""

import csv

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import ndimage

from emsim.errors import EmsimError
from emsim.imaging.resample import cubic_upsample
from restoration.baselines.lbnlm import LBNLMConfig
from restoration.metrics import METRICS, sr_metrics

SMALL_LIBRARY = LBNLMConfig(library_size=500, categories=10)


def lattice_pairs(n, seed, shape=(96, 128), s=2):
    """Aligned (probe-grid) pairs of a noisy hexagonal lattice of peaks (period ~7 px,
    random orientation and phase): lr = hr[::s, ::s] + noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    out = []
    for _ in range(n):
        a = rng.uniform(0, np.pi / 3)
        waves = sum(np.cos(2 * np.pi / 6.0 * (np.cos(a + k * np.pi / 3) * xx + np.sin(a + k * np.pi / 3) * yy) + rng.uniform(0, 2 * np.pi)) for k in range(3))
        hr = np.exp(waves - 3.0).astype(np.float32)
        lr = hr[::s, ::s] + 0.03 * rng.standard_normal((shape[0] // s, shape[1] // s))
        out.append((lr.astype(np.float32), hr))
    return out


@pytest.fixture(scope="module")
def paired_store(tmp_path_factory):
    """A paired-mode SR store at 4x (distortions off): x the LR field, y an HR sub-region."""
    from emsim.config import merge
    from emsim.dataset.generate import generate
    from emsim.distort import all_off
    from emsim.pairs import PairConfig

    cfg = merge(PairConfig, PairConfig(distort=all_off()), {"task": "sr", "shape": [128, 128], "sr": {"scale": 4, "mode": "paired"}, "specimen": {"pixel_size": [0.15, 0.2]}})
    path = str(tmp_path_factory.mktemp("paired") / "p.zarr")
    generate(path, 4, cfg, workers=1, shard_size=4, progress=False)
    return path


def test_paired_store_reads_its_scale_and_compares_the_registered_region(paired_store):
    """Old behaviour: the factor came from the shapes (4 read as 2: x is the whole LR field,
    twice the HR sub-region's extent) and the whole field was compared with the sub-region."""
    from emsim.dataset import store
    from restoration.baselines.registration import Transform, valid_box, warp
    from restoration.evaluate import evaluate_sr, evaluate_sr_store, sr_store_layout, store_pairs

    g = store.open_group(paired_store, "r")
    assert g["x"].shape[1:] == (64, 64) and g["y"].shape[1:] == (128, 128)
    assert sr_store_layout(paired_store, range(4)) == (4, True)
    rows, table = evaluate_sr_store(paired_store, None, 2, ("bicubic", "nearest"), "cpu")
    assert "paired acquisitions, registered; 4x" in table
    by = {r["method"]: r for r in rows}
    # the same metrics with the recorded (true) misregistration
    ref = []
    for k in (2, 3):
        tr = store.read_record(g, k)["sr"]["transform"]
        true = Transform(4 * tr["origin_lr_px"][0], 4 * tr["origin_lr_px"][1], -tr["rotation_deg"], tr["magnification"])
        x, y = np.asarray(g["x"][k]), np.asarray(g["y"][k])
        o, valid = warp(cubic_upsample(x, 4), true, y.shape)
        box = valid_box(valid)
        ref.append(sr_metrics(y[box], o[box]))
    assert by["bicubic"]["psnr_maxy"] == pytest.approx(np.mean([m["psnr_maxy"] for m in ref]), abs=0.3)
    assert by["bicubic"]["ssim"] == pytest.approx(np.mean([m["ssim"] for m in ref]), abs=0.02)
    assert by["bicubic"]["psnr_maxy"] > 25 and by["bicubic"]["psnr_maxy"] > by["nearest"]["psnr_maxy"]
    with pytest.raises(EmsimError, match="factor"):
        evaluate_sr(store_pairs(paired_store, 2), baselines=("bicubic",), paired=True)  # no scale given


def test_paired_lbnlm_builds_registered_libraries(paired_store):
    """Leave-one-out LB-NLM on paired acquisitions: each library pair is registered (old
    behaviour: build_library refused the pairs, whose shapes are not s apart)."""
    from restoration.evaluate import evaluate_sr, store_pairs

    rows = evaluate_sr(store_pairs(paired_store, 3), baselines=("bicubic", "lbnlm"), lbnlm_config=SMALL_LIBRARY, scale=4, paired=True)
    by = {r["method"]: r for r in rows}
    assert by["lbnlm"]["n"] == 3 and by["lbnlm"]["psnr_maxy"] > 20


def test_self_training_protocol_scores_the_test_sub_images():
    from restoration.baselines.lbnlm import split_pair
    from restoration.evaluate import evaluate_sr_self, format_sr_table

    pairs = lattice_pairs(2, 0)
    rows = evaluate_sr_self(pairs, baselines=("bicubic", "lbnlm"), lbnlm_config=SMALL_LIBRARY)
    by = {r["method"]: r for r in rows}
    assert list(by) == ["bicubic", "lbnlm"] and by["bicubic"]["n"] == 6  # 3 test sub-images per pair
    tests = [t for x, y in pairs for t in split_pair(x, y, 2)[1]]
    expected = np.mean([sr_metrics(hr, cubic_upsample(lr, 2))["psnr_maxy"] for lr, hr in tests])
    assert by["bicubic"]["psnr_maxy"] == pytest.approx(expected)
    assert by["lbnlm"]["psnr_maxy"] > by["bicubic"]["psnr_maxy"]
    assert "lbnlm" in format_sr_table(rows)


def test_self_protocol_on_a_paired_store(paired_store):
    from restoration.evaluate import evaluate_sr_store

    rows, table = evaluate_sr_store(paired_store, None, 2, ("bicubic",), "cpu", protocol="self")
    assert rows[0]["n"] == 6 and rows[0]["psnr_maxy"] > 20 and "protocol self" in table


def test_zoom_pyramid_is_moellers_standard_evaluation(rng):
    """Pseudo-real references by Pillow's nearest-neighbour downscaling by level/20, then
    nearest downscaling by s to the input (old behaviour: no zoom protocol)."""
    from PIL import Image

    from restoration.evaluate import evaluate_sr, evaluate_zoom, format_sr_table, zoom_levels, zoom_pairs

    assert zoom_levels(4) == list(range(5, 21)) and zoom_levels(2) == list(range(10, 21))
    images = [ndimage.gaussian_filter(rng.standard_normal((90, 84)), 2.0).astype(np.float32) + 2.0 for _ in range(3)]
    (lr, hr), *_ = zoom_pairs(images, 4, 10)
    pil = np.asarray(Image.fromarray(images[0], mode="F").resize((42, 45), Image.Resampling.NEAREST))
    np.testing.assert_array_equal(hr, pil[:44, :40])  # 45 x 42, cropped to a multiple of 4
    np.testing.assert_array_equal(lr, hr[2::4, 2::4])  # Pillow's nearest by 4 keeps pixel 4 i + 2
    raw = zoom_pairs(images, 4, 20)[0][1]
    np.testing.assert_array_equal(raw, images[0][:88, :84])
    rows = evaluate_zoom(images, baselines=("bicubic", "nearest"), scale=4, levels=[10, 20])
    assert [(r["zoom_level"], r["method"]) for r in rows] == [(10, "bicubic"), (10, "nearest"), (20, "bicubic"), (20, "nearest")]
    assert rows[0]["zoom"] == 0.5 and rows[0]["n"] == 3
    direct = evaluate_sr(zoom_pairs(images, 4, 10), baselines=("bicubic",), grid="centre")[0]
    assert rows[0]["psnr_maxy"] == pytest.approx(direct["psnr_maxy"])
    table = format_sr_table(rows)
    assert table.splitlines()[0].split()[:3] == ["level", "zoom", "method"]


def test_evaluate_zoom_cli_writes_a_labelled_csv(tmp_path, rng):
    from cli.main import cli

    folder = tmp_path / "refs"
    folder.mkdir()
    for i in range(2):
        np.save(folder / f"r{i}.npy", ndimage.gaussian_filter(rng.standard_normal((64, 64)), 2.0).astype(np.float32))
    out = tmp_path / "zoom.csv"
    res = CliRunner().invoke(cli, ["evaluate", "--task", "sr", "--protocol", "zoom", str(folder), "--scale", "2", "--zoom-levels", "15,20", "--baselines", "bicubic,lbnlm", "--csv", str(out)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "PSNRmax" in text and "PSNR255" in text and "MAX = 255" in text and "MAX = max(y)" in text and "zoom levels 15..20 of 20" in text
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["method"] for r in rows] == ["bicubic", "lbnlm"] * 2
    assert {"zoom_level", "zoom", *METRICS, "ms_ssim_scales"} <= set(rows[0])
    res = CliRunner().invoke(cli, ["evaluate", "--task", "sr", "--protocol", "zoom", "--data", str(folder)])
    assert res.exit_code != 0 and "FOLDER" in res.output
