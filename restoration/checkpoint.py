"""Checkpoints that load with ``torch.load(weights_only=True)``: tensors and plain
containers only (configs are stored as dicts of numbers and strings)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from emsim.errors import EmsimError


def save(path: str | Path, payload: dict) -> None:
    """Atomic write (temp file + rename): an interrupted save never corrupts the last one."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load(path: str | Path, map_location="cpu") -> dict:
    p = Path(path)
    if not p.is_file():
        raise EmsimError(f"checkpoint not found: {p}")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # torch's messages run to paragraphs: keep the first sentence
        msg = str(e).splitlines()[0].split(". ")[0] if str(e) else type(e).__name__
        raise EmsimError(f"cannot load checkpoint {p} (not a checkpoint saved by emsim?): {msg}") from None


def load_generator(path: str | Path, device="cpu", sr: bool | None = None):
    """The generator of a training checkpoint (or a bare {model, model_config} file), in
    eval mode on ``device``; ``sr`` True/False: it must be a super-resolution/restoration model."""
    from .models import build, upscale

    ckpt = load(path)
    if "model" not in ckpt or "model_config" not in ckpt:
        raise EmsimError(f"{path} is not an emsim restoration checkpoint")
    model = build(ckpt["model_config"])
    scale = upscale(model)
    if sr is not None and sr != (scale > 1):
        kind = f"a super-resolution model (x{scale})" if scale > 1 else "a restoration model"
        raise EmsimError(f"{path} is {kind}; use `emsim {'sr' if scale > 1 else 'restore'}` or `emsim evaluate --task {'sr' if scale > 1 else 'restore'}`")
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval()
