"""Checkpoints: ``.pt`` files that load with ``torch.load(weights_only=True)`` (tensors and
plain containers only), and pickle-free weights: ``NAME.safetensors`` with the network's
config in ``NAME.json`` beside it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from emsim.errors import EmsimError

from .archs import build, upscale


def _atomic(path: Path, write) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def save(path: str | Path, payload: dict) -> None:
    """Atomic write (temp file + rename): an interrupted save never corrupts the last one."""
    _atomic(Path(path), lambda p: torch.save(payload, p))


def save_weights(path: str | Path, model) -> None:
    """The generator's weights as safetensors and its config as JSON beside it.

    Parameters
    ----------
    path : ``NAME.safetensors``; the config goes to ``NAME.json`` ({"model_config": ...})
    model : a registered generator (with ``config``)
    """
    from safetensors.torch import save_file

    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    _atomic(path, lambda p: save_file(state, str(p)))
    _atomic(path.with_suffix(".json"), lambda p: p.write_text(json.dumps({"model_config": model.config}, indent=1)))


def load(path: str | Path, map_location="cpu") -> dict:
    """A ``.pt`` checkpoint's payload."""
    p = Path(path)
    if not p.is_file():
        raise EmsimError(f"checkpoint not found: {p}")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # torch's messages run to paragraphs: keep the first sentence
        msg = str(e).splitlines()[0].split(". ")[0] if str(e) else type(e).__name__
        raise EmsimError(f"cannot load checkpoint {p} (not a checkpoint saved by emsim?): {msg}") from None


def _load_safetensors(p: Path) -> dict:
    from safetensors.torch import load_file

    meta = p.with_suffix(".json")
    if not p.is_file():
        raise EmsimError(f"checkpoint not found: {p}")
    if not meta.is_file():
        raise EmsimError(f"{p} needs its network config {meta.name} beside it")
    try:
        return {"model": load_file(str(p)), "model_config": json.loads(meta.read_text())["model_config"]}
    except Exception as e:
        raise EmsimError(f"cannot load {p}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def load_generator(path: str | Path, device="cpu", sr: bool | None = None):
    """The generator saved in a checkpoint.

    Parameters
    ----------
    path : a training checkpoint (.pt), a bare {model, model_config} .pt file, a
        ``.safetensors`` file with its ``.json`` beside it (no pickle), or an exported
        ``.onnx`` graph (run by onnxruntime; ``device`` is ignored)
    device : torch device
    sr : True/False: it must be a super-resolution/restoration model (None: either)

    Returns
    -------
    torch.nn.Module in eval mode on ``device`` (``export.OnnxGenerator`` for .onnx)
    """
    p = Path(path)
    if p.suffix == ".onnx":
        from .export import OnnxGenerator

        model = OnnxGenerator(p)
        _check_task(path, upscale(model), sr)
        return model
    ckpt = _load_safetensors(p) if p.suffix == ".safetensors" else load(p)
    if "model" not in ckpt or "model_config" not in ckpt:
        raise EmsimError(f"{path} is not an emsim restoration checkpoint")
    model = build(ckpt["model_config"])
    _check_task(path, upscale(model), sr)
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval()


def _check_task(path, scale: int, sr: bool | None) -> None:
    if sr is not None and sr != (scale > 1):
        kind = f"a super-resolution model (x{scale})" if scale > 1 else "a restoration model"
        raise EmsimError(f"{path} is {kind}; use `emsim {'sr' if scale > 1 else 'restore'}` or `emsim evaluate --task {'sr' if scale > 1 else 'restore'}`")
