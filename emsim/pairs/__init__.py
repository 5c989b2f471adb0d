"""Stage 4: (distorted x, clean y) pairs as pure functions of (seed, index, config).

``config`` (``PairConfig``, ``SRConfig``, ``resolve_config``), ``clean`` (the clean stage:
specimen or scene -> atom models -> render -> tone map, and the exact-jitter resampler),
``make`` (``make_pair``, ``replay``, the store's ``SAMPLER``), ``sr`` (physically paired
LR/HR super-resolution samples), ``lronly`` (LR-only SR training pairs from real images).

The only package that imports specimen, imaging, scenes and distort together. May import
everything above it; nothing of ``emsim.dataset``.
"""

from .clean import CleanImage, clean_image
from .config import MODALITIES, RESOLUTIONS, PairConfig, SRConfig, resolve_config
from .make import SAMPLER, Pair, make_pair, replay

__all__ = ["MODALITIES", "RESOLUTIONS", "SAMPLER", "CleanImage", "Pair", "clean_image", "PairConfig", "SRConfig", "make_pair", "replay", "resolve_config"]
