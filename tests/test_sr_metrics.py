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
    ms_ssim_scales,
    otsu_foreground,
    psnr,
    psnr_255,
    psnr_255_g,
    psnr_fg_bg,
    psnr_g,
    sr_metrics,
    ssim,
    ssim_g,
    to_8bit,
)


@pytest.fixture
def smooth(rng):
    return ndimage.gaussian_filter(rng.standard_normal((192, 192)), 2.0)


def test_identical_images(smooth):
    m = sr_metrics(smooth, smooth)
    assert set(m) == set(METRICS)
    for k in ("psnr_maxy", "psnr_255", "psnr_maxy_g3", "psnr_255_g3", "psnr_maxy_g5", "psnr_255_g5", "psnr_maxy_fg", "psnr_maxy_bg"):
        assert m[k] == math.inf
    for k in ("ssim", "ssim_g3", "ssim_g5", "ms_ssim", "edge_sim"):
        assert m[k] == pytest.approx(1.0)
    assert all(isinstance(v, float) for v in m.values())


def test_a_shift_reduces_every_metric(smooth):
    shifted = np.roll(smooth, 2, axis=1)
    m = sr_metrics(smooth, shifted)
    assert m["psnr_maxy"] < 40 and m["ssim"] < 0.95 and m["ms_ssim"] < 0.98 and m["edge_sim"] < 0.9
    m3 = sr_metrics(smooth, np.roll(smooth, 4, axis=1))
    for k in ("ssim", "ms_ssim", "edge_sim", "psnr_maxy"):
        assert m3[k] < m[k]  # larger shift, lower similarity


def test_gaussian_kernels_are_opencvs_binomials(rng):
    """cv2.GaussianBlur(img, (k, k), 0): getGaussianKernel's fixed kernels for k = 3, 5
    (not a sigma-Gaussian), separable, BORDER_REFLECT_101 (numpy's "reflect" padding)."""
    np.testing.assert_array_equal(gaussian_kernel(3), [0.25, 0.5, 0.25])
    np.testing.assert_array_equal(gaussian_kernel(5), np.array([1, 4, 6, 4, 1]) / 16)
    img = rng.random((9, 12))
    for k in (3, 5):
        h = k // 2
        pad = np.pad(img, h, mode="reflect")  # ...dcb|abcd|cba...: BORDER_REFLECT_101
        w = np.outer(gaussian_kernel(k), gaussian_kernel(k))
        ref = sum(w[i, j] * pad[i : i + 9, j : j + 12] for i in range(k) for j in range(k))
        np.testing.assert_allclose(gaussian_smooth(img, k), ref, atol=1e-14)
    with pytest.raises(EmsimError):
        gaussian_kernel(7)


def test_filtered_psnr_keeps_the_unfiltered_peak(smooth, rng):
    """Moeller 2024's filtered metrics: both HR images filtered, the peak that of the
    unfiltered reference -- a constant error reads the same with and without the filter."""
    y = smooth - smooth.min() + 1.0
    for k in (3, 5):
        assert psnr_g(y, y + 0.05, k) == pytest.approx(psnr(y, y + 0.05), abs=1e-9)
    noisy = y + 0.3 * rng.standard_normal(y.shape)
    assert psnr_g(y, noisy, 3) == pytest.approx(psnr(gaussian_smooth(y, 3), gaussian_smooth(noisy, 3), data_range=y.max()))
    assert ssim_g(y, noisy, 3) == pytest.approx(ssim(gaussian_smooth(y, 3), gaussian_smooth(noisy, 3), data_range=np.ptp(y)))
    # low-pass filtering attenuates white noise: the filtered metrics are higher
    assert psnr(y, noisy) < psnr_g(y, noisy, 3) < psnr_g(y, noisy, 5)
    assert ssim(y, noisy) < ssim_g(y, noisy, 3) < ssim_g(y, noisy, 5)


def test_psnr_255_is_the_papers_8bit_convention(rng):
    y8 = rng.integers(0, 256, (40, 50)).astype(np.float64)
    y8[0, 0], y8[0, 1] = 0, 255  # spans the full 8-bit range: the map is the identity
    e8 = np.clip(y8 + rng.integers(-9, 10, y8.shape), 0, 255)
    expected = 10 * np.log10(255**2 / np.mean((y8 - e8) ** 2))
    assert psnr_255(y8, e8) == pytest.approx(expected, abs=1e-12)
    # any affine intensity scale of both images: the same value (the min-max map undoes it)
    assert psnr_255(0.01 * y8 + 3.0, 0.01 * e8 + 3.0) == pytest.approx(expected, abs=1e-9)
    # estimates beyond the reference's range are clipped as an 8-bit image is
    np.testing.assert_array_equal(to_8bit(np.array([-5.0, 300.0]), y8), [0, 255])
    # filtered: OpenCV's uint8 output, rounded half up; a constant 8-bit error stays
    assert psnr_255_g(y8, np.clip(y8 + 4, 0, 255), 3) == pytest.approx(psnr_255_g(y8, y8 + 4, 3), abs=1.0)
    blur = np.floor(gaussian_smooth(y8, 5) + 0.5), np.floor(gaussian_smooth(e8, 5) + 0.5)
    assert psnr_255_g(y8, e8, 5) == pytest.approx(psnr(*blur, data_range=255.0), abs=1e-12)


def test_otsu_foreground_and_background_psnr(rng):
    from skimage.filters import threshold_otsu

    yy, xx = np.mgrid[:64, :64]
    disc = np.hypot(yy - 30, xx - 34) < 14
    y = np.where(disc, 5.0, 1.0) + 0.005 * rng.random((64, 64))
    y[3, 3] = 6.0  # an isolated bright pixel: background
    fg = otsu_foreground(y)
    assert y[3, 3] > threshold_otsu(y)
    np.testing.assert_array_equal(fg, disc)
    e = y.copy()
    e[~fg] += 0.1  # error in the background only
    f, b = psnr_fg_bg(y, e)
    assert f == math.inf and b == pytest.approx(10 * np.log10(y.max() ** 2 / 0.01))
    assert np.isnan(psnr_fg_bg(np.ones((8, 8)), np.ones((8, 8)))[0])  # no foreground


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
    assert [ms_ssim_scales((n, n)) for n in (11, 22, 48, 175, 176)] == [1, 2, 3, 4, 5]
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
