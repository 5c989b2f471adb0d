"""Global registration, the paired LB-NLM baseline and SR evaluation."""

import math

import numpy as np
import pytest
from scipy import ndimage

from emsim.errors import EmsimError
from emsim.imaging.resample import cubic_upsample
from restoration.baselines.lbnlm import LBNLMConfig, _local_register, _patches_at, build_library, kmeans, lbnlm_upscale
from restoration.metrics import METRICS, psnr, ssim
from restoration.baselines.registration import Transform, masked_ncc_map, ncc, register, register_pair, warp
from restoration.evaluate import evaluate_sr, evaluate_sr_store, format_sr_table


def lattice(rng, size=128, a=7.0, sigma=1.3, p_vacancy=0.05):
    """HR image: a hexagonal lattice of Gaussian atoms (the same lattice constant in every
    image, random orientation and offset, a few vacancies)."""
    ang = rng.uniform(0, np.pi / 3)
    v1 = a * np.array([np.cos(ang), np.sin(ang)])
    v2 = a * np.array([np.cos(ang + np.pi / 3), np.sin(ang + np.pi / 3)])
    n = int(2 * size / a) + 4
    ij = np.stack(np.meshgrid(np.arange(-n, n), np.arange(-n, n)), -1).reshape(-1, 2)
    pts = ij[:, :1] * v1 + ij[:, 1:] * v2 + rng.uniform(0, a, 2)
    pts = pts[np.all((pts > -5) & (pts < size + 5), axis=1) & (rng.random(len(ij)) > p_vacancy)]
    img = np.zeros((size, size))
    yy, xx = np.mgrid[:size, :size]
    for y, x in pts:
        r0, r1, c0, c1 = max(0, int(y) - 6), min(size, int(y) + 7), max(0, int(x) - 6), min(size, int(x) + 7)
        img[r0:r1, c0:c1] += np.exp(-((yy[r0:r1, c0:c1] - y) ** 2 + (xx[r0:r1, c0:c1] - x) ** 2) / (2 * sigma**2))
    return (img + 0.1).astype(np.float32)


def pair_set(n, seed, size=128, s=2, noise=0.08, area=False):
    """LR = nearest (probe) or area downsampling of HR, plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        hr = lattice(rng, size)
        lr = hr.reshape(size // s, s, size // s, s).mean((1, 3)) if area else hr[::s, ::s]
        out.append(((lr + noise * rng.standard_normal(lr.shape)).astype(np.float32), hr))
    return out


@pytest.fixture(scope="module")
def field():
    """A non-periodic smooth random image (registration needs a unique optimum)."""
    return ndimage.gaussian_filter(np.random.default_rng(4).standard_normal((192, 192)), 3.0)


# -------------------------------------------------------------------------- registration


def test_masked_ncc_map_matches_brute_force(rng):
    f = rng.random((12, 10))
    m = rng.random((14, 11))
    mf, mm = rng.random(f.shape) > 0.1, rng.random(m.shape) > 0.2
    score, count = masked_ncc_map(f, m, mf, mm)
    for ty, tx in [(0, 0), (2, -3), (-4, 1), (3, 4)]:
        P = np.argwhere(mf)
        Q = P + (ty, tx)
        ok = (Q[:, 0] >= 0) & (Q[:, 0] < 14) & (Q[:, 1] >= 0) & (Q[:, 1] < 11)
        P, Q = P[ok], Q[ok]
        ok = mm[Q[:, 0], Q[:, 1]]
        P, Q = P[ok], Q[ok]
        k = (ty + 11, tx + 9)
        assert count[k] == len(P)
        assert score[k] == pytest.approx(ncc(f[P[:, 0], P[:, 1]], m[Q[:, 0], Q[:, 1]]), abs=1e-9)


def test_transform_inverse(field):
    T = Transform(3.5, -2.25, 4.0, 1.03)
    back, valid = warp(warp(field, T.inverse(field.shape))[0], T)
    core = (slice(30, -30), slice(30, -30))
    np.testing.assert_allclose(back[core], field[core], atol=0.02 * np.ptp(field))


def test_registration_recovers_shift_and_rotation(field):
    true = Transform(5.4, -7.3, 2.6)
    moving, _ = warp(field, true.inverse(field.shape))  # moving(T p) = fixed(p)
    got = register(field, moving)
    assert got.dy == pytest.approx(true.dy, abs=0.1) and got.dx == pytest.approx(true.dx, abs=0.1)
    assert got.angle == pytest.approx(true.angle, abs=0.05) and got.scale == 1.0


def test_registration_recovers_scale_and_a_sub_area(field):
    true = Transform(-3.2, 4.1, -1.4, 1.02)
    moving, _ = warp(field, true.inverse(field.shape))
    got = register(field, moving, scales=(0.96, 1.0, 1.04))
    assert got.scale == pytest.approx(1.02, abs=0.004)
    assert (got.dy, got.dx) == pytest.approx((true.dy, true.dx), abs=0.25)
    # the HR image covers part of the upsampled LR field (the paper's setting)
    big = ndimage.gaussian_filter(np.random.default_rng(8).standard_normal((240, 240)), 3.0)
    sub = Transform(50.0, 70.0, 1.5, 1.0, center=(47.5, 47.5))
    fixed, _ = warp(big, sub, (96, 96))
    got = register(fixed, big, min_overlap=0.9)
    assert (got.dy, got.dx, got.angle) == pytest.approx((50.0, 70.0, 1.5), abs=0.1)


def test_registration_searches_the_scale_by_default(field):
    """Paired acquisitions differ by up to +-2 % in magnification (old behaviour: the
    default search was rigid, scale 1, leaving 1.7 px at the edge of a 160 px field)."""
    true = Transform(2.3, -4.1, 1.2, 1.018)
    moving, _ = warp(field, true.inverse(field.shape))
    got = register(field, moving)
    assert got.scale == pytest.approx(1.018, abs=0.0015)
    assert (got.dy, got.dx, got.angle) == pytest.approx((2.3, -4.1, 1.2), abs=0.15)
    assert register(field, moving, scales=(1.0,)).scale == 1.0  # a rigid search on request


def test_register_pair_from_a_noisy_lr_image(field, rng):
    true = Transform(2.7, 3.9, -2.2)
    moved, _ = warp(field, true.inverse(field.shape))
    lr = moved[::2, ::2] + 0.03 * np.ptp(field) * rng.standard_normal((96, 96))
    T, ir, valid = register_pair(lr, field, 2)
    assert (T.dy, T.dx, T.angle) == pytest.approx((true.dy, true.dx, true.angle), abs=0.2)
    assert ncc(ir, field, valid) > 0.95
    with pytest.raises(EmsimError):
        register(field[:4, :4], field)


# ------------------------------------------------------------------------------ LB-NLM


def test_kmeans_separates_blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (5, 6))
    truth = rng.integers(0, 5, 2000)
    labels = kmeans(centres[truth] + rng.normal(0, 0.5, (2000, 6)), 5, 30, np.random.default_rng(1))
    for c in range(5):  # every true cluster gets a single label of its own
        assert len(np.unique(labels[truth == c])) == 1
    assert len(np.unique(labels)) == 5


def test_library_is_stratified_and_paired():
    pairs = pair_set(2, 0, size=96, noise=0.0)
    cfg = LBNLMConfig(categories=10, library_size=200)
    lib = build_library(pairs, 2, cfg)
    assert lib.ph.shape == lib.pr.shape == (len(lib), 81) and len(lib) <= 200
    assert np.bincount(lib.labels).max() <= 20  # at most L/k per category
    up = [cubic_upsample(lr, 2) for lr, _ in pairs]
    win = [np.lib.stride_tricks.sliding_window_view(u, (9, 9)).reshape(-1, 81) for u in up]
    hrw = [np.lib.stride_tricks.sliding_window_view(hr, (9, 9)).reshape(-1, 81) for _, hr in pairs]
    for i in range(0, len(lib), 37):  # each P_r is the upsampled patch at its P_h's position
        hit = [np.flatnonzero(np.all(np.abs(w - lib.ph[i]) < 1e-6, axis=1)) for w in hrw]
        ok = [np.abs(win[j][hit[j]] - (lib.pr[i] + lib.offset)).max(axis=1).min() < 1e-4 for j in range(2) if len(hit[j])]
        assert any(ok)


def test_local_registration_finds_the_offset():
    rng = np.random.default_rng(3)
    hr = lattice(rng, 96)
    hr[55:90, 5:40] = 0.1  # a flat (untextured) region
    ir = np.roll(hr, (1, -2), (0, 1)).astype(np.float64)  # I_r(p) = I_h(p - (1, -2))
    rows, cols = np.array([20, 40, 60, 65]), np.array([30, 50, 65, 15])
    r2, c2, off = _local_register(hr.astype(np.float64), ir, rows, cols, 9, 3, 0.04)
    np.testing.assert_array_equal(off, [[-1, 2]] * 3 + [[0, 0]])  # flat patches are not moved
    np.testing.assert_allclose(_patches_at(hr, r2, c2, 9)[:3], _patches_at(ir, rows, cols, 9)[:3])


def test_lbnlm_defaults_are_the_papers():
    """n = 9, k = 50, K = 10 and the experiments' L = 80,000, with local registration
    (old behaviour: L = 4000 and local registration off)."""
    cfg = LBNLMConfig()
    assert (cfg.patch, cfg.categories, cfg.oversample, cfg.library_size) == (9, 50, 10, 80000)
    assert cfg.local_radius > 0


def test_split_pair_is_the_papers_self_training_partition(field):
    from restoration.baselines.lbnlm import split_pair, self_training

    hr = field[:96, :128].astype(np.float32)
    lr = hr[::2, ::2]
    train, test = split_pair(lr, hr, 2)
    assert len(train) == 9 and len(test) == 3  # 3 x 4 sub-images, the right column tested
    np.testing.assert_array_equal(test[1][1], hr[32:64, 96:128])
    np.testing.assert_array_equal(train[4][0], lr[16:32, 16:32])
    assert all(np.array_equal(t_lr, t_hr[::2, ::2]) for t_lr, t_hr in train + test)
    with pytest.raises(EmsimError, match="registration"):
        split_pair(lr[:40], hr, 2)
    # a paired acquisition: the HR image covers a rotated, magnified sub-region of the field
    sub = Transform(40.0, 30.0, 2.0, 1.015, center=(47.5, 63.5))
    big = ndimage.gaussian_filter(np.random.default_rng(9).standard_normal((192, 224)), 3.0)
    hr_p, _ = warp(big, sub, (96, 128))
    T = register_pair(big[::2, ::2], hr_p, 2)[0]
    train, test = split_pair(big[::2, ::2], hr_p, 2, T)
    assert len(train) == 9 and all(ncc(t_lr, t_hr[::2, ::2]) > 0.98 for t_lr, t_hr in train + test)
    lib, test = self_training(lr, hr, 2, LBNLMConfig(library_size=300, categories=10))
    assert len(lib) <= 300 and len(test) == 3


def test_lbnlm_beats_bicubic_on_a_simulated_pair_set():
    pairs = pair_set(8, 1)
    lib = build_library(pairs[:6], 2, LBNLMConfig(library_size=2000))
    for lr, hr in pairs[6:]:
        bic, nlm = cubic_upsample(lr, 2), lbnlm_upscale(lr, lib)
        assert psnr(hr, nlm) > psnr(hr, bic) + 3.0
        assert ssim(hr, nlm) > ssim(hr, bic) + 0.03
    with pytest.raises(EmsimError):
        build_library([(pairs[0][0], pairs[0][1][:100])], 2)


# -------------------------------------------------------------------------- evaluation


def test_evaluate_sr_table():
    torch = pytest.importorskip("torch")
    from restoration.archs.swinir import SwinIR

    pairs = pair_set(5, 2, size=96, area=True)
    torch.manual_seed(0)
    model = SwinIR(scale=2, embed_dim=12, depths=(2,), num_heads=(2,), window_size=4).eval()
    rows = evaluate_sr(pairs[3:], model, baselines=("bicubic", "nearest", "lbnlm"), library_pairs=pairs[:3])
    by = {r["method"]: r for r in rows}
    assert list(by) == ["model", "bicubic", "nearest", "lbnlm"]
    assert set(rows[0]) == {"method", *METRICS, "ms_ssim_scales", "seconds_per_image", "n"}
    assert by["lbnlm"]["psnr_maxy"] > by["bicubic"]["psnr_maxy"] > by["nearest"]["psnr_maxy"]
    assert all(r["n"] == 2 for r in rows)
    table = format_sr_table(rows)
    assert "lbnlm" in table and "MS-SSIM" in table
    loo = evaluate_sr(pairs[:3], baselines=("lbnlm",))  # leave-one-out library
    assert loo[0]["method"] == "lbnlm" and math.isfinite(loo[0]["psnr_maxy"])
    with pytest.raises(EmsimError):
        evaluate_sr(pairs, baselines=("bm3d",))
    with pytest.raises(EmsimError):
        evaluate_sr([(pairs[0][0], pairs[0][1][:, :50])])
    with pytest.raises(EmsimError):
        evaluate_sr([(pairs[0][0][:24, :24], pairs[0][1])], SwinIR(scale=3, embed_dim=12, depths=(2,), num_heads=(2,), window_size=4))


def test_evaluate_sr_store(tmp_path):
    from emsim.dataset import store

    pairs = pair_set(6, 5, size=64)
    spec = store.StoreSpec(n=6, shape_x=(32, 32), shape_y=(64, 64), shard_size=3, dtype="float32", seed=0, config_hash="test")
    path = str(tmp_path / "sr.zarr")
    store.create(path, spec, {"seed": 0})
    g = store.open_group(path, "r+")
    for shard in range(2):
        part = pairs[3 * shard : 3 * shard + 3]
        cols = {"x": np.stack([p[0] for p in part]), "y": np.stack([p[1] for p in part]), "pixel_size": [0.1] * 3, "dose": [np.nan] * 3, "modality": ["stem"] * 3, "resolution": ["hr"] * 3, "records": ["{}"] * 3}
        store.write_shard(g, spec, shard, cols)
    rows, table = evaluate_sr_store(path, None, 2, ("bicubic", "lbnlm"), "cpu")
    ref = evaluate_sr(pairs[4:], baselines=("bicubic", "lbnlm"), library_pairs=pairs[:4])
    for r, q in zip(rows, ref):
        assert r["method"] == q["method"] and r["psnr_maxy"] == pytest.approx(q["psnr_maxy"]) and r["n"] == 2
    assert "bicubic" in table
