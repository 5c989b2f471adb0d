"""Generator networks (one registry: ``register``, ``build``, ``names``) and the patch
discriminator. Restoration: CGRDN (the paper's), GRDN (its baseline); super-resolution:
SwinIR-light, CGRDN-SR. ``RESTORE`` and ``SR`` map names to classes."""

from .registry import Networks, build, get, n_parameters, names, register, task_of, upscale

RESTORE, SR = Networks("restore"), Networks("sr")

__all__ = ["RESTORE", "SR", "Networks", "build", "get", "n_parameters", "names", "register", "task_of", "upscale"]
