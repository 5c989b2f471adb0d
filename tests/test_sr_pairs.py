"""Simulated physical SR pairs: geometry, shared tone mapping, paired acquisitions."""

import numpy as np
import pytest

from emsim.config import ConfigError, merge
from emsim.distort import all_off, max_displacement
from emsim.pairs import SAMPLER, PairConfig, make_pair


def _cfg(shape=(64, 64), **sr):
    return merge(PairConfig, PairConfig(distort=all_off()), {"task": "sr", "shape": list(shape), "sr": sr})


@pytest.mark.parametrize("s", [2, 3, 4])
def test_lr_probe_positions_coincide_with_hr_pixels(s):
    cfg = _cfg((48, 48), scale=s)
    for i in range(3):
        p = make_pair(5, i, cfg)
        assert p.x.shape == (48 // s, 48 // s) and p.y.shape == (48, 48)
        np.testing.assert_allclose(p.x, p.y[::s, ::s], atol=1e-6)  # point sampling, same tone map
        assert p.record["pixel_size"] == pytest.approx(s * p.record["sr"]["hr_pixel_size"])


def test_lr_scan_is_an_exact_render_at_the_coarse_grid():
    """Independent check: the LR image equals the renderer run at s * dr on the LR grid."""
    from emsim.imaging.atom_models import models_from_record
    from emsim.pairs.clean import stage_rngs
    from emsim.imaging.render import render_clean
    from emsim.specimen import generate_specimen
    from emsim.imaging.tonemap import apply_tone_map

    cfg = _cfg(scale=4)
    p = make_pair(2, 1, cfg)
    spec = generate_specimen(stage_rngs(2, 1)["specimen"], cfg.specimen, (64, 64), d_ext=max_displacement(all_off()))
    raw = render_clean(spec.positions[:, :2], spec.numbers, models_from_record(p.record["atom_models"]), 4 * spec.pixel_size, (16, 16))
    rows, cols = np.mgrid[:16, :16] * 4.0
    np.testing.assert_allclose(apply_tone_map(raw, p.record["tone_map"], coords=(rows, cols)), p.x, atol=2e-4)


def test_noisy_target_and_distorted_input():
    cfg = merge(PairConfig, PairConfig(), {"task": "sr", "shape": [64, 64], "sr": {"target": "noisy"}})
    p = make_pair(0, 3, cfg)
    assert "hr_distortions" in p.record and p.record["distortions"]["dose"]["e_per_px"] > 0
    assert np.isfinite(p.x).all() and np.isfinite(p.y).all()


def test_paired_acquisition_records_a_recoverable_transform():
    from restoration.baselines.registration import register_pair

    cfg = merge(PairConfig, _cfg((128, 128), scale=2, mode="paired", rotation=[-4, 4]), {"specimen": {"pixel_size": [0.15, 0.2]}})
    assert SAMPLER.output_shapes(cfg) == ((128, 128), (128, 128))  # the HR image covers 1/4 of the LR field
    for i in range(2):
        p = make_pair(3, i, cfg)
        tr = p.record["sr"]["transform"]
        T, _, _ = register_pair(p.x, p.y, 2, max_angle=6, scales=(0.98, 1.0, 1.02))
        assert T.angle == pytest.approx(-tr["rotation_deg"], abs=0.1)  # register maps HR onto LR: the inverse
        assert T.scale == pytest.approx(tr["magnification"], abs=0.005)
        np.testing.assert_allclose([T.dy, T.dx], 2 * np.array(tr["origin_lr_px"]), atol=0.5)


def test_sr_config_validation():
    with pytest.raises(ConfigError, match="divisible"):
        merge(PairConfig, PairConfig(), {"task": "sr", "shape": [66, 64], "sr": {"scale": 4}})
    with pytest.raises(ConfigError):
        _cfg(scale=1)
