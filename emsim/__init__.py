"""emsim: synthetic electron-microscopy (TEM, STEM, SEM) training data.

Pipeline (one-way): config -> specimen -> clean image -> distortions -> pair -> store.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("emsim")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+local"


def __getattr__(name: str):
    """``emsim.make_pair`` and ``emsim.PairConfig`` without importing the pipeline eagerly."""
    if name in ("make_pair", "PairConfig", "Pair"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'emsim' has no attribute {name!r}")
