import math

import numpy as np
import pytest
from scipy import integrate, special

from emsim.imaging import physics
from emsim.errors import EmsimError
from emsim.imaging.physics import AtomModel


def test_table_complete_and_hydrogen_forward_scattering():
    a, b, symbols = physics._table()
    assert len(symbols) == 104 and symbols[1] == "H" and symbols[103] == "Lr"
    # f_e(0) of hydrogen is the Bohr radius
    assert physics.scattering_factor(1, 0.0) == pytest.approx(physics.A0, rel=1e-6)
    # f_e decreases with g and increases with Z at g = 0 (roughly, for neighbours far apart)
    g = np.linspace(0, 5, 50)
    assert np.all(np.diff(physics.scattering_factor(79, g)) < 0)
    assert physics.scattering_factor(79, 0) > physics.scattering_factor(6, 0)


def test_scattering_factor_broadcasts():
    out = physics.scattering_factor(np.array([1, 6, 79]), np.array([[0.0], [1.0]]))
    assert out.shape == (2, 3)
    assert out[0, 1] == pytest.approx(physics.scattering_factor(6, 0.0))


def _series_rms_radius(z):
    """Independent route: r_hat^2 = -f2 / (pi^2 f0) from the small-g expansion
    f_e = sum a (2 - 3 b g^2 + ...) and the 2D Fourier moment theorem."""
    a, b, _ = physics._table()
    return math.sqrt(3.0 * np.sum(a[z] * b[z]) / (2.0 * math.pi**2 * np.sum(a[z])))


def test_rms_radius_quadrature_matches_small_g_expansion_all_elements():
    r = physics.all_rms_radii()
    series = np.array([_series_rms_radius(z) for z in range(1, 104)])
    assert r.shape == (103,)
    np.testing.assert_allclose(r, series, rtol=1e-8)
    assert np.all((r > 0.3) & (r < 1.5))


def test_rms_radius_vectorised_and_validated():
    assert isinstance(physics.rms_radius(6), float)
    out = physics.rms_radius(np.array([[1, 2], [79, 103]]))
    assert out.shape == (2, 2) and out[1, 0] == pytest.approx(physics.rms_radius(79))
    for bad in (0, 104, -3):
        with pytest.raises(EmsimError):
            physics.rms_radius(bad)
    with pytest.raises(EmsimError):
        physics.rms_radius(6.5)


@pytest.mark.parametrize("z", [1, 6, 38, 79, 92])
@pytest.mark.parametrize("g", [0.0, 0.3, 1.0, 2.5])
def test_projected_potential_is_inverse_transform_of_scattering_factor(z, g):
    """2D Fourier transform of the closed-form V_p equals 2 pi a0 e f_e(g)."""

    def integrand(r):
        return physics.projected_potential(z, r) * special.j0(2 * math.pi * g * r) * 2 * math.pi * r

    total = sum(integrate.quad(integrand, lo, hi, limit=400)[0] for lo, hi in [(0, 0.1), (0.1, 2), (2, 40)])
    assert total == pytest.approx(physics.POTENTIAL_PREFACTOR * physics.scattering_factor(z, g), rel=1e-6)


def test_atom_model_profile_closed_forms():
    m = AtomModel(0.6, 0.7, 0.8, 6.0, 0.5)
    assert m.profile(0.0) == pytest.approx(2.1)
    assert m.profile(0.5) == pytest.approx(0.6 * math.exp(-0.5) + 0.7 * math.exp(-1) + 0.4)
    r = np.linspace(0, 3, 7)
    np.testing.assert_allclose(m.profile(r), m.profile_xy(r, 0 * r))


@pytest.mark.parametrize("params", [(0.5, 1.0, 0.7, 4.0, 0.3, 1.0, 0.0), (1.0, 0.5, 0.9, 16.0, 1.2, 1.0, 0.0), (0.8, 0.6, 0.5, 9.0, 0.7, 1.15, 0.4)])
def test_atom_model_integrated_intensity(params):
    m = AtomModel(*params)
    if m.aspect == 1.0:
        num = integrate.quad(lambda r: m.profile(r) * 2 * math.pi * r, 0, 60 * m.r_m, limit=400, points=[m.r_m])[0]
    else:
        num = integrate.dblquad(lambda y, x: m.profile_xy(x, y), -30, 30, -30, 30, epsabs=1e-7)[0]
    assert num == pytest.approx(m.integrated_intensity(), rel=1e-4)


def test_atom_model_asymmetric_axes():
    m = AtomModel(1.0, 0.0, 0.0, 4.0, 1.0, aspect=2.0, angle=math.pi / 2)
    # major width r_m along +y (angle 90 deg), 2 r_m across it (along x)
    assert m.profile_xy(0.0, 1.0) == pytest.approx(math.exp(-0.5))
    assert m.profile_xy(2.0, 0.0) == pytest.approx(math.exp(-0.5))


def test_atom_model_validation():
    with pytest.raises(EmsimError):
        AtomModel(1, 1, 1, 4, 0.0)
    with pytest.raises(EmsimError):
        AtomModel(-1, 1, 1, 4, 1.0)
