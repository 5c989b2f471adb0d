"""BM3D (Dabov et al. 2007; the maintained ``bm3d`` package) with the noise level estimated
from the image itself (scikit-image's wavelet estimator): restoration's classical baseline."""

from __future__ import annotations

import numpy as np


def bm3d_denoise(x: np.ndarray) -> np.ndarray:
    """BM3D with the noise level estimated from the image itself."""
    import bm3d
    from skimage.restoration import estimate_sigma

    sigma = max(float(estimate_sigma(x)), 1e-4)
    return np.asarray(bm3d.bm3d(x.astype(np.float64), sigma_psd=sigma), dtype=np.float32)
