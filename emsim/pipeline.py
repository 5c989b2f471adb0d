"""Compatibility: the pair pipeline now lives in ``emsim.pairs`` (stores written before
emsim 0.2 name ``emsim.pipeline:SAMPLER``)."""

from .distort import MODALITIES
from .pairs import SAMPLER, Pair, PairConfig, make_pair, replay, resolve_config
from .pairs.clean import stage_rngs

__all__ = ["MODALITIES", "SAMPLER", "Pair", "PairConfig", "make_pair", "replay", "resolve_config", "stage_rngs"]
