"""Statistical and reference tests of the individual distortion models (eq. 27-55)."""

import json
import math

import numpy as np
import pytest
from scipy import fft as sfft
from scipy import stats

from emsim.distort import (
    AnnotationConfig,
    BlackPixelConfig,
    BlurConfig,
    ClipConfig,
    CropConfig,
    DarkCurrentConfig,
    DetectorConfig,
    DoseConfig,
    FastScanConfig,
    FixedPatternConfig,
    FlickerConfig,
    InterpolationConfig,
    JitterConfig,
    MtfConfig,
    QuantiseConfig,
    ResetConfig,
    RowLineConfig,
    ThermalConfig,
    ZingerConfig,
    counting,
    detector,
    digitise,
    dose,
    fastscan,
    jitter,
    masks,
    mtf,
    postprocess,
    rowlines,
    sensor,
)
from emsim.errors import ConfigError

# --------------------------------------------------------------------------- dose


def test_truncated_exponential_matches_its_law(rng):
    s = 0.5
    t = np.array([dose.truncated_exponential(rng, s) for _ in range(20000)])
    assert t.min() >= 0 and t.max() <= 1
    mean = s - math.exp(-1 / s) / (1 - math.exp(-1 / s))  # mean of Exp(s) truncated to [0, 1]
    assert abs(t.mean() - mean) < 4 * t.std() / math.sqrt(t.size)
    # the CDF: Kolmogorov-Smirnov against (1 - e^{-t/s}) / (1 - e^{-1/s})
    assert stats.kstest(t, lambda v: -np.expm1(-v / s) / -math.expm1(-1 / s)).pvalue > 1e-3


def test_dose_law_favours_low_doses_and_spans_the_range(rng):
    t_med = -0.5 * math.log(1 - 0.5 * (1 - math.exp(-2)))  # median of Exp(0.5) truncated to [0, 1]
    n = np.array([dose.sample_dose(rng, 0.5, 0.1, DoseConfig())[1]["e_per_px"] for _ in range(5000)])
    assert np.median(n) == pytest.approx(0.5 * 1500**t_med, rel=0.1)  # ~4 e/px: low doses dominate
    assert (n > 100).mean() == pytest.approx(0.115, abs=0.02) and 0.5 <= n.min() and n.max() <= 750 and n.max() > 300
    hist = np.histogram(np.log(n), bins=5, range=(math.log(0.5), math.log(750)))[0]
    assert np.all(np.diff(hist) < 0)  # the density falls decade by decade
    lin = np.array([dose.sample_dose(rng, 0.5, 0.1, DoseConfig(spacing="linear"))[1]["e_per_px"] for _ in range(5000)])
    assert lin.min() >= 0.5 and lin.max() <= 750 and lin.max() > 700
    assert np.median(lin) == pytest.approx(0.5 + 749.5 * t_med, rel=0.05)  # ~210 e/px
    assert (lin < 50).mean() == pytest.approx((1 - math.exp(-2 * 49.5 / 749.5)) / (1 - math.exp(-2)), abs=0.015)


def test_dose_units_and_pinning():
    rng = np.random.default_rng(1)
    state = rng.bit_generator.state
    alpha, rec = dose.sample_dose(rng, 0.25, 0.2, DoseConfig(e_per_A2=(100.0, 100.0)))
    assert rng.bit_generator.state == state  # a fixed dose consumes no randomness
    assert rec["e_per_px"] == pytest.approx(4.0) and rec["e_per_A2"] == pytest.approx(100.0)
    assert alpha == pytest.approx(16.0)
    alpha, rec = dose.sample_dose(rng, 0.5, 0.3, DoseConfig(e_per_px=(20.0, 20.0)))
    assert alpha == 40.0 and rec["e_per_A2"] == pytest.approx(20 / 0.09)
    _, rec = dose.sample_dose(rng, 0.5, 0.3, DoseConfig(e_per_A2=(10.0, 1000.0)))
    assert 10.0 * 0.09 <= rec["e_per_px"] <= 1000 * 0.09
    json.dumps(rec)
    with pytest.raises(ConfigError):
        DoseConfig(scale=0.0)


@pytest.mark.parametrize("lam", [0.3, 3.0, 11.9, 12.1, 60.0, 900.0])
def test_counting_noise_is_poisson(rng, lam):
    alpha = 7.0
    x = np.full((200, 250), lam / alpha, dtype=np.float32)
    out = counting.count(rng, x, alpha)
    k = out.astype(np.float64) * alpha
    np.testing.assert_allclose(k, np.rint(k), atol=1e-3 * max(1.0, lam))  # integer counts / alpha
    assert out.mean() == pytest.approx(lam / alpha, abs=5 * math.sqrt(lam / out.size) / alpha)
    assert out.var() == pytest.approx(lam / alpha**2, rel=0.05)  # var = mean / alpha
    # the whole pmf: chi-square over the bins with expected count >= 20
    k = np.rint(k).astype(int).ravel()
    ks = np.arange(k.max() + 1)
    expected = stats.poisson.pmf(ks, lam) * k.size
    observed = np.bincount(k, minlength=ks.size).astype(float)
    keep = expected >= 20
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(expected[keep], k.size - expected[keep].sum())
    assert stats.chisquare(obs, exp).pvalue > 1e-4


def test_counting_noise_of_a_zero_or_negative_image_is_zero(rng):
    out = counting.count(rng, np.array([[0.0, -1.0], [0.0, 0.0]], dtype=np.float32), 10.0)
    assert np.all(out == 0)


@pytest.mark.parametrize("means", [(0.05, 2.0, 11.99, 15.0, 300.0), (0.05, 11.99, 12.0, 40.0, 300.0)])
def test_counting_mixed_means_and_reproducibility(means):
    """Pixels of different means in one image (both samplers interleaved, on the fused
    path when most means are small and on the two-stage path otherwise) keep their laws."""
    lam = np.tile(np.array(means, dtype=np.float32), 40000)
    k = counting.poisson(np.random.default_rng(9), lam).reshape(-1, 5)
    for j, m in enumerate(means):
        assert k[:, j].mean() == pytest.approx(m, abs=5 * math.sqrt(m / k.shape[0]))
        assert k[:, j].var() == pytest.approx(m, rel=0.05)
    assert np.array_equal(k.ravel(), counting.poisson(np.random.default_rng(9), lam))


def test_pmt_noise_variance(rng):
    lam, alpha, ge, g0 = 40.0, 4.0, 0.3**2, 0.2**2
    x = np.full((300, 300), lam / alpha, dtype=np.float32)
    out = counting.count(rng, x, alpha, ge, g0)
    assert out.mean() == pytest.approx(lam / alpha, rel=0.01)
    assert out.var() == pytest.approx((lam * (1 + ge) + g0) / alpha**2, rel=0.05)


def test_pmt_sigma_formula():
    # eq. 44 divided by m_c eta G, by hand for m_c = 100, eta = 0.2, delta = 5, f = 1
    s = detector.pulse_sigma(100.0, 0.2, 5.0, 1.0)
    assert s == pytest.approx(math.sqrt((1 - 0.2 + 0.25) / 20 + 1 / 100))
    rec = detector.sample(np.random.default_rng(0), DetectorConfig(sigma=(0.3, 0.3), baseline=0.1))
    assert rec["sigma_e"] == 0.3 and rec["sigma_0"] == 0.1
    assert rec["fwhm_e"] == pytest.approx(2.3548 * 0.3, rel=1e-4)


# --------------------------------------------------------------------------- jitter


@pytest.mark.parametrize("phi", [0.0, 0.4, 0.7])
def test_ar1_autocorrelation_and_stationary_variance(rng, phi):
    sigma = 0.3
    d = jitter.ar1(rng, 400_000, sigma, phi)
    var = sigma**2 / (1 - phi**2)
    assert d.var() == pytest.approx(var, rel=0.02)
    r1 = np.corrcoef(d[:-1], d[1:])[0, 1]
    assert r1 == pytest.approx(phi, abs=0.01)
    # eq. 41's start: the first value already has the stationary variance
    first = np.array([jitter.ar1(rng, 2, sigma, phi)[0] for _ in range(6000)])
    assert first.var() == pytest.approx(var, rel=0.06)


def test_ar1_is_clipped_at_the_bound(rng):
    d = jitter.ar1(rng, 10_000, 1.0, 0.5, bound=1.0)
    assert np.abs(d).max() <= 1.0 and (np.abs(d) == 1.0).any()


def test_jitter_kinds_and_bound(rng):
    cfg = JitterConfig(p=1.0)
    bound = 5 * 0.8 / math.sqrt(1 - 0.49)
    assert cfg.bound == pytest.approx(bound)
    kinds = []
    for _ in range(2000):
        dx, dy, rec = jitter.sample(rng, (4, 5), cfg, cfg.bound)
        kinds.append(rec["kind"])
        assert dx.shape in ((4, 5), (1, 1)) and dy.shape in ((4, 1), (1, 1))
        assert np.abs(dx).max() <= bound and np.abs(dy).max() <= bound
        assert ("x" in rec["kind"]) == (dx.shape == (4, 5)) and ("y" in rec["kind"]) == (dy.shape == (4, 1))
    freq = {k: kinds.count(k) / len(kinds) for k in ("x", "y", "xy")}
    assert freq["x"] == pytest.approx(0.25, abs=0.04) and freq["y"] == pytest.approx(0.25, abs=0.04)
    assert freq["xy"] == pytest.approx(0.5, abs=0.04)
    assert jitter.sample(rng, (4, 5), JitterConfig(p=0.0), 1.0)[2] is None
    with pytest.raises(ConfigError):
        JitterConfig(p_x=0.7, p_y=0.7)


def _smooth(shape, dr, dx=0.0, dy=0.0):
    H, W = shape
    yy = np.arange(H)[:, None] * dr + dy
    xx = np.arange(W)[None, :] * dr + dx
    return (0.5 + 0.25 * np.sin(2 * np.pi * xx / 3.1) * np.cos(2 * np.pi * yy / 2.3)).astype(np.float32)


def test_jitter_exact_and_bicubic_agree_on_a_smooth_image(rng):
    dr, shape = 0.1, (64, 64)
    clean = _smooth(shape, dr)
    cfg = JitterConfig(p=1.0, p_x=0.0, p_y=0.0, sigma=(0.05, 0.05), phi=(0.5, 0.5))
    calls = []

    def resample(dx, dy):
        calls.append((np.shape(dx), np.shape(dy)))
        return _smooth(shape, dr, dx, dy)

    exact, rec = jitter.jitter(clean, np.random.default_rng(3), cfg, dr, cfg.bound, resample)
    assert rec["method"] == "exact" and rec["kind"] == "xy" and calls == [((64, 64), (64, 1))]
    cubic, rec2 = jitter.jitter(clean, np.random.default_rng(3), cfg, dr, cfg.bound)
    assert rec2["method"] == "bicubic" and rec2["sigma_x"] == rec["sigma_x"]
    inner = np.s_[4:-4, 4:-4]
    assert np.abs(exact - clean)[inner].max() > 0.01  # the jitter does something
    assert np.abs(exact - cubic)[inner].max() < 2e-3  # cubic interpolation of a smooth field


def test_y_jitter_shifts_whole_lines(rng):
    dr, shape = 0.2, (48, 64)
    clean = _smooth(shape, dr)
    cfg = JitterConfig(p=1.0, p_x=0.0, p_y=1.0, sigma=(0.1, 0.1))
    dx, dy, rec = jitter.sample(np.random.default_rng(4), shape, cfg, cfg.bound)
    assert rec["kind"] == "y" and "sigma_x" not in rec and np.all(dx == 0) and dy.shape == (48, 1)
    out, rec = jitter.jitter(clean, np.random.default_rng(4), cfg, dr, cfg.bound)
    exact = _smooth(shape, dr, 0.0, dy)  # each line sampled at its own displaced y
    assert np.abs(out - exact)[4:-4, 4:-4].max() < 2e-3 and np.abs(out - clean).max() > 0.01


def test_resample_with_wrong_shape_is_an_error(rng):
    from emsim.errors import EmsimError

    with pytest.raises(EmsimError, match="shape"):
        jitter.jitter(np.zeros((8, 8), np.float32), rng, JitterConfig(p=1.0), 0.1, 1.0, lambda dx, dy: np.zeros((4, 4)))


# --------------------------------------------------------------------------- fast scan


@pytest.mark.parametrize("alpha", [0.5, 3.0, 8.0])
def test_lorentzian_taps_sum_to_one_with_the_exact_tail(alpha):
    head, c, r = fastscan.lorentzian_taps(alpha)
    assert head.sum() + c / (1 - r) == pytest.approx(1.0, abs=1e-12)
    ref = fastscan.lorentzian_kernel(alpha, 2_000_000)
    np.testing.assert_allclose(head, ref[: head.size], rtol=1e-12)
    assert c / (1 - r) == pytest.approx(1 - ref[: head.size].sum(), rel=1e-3)  # tail mass (reference truncated)
    assert np.all(np.diff(head) < 0) and c == pytest.approx(ref[head.size], rel=1e-12)


@pytest.mark.parametrize("beta,gamma,theta", [(0.5, 3.0, 0.2), (2.0, 8.0, 1.0), (4.0, 20.0, math.pi / 2)])
def test_readout_iir_impulse_response_is_the_damped_oscillator(beta, gamma, theta):
    impulse = np.zeros((1, 300), dtype=np.float32)
    impulse[0, 100] = 1.0
    out = fastscan.apply_fast_scan(impulse, 1e-3, (beta, gamma, theta))  # alpha -> 0: detector PSF ~ delta
    lor = fastscan.lorentzian_kernel(1e-3, 200)
    ref = np.convolve(lor, fastscan.readout_kernel(beta, gamma, theta, 200))[:200]
    np.testing.assert_allclose(out[0, 100:300], ref, atol=2e-6)


def test_fast_scan_is_causal_normalised_and_matches_a_float64_reference(rng):
    alpha, readout = 6.0, (2.0, 7.0, 0.8)
    x = np.zeros((3, 4000), dtype=np.float32)
    x[0, 500] = 1.0
    x[1] = 1.0  # a flat line stays flat
    x[2] = rng.random(4000)
    out = fastscan.apply_fast_scan(x, alpha, readout)
    assert np.all(out[0, :500] == 0)  # causal: nothing before the impulse in scan order
    assert out[0].sum() == pytest.approx(1.0, abs=2e-3)  # sums to 1 (up to the tail beyond the row)
    np.testing.assert_allclose(out[1], 1.0, atol=1e-5)
    # reference: exact long kernels in float64, line padded with its first pixel
    kernel = np.convolve(fastscan.lorentzian_kernel(alpha, 200_000), fastscan.readout_kernel(*readout, 400))[:200_000]
    row = np.concatenate([np.full(200_000, x[2, 0], dtype=np.float64), x[2].astype(np.float64)])
    ref = sfft.irfft(sfft.rfft(row, 2 * row.size) * sfft.rfft(kernel, 2 * row.size), 2 * row.size)[200_000 : 200_000 + 4000]
    assert np.abs(out[2] - ref).max() < 2e-3  # only the far 1/m^2 tail is approximated
    assert np.abs(out[2] - ref).mean() < 2e-4


def test_fast_scan_record_and_switch(rng):
    x = rng.random((8, 16)).astype(np.float32)
    assert fastscan.fast_scan(x, rng, FastScanConfig(p=0.0)) == (x, None)
    out, rec = fastscan.fast_scan(x, rng, FastScanConfig(p=1.0, p_readout=0.0))
    assert rec["readout"] is None and out.shape == x.shape
    np.testing.assert_allclose(out.sum(axis=1), x.sum(axis=1), rtol=0.2)


# --------------------------------------------------------------------------- MTF


def test_mtf_validity_test():
    assert mtf.is_valid(0.5, 0.3, 1.0)
    assert not mtf.is_valid(1.2, 0.3, 1.0)  # (1 - a) < 0 with the wider Gaussian: goes negative
    assert not mtf.is_valid(1.2, 1.0, 0.3) or np.all(np.diff(mtf.mtf_r(np.linspace(0, 10, 1000), 1.2, 1.0, 0.3)) <= 0)


def test_sampled_mtf_is_positive_and_decreasing(rng):
    for _ in range(200):
        rec = mtf.sample(rng, MtfConfig())
        g = np.linspace(0, 10, 1000)
        m = mtf.mtf_r(g, rec["a"], rec["b"], rec["c"])
        assert m[0] == pytest.approx(1.0) and np.all(m >= 0) and np.all(np.diff(m) <= 0)
    assert mtf.sample(rng, MtfConfig(p=0.0)) is None


def test_mtf_convolution_matches_symmetric_fft_reference(rng):
    y = rng.random((24, 30)).astype(np.float32)
    a, b, c = 0.6, 0.3, 1.5
    out = mtf.apply_mtf(y, a, b, c)
    # reference: half-sample symmetric extension to (2H, 2W), periodic convolution by FFT
    ext = np.concatenate([y, y[::-1]], axis=0).astype(np.float64)
    ext = np.concatenate([ext, ext[:, ::-1]], axis=1)
    fv, fu = np.fft.fftfreq(48) * 2, np.fft.fftfreq(60) * 2  # Nyquist units
    g = np.hypot(fv[:, None], fu[None, :])
    transfer = mtf.mtf_r(g, a, b, c) * np.sinc(fv / 2)[:, None] * np.sinc(fu / 2)[None, :]
    ref = np.fft.ifft2(np.fft.fft2(ext) * transfer).real[:24, :30]
    np.testing.assert_allclose(out, ref, atol=2e-6)
    assert out.mean() == pytest.approx(y.mean(), rel=1e-5)


# --------------------------------------------------------------------------- TEM sensor


def test_fixed_pattern_thermal_reset_statistics(rng):
    x = np.full((400, 400), 0.5, dtype=np.float32)
    out, rec = sensor.fixed_pattern(x, rng, FixedPatternConfig(p=1.0, sigma=(0.02, 0.02)))
    assert out.std() == pytest.approx(0.5 * 0.02, rel=0.03) and out.mean() == pytest.approx(0.5, abs=1e-3)
    out, rec = sensor.thermal(x, rng, ThermalConfig(p=1.0, sigma=(0.5, 0.5)), alpha=10.0)
    assert out.std() == pytest.approx(0.05, rel=0.03)
    out, rec = sensor.reset(x, rng, ResetConfig(p=1.0, sigma=(0.5, 0.5)), alpha=10.0)
    assert np.all(out.std(axis=1) < 1e-6)  # one offset per row
    assert out[:, 0].std() == pytest.approx(0.05, rel=0.1)


def test_flicker_field_has_a_one_over_f_spectrum(rng):
    for exponent in (1.0, 2.0):
        field = sensor.pink_field(rng, (256, 256), exponent)
        assert field.std() == pytest.approx(1.0, rel=1e-4) and abs(field.mean()) < 1e-4
        p = np.abs(np.fft.rfft2(field)) ** 2
        f = np.hypot(np.fft.fftfreq(256)[:, None], np.fft.rfftfreq(256)[None, :])
        bins = np.geomspace(0.01, 0.5, 12)
        idx = np.digitize(f, bins)
        power = [p[idx == i].mean() for i in range(1, 12)]
        centres = [f[idx == i].mean() for i in range(1, 12)]
        slope = np.polyfit(np.log(centres), np.log(power), 1)[0]
        assert slope == pytest.approx(-exponent, abs=0.1)
    x = np.zeros((64, 64), np.float32)
    out, rec = sensor.flicker(x, rng, FlickerConfig(p=1.0, sigma=(0.3, 0.3)), alpha=3.0)
    assert out.std() == pytest.approx(0.1, rel=1e-3) and rec["exponent"] == 1.0


def test_dark_current_nonuniformity_and_shot_noise(rng):
    body, n_hot = sensor.dcnu(rng, (500, 500), 0.4, 0.5, 0.0)
    assert n_hot == 0 and body.mean() == pytest.approx(0.4, rel=0.01) and body.std() == pytest.approx(0.2, rel=0.03)
    assert body.min() > 0  # log-normal
    body, n_hot = sensor.dcnu(rng, (500, 500), 0.4, 0.5, 1e-3)
    assert n_hot == pytest.approx(250, abs=60)
    assert np.sum((body >= 0.4 + 5 * 0.2) & (body <= 0.4 + 8 * 0.2)) >= n_hot * 0.9
    x = np.zeros((500, 500), np.float32)
    out, rec = sensor.dark_current(x, rng, DarkCurrentConfig(p=1.0, mean=2.0, cv=0.1, hot_fraction=0.0), alpha=4.0)
    k = out * 4.0
    np.testing.assert_allclose(k, np.rint(k), atol=1e-4)  # Poisson counts of dark charge / alpha
    assert k.mean() == pytest.approx(2.0, rel=0.01) and k.var() == pytest.approx(2.0 + 0.04, rel=0.05)


# --------------------------------------------------------------------------- masks


def test_black_pixels_only_lower_and_zingers_only_raise(rng):
    x = (0.2 + 0.8 * rng.random((300, 300))).astype(np.float32)
    out, rec = masks.black_pixels(x, rng, BlackPixelConfig(p=1.0, density=(1e-3, 1e-3)))
    changed = out != x
    assert np.all(out <= x) and changed.sum() == rec["n_pixels"] > rec["n_regions"] > 30
    assert np.all(out[changed] <= 0.1 * x[changed] + 1e-7)
    out, rec = masks.zingers(x, rng, ZingerConfig(p=1.0, density=(1e-3, 1e-3)))
    changed = out != x
    assert np.all(out >= x) and changed.sum() == rec["n_pixels"] > 30
    assert np.all(out[changed] >= x[changed] + 0.5 - 1e-6)
    out, rec = masks.zingers(x, rng, ZingerConfig(p=1.0, density=(1e-3, 1e-3), mode="multiply"))
    changed = out != x
    assert np.all(out >= x) and np.all(out[changed] >= 1.5 * x[changed] - 1e-6) and rec["mode"] == "multiply"


def test_random_walk_regions(rng):
    counts, sizes = [], []
    for _ in range(300):
        rows, cols, label, n = masks.random_walk_regions(rng, (100, 100), 1e-3, (0, 6))
        counts.append(n)
        assert rows.min(initial=0) >= 0 and rows.max(initial=0) < 100 and cols.max(initial=0) < 100
        for k in range(n):
            r, c = rows[label == k], cols[label == k]
            sizes.append(len(set(zip(r.tolist(), c.tolist()))))
            if len(r) == 7:  # a walk that never left the field: consecutive cells are neighbours
                assert np.all(np.maximum(np.abs(np.diff(r)), np.abs(np.diff(c))) == 1)
    assert np.mean(counts) == pytest.approx(10.0, rel=0.05)  # Poisson(density * area)
    assert 1 <= min(sizes) and max(sizes) <= 7


# --------------------------------------------------------------------------- row lines, digitisation


def test_row_lines_replace_segments_by_scaled_mean(rng):
    x = rng.random((200, 120)).astype(np.float32)
    out, rec = rowlines.row_lines(x, rng, RowLineConfig(p=1.0, rate=(0.05, 0.05)))
    assert len(rec["segments"]) > 0
    touched = np.zeros(x.shape, bool)
    for row, start, length, factor in rec["segments"]:
        touched[row, start : start + length] = True
    assert np.array_equal(out[~touched], x[~touched])
    row, start, length, factor = rec["segments"][-1]  # the last segment is intact
    seg = out[row, start : start + length]
    assert np.all(seg == seg[0]) and 0.5 <= factor <= 1.5
    first = rec["segments"][0]
    if not any(s[0] == first[0] for s in rec["segments"][1:]):
        orig = x[first[0], first[1] : first[1] + first[2]]
        assert out[first[0], first[1]] == pytest.approx(orig.mean() * first[3], rel=1e-5)


def test_clip_and_quantise(rng):
    x = rng.random((100, 100)).astype(np.float32) * 2 - 0.2
    out, rec = digitise.clip(x, rng, ClipConfig(p=1.0, level=(0.7, 0.7)))
    assert rec["threshold"] == pytest.approx(0.7 * x.max())
    assert out.max() <= rec["threshold"] + 1e-6
    below = x <= rec["threshold"]
    assert np.array_equal(out[below], x[below]) and np.all(out[~below] == np.float32(rec["threshold"]))
    out, rec = digitise.quantise(x, rng, QuantiseConfig(p=1.0))
    g = rec["levels"]
    assert 16 <= g <= 4096
    steps = out.astype(np.float64) * g
    np.testing.assert_allclose(steps, np.rint(steps), atol=1e-3)  # integer multiples of 1/g
    assert np.abs(out - x).max() <= 0.5 / g + 1e-6
    levels = [digitise.quantise(x, rng, QuantiseConfig(p=1.0))[1]["levels"] for _ in range(2000)]
    assert np.median(np.log(levels)) == pytest.approx(0.5 * (math.log(16) + math.log(4096)), abs=0.25)  # log-uniform


# --------------------------------------------------------------------------- post-processing


def test_annotations_are_identical_in_x_and_y(rng):
    y = rng.random((128, 160)).astype(np.float32) * 0.5 + 0.25
    x = y + np.float32(0.25)
    cfg = AnnotationConfig(p=1.0, count=(6, 6), size=(0.1, 0.2))
    xo, yo, rec = postprocess.annotations(x, y, rng, cfg)
    assert len(rec["items"]) == 6 and json.dumps(rec)
    hit_x, hit_y = xo != x, yo != y
    assert np.array_equal(hit_x, hit_y) and hit_x.mean() > 0.005
    d = (xo - yo)[hit_x]
    assert d.min() >= -1e-6 and d.max() <= 0.25 + 1e-6 and (np.abs(d) < 1e-6).sum() > 0  # full cover: equal
    full = np.abs(xo - yo) < 1e-6
    assert np.all(np.isin(xo[full], [0.0, 1.0]))


def test_crop_is_identical_and_spares_the_centre(rng):
    y = rng.random((100, 80)).astype(np.float32)
    x = y + np.float32(1.0)
    for _ in range(30):
        xo, yo, rec = postprocess.crop(x, y, rng, CropConfig(p=1.0))
        filled = xo != x
        assert np.array_equal(filled, yo != y)
        assert np.all(xo[filled] == rec["fill_value"]) and np.all(yo[filled] == rec["fill_value"])
        side = math.sqrt(0.5)
        r0, c0 = int(math.ceil((1 - side) / 2 * 100)), int(math.ceil((1 - side) / 2 * 80))
        assert not filled[r0 : 100 - r0, c0 : 80 - c0].any()
        if rec["fill"] == "median":
            assert rec["fill_value"] == pytest.approx(float(np.median(y)))


def test_interpolation_identity_shift_and_sameness(rng):
    y = rng.random((40, 50)).astype(np.float32)
    ident = InterpolationConfig(p=1.0, rotation=0.0, scale=1.0, shear=0.0, shift=0.0, orders=(1,))
    xo, yo, rec = postprocess.interpolation(y, y, rng, ident)
    np.testing.assert_allclose(xo, y, atol=1e-6)
    assert np.array_equal(xo, yo)
    shift = InterpolationConfig(p=1.0, rotation=0.0, scale=1.0, shear=0.0, shift=1.0, orders=(1,), fills=("zero",))
    xo, yo, rec = postprocess.interpolation(y, y + 1, rng, shift)
    np.testing.assert_allclose(xo[1:, 1:], y[:-1, :-1], atol=1e-6)  # content moves by +1 px in rows and columns
    assert np.all(xo[0] == 0) and np.all(yo[:, 0] == 0)
    # a rotation maps the same way in x and y
    rot = InterpolationConfig(p=1.0, rotation=(10.0, 10.0), orders=(3,), fills=("edge",))
    a, b, _ = postprocess.interpolation(y, y * 2, np.random.default_rng(5), rot)
    np.testing.assert_allclose(b, 2 * a, rtol=1e-5, atol=1e-5)
    fwd = postprocess.transform_matrix(90.0, 1.0, 0.0)
    np.testing.assert_allclose(fwd, [[0, -1], [1, 0]], atol=1e-12)


def test_warp_against_references(rng):
    from scipy import ndimage

    H, W = 40, 52
    fwd = postprocess.transform_matrix(7.0, 1.1, 0.05)
    img = rng.random((H, W)).astype(np.float32)
    out = postprocess.warp(img[None], fwd, (0.3, -0.6), 1, "edge", 0.0)[0]
    inv = np.linalg.inv(fwd)
    centre = (np.array([H, W]) - 1) / 2
    offset = centre - inv @ (centre + np.array([0.3, -0.6]))
    ref = ndimage.affine_transform(img.astype(np.float64), inv, offset, order=1, mode="nearest")
    inner = np.s_[6:-6, 6:-6]
    np.testing.assert_allclose(out[inner], ref[inner], atol=1e-5)
    # Keys cubic convolution reproduces quadratics exactly
    ii, jj = np.mgrid[:H, :W].astype(np.float64)
    quad = lambda r, c: 0.01 * r * r - 0.02 * r * c + 0.03 * c * c + 0.1 * r  # noqa: E731
    out = postprocess.warp(quad(ii, jj)[None].astype(np.float32), fwd, (0.3, -0.6), 3, "edge", 0.0)[0]
    r = inv[0, 0] * ii + inv[0, 1] * jj + offset[0]
    c = inv[1, 0] * ii + inv[1, 1] * jj + offset[1]
    np.testing.assert_allclose(out[inner], quad(r, c)[inner], rtol=1e-4, atol=1e-4)


def test_blur_only_smooths(rng):
    x = rng.random((64, 64)).astype(np.float32)
    out, rec = postprocess.blur(x, rng, BlurConfig(p=1.0, sigma=(1.0, 1.0)))
    assert out.std() < 0.6 * x.std() and out.mean() == pytest.approx(x.mean(), rel=1e-4)
    out, rec = postprocess.blur(x, rng, BlurConfig(p=1.0, sigma=(0.0, 0.0)))
    assert out is x and rec["sigma"] == 0.0


def test_configs_reject_bad_values():
    with pytest.raises(ConfigError, match="interpolation.fills"):
        InterpolationConfig(fills=("nope",))
    with pytest.raises(ConfigError, match="crop.central"):
        CropConfig(central=0.0)
    with pytest.raises(ConfigError, match="zingers.mode"):
        ZingerConfig(mode="sum")
    with pytest.raises(ConfigError, match="fast_scan.gamma"):
        FastScanConfig(gamma=(1.0, 3.0))
    with pytest.raises(ConfigError, match="clip.level"):
        ClipConfig(level=(0.5, 1.5))
