"""emsim: synthetic electron-microscopy (TEM, STEM, SEM) training data.

Stages, each a package, imports flowing one way:

    config, errors, io -> specimen -> imaging -> scenes | distort -> pairs -> dataset

``emsim.make_pair``, ``emsim.PairConfig``, ``emsim.resolve_config`` and ``emsim.replay``
are the entry points (``emsim.pairs``); ``restoration`` uses emsim, never the reverse.
"""

from ._version import __version__

__all__ = ["__version__", "Pair", "PairConfig", "make_pair", "replay", "resolve_config"]


def __getattr__(name: str):
    """The pair-level entry points, without importing the whole pipeline eagerly."""
    if name in ("make_pair", "PairConfig", "Pair", "resolve_config", "replay"):
        from . import pairs

        return getattr(pairs, name)
    raise AttributeError(f"module 'emsim' has no attribute {name!r}")
