"""Generator networks (one registry: ``register``, ``build``, ``names``, ``default``) and the
patch discriminator. Restoration: CGRDN (the paper's, the default), GRDN (its baseline);
super-resolution: SwinIR-light (the default), CGRDN-SR. ``RESTORE`` and ``SR`` map names to
classes."""

from .registry import Networks, build, default, get, n_parameters, names, register, task_of, upscale

RESTORE, SR = Networks("restore"), Networks("sr")

__all__ = ["RESTORE", "SR", "Networks", "build", "default", "get", "n_parameters", "names", "register", "task_of", "upscale"]
