"""Fault injection on generation: a worker killed mid-shard (process pool and Dask), the
writing process killed between a shard's data and its manifest entry, the disk filling up,
and finished shards truncated or bit-flipped. After each, re-running the same command
completes the store bit-identically to an uninterrupted run, and nothing complete is lost
or made twice."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_sampler import FakeConfig  # noqa: E402
from test_store import _files  # noqa: E402

from emsim.dataset import store  # noqa: E402
from emsim.dataset.generate import generate  # noqa: E402
from emsim.errors import GenerationInterrupted  # noqa: E402

FAKE = "fake_sampler:SAMPLER"
N, K = 24, 4  # samples, shard size: 6 shards
HERE = str(Path(__file__).parent)


def run(out, **kw):
    return generate(out, N, FakeConfig(), seed=11, shard_size=K, progress=False, sampler=FAKE, **{"workers": 1, **kw})


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ref.zarr"
    run(out)
    return _files(out)


@pytest.fixture
def worker_env(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    return monkeypatch


def _complete(out):
    return sorted(store.manifest(store.open_group(str(out), "r")))


def test_worker_killed_mid_shard(tmp_path, worker_env, reference):
    out = tmp_path / "s.zarr"
    worker_env.setenv("EMSIM_FAKE_KILL", f"{2 * K + 1}:{tmp_path / 'killed'}")  # second sample of shard 2
    with pytest.raises(GenerationInterrupted, match="re-run the same command"):
        run(out, workers=2)
    done = _complete(out)
    assert 2 not in done and len(done) < N // K
    for key in ("modality/c/2", "x/c/2/0/0", "manifest/c/2"):  # what a writer killed inside zarr's atomic write leaves
        stale = out / f"{key}.0123abcd.partial"
        stale.parent.mkdir(parents=True, exist_ok=True)
        stale.write_bytes(b"")
    s = run(out, workers=2)
    assert s.skipped == K * len(done) and s.pairs == N - s.skipped
    assert _complete(out) == list(range(N // K))
    assert _files(out) == reference and store.verify(str(out)) == {}


def test_dask_worker_killed_mid_shard(tmp_path, worker_env, reference):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "s.zarr"
    worker_env.setenv("EMSIM_FAKE_KILL", f"{3 * K + 2}:{tmp_path / 'killed'}")
    run(out, workers=2, scheduler="dask-local")  # the nanny restarts the worker, the scheduler reruns its shard
    assert (tmp_path / "killed").exists(), "the fault was injected"
    assert _files(out) == reference and store.verify(str(out)) == {}


def test_killed_between_shard_data_and_manifest(tmp_path, reference):
    """SIGKILL of the writing process after shard 3's arrays are written, before its
    manifest entry: the shard is not counted and the re-run rewrites it."""
    out = tmp_path / "s.zarr"
    code = (
        "import os, signal\n"
        "from fake_sampler import FakeConfig\n"
        "from emsim.dataset import store\n"
        "from emsim.dataset.generate import generate\n"
        "orig = store.write_manifest_entry\n"
        "def entry(group, e, shard=None):\n"
        "    if e is not None and e['shard'] == 3:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    orig(group, e, shard)\n"
        "store.write_manifest_entry = entry\n"
        f"generate({str(out)!r}, {N}, FakeConfig(), seed=11, shard_size={K}, workers=1, progress=False, sampler={FAKE!r})\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": HERE}, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert _complete(out) == [0, 1, 2]
    g = store.open_group(str(out), "r")
    assert np.isfinite(g["y"][3 * K : 4 * K]).all(), "shard 3's data had been written"
    s = run(out)
    assert s.skipped == 3 * K and s.pairs == N - 3 * K
    assert _files(out) == reference


def test_disk_full_then_resume(tmp_path, disk_full, reference):
    out = tmp_path / "s.zarr"
    disk_full(4)
    with pytest.raises(OSError, match="No space"):
        run(out)
    assert _complete(out) == [0, 1, 2, 3]
    disk_full(None)
    s = run(out)
    assert s.skipped == 4 * K and s.pairs == N - 4 * K
    assert _files(out) == reference


def _shard_file(out, name, shard):
    return out / name / "c" / str(shard) / "0" / "0"


@pytest.mark.parametrize("damage", ["truncate", "bitflip"])
def test_damaged_shard_is_named_and_repaired(tmp_path, damage, reference):
    out = tmp_path / "s.zarr"
    run(out)
    victim = _shard_file(out, "x", 2)
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2] if damage == "truncate" else data[:40] + bytes([data[40] ^ 0x10]) + data[41:])
    assert list(store.verify(str(out))) == [2]
    assert list(store.describe(str(out), verify_checksums=True)["corrupt_shards"]) == ["2"]
    untouched = {k: v for k, v in _files(out).items() if "/c/2/" not in k}
    s = run(out, repair=True)
    assert s.repaired == [2] and s.pairs == K and s.skipped == N - K
    assert _files(out) == reference
    after = _files(out)
    assert all(after[k] == v for k, v in untouched.items() if not k.startswith("manifest"))
    assert store.verify(str(out)) == {}


def test_repair_on_a_sound_store_changes_nothing(tmp_path, reference):
    out = tmp_path / "s.zarr"
    run(out)
    s = run(out, repair=True)
    assert s.repaired == [] and s.pairs == 0
    assert _files(out) == reference
