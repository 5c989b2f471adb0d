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


def test_stream_is_unbounded_and_a_pure_function_of_seed_and_position(folder):
    """Every stream position p has its own pair (image p mod n), far beyond the old frozen
    set of 64 x n_images pairs, identical from any instance (so resuming replays it)."""
    pairs = LROnlyPairs(folder, "multiscale", hr_size=64, seed=5)
    with pytest.raises(TypeError):
        len(pairs)
    again = LROnlyPairs(folder, "multiscale", hr_size=64, seed=5)
    for p in (0, 127, 128, 10_000, 2**40):
        lr, hr, rec = pairs[p]
        assert rec["index"] == p and rec["image"] == p % 2
        np.testing.assert_array_equal(hr, again[p][1])
    assert not np.array_equal(pairs[3][1], pairs[3 + 128][1])  # no period of 64 x n_images
    with pytest.raises(IndexError):
        pairs[-1]


def _images(d, n, rng, size=96):
    d.mkdir()
    for i in range(n):
        tifffile.imwrite(d / f"img_{i:02d}.tif", (rng.random((size, size)) * 200 + 10 * i).astype(np.float32))
    return d


def test_lr_only_data_holds_out_whole_images(tmp_path, rng):
    """Without references the last max(1, n // 10) sorted images are validation-only; the
    training stream never draws from them."""
    from emsim.pairs.lronly import LROnlyData

    data = LROnlyData(_images(tmp_path / "lr", 12, rng), "multiscale", hr_size=64, seed=1)
    assert data.train.names == [f"img_{i:02d}.tif" for i in range(11)] and data.val_kind == "held-out images"
    assert {data.train[p][2]["name"] for p in range(50)} <= set(data.train.names)
    val = data.validation(8)
    assert len(val) == 1 and val[0][2] == {"name": "img_11.tif", "crop": [0, 0]}  # one 64^2 crop of a 96^2 image
    lr, hr, _ = val[0]
    np.testing.assert_array_equal(hr, tifffile.imread(tmp_path / "lr" / "img_11.tif")[:64, :64])
    np.testing.assert_array_equal(lr, hr[2::4, 2::4])  # Pillow's nearest at x4: the papers' evaluation degradation
    assert LROnlyData(_images(tmp_path / "lr20", 20, rng), "coverage", hr_size=64).describe()["validation_images"] == ["img_18.tif", "img_19.tif"]
    with pytest.raises(EmsimError, match="held-out validation"):
        LROnlyData(_images(tmp_path / "one", 1, rng), "multiscale", hr_size=64)


def test_lr_only_data_validates_on_hr_references(tmp_path, rng):
    """--val-folder: every LR image trains; validation pairs are reference crops (row-major
    grid, round-robin over the references) degraded by the pipeline."""
    from emsim.pairs.lronly import LROnlyData, reference_pairs

    refs = tmp_path / "refs"
    refs.mkdir()
    big = (rng.random((130, 200)) * 50).astype(np.float32)
    np.save(refs / "a.npy", big)
    np.save(refs / "b.npy", big[:64, :64] + 1)
    data = LROnlyData(_images(tmp_path / "lr", 1, rng), "multiscale", hr_size=64, val_source=refs)
    assert data.train.names == ["img_00.tif"] and data.val_kind == "references"
    val = data.validation(5)
    assert [(r["name"], r["crop"]) for *_, r in val] == [("a.npy", [0, 0]), ("b.npy", [0, 0]), ("a.npy", [0, 64]), ("a.npy", [0, 128]), ("a.npy", [64, 0])]
    for lr, hr, rec in val:
        assert hr.shape == (64, 64) and lr.shape == (16, 16)
        np.testing.assert_array_equal(lr, hr[2::4, 2::4])
    cov = reference_pairs(refs, CoverageConfig(s=(4,), fill="nearest"), 64, 1)[0]
    np.testing.assert_array_equal(cov[0][::4, ::4], big[2:64:4, 2:64:4])  # coverage: the pipeline's own degradation
    lr, hr, _ = reference_pairs(refs, "multiscale", 64, 1, intensity="image")[0]
    assert hr.min() >= 0 and hr.max() <= 1 and np.isclose(np.ptp(hr), np.ptp(big[:64, :64]) / np.ptp(big), rtol=1e-5)
    lr, hr, _ = reference_pairs(refs, "multiscale", 64, 1, intensity="crop")[0]
    assert hr.min() == 0 and hr.max() == pytest.approx(1)
    with pytest.raises(EmsimError, match="smaller than"):
        reference_pairs(refs, "multiscale", 128, 4)


def test_intensity_mappings(folder):
    img = tifffile.imread(folder / "a.tif")
    raw = LROnlyPairs(folder, "coverage", hr_size=64, seed=2)[0]
    unit = LROnlyPairs(folder, "coverage", hr_size=64, seed=2, intensity="image")[0]
    np.testing.assert_allclose(unit[1], (raw[1] - img.min()) / np.ptp(img), rtol=1e-5, atol=1e-6)
    crop = LROnlyPairs(folder, "coverage", hr_size=64, seed=2, intensity="crop")[0]
    assert crop[1].min() == 0 and crop[1].max() == pytest.approx(1)
    np.testing.assert_allclose(crop[0], (raw[0] - raw[1].min()) / np.ptp(raw[1]), rtol=1e-5, atol=1e-6)
    with pytest.raises(EmsimError, match="intensity"):
        LROnlyPairs(folder, "coverage", hr_size=64, intensity="log")
