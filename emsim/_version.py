"""The installed emsim version (a module of its own so that any stage can read it)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("emsim")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+local"
