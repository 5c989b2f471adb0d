"""The distortion chains: API, switches, determinism, records, units (emsim.distort)."""

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emsim.config import from_dict, to_dict
from emsim.distort import (
    MODALITIES,
    DetectorConfig,
    DistortionConfig,
    DoseConfig,
    JitterConfig,
    MtfConfig,
    PostConfig,
    ScanConfig,
    ShotNoiseConfig,
    TemConfig,
    all_off,
    distort,
    max_displacement,
    mtf,
)
from emsim.errors import ConfigError, EmsimError

TEM_EFFECTS = ("mtf", "shot_noise", "fixed_pattern", "dark_current", "thermal", "flicker", "reset", "black_pixels", "zingers", "clip", "quantise")
SCAN_EFFECTS = ("jitter", "detector", "fast_scan", "row_lines", "black_pixels", "zingers", "clip", "quantise")
POST_EFFECTS = ("interpolation", "blur", "annotations", "crop")


def _clean(shape=(64, 80)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (0.3 + 0.7 * (np.cos(xx / 2.5) * np.cos(yy / 3.0)) ** 2).astype(np.float32)


def _all_on() -> DistortionConfig:
    """Every effect with probability 1 (jitter XY)."""

    def on(cfg):
        return dataclasses.replace(cfg, **{n: 1.0 for n in ("p", "p_readout") if hasattr(cfg, n)})

    tem = TemConfig(*(on(getattr(TemConfig(), f.name)) for f in dataclasses.fields(TemConfig)))
    scan = lambda base: ScanConfig(*(on(getattr(base, f.name)) for f in dataclasses.fields(ScanConfig)))  # noqa: E731
    post = PostConfig(*(on(getattr(PostConfig(), f.name)) for f in dataclasses.fields(PostConfig)))
    sem = dataclasses.replace(scan(DistortionConfig().sem), black_pixels=DistortionConfig().sem.black_pixels)  # SEM: none
    return DistortionConfig(tem=tem, stem=scan(ScanConfig()), sem=sem, post=post)


@pytest.mark.parametrize("modality", MODALITIES)
def test_everything_off_gives_x_equal_y_equal_clean(rng, modality):
    clean = _clean()
    x, y, rec = distort(clean, modality, 0.1, rng, all_off())
    assert x.dtype == y.dtype == np.float32 and x.shape == y.shape == clean.shape
    assert np.array_equal(x, y) and np.array_equal(y, clean)
    assert x is not y and not np.shares_memory(x, y)
    effects = TEM_EFFECTS if modality == "tem" else SCAN_EFFECTS
    assert all(rec[k] is None for k in effects + POST_EFFECTS)
    json.dumps(rec)


@pytest.mark.parametrize("modality", MODALITIES)
def test_all_effects_on_and_record(modality):
    cfg = _all_on()
    clean = _clean()
    x, y, rec = distort(clean, modality, 0.2, np.random.default_rng(7), cfg)
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and not np.array_equal(x, y)
    effects = TEM_EFFECTS if modality == "tem" else tuple(e for e in SCAN_EFFECTS if modality == "stem" or e != "black_pixels")
    assert all(rec[k] is not None for k in effects + POST_EFFECTS), [k for k in effects + POST_EFFECTS if rec[k] is None]
    assert rec["black_pixels"] is None if modality == "sem" else rec["black_pixels"]["n_regions"] >= 0
    assert rec["modality"] == modality and rec["pixel_size"] == 0.2
    d = rec["dose"]
    assert d["e_per_A2"] == pytest.approx(d["e_per_px"] / 0.04) and d["alpha"] == pytest.approx(d["e_per_px"] / float(clean.mean()), rel=1e-6)
    text = json.dumps(rec)
    assert json.loads(text) == rec


@pytest.mark.parametrize("modality", MODALITIES)
def test_same_seed_same_result(modality):
    clean = _clean()
    cfg = _all_on()
    a = distort(clean, modality, 0.15, np.random.default_rng(11), cfg)
    b = distort(clean, modality, 0.15, np.random.default_rng(11), cfg)
    c = distort(clean, modality, 0.15, np.random.default_rng(12), cfg)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
    assert not np.array_equal(a[0], c[0])


def test_tem_target_carries_the_mtf(rng):
    cfg = dataclasses.replace(all_off(), tem=dataclasses.replace(all_off().tem, mtf=MtfConfig(a=0.5, b=0.4, c=1.2)))
    clean = _clean()
    x, y, rec = distort(clean, "tem", 0.1, rng, cfg)
    np.testing.assert_array_equal(y, mtf.apply_mtf(clean, 0.5, 0.4, 1.2))
    assert np.array_equal(x, y) and rec["mtf"]["a"] == 0.5


@pytest.mark.parametrize("modality", ["tem", "stem", "sem"])
def test_shot_noise_units(modality):
    """With only counting noise, x is y plus zero-mean noise of variance y / alpha."""
    base = all_off()
    if modality == "tem":
        cfg = dataclasses.replace(base, dose=DoseConfig(e_per_px=50.0), tem=dataclasses.replace(base.tem, shot_noise=ShotNoiseConfig(p=1.0)))
    else:
        scan = dataclasses.replace(getattr(base, modality), detector=DetectorConfig(p=1.0, sigma=0.0, baseline=0.0))
        cfg = dataclasses.replace(base, dose=DoseConfig(e_per_px=50.0), **{modality: scan})
    clean = np.full((200, 200), 0.4, np.float32)
    clean[:100] = 0.8
    x, y, rec = distort(clean, modality, 0.1, np.random.default_rng(3), cfg)
    alpha = rec["dose"]["alpha"]
    assert alpha == pytest.approx(50 / 0.6, rel=1e-6)
    for sl, v in ((np.s_[:100], 0.8), (np.s_[100:], 0.4)):
        assert x[sl].mean() == pytest.approx(v, abs=4 * math.sqrt(v / alpha / 20000))
        assert x[sl].var() == pytest.approx(v / alpha, rel=0.05)
    np.testing.assert_array_equal(y, clean)


def test_stem_jitter_uses_resample_and_falls_back_to_bicubic():
    base = all_off()
    cfg = dataclasses.replace(base, stem=dataclasses.replace(base.stem, jitter=JitterConfig(p=1.0)))
    clean = _clean()
    seen = []

    def resample(dx, dy):
        seen.append((np.shape(dx), np.shape(dy), float(np.abs(dx).max()), float(np.abs(dy).max())))
        return clean + 1

    x, y, rec = distort(clean, "stem", 0.1, np.random.default_rng(0), cfg, resample=resample)
    assert rec["jitter"]["method"] == "exact" and len(seen) == 1
    assert max(seen[0][2:]) <= max_displacement(cfg) and np.array_equal(x, clean + 1) and np.array_equal(y, clean)
    x2, _, rec2 = distort(clean, "stem", 0.1, np.random.default_rng(0), cfg)
    assert rec2["jitter"]["method"] == "bicubic" and rec2["jitter"]["kind"] == rec["jitter"]["kind"]
    with pytest.raises(EmsimError, match="shape"):
        distort(clean, "stem", 0.1, np.random.default_rng(0), cfg, resample=lambda dx, dy: clean[:10])


def test_max_displacement():
    bound = 5 * 0.8 / math.sqrt(1 - 0.7**2)
    assert max_displacement() == pytest.approx(bound)
    assert max_displacement(DistortionConfig(), "tem") == 0.0
    wide = dataclasses.replace(DistortionConfig(), sem=dataclasses.replace(DistortionConfig().sem, jitter=JitterConfig(sigma=(0.1, 2.0))))
    assert max_displacement(wide) == pytest.approx(5 * 2.0 / math.sqrt(1 - 0.49))
    assert max_displacement(wide, "stem") == pytest.approx(bound)
    assert max_displacement(all_off()) == 0.0
    with pytest.raises(EmsimError):
        max_displacement(None, "xray")


def test_config_round_trip_and_pinning():
    cfg = DistortionConfig()
    assert from_dict(DistortionConfig, to_dict(cfg)) == cfg
    assert cfg.sem.black_pixels.p == 0.0 and cfg.sem.detector.photons != cfg.stem.detector.photons
    pinned = from_dict(DistortionConfig, {"stem": {"jitter": {"sigma": 0.1, "p": 1.0}}, "dose": {"e_per_A2": 1000}})
    assert pinned.stem.jitter.sigma == (0.1, 0.1) and pinned.dose.e_per_A2 == (1000.0, 1000.0)
    assert JitterConfig(sigma=0.2).sigma == (0.2, 0.2)  # scalars pin in code too
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(DistortionConfig, {"stem": {"jiter": {}}})
    with pytest.raises(ConfigError, match="jitter.phi"):
        from_dict(DistortionConfig, {"stem": {"jitter": {"phi": [0.5, 1.0]}}})
    json.dumps(to_dict(cfg))


def test_fixed_dose_in_e_per_A2(rng):
    cfg = dataclasses.replace(all_off(), dose=DoseConfig(e_per_A2=(500.0, 500.0)))
    _, _, rec = distort(_clean(), "stem", 0.05, rng, cfg)
    assert rec["dose"]["e_per_A2"] == pytest.approx(500.0) and rec["dose"]["e_per_px"] == pytest.approx(1.25)


@pytest.mark.parametrize(
    "args,match",
    [
        ((np.zeros((8, 8)), "xray", 0.1), "modality"),
        ((np.zeros((8, 8, 3)), "stem", 0.1), "2D"),
        ((np.full((8, 8), np.nan), "stem", 0.1), "non-finite"),
        ((np.zeros((8, 8)), "stem", 0.0), "pixel size"),
        ((np.zeros((8, 8)), "stem", "a"), "pixel size"),
        ((np.zeros((8, 8), complex), "tem", 0.1), "real"),
    ],
)
def test_bad_input(rng, args, match):
    with pytest.raises(EmsimError, match=match):
        distort(*args, rng)


def test_bad_config_or_resample(rng):
    with pytest.raises(EmsimError, match="DistortionConfig"):
        distort(np.zeros((8, 8)), "tem", 0.1, rng, {"dose": {}})
    with pytest.raises(EmsimError, match="callable"):
        distort(np.zeros((8, 8)), "stem", 0.1, rng, None, resample=3)


def test_default_chains_are_finite_and_vary(rng):
    clean = _clean((48, 48))
    for modality in MODALITIES:
        doses = []
        for _ in range(15):
            x, y, rec = distort(clean, modality, float(rng.uniform(0.025, 0.9)), rng)
            assert np.all(np.isfinite(x)) and np.all(np.isfinite(y))
            doses.append(rec["dose"]["e_per_px"])
            json.dumps(rec)
        assert len(set(doses)) == 15


# --------------------------------------------------------------------------- fuzzing

_prob = st.sampled_from([0.0, 1.0, 0.5])


def _fuzz_config(draw) -> DistortionConfig:
    d = to_dict(DistortionConfig())

    def walk(node):
        for k, v in node.items():
            if isinstance(v, dict):
                walk(v)
            elif k in ("p", "p_readout"):
                node[k] = draw(_prob)

    walk(d)
    d["dose"] = {"e_per_px": draw(st.sampled_from([[0.5, 750.0], 0.01, 3.0, 1e5]))}
    d["stem"]["jitter"]["sigma"] = draw(st.sampled_from([[0.0025, 0.8], 0.0, 2.0]))
    d["tem"]["zingers"]["mode"] = draw(st.sampled_from(["add", "multiply"]))
    d["tem"]["mtf"]["a"] = draw(st.sampled_from([[0.0, 1.2], 1.5]))
    d["post"]["interpolation"]["orders"] = [draw(st.sampled_from([0, 1, 3]))]
    return from_dict(DistortionConfig, d)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), modality=st.sampled_from(MODALITIES), seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["smooth", "zero", "spiky"]), shape=st.sampled_from([(16, 16), (24, 40), (33, 17)]))
def test_fuzz_outputs_finite_and_records_serialisable(data, modality, seed, kind, shape):
    cfg = _fuzz_config(data.draw)
    rng = np.random.default_rng(seed)
    clean = {"smooth": _clean(shape), "zero": np.zeros(shape, np.float32), "spiky": (rng.random(shape) ** 8).astype(np.float32)}[kind]
    pixel_size = float(rng.uniform(0.025, 0.9))
    x, y, rec = distort(clean, modality, pixel_size, rng, cfg)
    assert x.shape == y.shape == shape and x.dtype == y.dtype == np.float32
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(y))
    assert json.loads(json.dumps(rec, allow_nan=False)) == rec


@pytest.mark.parametrize("modality", MODALITIES)
def test_input_is_not_modified(modality):
    clean = _clean()
    keep = clean.copy()
    x, y, _ = distort(clean, modality, 0.1, np.random.default_rng(2), _all_on())
    assert np.array_equal(clean, keep) and not np.shares_memory(x, clean) and not np.shares_memory(y, clean)
