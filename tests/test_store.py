import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_sampler import SAMPLER, FakeConfig  # noqa: E402

from emsim.dataset import store  # noqa: E402
from emsim.dataset.card import CARD  # noqa: E402
from emsim.errors import EmsimError  # noqa: E402
from emsim.dataset.generate import generate  # noqa: E402

FAKE = "fake_sampler:SAMPLER"


def _files(path):
    """Data files of a store (shards, chunks), bytes by relative path; metadata excluded."""
    root = Path(path)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name not in ("zarr.json", *CARD)}


def test_generate_and_read_back(tmp_path):
    out = tmp_path / "s.zarr"
    s = generate(out, 10, FakeConfig(), seed=3, workers=1, shard_size=4, progress=False, sampler=FAKE)
    assert s.pairs == 10 and s.skipped == 0
    g = store.open_group(str(out), "r")
    assert g["x"].shape == (10, 8, 6) and g["x"].dtype == np.float32
    for i in (0, 5, 9):
        p = SAMPLER(3, i, FakeConfig())
        np.testing.assert_array_equal(g["x"][i], p.x)
        np.testing.assert_array_equal(g["y"][i], p.y)
        assert store.read_record(g, i)["index"] == i
        assert g["pixel_size"][i] == pytest.approx(0.1 + i)
    assert sorted(store.manifest(g)) == [0, 1, 2]
    assert store.verify(str(out)) == {}
    d = store.describe(str(out))
    assert d["complete"] == 10 and d["shards"] == {"total": 3, "complete": 3, "size": 4}
    attrs = store.read_attrs(str(out))
    for key in ("emsim_version", "numpy_version", "seed", "config", "config_hash", "created", "n", "shape_x"):
        assert key in attrs


def test_one_vs_two_workers_identical(tmp_path):
    a, b = tmp_path / "a.zarr", tmp_path / "b.zarr"
    generate(a, 9, FakeConfig(), seed=1, workers=1, shard_size=2, progress=False, sampler=FAKE)
    generate(b, 9, FakeConfig(), seed=1, workers=2, shard_size=2, progress=False, sampler=FAKE)
    assert _files(a) == _files(b)


def test_resume_only_missing_shards(tmp_path):
    out = tmp_path / "s.zarr"
    generate(out, 8, FakeConfig(), seed=0, workers=1, shard_size=2, progress=False, sampler=FAKE)
    full = _files(out)
    g = store.open_group(str(out), "r+")
    g["manifest"][1:3] = np.array(["", ""], dtype=object)  # shards 1 and 2 "lost"
    g["x"][2:4] = np.zeros((2, 8, 6), np.float32)
    s = generate(out, 8, FakeConfig(), seed=0, workers=1, shard_size=2, progress=False, sampler=FAKE)
    assert (s.pairs, s.skipped) == (4, 4)
    assert _files(out) == full


def test_refuses_other_config_unless_overwrite(tmp_path):
    out = tmp_path / "s.zarr"
    generate(out, 4, FakeConfig(), seed=0, workers=1, shard_size=2, progress=False, sampler=FAKE)
    before = _files(out)
    with pytest.raises(EmsimError, match="different dataset.*seed"):
        generate(out, 4, FakeConfig(), seed=1, workers=1, shard_size=2, progress=False, sampler=FAKE)
    with pytest.raises(EmsimError, match="config_hash"):
        generate(out, 4, FakeConfig(sleep=1e-4), seed=0, workers=1, shard_size=2, progress=False, sampler=FAKE)
    assert _files(out) == before
    generate(out, 4, FakeConfig(), seed=1, workers=1, shard_size=2, progress=False, sampler=FAKE, overwrite=True)
    assert store.read_attrs(str(out))["seed"] == 1


def test_verify_detects_corruption(tmp_path):
    out = tmp_path / "s.zarr"
    generate(out, 6, FakeConfig(), seed=0, workers=1, shard_size=3, progress=False, sampler=FAKE)
    shard_files = sorted((out / "y" / "c").rglob("*"))
    victim = [p for p in shard_files if p.is_file()][1]
    data = bytearray(victim.read_bytes())
    data[20] ^= 0xFF
    victim.write_bytes(bytes(data))
    bad = store.verify(str(out))
    assert list(bad) == [1]


@pytest.mark.parametrize("kw,msg", [(dict(n=0), "--n"), (dict(shard_size=0), "--shard-size"), (dict(dtype="int8"), "dtype"), (dict(scheduler="mpi"), "scheduler")])
def test_bad_requests_write_nothing(tmp_path, kw, msg):
    out = tmp_path / "s.zarr"
    args = dict(n=4, shard_size=2, dtype="float32", scheduler="local")
    args.update(kw)
    with pytest.raises(EmsimError, match=msg):
        generate(out, args.pop("n"), FakeConfig(), seed=0, workers=1, progress=False, sampler=FAKE, **args)
    assert not out.exists()


def test_unwritable_path(tmp_path):
    with pytest.raises(EmsimError, match="does not exist"):
        generate(tmp_path / "no" / "s.zarr", 4, FakeConfig(), workers=1, progress=False, sampler=FAKE)
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(EmsimError, match="permission"):
            generate(ro / "s.zarr", 4, FakeConfig(), workers=1, progress=False, sampler=FAKE)
    finally:
        os.chmod(ro, 0o700)


def test_float16(tmp_path):
    out = tmp_path / "s.zarr"
    generate(out, 3, FakeConfig(), seed=0, workers=1, shard_size=2, dtype="float16", progress=False, sampler=FAKE)
    g = store.open_group(str(out), "r")
    assert g["x"].dtype == np.float16
    np.testing.assert_allclose(g["y"][1], SAMPLER(0, 1, FakeConfig()).y, atol=1e-3)
    assert store.verify(str(out)) == {}


def test_local_vs_dask_local_identical(tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    a, b = tmp_path / "a.zarr", tmp_path / "b.zarr"
    generate(a, 7, FakeConfig(), seed=5, workers=1, shard_size=2, progress=False, sampler=FAKE)
    generate(b, 7, FakeConfig(), seed=5, workers=2, shard_size=2, progress=False, sampler=FAKE, scheduler="dask-local")
    assert _files(a) == _files(b)


def test_resume_after_real_kill(tmp_path):
    """Kill the generator process mid-run (SIGKILL), resume, compare with a clean run."""
    import signal
    import subprocess
    import time

    out, ref = tmp_path / "s.zarr", tmp_path / "ref.zarr"
    code = (
        "from fake_sampler import FakeConfig; from emsim.dataset.generate import generate; "
        f"generate({str(out)!r}, 40, FakeConfig(sleep=0.05), seed=2, workers=1, shard_size=4, progress=False, sampler='fake_sampler:SAMPLER')"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.1)
        try:
            if len(store.manifest(store.open_group(str(out), "r"))) >= 3:
                break
        except Exception:
            pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = store.manifest(store.open_group(str(out), "r"))
    assert 3 <= len(done) < 10, "the kill should land mid-run"
    s = generate(out, 40, FakeConfig(sleep=0.05), seed=2, workers=1, shard_size=4, progress=False, sampler=FAKE)
    assert s.skipped == 4 * len(done) and s.pairs == 40 - s.skipped
    generate(ref, 40, FakeConfig(sleep=0.05), seed=2, workers=2, shard_size=4, progress=False, sampler=FAKE)
    assert _files(out) == _files(ref)
    assert store.verify(str(out)) == {}


def test_older_format_is_readable_and_named_but_not_resumed(tmp_path):
    out = tmp_path / "old.zarr"
    generate(out, 4, FakeConfig(), seed=1, workers=1, shard_size=2, progress=False, sampler=FAKE)
    g = store.open_group(str(out), "r+")
    g.attrs["emsim"] = {**g.attrs["emsim"], "format": 1, "emsim_version": "0.1.0"}
    d = store.describe(str(out))
    assert d["complete"] == 4 and "emsim 0.1.0" in d["old_format"] and "--overwrite" in d["old_format"]
    with pytest.raises(EmsimError, match="store format 1.*--overwrite"):
        generate(out, 4, FakeConfig(), seed=1, workers=1, shard_size=2, progress=False, sampler=FAKE)
    generate(out, 4, FakeConfig(), seed=1, workers=1, shard_size=2, progress=False, sampler=FAKE, overwrite=True)
    assert store.read_attrs(str(out))["format"] == store.FORMAT_VERSION
    g.attrs["emsim"] = {**store.read_attrs(str(out)), "format": store.FORMAT_VERSION + 1}
    with pytest.raises(EmsimError, match="newer"):
        store.describe(str(out))
