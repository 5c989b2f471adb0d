"""Training, resuming, restoring and evaluating a tiny CGRDN on a small generated set (CPU)."""

import csv
import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from cli.main import cli  # noqa: E402
from emsim.distort import DoseConfig, all_off  # noqa: E402
from emsim.dataset.generate import generate  # noqa: E402
from emsim.pairs import PairConfig  # noqa: E402
from restoration import checkpoint  # noqa: E402
from restoration.train import TrainConfig, train  # noqa: E402

TINY = dict(width=16, n_grdb=1, n_rdb=1, n_layers=3, growth=8)


def _noise_only_config() -> PairConfig:
    """Low-dose STEM detector noise only: a denoising task a tiny model learns quickly."""
    d = all_off()
    d = dataclasses.replace(d, dose=DoseConfig(e_per_px=(10.0, 30.0)), stem=dataclasses.replace(d.stem, detector=dataclasses.replace(d.stem.detector, p=1.0)))
    return PairConfig(shape=(48, 48), distort=d)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    data = root / "pairs.zarr"
    generate(data, 64, _noise_only_config(), seed=0, workers=1, shard_size=16, progress=False)
    cfg = TrainConfig(**TINY, steps=150, batch=8, patch=48, val_size=16, val_every=75, log_every=25, ckpt_every=75, workers=0, gan_after=-1, lr=2e-3, warmup=20)
    metrics = train(root / "run", cfg, data=str(data), quiet=True)
    return root, data, cfg, metrics


def test_tiny_cgrdn_beats_the_raw_input(trained):
    _, _, _, m = trained
    assert m["val_l1"] < 0.5 * m["raw_l1"]
    assert m["val_psnr"] > m["raw_psnr"] + 5.0


def test_run_dir_contents_and_resume(trained):
    root, data, cfg, _ = trained
    run = root / "run"
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert [int(r["step"]) for r in rows][-1] == 150
    ck = checkpoint.load(run / "last.pt")  # weights_only=True
    assert ck["step"] == 150 and ck["model_config"]["arch"] == "cgrdn"
    more = dataclasses.replace(cfg, steps=160)
    train(run, more, data=str(data), quiet=True)
    assert checkpoint.load(run / "last.pt")["step"] == 160
    with pytest.raises(Exception, match="holds a"):
        train(run, dataclasses.replace(more, width=8, steps=170), data=str(data), quiet=True)


def test_gan_phase_runs(tmp_path, trained):
    _, data, _, _ = trained
    cfg = TrainConfig(**TINY, steps=4, batch=2, patch=80, val_size=4, val_every=4, log_every=2, ckpt_every=4, workers=0, gan_after=2)
    # the store holds 48^2 images: the patch must fit
    with pytest.raises(Exception, match="smaller than the patch"):
        train(tmp_path / "gan", cfg, data=str(data), quiet=True)
    store80 = tmp_path / "p80.zarr"
    generate(store80, 8, dataclasses.replace(_noise_only_config(), shape=(80, 80)), workers=1, shard_size=4, progress=False)
    train(tmp_path / "gan", cfg, data=str(store80), quiet=True)
    rows = list(csv.DictReader(open(tmp_path / "gan" / "log.csv")))
    assert rows[-1]["d_loss"] and rows[-1]["adv"]


def test_restore_and_evaluate_cli(trained, tmp_path):
    root, data, _, _ = trained
    img = np.random.default_rng(0).random((61, 75)).astype(np.float32)
    np.save(tmp_path / "in.npy", img)
    import tifffile

    tifffile.imwrite(tmp_path / "in.tif", img, resolution=(10.0, 10.0))
    r = CliRunner()
    res = r.invoke(cli, ["restore", str(tmp_path / "in.npy"), "--model", str(root / "run" / "best.pt"), "--out", str(tmp_path / "out.npy"), "--tile", "32", "--overlap", "8", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "out.npy").shape == (61, 75)
    res = r.invoke(cli, ["restore", str(tmp_path / "in.tif"), "--model", str(root / "run" / "best.pt"), "--out", str(tmp_path / "out.tif")])
    assert res.exit_code == 0, res.output
    with tifffile.TiffFile(tmp_path / "out.tif") as tf:
        assert tf.pages[0].shape == (61, 75)
        assert tuple(round(v) for v in tf.pages[0].get_resolution()) == (10, 10)
    res = r.invoke(cli, ["evaluate", "--model", str(root / "run" / "best.pt"), "--data", str(data), "--n", "4", "--csv", str(tmp_path / "e.csv")])
    assert res.exit_code == 0, res.output
    table = {row["method"].split("(")[0]: float(row["psnr"]) for row in csv.DictReader(open(tmp_path / "e.csv"))}
    assert set(table) == {"model", "bm3d", "gaussian", "raw"}
    assert table["model"] > table["raw"]
    res = r.invoke(cli, ["restore", str(tmp_path / "missing.npy"), "--model", str(root / "run" / "best.pt"), "--out", str(tmp_path / "o.npy")])
    assert res.exit_code == 2 and "not found" in res.output


def test_train_cli_validation(tmp_path):
    r = CliRunner()
    res = r.invoke(cli, ["train", "restore", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "exactly one of --data" in res.output
    res = r.invoke(cli, ["train", "restore", "--on-the-fly", "--out", str(tmp_path / "r"), "--patch", "33"])
    assert res.exit_code == 2 and "even" in res.output
    res = r.invoke(cli, ["train", "restore", "--data", str(tmp_path / "missing.zarr"), "--out", str(tmp_path / "r"), "--device", "cpu"])
    assert res.exit_code == 2 and "no emsim store" in res.output
    assert not (tmp_path / "r").exists()  # bad input leaves no run directory


def test_train_cli_on_the_fly(tmp_path):
    res = CliRunner().invoke(cli, ["train", "restore", "--on-the-fly", "--modality", "tem", "--out", str(tmp_path / "r"), "--steps", "2", "--batch", "2", "--patch", "32", "--gan-after", "-1", "--workers", "0", "--val-size", "2", "--val-every", "2", "--ckpt-every", "2", "--device", "cpu", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "validation: PSNR" in res.output
    assert checkpoint.load(tmp_path / "r" / "last.pt")["step"] == 2


def test_sr_generate_train_apply_evaluate(tmp_path):
    r = CliRunner()
    data = tmp_path / "sr.zarr"
    res = r.invoke(cli, ["generate", "--task", "sr", "--scale", "2", "--n", "6", "--size", "32", "--out", str(data), "--workers", "1", "--shard-size", "3", "--quiet"])
    assert res.exit_code == 0, res.output
    from emsim.dataset import store

    g = store.open_group(str(data), "r")
    assert g["x"].shape == (6, 16, 16) and g["y"].shape == (6, 32, 32)
    res = r.invoke(cli, ["train", "sr", "--model", "cgrdn_sr", "--scale", "2", "--data", str(data), "--out", str(tmp_path / "run"), "--steps", "2", "--batch", "2", "--patch", "16", "--workers", "0", "--val-size", "2", "--val-every", "2", "--ckpt-every", "2", "--quiet"])
    assert res.exit_code == 0, res.output
    np.save(tmp_path / "in.npy", np.random.default_rng(0).random((21, 30)).astype(np.float32))
    res = r.invoke(cli, ["sr", str(tmp_path / "in.npy"), "--model", str(tmp_path / "run" / "last.pt"), "--out", str(tmp_path / "up.npy")])
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "up.npy").shape == (42, 60)
    res = r.invoke(cli, ["restore", str(tmp_path / "in.npy"), "--model", str(tmp_path / "run" / "last.pt"), "--out", str(tmp_path / "o.npy")])
    assert res.exit_code == 2 and "emsim sr" in res.output
    res = r.invoke(cli, ["evaluate", "--task", "sr", "--model", str(tmp_path / "run" / "last.pt"), "--data", str(data), "--n", "2"])
    assert res.exit_code == 0, res.output
    assert "bicubic" in res.output and "lbnlm" in res.output and "model" in res.output
