import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def disk_full(monkeypatch):
    """``disk_full(k)``: from now on writing shard ``k`` of any store fails with ENOSPC, as a
    full disk does; ``disk_full(None)``: the disk has room again."""
    from emsim.dataset import store

    write, at = store.write_shard, [None]

    def write_shard(group, spec, shard, columns):
        if shard == at[0]:
            raise OSError(28, "No space left on device", "store")
        return write(group, spec, shard, columns)

    monkeypatch.setattr(store, "write_shard", write_shard)
    return lambda k: at.__setitem__(0, k)


@pytest.fixture(scope="session")
def real_stem_images(tmp_path_factory):
    """Real atomic-resolution STEM frames shipped inside atomap's wheel (400 x 380 ADF and ABF
    crops of a perovskite), fetched with ``pip download --no-deps`` into a cache; the test
    is skipped when the package registry cannot be reached. Nothing is committed."""
    import os
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    cache = Path(os.environ.get("EMSIM_TEST_DATA", Path.home() / ".cache" / "emsim-test-data"))
    names = ("test_ADF_cropped.hdf5", "test_ABF_cropped.hdf5")
    if not all((cache / n).is_file() for n in names):
        cache.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "atomap==0.4.2", "-d", str(cache)], check=True, timeout=180, capture_output=True)
            wheel = next(cache.glob("atomap-*.whl"))
            with zipfile.ZipFile(wheel) as z:
                for n in names:
                    (cache / n).write_bytes(z.read(f"atomap/tests/datasets/{n}"))
        except Exception as e:  # no registry, no wheel: nothing to test against
            pytest.skip(f"real STEM images unavailable ({type(e).__name__})")
    pytest.importorskip("rsciio")
    folder = tmp_path_factory.mktemp("real")
    for n in names:
        (folder / n).symlink_to(cache / n)
    return folder


@pytest.fixture(autouse=True, scope="session")
def _onnx_cache(tmp_path_factory):
    """Exported graphs (``restoration.export.onnx_runtime``) go to a per-session folder, not
    the user's cache."""
    import os

    os.environ["EMSIM_CACHE"] = str(tmp_path_factory.mktemp("emsim-cache"))
