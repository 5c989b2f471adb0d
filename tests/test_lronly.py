"""LR-only pipelines: resampling on Pillow's pixel-centre grid (the default) and the probe
grid, coverage downsampling, multi-scale pairs."""

import numpy as np
import pytest
from scipy import stats

from emsim.errors import ConfigError, EmsimError
from emsim.pairs.lronly import CoverageConfig, MultiScaleConfig, coverage_downsample, coverage_pair, cubic_upsample, downscale, multiscale_pair, nearest_fill, rescale
from emsim.pairs.lronly.crops import sample_rng
from emsim.pairs.lronly.multiscale import FACTOR_SETS, feasible_variants, variant_weights
from emsim.imaging.resample import keys_weights
from emsim.pairs.lronly.resize import KERNELS, rescale_crop, rescaled_size


def ramp(n=64, a=0.3, b=0.7):
    return np.add.outer(a * np.arange(n), b * np.arange(n)).astype(np.float32)


# ----------------------------------------------------------------------------- resampling


@pytest.mark.parametrize("s", [2, 3, 4])
def test_nearest_keeps_the_probe_positions(s, rng):
    y = rng.random((50, 37)).astype(np.float32)
    lr = downscale(y, s, "nearest", grid="probe")
    assert lr.shape == (-(-50 // s), -(-37 // s))
    np.testing.assert_array_equal(lr, y[::s, ::s])


@pytest.mark.parametrize("kernel", [k for k in KERNELS if k != "nearest"])
@pytest.mark.parametrize("s", [2, 3, 4])
def test_pillow_kernels_are_centred_on_the_probe_grid(kernel, s):
    """A symmetric kernel reproduces a linear ramp at its centre: LR pixel i equals HR
    pixel s*i (Pillow's own alignment would give s*i + (s-1)/2). Pillow's box filter of
    even width cannot be symmetric about a pixel: it is off by half an HR pixel."""
    y = ramp()
    lr = downscale(y, s, kernel, grid="probe")
    err = np.abs(lr - y[::s, ::s])[3:-3, 3:-3].max()
    if kernel == "box" and s % 2 == 0:
        assert err == pytest.approx(0.5 * (0.3 + 0.7), abs=1e-4)
    else:
        assert err < 1e-4
    # constants stay constant, including at the borders (reflect padding)
    assert np.allclose(downscale(np.full((40, 40), 3.0, np.float32), s, kernel, grid="probe"), 3.0, atol=1e-5)


def test_keys_kernel_partition_of_unity_and_interpolation():
    t = np.linspace(0, 0.999, 50)
    w = keys_weights(t)
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(w @ np.arange(-1, 3), t, atol=1e-12)  # reproduces linear functions
    np.testing.assert_allclose(keys_weights(np.zeros(1)), [[0, 1, 0, 0]], atol=1e-15)


@pytest.mark.parametrize("s", [2, 3, 4])
def test_bicubic_upsample_reproduces_the_probe_pixels(s, rng):
    y = rng.random((16 * s, 12 * s)).astype(np.float32)
    x = y[::s, ::s]
    up = cubic_upsample(x, s)
    assert up.shape == y.shape
    np.testing.assert_array_equal(up[::s, ::s], x)


def test_bicubic_upsample_is_exact_for_quadratics_and_matches_pillow(rng):
    s = 3
    q = lambda r, c: 0.02 * r * r + 0.1 * c - 0.01 * r * c  # noqa: E731
    i, j = np.meshgrid(np.arange(20), np.arange(20), indexing="ij")
    up = cubic_upsample(q(i, j), s)
    I, J = np.meshgrid(np.arange(60) / s, np.arange(60) / s, indexing="ij")
    np.testing.assert_allclose(up[3:-6, 3:-6], q(I, J)[3:-6, 3:-6], atol=2e-4)
    # Pillow's bicubic upscale is the same Keys kernel; aligned with a box offset it agrees
    from PIL import Image

    x = rng.random((20, 20)).astype(np.float32)
    o = 0.5 - 0.5 / s
    ref = np.asarray(Image.fromarray(np.pad(x, ((0, 3), (0, 3)), mode="edge"), mode="F").resize((60, 60), Image.Resampling.BICUBIC, box=(o, o, o + 20, o + 20)))
    np.testing.assert_allclose(cubic_upsample(x, s)[6:-9, 6:-9], ref[6:-9, 6:-9], atol=1e-5)


def test_rescale_phase_zero_and_windows(rng):
    img = rng.random((40, 30)).astype(np.float32)
    np.testing.assert_array_equal(rescale(img, 0.5, "nearest", "probe"), img[::2, ::2])
    up = rescale(img, 2.0, "bicubic", "probe")
    np.testing.assert_allclose(up[::2, ::2], img, atol=1e-6)
    for f, m in [(0.65, "nearest"), (1.7, "bicubic"), (2.5, "nearest")]:
        full = rescale(img, f, m, "probe")
        np.testing.assert_allclose(rescale_crop(img, f, m, 3, 5, (9, 11), "probe"), full[3:12, 5:16], atol=1e-6)
    with pytest.raises(EmsimError):
        rescale_crop(img, 0.5, "nearest", 15, 0, (9, 9))
    with pytest.raises(EmsimError):
        rescale(img, 1.5, "lanczos")


def test_nearest_fill(rng):
    x = rng.random((5, 7)).astype(np.float32)
    up = nearest_fill(x, 3, (14, 20))
    assert up.shape == (14, 20)
    np.testing.assert_array_equal(up[::3, ::3], x[:5, :7])
    np.testing.assert_array_equal(up[1::3, 2::3], x[:, :6])


# ------------------------------------------------------------- Pillow's pixel-centre grid


def _pillow_resize(img, size, kernel):
    from PIL import Image

    return np.asarray(Image.fromarray(np.asarray(img, np.float32), mode="F").resize((size[1], size[0]), getattr(Image.Resampling, kernel.upper())))


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("s", [2, 3, 4])
def test_centre_grid_is_pillows_resize(kernel, s, rng):
    """The default grid is Pillow's own resize (the papers make their LR images with it):
    exact agreement for every kernel, on float and 8-bit gray values."""
    for img in (rng.random((48, 60)), rng.integers(0, 256, (36, 24)).astype(np.float32)):
        H, W = img.shape
        np.testing.assert_array_equal(downscale(img, s, kernel), _pillow_resize(img, (H // s, W // s), kernel))
    # non-multiples: Pillow's resize of the s-multiple box (the factor stays exactly s)
    img = rng.random((50, 37)).astype(np.float32)
    assert downscale(img, s, kernel).shape == (50 // s, 37 // s)


def test_centre_grid_nearest_keeps_pillows_columns():
    """Pillow's NEAREST at x4 keeps columns 2, 6, 10, 14 (the probe grid kept 0, 4, 8, 12)."""
    row = np.tile(np.arange(16, dtype=np.float32), (4, 1))
    np.testing.assert_array_equal(downscale(row, 4, "nearest")[0], [2, 6, 10, 14])
    np.testing.assert_array_equal(downscale(row, 4, "nearest", grid="probe")[0], [0, 4, 8, 12])
    np.testing.assert_array_equal(coverage_downsample(row, 4)[0], [2, 6, 10, 14])
    np.testing.assert_array_equal(coverage_downsample(row, 4, "nearest")[0], np.repeat([2, 6, 10, 14], 4))
    lr, hr, rec = multiscale_pair(sample_rng(0, 0), np.add.outer(np.arange(64.0), 100 * np.arange(64.0)), MultiScaleConfig(alpha=(), beta=(), gamma=(), kernels=("nearest",)), 32)
    np.testing.assert_array_equal(lr, hr[2::4, 2::4])
    with pytest.raises(EmsimError):
        downscale(row, 2, grid="middle")


@pytest.mark.parametrize("f", [0.25, 0.55, 0.75, 0.95, 24 / 23, 1.2, 1.7, 2.0, 3.4])
def test_centre_grid_rescale_is_pillows_resize(f, rng):
    """Rescaling by f is Pillow's resize to round(n f) pixels: nearest (Pillow's accumulated
    sampling positions) and bicubic exactly on the whole image; windows within Pillow's
    float32 box precision."""
    img = rng.random((97, 80)).astype(np.float32)
    size = (rescaled_size(97, f), rescaled_size(80, f))
    for method in ("nearest", "bicubic"):
        ref = _pillow_resize(img, size, method)
        np.testing.assert_array_equal(rescale(img, f, method), ref)
        for top, left, h, w in [(0, 0, 9, 12), (size[0] // 2, size[1] // 3, size[0] // 2, 7), (3, 5, size[0] - 3, size[1] - 5)]:
            np.testing.assert_allclose(rescale_crop(img, f, method, top, left, (h, w)), ref[top : top + h, left : left + w], atol=2e-5)


def test_centre_grid_bicubic_upsample_matches_pillow(rng):
    """``cubic_upsample(x, s, "centre")`` (edges replicated) is Pillow's BICUBIC upscaling of
    the edge-padded image."""
    x = rng.random((9, 11)).astype(np.float32)
    for s in (2, 3, 4):
        p = 3
        ref = _pillow_resize(np.pad(x, p, mode="edge"), (s * (9 + 2 * p), s * (11 + 2 * p)), "bicubic")[s * p : s * (p + 9), s * p : s * (p + 11)]
        np.testing.assert_allclose(cubic_upsample(x, s, "centre"), ref, atol=1e-5)


# ------------------------------------------------------------------------------ coverage


@pytest.mark.parametrize("s", [4, 5, 7])
def test_coverage_keeps_one_probe_per_block(s, rng):
    hr = rng.random((64, 64)).astype(np.float32)
    lr = coverage_downsample(hr, s, grid="probe")
    assert lr.shape == (-(-64 // s),) * 2  # ceil: Ede's 512 px at 1/25 -> 103 px
    np.testing.assert_array_equal(lr, hr[::s, ::s])
    filled = coverage_downsample(hr, s, "nearest", grid="probe")
    assert filled.shape == hr.shape
    blocks = filled[: (64 // s) * s, : (64 // s) * s].reshape(64 // s, s, 64 // s, s)
    assert np.all(blocks == blocks[:, :1, :, :1])  # constant s x s blocks
    assert np.count_nonzero(filled == hr) == lr.size  # only the probe pixels are measured


def test_coverage_pairs_draw_s_and_keep_the_geometry(rng):
    img = rng.random((200, 180)).astype(np.float32)
    cfg = CoverageConfig(s=(4, 5, 6), fill="nearest", dihedral=False)
    seen = set()
    for k in range(30):
        lr, hr, rec = coverage_pair(sample_rng(7, k), img, cfg, 120)
        s, (r, c) = rec["s"], rec["crop"]
        seen.add(s)
        np.testing.assert_array_equal(hr, img[r : r + 120, c : c + 120])
        np.testing.assert_array_equal(lr[s // 2 :: s, s // 2 :: s], hr[s // 2 :: s, s // 2 :: s])  # the centre grid's pixels
        assert rec["coverage"] == pytest.approx(1 / s**2)
    assert seen == {4, 5, 6}
    lr, hr, rec = coverage_pair(rng, img, CoverageConfig(s=(4,)), 64)
    assert lr.shape == (16, 16) and hr.shape == (64, 64) and "dihedral" in rec
    np.testing.assert_array_equal(lr, hr[2::4, 2::4])
    with pytest.raises(ConfigError):
        CoverageConfig(s=(4, 5), fill="none")


# ---------------------------------------------------------------------------- multi-scale


def test_multiscale_defaults_follow_table_1():
    cfg = MultiScaleConfig()
    assert cfg.alpha == tuple(np.round(np.arange(0.25, 0.951, 0.05), 2))
    assert np.allclose(np.array(cfg.beta) * 5, [6, 7, 8, 9, 10])  # 5 MX -> 6..10 MX
    assert np.allclose(np.array(cfg.gamma) * 20, [11, 12, 13, 14, 15])  # 4x targets 11..15 MX
    assert len(cfg.variants()) == 1 + 15 + 5 + 5
    for bad in [dict(alpha=(1.2,)), dict(beta=(0.9,)), dict(gamma=(0.0,)), dict(kernels=("cubic",)), dict(scale=1)]:
        with pytest.raises(ConfigError):
            MultiScaleConfig(**bad)


def test_multiscale_factor_sets_of_table_1():
    """2x uses Table 1's 2x sets (STM, 24 nm): A 0.5:0.96, B 1.04:1.71, G 0.86:0.92 at integer
    nm targets, whose (4) targets (s gamma) lie beyond (3)'s range; the 4x sets' (4)
    targets at 2x (1.1-1.5) fell inside it. Scales without a row need explicit sets."""
    c2 = MultiScaleConfig(scale=2)
    assert np.allclose(24 / np.array(c2.alpha), np.arange(25, 49))  # 48-25 nm targets
    assert np.allclose(24 / np.array(c2.beta), np.arange(23, 13, -1))  # 23-14 nm
    assert np.allclose(12 / np.array(c2.gamma), [14, 13])  # (4): 14-13 nm
    assert (min(c2.alpha), max(c2.alpha), min(c2.beta), max(c2.beta)) == pytest.approx((0.5, 0.96, 1.04, 1.71), abs=0.005)
    assert (min(c2.gamma), max(c2.gamma)) == pytest.approx((0.86, 0.92), abs=0.005)
    for cfg in (c2, MultiScaleConfig(scale=4)):
        assert cfg.scale * min(cfg.gamma) >= max(cfg.beta) - 1e-9
    assert MultiScaleConfig(scale=4).alpha == FACTOR_SETS[4]["alpha"] and MultiScaleConfig().gamma == FACTOR_SETS[4]["gamma"]
    with pytest.raises(ConfigError, match="no factor sets"):
        MultiScaleConfig(scale=3)
    assert MultiScaleConfig(scale=3, alpha=(0.5,), beta=(1.5,), gamma=()).variants() == [(1, 1.0), (2, 0.5), (3, 1.5)]


def test_multiscale_default_weights_give_subprocess_4_about_4_percent():
    cfg = MultiScaleConfig()
    w = variant_weights(cfg, cfg.variants())
    share = w[[sub == 4 for sub, _ in cfg.variants()]].sum() / w.sum()
    assert share == pytest.approx(5 / 131)  # 21 crops x 6 kernels + 5 crops x 1
    img = np.random.default_rng(0).random((300, 300)).astype(np.float32)
    subs = [multiscale_pair(sample_rng(4, k), img, cfg, 64)[2]["subprocess"] for k in range(2000)]
    assert stats.binomtest(subs.count(4), len(subs), 5 / 131).pvalue > 1e-3


@pytest.mark.parametrize("sub", [1, 2, 3, 4])
def test_each_subprocess_degrades_as_described(sub, rng):
    img = rng.random((96, 90)).astype(np.float32)
    s, hr_size = 4, 32
    cfg = MultiScaleConfig(scale=s, alpha=(0.5,) if sub == 2 else (), beta=(1.5,) if sub == 3 else (), gamma=(0.75,) if sub == 4 else (), single_scale=sub == 1)
    kernels = set()
    for k in range(24):
        lr, hr, rec = multiscale_pair(sample_rng(3, k), img, cfg, hr_size)
        assert rec["subprocess"] == sub and lr.shape == (8, 8) and hr.shape == (32, 32)
        top, left = rec["crop"]
        if sub == 4:
            # LR: a window of the nearest-gamma-downscaled image; HR: its (Pillow) bicubic upscaling
            np.testing.assert_array_equal(lr, rescale(img, 0.75, "nearest")[top : top + 8, left : left + 8])
            np.testing.assert_array_equal(hr, rescale(lr, s, "bicubic"))
            assert rec["kernel"] == "bicubic_up" and rec["grid"] == "centre"
            continue
        f, method = {1: (1.0, "nearest"), 2: (0.5, "nearest"), 3: (1.5, "bicubic")}[sub]
        np.testing.assert_allclose(hr, rescale(img, f, method)[top : top + 32, left : left + 32], atol=2e-5)
        np.testing.assert_allclose(lr, downscale(hr, s, rec["kernel"]), atol=1e-6)
        kernels.add(rec["kernel"])
    if sub != 4:
        assert kernels == set(KERNELS)
    if sub == 2:  # nearest downscaling keeps raw pixels: the noise-preserving degradation
        assert set(np.unique(hr)) <= set(np.unique(img))


def test_multiscale_weights_variants_as_the_paper_and_skips_infeasible(rng):
    """A crop of (1)-(3) makes one pair per kernel (six), a crop of (4) one: the variants
    are drawn 6 : 1 (uniformly before, which made (4) 19 % of the pairs, not ~4 %)."""
    img = rng.random((64, 64)).astype(np.float32)
    cfg = MultiScaleConfig(scale=2, alpha=(0.5, 0.9), beta=(1.5,), gamma=(0.5,))
    feas = feasible_variants(cfg, img.shape, 40)
    assert (2, 0.5) not in feas and len(feas) == 4  # 32 px < 40 px crop
    w = variant_weights(cfg, feas)
    counts = dict.fromkeys(feas, 0)
    for k in range(1900):
        _, _, rec = multiscale_pair(sample_rng(1, k), img, cfg, 40, feas)
        counts[(rec["subprocess"], rec["factor"])] += 1
    observed = np.array([counts[v] for v in feas])
    assert stats.chisquare(observed, w / w.sum() * observed.sum()).pvalue > 1e-3
    assert counts[(4, 0.5)] / observed.sum() == pytest.approx(1 / 19, abs=0.015)
    with pytest.raises(EmsimError):
        multiscale_pair(rng, rng.random((20, 20)), MultiScaleConfig(scale=2, alpha=(), beta=(), gamma=()), 40)
    with pytest.raises(EmsimError):
        multiscale_pair(rng, img, cfg, 41)


def test_configs_round_trip_through_dicts():
    from emsim.config import from_dict, to_dict
    from emsim.pairs.lronly import MixingConfig, PixMixConfig

    for cls in (MultiScaleConfig, PixMixConfig, CoverageConfig, MixingConfig):
        assert from_dict(cls, to_dict(cls())) == cls()
    assert from_dict(PixMixConfig, {"k_max": 4, "beta": 4, "mix_upscale": [5, 20]}).mix_upscale == (5, 20)
    with pytest.raises(ConfigError):
        from_dict(MultiScaleConfig, {"alpha": [1.5]})
