"""SR metrics: Gaussian-filtered PSNR/SSIM, MS-SSIM, Canny edge similarity (eq. 4)."""

import math

import numpy as np
import pytest
from scipy import ndimage

from emsim.errors import EmsimError
from restoration.metrics import (
    METRICS,
    MS_SSIM_WEIGHTS,
    _ssim_terms,
    canny_edges,
    edge_map_similarity,
    edge_similarity,
    gaussian_kernel,
    gaussian_smooth,
    ms_ssim,
    psnr,
    psnr_g,
    sr_metrics,
    ssim,
    ssim_g,
)


@pytest.fixture
def smooth(rng):
    return ndimage.gaussian_filter(rng.standard_normal((192, 192)), 2.0)


def test_identical_images(smooth):
    m = sr_metrics(smooth, smooth)
    assert set(m) == set(METRICS)
    assert m["psnr"] == m["psnr_g3"] == m["psnr_g5"] == math.inf
    for k in ("ssim", "ssim_g3", "ssim_g5", "ms_ssim", "edge_sim"):
        assert m[k] == pytest.approx(1.0)
    assert all(isinstance(v, float) for v in m.values())


def test_a_shift_reduces_every_metric(smooth):
    shifted = np.roll(smooth, 2, axis=1)
    m = sr_metrics(smooth, shifted)
    assert m["psnr"] < 40 and m["ssim"] < 0.95 and m["ms_ssim"] < 0.98 and m["edge_sim"] < 0.9
    m3 = sr_metrics(smooth, np.roll(smooth, 4, axis=1))
    for k in ("ssim", "ms_ssim", "edge_sim", "psnr"):
        assert m3[k] < m[k]  # larger shift, lower similarity


def test_gaussian_filtered_metrics(smooth, rng):
    k3, k5 = gaussian_kernel(3), gaussian_kernel(5)
    assert k3.sum() == pytest.approx(1) and k5.sum() == pytest.approx(1)
    np.testing.assert_allclose(k3, np.exp(-0.5 * (np.arange(-1, 2) / 0.8) ** 2) / np.exp(-0.5 * (np.arange(-1, 2) / 0.8) ** 2).sum())
    assert k5[2] < k3[1]  # wider kernel
    noisy = smooth + 0.3 * rng.standard_normal(smooth.shape)
    # low-pass filtering attenuates white noise: the filtered metrics are higher (Moeller 2024)
    assert psnr(smooth, noisy) < psnr_g(smooth, noisy, 3) < psnr_g(smooth, noisy, 5)
    assert ssim(smooth, noisy) < ssim_g(smooth, noisy, 3) < ssim_g(smooth, noisy, 5)
    assert psnr_g(smooth, noisy, 3) == pytest.approx(psnr(gaussian_smooth(smooth, 3), gaussian_smooth(noisy, 3)))
    with pytest.raises(EmsimError):
        gaussian_kernel(7)


def test_ssim_terms_match_scikit_image(smooth, rng):
    from skimage.metrics import structural_similarity

    other = smooth + 0.2 * rng.standard_normal(smooth.shape)
    dr = float(smooth.max() - smooth.min())
    ref = structural_similarity(smooth, other, data_range=dr, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert _ssim_terms(smooth, other, dr)[0] == pytest.approx(ref, abs=1e-12)


def test_ms_ssim_combines_the_scales(smooth, rng):
    other = smooth + 0.3 * rng.standard_normal(smooth.shape)
    dr = float(smooth.max() - smooth.min())
    a, b, expected = smooth, other, 1.0
    for j, w in enumerate(MS_SSIM_WEIGHTS):  # closed form of the Wang 2003 product
        full, cs = _ssim_terms(a, b, dr)
        expected *= max(full if j == 4 else cs, 0) ** w
        a = a.reshape(a.shape[0] // 2, 2, a.shape[1] // 2, 2).mean((1, 3))
        b = b.reshape(b.shape[0] // 2, 2, b.shape[1] // 2, 2).mean((1, 3))
    assert ms_ssim(smooth, other) == pytest.approx(expected, rel=1e-12)
    # noise hurts the fine scales most: MS-SSIM is above single-scale Gaussian SSIM
    assert ms_ssim(smooth, other) > _ssim_terms(smooth, other, dr)[0]
    # small images use fewer scales; too small ones are an error
    assert ms_ssim(smooth[:48, :48], smooth[:48, :48]) == pytest.approx(1.0)
    assert 0 < ms_ssim(smooth[:48, :48], other[:48, :48]) < 1
    with pytest.raises(EmsimError):
        ms_ssim(smooth[:8, :8], smooth[:8, :8])


def test_edge_map_similarity_closed_forms():
    a = np.zeros((10, 10), bool)
    a[2, 2:8] = True
    b = np.zeros((10, 10), bool)
    b[6, 2:8] = True
    assert edge_map_similarity(a, a) == 1.0
    assert edge_map_similarity(a, b) == 0.0  # disjoint edge maps
    c = a.copy()
    c[2, 5:8] = False  # half the edge found
    assert edge_map_similarity(a, c) == pytest.approx(1 - 3 / (6 + 3))
    assert edge_map_similarity(np.zeros((4, 4)), np.zeros((4, 4))) == 1.0


def test_canny_edges_find_a_disc_with_relative_thresholds():
    yy, xx = np.mgrid[:48, :48]
    r = np.hypot(yy - 23.3, xx - 24.6)
    img = 1.0 / (1.0 + np.exp((r - 12.2) / 0.8))  # a disc of radius ~12 with a soft edge
    e = canny_edges(img)
    on = np.abs(r[e] - 12.2)
    assert e.sum() > 60 and on.max() < 1.5  # a closed contour along the edge, nothing else
    np.testing.assert_array_equal(canny_edges(100 * img + 5), e)  # thresholds are relative
    assert not canny_edges(np.ones((20, 20))).any()
    assert edge_similarity(img, np.roll(img, 8, 1)) < 0.2
