"""emsim generate / info / preview / specimen through the real pipeline (small images)."""

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import cli
from emsim.dataset import store
from emsim.pairs import PairConfig, make_pair


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_generate_info_preview(tmp_path):
    out = tmp_path / "s.zarr"
    res = run("generate", "--modality", "sem", "--n", 5, "--size", 32, 40, "--out", out, "--shard-size", 2, "--workers", 1, "--quiet", "--seed", 3)
    assert res.exit_code == 0, res.output
    assert "5 pairs" in res.output
    g = store.open_group(str(out), "r")
    assert g["x"].shape == (5, 32, 40)
    p = make_pair(3, 4, PairConfig(modality="sem", shape=(32, 40)))
    np.testing.assert_array_equal(g["x"][4], p.x)
    res = run("info", out, "--verify")
    assert res.exit_code == 0 and "5/5 samples complete" in res.output and "all shards verified" in res.output
    res = run("preview", out, "--n", 4, "--out", tmp_path / "p.png")
    assert res.exit_code == 0 and (tmp_path / "p.png").exists()
    res = run("preview", "--modality", "tem", "--resolution", "lr", "--size", 32, "--n", 2, "--out", tmp_path / "q.png")
    assert res.exit_code == 0, res.output


def test_generate_two_workers_identical_to_one(tmp_path):
    a, b = tmp_path / "a.zarr", tmp_path / "b.zarr"
    for path, w in ((a, 1), (b, 2)):
        assert run("generate", "--n", 4, "--size", 32, "--out", path, "--shard-size", 2, "--workers", w, "--quiet").exit_code == 0
    ga, gb = store.open_group(str(a), "r"), store.open_group(str(b), "r")
    np.testing.assert_array_equal(ga["x"][:], gb["x"][:])
    np.testing.assert_array_equal(ga["y"][:], gb["y"][:])
    assert list(ga["records"][:]) == list(gb["records"][:])


@pytest.mark.parametrize(
    "args,msg",
    [
        (["--n", "0"], "--n must be positive"),
        (["--n", "2", "--modality", "xray"], "Invalid value for '--modality'"),
        (["--n", "2", "--size", "8"], "image size"),
        (["--n", "2", "--config", "missing.toml"], "cannot read config"),
        (["--n", "2", "--config", "bad.toml"], "malformed config"),
        (["--n", "2", "--config", "unknown.toml"], "unknown key"),
        (["--n", "2", "--out", "nodir/s.zarr"], "does not exist"),
        (["--n", "2", "--out", "afile/s.zarr"], "cannot write afile/s.zarr"),
    ],
)
def test_generate_bad_input(tmp_path, monkeypatch, args, msg):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text("modality = = 1")
    (tmp_path / "unknown.toml").write_text("frobnicate = 1")
    (tmp_path / "afile").write_text("")
    if "--out" not in args:
        args = [*args, "--out", "s.zarr"]
    res = run("generate", *args, "--quiet")
    assert res.exit_code == 2, res.output
    assert msg in res.output and "Traceback" not in res.output
    assert not (tmp_path / "s.zarr").exists()


def test_generate_io_failure_keeps_completed_shards(tmp_path, disk_full):
    """A disk failing mid-run: one line, exit 1, earlier shards kept, a re-run resumes; a
    store this run created and completed nothing in is removed."""
    out = tmp_path / "s.zarr"
    disk_full(0)
    args = ("generate", "--n", 4, "--size", 32, "--out", out, "--shard-size", 2, "--workers", 1, "--quiet")
    res = run(*args)
    assert res.exit_code == 1 and "No space left on device" in res.output and "Traceback" not in res.output
    assert not out.exists()
    disk_full(1)
    assert run(*args).exit_code == 1
    assert list(store.manifest(store.open_group(str(out), "r"))) == [0]
    disk_full(None)
    assert run("generate", "--n", 4, "--size", 32, "--out", out, "--shard-size", 2, "--workers", 1, "--quiet").exit_code == 0
    assert sorted(store.manifest(store.open_group(str(out), "r"))) == [0, 1]


def test_generate_refuses_other_seed_keeps_store(tmp_path):
    out = tmp_path / "s.zarr"
    assert run("generate", "--n", 2, "--size", 32, "--out", out, "--workers", 1, "--quiet").exit_code == 0
    before = store.open_group(str(out), "r")["y"][:]
    res = run("generate", "--n", 2, "--size", 32, "--out", out, "--workers", 1, "--quiet", "--seed", 9)
    assert res.exit_code == 2 and "--overwrite" in res.output
    np.testing.assert_array_equal(store.open_group(str(out), "r")["y"][:], before)


def test_specimen_command(tmp_path):
    res = run("specimen", "--seed", 2, "--size", 32, "--out", tmp_path / "s.extxyz", "--png", tmp_path / "s.png")
    assert res.exit_code == 0, res.output
    import ase.io

    atoms = ase.io.read(tmp_path / "s.extxyz")
    assert len(atoms) > 0 and (tmp_path / "s.png").exists()


def test_verify_names_damaged_shard_and_repair_regenerates_it(tmp_path):
    out = tmp_path / "s.zarr"
    args = ("generate", "--n", 6, "--size", 32, "--out", out, "--shard-size", 2, "--workers", 1, "--quiet", "--truth", "masks")
    assert run(*args).exit_code == 0
    before = store.open_group(str(out), "r")["x"][:]
    victim = out / "y" / "c" / "1" / "0" / "0"
    victim.write_bytes(victim.read_bytes()[:-7])
    res = run("info", out, "--verify")
    assert res.exit_code == 1 and "1 corrupt shard(s): 1 (" in res.output
    res = run(*args, "--repair")
    assert res.exit_code == 0 and "regenerated shard(s) 1" in res.output and "2 pairs" in res.output, res.output
    assert run("info", out, "--verify").exit_code == 0
    np.testing.assert_array_equal(store.open_group(str(out), "r")["x"][:], before)


def test_dataset_card(tmp_path):
    """README.md and card.json at the store's root: command, seed, arrays, config hash,
    departures from the paper's defaults, statistics, truth, loading code; info names it."""
    import json

    out = tmp_path / "s.zarr"
    args = ("generate", "--modality", "tem", "--n", 3, "--size", 32, "--out", out, "--shard-size", 2, "--workers", 1, "--quiet", "--truth", "masks", "--seed", 5)
    assert run(*args).exit_code == 0
    card = json.loads((out / "card.json").read_text())
    assert card["command"] == "emsim " + " ".join(str(a) for a in args)
    assert card["seed"] == 5 and card["n"] == 3 and card["truth"] == ["masks"]
    assert card["arrays"]["x"] == {"shape": [3, 32, 32], "dtype": "float32"} and card["arrays"]["masks"]["dtype"] == "uint8"
    assert card["config_hash"] == store.read_attrs(str(out))["config_hash"]
    assert {d["key"]: d["value"] for d in card["departures_from_paper_defaults"]} == {"modality": "tem", "shape": [32, 32]}
    assert card["statistics"]["modality"] == {"tem": 3} and "redraws" in card["statistics"]
    text = (out / "README.md").read_text()
    for needle in ("emsim generate --modality tem", "xr.open_zarr", "ZarrPairs", "`modality` = \"tem\"", "Cite", "masks"):
        assert needle in text, needle
    assert f"card: {out / 'README.md'}" in run("info", out).output
    xr = pytest.importorskip("xarray")
    ds = xr.open_zarr(str(out), consolidated=True)
    assert ds["x"].dims == ("sample", "x_row", "x_col") and ds["masks"].shape == (3, 32, 32)
    np.testing.assert_array_equal(ds["y"].values, store.open_group(str(out), "r")["y"][:])


def test_no_card_until_complete(tmp_path, disk_full):
    out = tmp_path / "s.zarr"
    disk_full(1)
    args = ("generate", "--n", 4, "--size", 32, "--out", out, "--shard-size", 2, "--workers", 1, "--quiet")
    assert run(*args).exit_code == 1 and not (out / "README.md").exists()
    disk_full(None)
    assert run(*args).exit_code == 0 and (out / "README.md").exists()
