"""LR-only super-resolution training pairs from real low-resolution images (numpy,
Pillow and scipy; no torch).

- ``multiscale``: Moeller et al. 2023, sub-processes (1)-(4) with factor sets A, B, G and
  the six Pillow degradation kernels;
- ``pixmix``: Moeller et al. 2024 (PixMix, Hendrycks et al. 2022) with a procedural mixing
  set (``mixing``: IFS fractals and emsim scenes);
- ``coverage``: Ede 2019, one probe position per s x s block;
- ``folder``: a folder of .tif/.npy images -> ``LROnlyPairs``, an unbounded stream of
  pairs (torch view: ``emsim.dataset.torch.LROnlyDataset``), and ``LROnlyData``, a
  training run's stream plus held-out validation (``reference_pairs``).

Resampling is on Pillow's pixel-centre grid by default, the convention real LR images are
made and evaluated with (``grid="centre"``: LR pixel i centred on HR coordinate
s i + (s - 1)/2); ``grid="probe"`` is the simulator's (LR pixel i is HR pixel s i, which
``emsim.pairs.sr`` keeps for simulated scans) (``resize``).
"""

from ...imaging.resample import cubic_upsample, nearest_fill
from .coverage import CoverageConfig, coverage_downsample, coverage_pair
from .folder import INTENSITIES, PIPELINES, LROnlyData, LROnlyPairs, find_images, reference_pairs
from .mixing import MixingConfig, MixingSet, ifs_fractal
from .multiscale import MultiScaleConfig, multiscale_pair
from .pixmix import PixMixConfig, mixing_weights, pixmix, pixmix_pair
from .resize import KERNELS, downscale, rescale

__all__ = [
    "INTENSITIES", "KERNELS", "PIPELINES", "CoverageConfig", "LROnlyData", "LROnlyPairs", "MixingConfig", "MixingSet", "MultiScaleConfig", "PixMixConfig",
    "coverage_downsample", "coverage_pair", "cubic_upsample", "downscale", "find_images", "ifs_fractal",
    "mixing_weights", "multiscale_pair", "nearest_fill", "pixmix", "pixmix_pair", "reference_pairs", "rescale",
]
