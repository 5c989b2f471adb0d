"""Compatibility: the PyTorch datasets now live in ``emsim.dataset.torch``."""


def __getattr__(name: str):
    from .dataset import torch as _torch

    return getattr(_torch, name)
