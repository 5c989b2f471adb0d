"""Per-effect random streams and replay of distortion records (emsim.distort, emsim.pairs)."""

import dataclasses
import json

import numpy as np
import pytest

from emsim.config import merge
from emsim.distort import CHAINS, POST, DistortionConfig, ThermalConfig, all_off, distort, replay
from emsim.errors import EmsimError
from emsim.pairs import PairConfig, make_pair
from emsim.pairs import replay as replay_pair
from emsim.pairs.clean import clean_image

MODALITIES = ("tem", "stem", "sem")


def _clean(shape=(40, 48)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (0.3 + 0.7 * (np.cos(xx / 2.5) * np.cos(yy / 3.0)) ** 2).astype(np.float32)


def _all_on(config: DistortionConfig, modality: str) -> DistortionConfig:
    """Every effect of the modality's chain and of post-processing with p = 1."""
    chain = getattr(config, modality)
    on = {e.name: dataclasses.replace(getattr(chain, e.name), p=1.0) for e in CHAINS[modality]}
    post = {e.name: dataclasses.replace(getattr(config.post, e.name), p=1.0) for e in POST}
    return dataclasses.replace(config, **{modality: dataclasses.replace(chain, **on)}, post=dataclasses.replace(config.post, **post))


def _switch_off(config: DistortionConfig, modality: str, name: str) -> DistortionConfig:
    if name in {e.name for e in POST}:
        return dataclasses.replace(config, post=dataclasses.replace(config.post, **{name: dataclasses.replace(getattr(config.post, name), p=0.0)}))
    chain = getattr(config, modality)
    return dataclasses.replace(config, **{modality: dataclasses.replace(chain, **{name: dataclasses.replace(getattr(chain, name), p=0.0)})})


def _drawn(record: dict) -> dict:
    """What an effect drew (its params), without the values it derived from the image."""
    derived = {"threshold", "fill_value", "method", "max_dx", "max_dy", "n_regions", "n_pixels", "n_hot", "alpha"}
    return {k: (None if v is None else {a: b for a, b in v.items() if a not in derived}) for k, v in record.items() if isinstance(v, dict) or v is None}


@pytest.mark.parametrize("modality", MODALITIES)
def test_switching_one_effect_off_leaves_every_other_draw_unchanged(modality):
    cfg = _all_on(DistortionConfig(), modality)
    base = _drawn(distort(_clean(), modality, 0.1, 123, cfg)[2])
    for effect in CHAINS[modality] + POST:
        off = _drawn(distort(_clean(), modality, 0.1, 123, _switch_off(cfg, modality, effect.name))[2])
        assert off[effect.name] is None and base[effect.name] is not None
        others = [k for k in base if k != effect.name]
        assert [off[k] for k in others] == [base[k] for k in others], effect.name


def _spy(resample, seen):
    def wrapped(dx, dy):
        seen.append((np.array(dx), np.array(dy)))
        return resample(dx, dy)

    return wrapped


@pytest.mark.parametrize("modality", MODALITIES)
@pytest.mark.parametrize("resolution", ["hr", "lr"])
def test_replay_reproduces_the_pair_bit_for_bit(modality, resolution):
    cfg = merge(PairConfig, PairConfig(shape=(48, 48)), {"modality": modality, "resolution": resolution, "distort": {"post": {"interpolation": {"p": 0.5}, "annotations": {"p": 0.5}, "crop": {"p": 0.5}}}})
    for index in range(4):
        pair = make_pair(11, index, cfg)
        clean = clean_image(11, index, cfg, redraws=pair.record["redraws"])
        x, y = replay_pair(clean, pair.record)
        np.testing.assert_array_equal(x, pair.x)
        np.testing.assert_array_equal(y, pair.y)
        jit = pair.record["distortions"].get("jitter")
        if jit is not None and resolution == "hr":
            assert jit["method"] == "exact"  # the exact re-render is replayed too


def test_exact_jitter_record_needs_the_resampler():
    cfg = merge(PairConfig, PairConfig(shape=(32, 32)), {"distort": {"stem": {"jitter": {"p": 1.0}}}})
    pair = make_pair(0, 0, cfg)
    with pytest.raises(EmsimError, match="resample"):
        replay_pair(clean_image(0, 0, cfg).image, pair.record)


@pytest.mark.parametrize("modality", MODALITIES)
def test_a_record_onto_another_clean_image_keeps_noise_and_scan_path(modality):
    """The same record on two clean images: the same probe displacements, the same
    signal-independent noise fields (TEM sensor noise), the same artefact geometry."""
    cfg = _all_on(DistortionConfig(), modality)
    a, b = _clean(), np.full((40, 48), 0.5, np.float32)
    seen_a, seen_b = [], []
    resample = lambda img: lambda dx, dy: img + np.float32(0.01) * np.broadcast_to(dx, img.shape)  # noqa: E731
    xa, _, rec = distort(a, modality, 0.1, 5, cfg, resample=_spy(resample(a), seen_a))
    xb, _, rec_b = replay(b, rec, resample=_spy(resample(b), seen_b))
    assert _drawn(rec_b) == _drawn(rec)
    if modality != "tem":
        assert len(seen_a) == len(seen_b) == 1
        np.testing.assert_array_equal(seen_a[0][0], seen_b[0][0])
        np.testing.assert_array_equal(seen_a[0][1], seen_b[0][1])
    json.dumps(rec_b, allow_nan=False)
    # a signal-independent effect alone: x - clean is the same field on both images
    off = all_off()
    thermal = dataclasses.replace(off, tem=dataclasses.replace(off.tem, thermal=ThermalConfig(p=1.0, sigma=(0.4, 0.4))))
    xa, _, rec = distort(a, "tem", 0.1, 9, thermal)
    xb, _, _ = replay(b, rec)
    np.testing.assert_allclose(xa - a, xb - b, atol=1e-6)
    assert np.abs(xa - a).max() > 0


def test_replay_rejects_what_is_not_a_record():
    with pytest.raises(EmsimError, match="not a distortion record"):
        replay(_clean(), {"modality": "stem"})
    with pytest.raises(EmsimError, match="SR records"):
        replay_pair(_clean(), {"task": "sr", "distortions": {}})
