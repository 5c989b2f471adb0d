"""The one Keys kernel (emsim.imaging.resample) against Pillow, numba and torch users."""

import numpy as np
import pytest
from PIL import Image

from emsim.imaging.resample import cubic_upsample, keys_taps, keys_weights


@pytest.mark.parametrize("s", [2, 3, 4])
def test_cubic_upsample_is_pillows_bicubic_on_the_probe_grid(rng, s):
    """Pillow's BICUBIC is Keys' kernel with a = -0.5: on an edge-padded copy, with a box
    that puts HR pixel k at LR coordinate k / s, it is emsim's probe-grid upsampling."""
    lr = rng.random((20, 24)).astype(np.float32)
    h, w = lr.shape
    pad = 4
    o = pad + 0.5 - 0.5 / s  # Pillow samples output pixel k at input index box0 + (k + 0.5) / s - 0.5
    padded = np.pad(lr, pad, mode="edge")
    ref = np.asarray(Image.fromarray(padded, mode="F").resize((w * s, h * s), Image.Resampling.BICUBIC, box=(o, o, o + w, o + h)))
    np.testing.assert_allclose(cubic_upsample(lr, s), ref, atol=2e-5)


def test_keys_taps_is_the_keys_kernel():
    t = np.linspace(0, 1, 101, endpoint=False)
    w = keys_weights(t)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)  # partition of unity

    def keys(x, a=-0.5):  # Keys (1981), eq. 15
        x = np.abs(x)
        return np.where(x <= 1, (a + 2) * x**3 - (a + 3) * x**2 + 1, np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0))

    np.testing.assert_allclose(w, keys(t[:, None] - np.arange(-1, 3)), atol=1e-12)
    torch = pytest.importorskip("torch")
    tt = torch.tensor(t)
    np.testing.assert_allclose(torch.stack(keys_taps(tt), -1).numpy(), w, atol=1e-12)
