import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emsim.imaging import atom_models as contrast, physics
from emsim.config import ConfigError


@pytest.mark.parametrize("alpha", [0.75, 1.0, 1.25])
def test_width_coefficients_keep_mean_and_spread(alpha):
    a, b = contrast.width_coefficients(alpha)
    r = physics.all_rms_radii()
    rm = a * r**alpha + b
    assert rm.mean() == pytest.approx(r.mean(), rel=1e-12)
    assert rm.std() == pytest.approx(r.std(), rel=1e-12)
    assert np.all(rm > 0)


def test_sampler_ranges_single_species(rng):
    for _ in range(50):
        models, record = contrast.sample_atom_models(rng, [26])
        m = models[26]
        assert 4.0 <= m.n <= 16.0
        assert all(0.5 <= h <= 1.0 for h in (m.h1, m.h2, m.h3))  # one species: untouched
        assert 0.75 <= record["alpha"] <= 1.25
        a, b = record["a"], record["b"]
        assert m.r_m == pytest.approx(a * physics.rms_radius(26) ** record["alpha"] + b)


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(1, 103), min_size=1, max_size=16), st.integers(0, 2**32 - 1))
def test_sampler_eq22_strictly_increasing(species, seed):
    models, record = contrast.sample_atom_models(np.random.default_rng(seed), sorted(species))
    assert sorted(models) == sorted(species)
    assert contrast.check_monotonic(models)
    rebuilt = contrast.models_from_record(record)
    assert rebuilt == models


def test_sampler_pinned_config_still_monotonic(rng):
    cfg = contrast.AtomModelConfig(alpha=(1.0, 1.0), n=(8.0, 8.0), h=(1.0, 1.0))
    models, _ = contrast.sample_atom_models(rng, [3, 9, 55, 79])  # Li and Cs are wide atoms
    assert contrast.check_monotonic(models)
    models, _ = contrast.sample_atom_models(rng, [3, 9, 55, 79], cfg)
    assert contrast.check_monotonic(models)


def test_sampler_deterministic():
    a = contrast.sample_atom_models(np.random.default_rng(7), [8, 22, 38])
    b = contrast.sample_atom_models(np.random.default_rng(7), [8, 22, 38])
    assert a == b


def test_sampler_keeps_the_drawn_set_of_intensities(rng):
    """Sort-assign: the multiset of integrated intensities is the one drawn."""
    state = rng.bit_generator.state
    models, record = contrast.sample_atom_models(rng, [3, 9, 79])
    rng.bit_generator.state = state
    alpha = rng.uniform(0.75, 1.25)
    a, b = contrast.width_coefficients(alpha)
    drawn = []
    for z in (3, 9, 79):
        n = rng.uniform(4, 16)
        h = rng.uniform(0.5, 1.0, 3)
        drawn.append(physics.AtomModel(*h, n, a * physics.rms_radius(z) ** alpha + b).integrated_intensity())
    got = sorted(m.integrated_intensity() for m in models.values())
    np.testing.assert_allclose(got, sorted(drawn), rtol=1e-9)


def test_zpower_integrated_intensity_scales_as_z_gamma():
    models, _ = contrast.zpower_models([8, 22, 38], gamma=1.7)
    for z, m in models.items():
        assert m.integrated_intensity() == pytest.approx(z**1.7)


def test_config_validation():
    with pytest.raises(ConfigError):
        contrast.AtomModelConfig(alpha=(1.5, 1.0))
