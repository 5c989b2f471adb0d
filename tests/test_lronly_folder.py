"""A folder of real LR images as an indexable, deterministic source of training pairs."""

import json
import pickle

import numpy as np
import pytest
import tifffile

from emsim.errors import EmsimError
from emsim.pairs.lronly import CoverageConfig, LROnlyPairs, MixingConfig, MixingSet, MultiScaleConfig, PixMixConfig


@pytest.fixture
def folder(tmp_path, rng):
    d = tmp_path / "lr"
    d.mkdir()
    tifffile.imwrite(d / "a.tif", (rng.random((96, 100)) * 1000).astype(np.float32))
    np.save(d / "b.npy", rng.random((80, 90)).astype(np.float64))
    (d / "notes.txt").write_text("not an image")
    return d


@pytest.mark.parametrize("config", ["multiscale", "pixmix", "coverage", MultiScaleConfig(scale=2), CoverageConfig(s=(4, 8), fill="nearest")])
def test_pairs_are_deterministic_and_shaped(folder, config):
    mixing = MixingSet([np.random.default_rng(0).random((64, 64))])
    pairs = LROnlyPairs(folder, config, hr_size=64, seed=5, length=12, mixing=mixing)
    assert len(pairs) == 12 and pairs.names == ["a.tif", "b.npy"]
    s = pairs.scale
    for k in (0, 1, 7, -1):
        lr, hr, rec = pairs[k]
        assert hr.shape == (64, 64) and lr.shape == (64 // s, 64 // s)
        assert lr.dtype == np.float32 and hr.dtype == np.float32
        assert rec["image"] == (k % 12) % 2 and rec["index"] == k % 12
        json.dumps(rec)
        lr2, hr2, rec2 = pairs[k]
        np.testing.assert_array_equal(lr, lr2)
        np.testing.assert_array_equal(hr, hr2)
        assert rec == rec2
    other = LROnlyPairs(folder, config, hr_size=64, seed=6, length=12, mixing=mixing)
    assert not np.array_equal(other[0][1], pairs[0][1])  # the seed matters
    with pytest.raises(IndexError):
        pairs[12]


def test_torch_dataset(folder):
    torch = pytest.importorskip("torch")
    from emsim.dataset.torch import make_torch_dataset

    ds = make_torch_dataset(folder, "multiscale", hr_size=64, seed=1, length=4)
    x, y = ds[0]
    assert x.shape == (1, 16, 16) and y.shape == (1, 64, 64) and x.dtype == torch.float32
    ds = make_torch_dataset(LROnlyPairs(folder, "coverage", hr_size=64, length=4), with_record=True)
    x, y, rec = ds[1]
    assert rec["pipeline"] == "coverage"
    ds2 = pickle.loads(pickle.dumps(ds))  # DataLoader workers
    torch.testing.assert_close(ds2[1][0], x)
    batch = next(iter(torch.utils.data.DataLoader(make_torch_dataset(folder, "multiscale", hr_size=64, length=4), batch_size=4)))
    assert batch[0].shape == (4, 1, 16, 16)


def test_pixmix_mixing_sources(folder, tmp_path):
    d = tmp_path / "mix"
    MixingSet.generate(MixingConfig(n=2, size=32, sources=("fractal",)), d)
    pairs = LROnlyPairs(folder, PixMixConfig(k_max=2), hr_size=64, length=3, mixing=d)
    assert len(pairs.mixing) == 2 and pairs[2][1].shape == (64, 64)
    pairs = LROnlyPairs(folder, PixMixConfig(k_max=2), hr_size=64, length=3, mixing=MixingConfig(n=2, size=32, sources=("fractal",)))
    assert len(pairs.mixing) == 2
    fresh = tmp_path / "fresh"  # a new folder receives the default set
    pairs = LROnlyPairs(folder, PixMixConfig(k_max=2), hr_size=64, length=3, mixing=fresh)
    assert len(pairs.mixing) == MixingConfig().n and (fresh / "mixing.json").is_file()


def test_bad_inputs(folder, tmp_path, rng):
    with pytest.raises(EmsimError, match="too small"):
        LROnlyPairs(folder, "coverage", hr_size=128)
    with pytest.raises(EmsimError, match="multiple"):
        LROnlyPairs(folder, "multiscale", hr_size=62)
    with pytest.raises(EmsimError, match="no images"):
        (tmp_path / "empty").mkdir()
        LROnlyPairs(tmp_path / "empty")
    with pytest.raises(EmsimError, match="not found"):
        LROnlyPairs(tmp_path / "missing")
    with pytest.raises(EmsimError, match="unknown LR-only pipeline"):
        LROnlyPairs(folder, "swirl")
    with pytest.raises(EmsimError, match="non-finite"):
        LROnlyPairs([np.full((80, 80), np.nan)], "coverage", hr_size=64)
    pairs = LROnlyPairs([rng.random((70, 70))], "coverage", hr_size=64, length=2)
    assert pairs[1][0].shape == (16, 16)
