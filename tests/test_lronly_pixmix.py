"""PixMix pipeline: weight distributions, mixing operations, augmentations, mixing set."""

import json

import numpy as np
import pytest
from scipy import stats

from emsim.errors import ConfigError, EmsimError
from emsim.pairs.lronly import MixingConfig, MixingSet, PixMixConfig, ifs_fractal, mixing_weights, pixmix, pixmix_pair
from emsim.pairs.lronly.augment import AUGMENTATIONS, OPS, augment
from emsim.pairs.lronly.crops import sample_rng
from emsim.pairs.lronly.pixmix import SCALES_DEFAULT, mix_add, mix_multiply
from emsim.pairs.lronly.resize import KERNELS, downscale


@pytest.mark.parametrize("beta", [1.0, 2.0, 4.0])
def test_mixing_weights_follow_the_two_beta_cases(beta):
    rng = np.random.default_rng(11)
    draws = [mixing_weights(rng, beta) for _ in range(6000)]
    a, b, case = (np.array(v) for v in zip(*draws))
    c1, c2 = case == 1, case == 2
    assert stats.binomtest(int(c1.sum()), len(case), 0.5).pvalue > 1e-3  # each case with p = 1/2
    # case 1: m_k ~ B(beta, 1), m_mix ~ B(1, beta)
    assert stats.kstest(a[c1], stats.beta(beta, 1).cdf).pvalue > 1e-3
    assert stats.kstest(b[c1], stats.beta(1, beta).cdf).pvalue > 1e-3
    # case 2: m_k = 1 + B(1, beta), m_mix = -B(1, beta)
    assert stats.kstest(a[c2] - 1.0, stats.beta(1, beta).cdf).pvalue > 1e-3
    assert stats.kstest(-b[c2], stats.beta(1, beta).cdf).pvalue > 1e-3
    assert np.all((a[c1] >= 0) & (a[c1] <= 1) & (b[c1] >= 0) & (b[c1] <= 1))
    assert np.all((a[c2] >= 1) & (a[c2] <= 2) & (b[c2] <= 0) & (b[c2] >= -1))


def test_mixing_operations_closed_form(rng):
    x1, x2 = rng.random(100), rng.random(100)
    a, b = 0.7, 0.4
    np.testing.assert_allclose(mix_add(x1, x2, a, b), a * x1 + b * x2 + (1 - a - b) / 2, atol=1e-12)
    np.testing.assert_allclose(mix_multiply(x1, x2, a, b), 2.0 ** (a + b - 1) * x1**a * x2**b, rtol=1e-10)
    np.testing.assert_allclose(mix_add(x1, x2, 1.0, 0.0), x1)  # no mixing weight: the image
    np.testing.assert_allclose(mix_multiply(x1, x2, 1.0, 0.0), x1)


def test_iterations_are_uniform_and_k0_returns_the_crop(rng):
    x, mix = rng.random((24, 24)), rng.random((24, 24))
    cfg = PixMixConfig(k_max=5)
    ks = [pixmix(sample_rng(0, i), x, mix, cfg)[1]["k"] for i in range(1200)]
    counts = np.bincount(ks, minlength=6)
    assert counts.size == 6 and stats.chisquare(counts).pvalue > 1e-3  # K ~ U{0..K_max}
    out, rec = pixmix(rng, x, mix, PixMixConfig(k_max=0, p_augment=0.0))
    np.testing.assert_allclose(out, x, atol=1e-6)
    assert rec == {"start": None, "k": 0, "steps": []}
    # with p_augment = 0 every partner is the mixing crop and each step matches eq. 1/2
    out, rec = pixmix(sample_rng(5, 0), x, mix, PixMixConfig(k_max=8, p_augment=0.0))
    ref = x.copy()
    for st in rec["steps"]:
        assert st["partner"] == "mixing"
        ref = np.clip((mix_add if st["op"] == "add" else mix_multiply)(ref, mix, st["a"], st["b"]), 0, 1)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    assert np.all((out >= 0) & (out <= 1))


def test_augmentations(rng):
    img = np.clip(rng.random((48, 48)) * 0.6 + 0.2, 0, 1).astype(np.float32)
    out, _ = OPS["autocontrast"](img, 0.5, rng)
    assert out.min() == pytest.approx(0) and out.max() == pytest.approx(1)
    out, p = OPS["posterize"](img, 0.9, rng)  # 4 - int(3.6) = 1 bit: two levels
    assert p["bits"] == 1 and len(np.unique(out)) <= 2
    out, p = OPS["solarize"](img, 0.6, rng)
    hi = img >= 0.4
    np.testing.assert_allclose(out[hi], 1 - img[hi])
    np.testing.assert_allclose(out[~hi], img[~hi])
    out, p = OPS["translate_x"](img, 0.5, rng)
    v = int(p["pixels"])
    assert abs(v) == 8
    if v > 0:  # Pillow's affine samples x + v: content moves left by v, zeros enter at the right
        np.testing.assert_allclose(out[:, : 48 - v], img[:, v:], atol=1e-5)
        assert np.all(out[:, 48 - v :] == 0)
    else:
        np.testing.assert_allclose(out[:, -v:], img[:, : 48 + v], atol=1e-5)
    out, p = OPS["equalize"](img, 0.5, rng)
    assert out.max() == pytest.approx(1.0) and abs(np.mean(out) - 0.5) < 0.1  # flattened histogram
    out, p = OPS["rotate"](img, 0.5, rng)
    assert abs(p["degrees"]) == 15 and out.shape == img.shape
    names = {augment(sample_rng(2, i), img)[1]["op"] for i in range(200)}
    assert names == set(AUGMENTATIONS)
    mags = [augment(sample_rng(3, i), img)[1]["magnitude"] for i in range(300)]
    assert stats.kstest(mags, stats.uniform(0.1, 0.9).cdf).pvalue > 1e-3  # "between 10% and 100%"


def test_pixmix_pair(rng):
    img = (rng.random((80, 90)) * 100 + 50).astype(np.float32)
    mixing = [rng.random((40, 40)).astype(np.float32)]  # smaller than the crop: upscaled to fit
    cfg = PixMixConfig(scale=2, k_max=4)
    assert len(cfg.scales) == 30 and min(cfg.scales) == 0.25 and max(cfg.scales) == 4.0
    assert sum(f < 1 for f in SCALES_DEFAULT) == 15  # equally many up and down
    kernels = set()
    for k in range(30):
        lr, hr, rec = pixmix_pair(sample_rng(9, k), img, mixing, cfg, 64)
        assert lr.shape == (32, 32) and hr.shape == (64, 64)
        lo, hi = rec["range"]
        assert hr.min() >= lo - 1e-3 and hr.max() <= hi + 1e-3  # back in the image's units
        np.testing.assert_allclose(lr, downscale(hr, 2, rec["kernel"]), rtol=1e-5)
        assert rec["factor"] in cfg.scales and rec["factor"] * 80 >= 63.5  # feasible factors only
        assert rec["mixing"]["b"] >= 64 / 40
        kernels.add(rec["kernel"])
        json.dumps(rec)
    assert kernels == set(KERNELS)
    with pytest.raises(EmsimError):
        pixmix_pair(rng, img, [], cfg, 64)
    for bad in [dict(k_max=-1), dict(beta=0.0), dict(augmentations=("blur",)), dict(magnitude=(0.0, 1.0)), dict(mix_upscale=(0, 3))]:
        with pytest.raises(ConfigError):
            PixMixConfig(**bad)


def test_mixing_set_is_deterministic_and_cached(tmp_path):
    cfg = MixingConfig(n=4, size=48, seed=3)
    a = MixingSet.generate(cfg)
    d = tmp_path / "mix"
    b = MixingSet.generate(cfg, d)
    assert len(a) == 4 and sorted(p.name for p in d.iterdir()) == ["mix_00000.npy", "mix_00000.png", "mix_00001.npy", "mix_00001.png", "mix_00002.npy", "mix_00002.png", "mix_00003.npy", "mix_00003.png", "mixing.json"]
    for u, v in zip(a.images, b.images):
        np.testing.assert_array_equal(u, v)
        assert u.shape == (48, 48) and u.min() >= 0 and u.max() <= 1
    assert [r["source"] for r in json.loads((d / "mixing.json").read_text())["records"]] == ["fractal", "scene", "fractal", "scene"]
    c = MixingSet.generate(cfg, d)  # reloaded from the cache
    np.testing.assert_array_equal(c[3], a[3])
    with pytest.raises(EmsimError):
        MixingSet.generate(MixingConfig(n=5, size=48, seed=3), d)  # a different set is not overwritten
    own = tmp_path / "own"
    own.mkdir()
    np.save(own / "a.npy", np.arange(64.0).reshape(8, 8))
    loaded = MixingSet.load(own)
    assert len(loaded) == 1 and loaded[0].max() == 1.0 and loaded[0].min() == 0.0
    with pytest.raises(ConfigError):
        MixingConfig(sources=("noise",))


def test_fractals_are_detailed(rng):
    img, rec = ifs_fractal(rng, 64)
    assert img.shape == (64, 64) and 2 <= len(rec["maps"]) <= 4
    A = np.array(rec["maps"])
    assert np.all(np.linalg.svd(A, compute_uv=False) <= 0.95 + 1e-9)  # contractive maps
    fg = img > 0.05 if not rec["invert"] else img < 0.95
    assert 0.01 < fg.mean() < 0.99


def _dim_image(rng):
    """An image whose 48^2 crops cover only part of its gray scale (a ramp 100 .. 290)."""
    return (100 + np.add.outer(np.arange(96.0), np.arange(96.0)) + rng.random((96, 96))).astype(np.float32)


def test_pixmix_mixes_absolute_gray_values(rng):
    """Mixing works on the image's gray scale (the paper's G = [0, 255] / 255), not on a
    min-max normalised crop: the record's range is the image's, and one addition step with
    the mixing crop matches eq. 1 on (crop - lo) / (hi - lo)."""
    img = _dim_image(rng)
    mixing = [np.linspace(0, 1, 48 * 48, dtype=np.float32).reshape(48, 48)]
    cfg = PixMixConfig(scale=2, k_max=1, p_augment=0.0, scales=(1.0,), kernels=("nearest",))
    for k in range(40):
        lr, hr, rec = pixmix_pair(sample_rng(3, k), img, mixing, cfg, 48)
        assert rec["range"] == [pytest.approx(float(img.min())), pytest.approx(float(img.max()))]
        if rec["pixmix"]["k"] == 1 and rec["pixmix"]["steps"][0]["op"] == "add":
            break
    else:
        pytest.fail("no addition step drawn")
    (top, left), lo, hi = rec["crop"], *rec["range"]
    crop, mix = img[top : top + 48, left : left + 48], mixing[0]
    st = rec["pixmix"]["steps"][0]
    ref = lo + (hi - lo) * np.clip(mix_add((crop - lo) / (hi - lo), mix, st["a"], st["b"]), 0, 1)
    np.testing.assert_allclose(hr, ref, rtol=1e-5)


def test_autocontrast_acts_on_the_training_crop(rng):
    """After a per-crop min-max normalisation autocontrast was the identity; on absolute
    gray values it stretches a crop to the full gray scale."""
    img = _dim_image(rng)
    cfg = PixMixConfig(scale=2, k_max=0, p_augment=1.0, augmentations=("autocontrast",), scales=(1.0,), kernels=("nearest",))
    changed = 0
    for k in range(10):
        lr, hr, rec = pixmix_pair(sample_rng(5, k), img, [np.zeros((48, 48), np.float32)], cfg, 48)
        top, left = rec["crop"]
        crop = img[top : top + 48, left : left + 48]
        assert rec["pixmix"]["start"]["op"] == "autocontrast"
        np.testing.assert_allclose([hr.min(), hr.max()], [img.min(), img.max()], rtol=1e-4)  # stretched to the image's scale
        changed += float(np.abs(hr - crop).max()) > 1.0
    assert changed == 10


def test_mixing_crops_are_random_regions_of_larger_images():
    """The default mixing images are larger than the default 256^2 crop, so crops come from
    random positions (with 256^2 images every crop was the whole image: only as many
    partners as images)."""
    from emsim.pairs.lronly.pixmix import mixing_crop

    cfg = MixingConfig(n=2)
    assert cfg.size >= 2 * 256
    mixing = MixingSet.generate(cfg)
    seen = {(r["mixing_image"], *r["crop"]) for r in (mixing_crop(sample_rng(8, k), mixing, 256, None)[1] for k in range(100))}
    assert len(seen) > 90
