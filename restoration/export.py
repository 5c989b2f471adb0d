"""Exported generators: ONNX (any image size; onnxruntime runs it without torch's training
stack) and safetensors weights with their JSON config (``checkpoint.save_weights``).

The ONNX graph takes ``image`` (N, 1, H, W) float32 raw intensities and returns the
restored (or ``scale`` times larger) image; H and W are dynamic. The network's config,
the opset and the emsim version are stored as metadata (``emsim.model_config``,
``emsim.opset``, ``emsim.version``), so ``OnnxGenerator`` (and ``emsim restore`` /
``emsim sr`` through ``checkpoint.load_generator``) knows the scale and task.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from emsim._version import __version__
from emsim.errors import EmsimError

from .archs import upscale

OPSET = 17


def export_onnx(model, path: str | Path, opset: int = OPSET, example_size: int = 64) -> dict:
    """Write ``model`` as an ONNX graph with dynamic image height and width.

    torch's TorchScript-based exporter traces shapes symbolically for these networks
    (SwinIR's shifted-window masks are rebuilt in the graph) and takes seconds; the
    torch.export-based one takes minutes for SwinIR-light on 2 cores, for the same graph
    (both checked against torch within 1e-6 at several sizes).

    Parameters
    ----------
    model : a registered generator (with ``config``)
    path : output ``.onnx`` file (written atomically)
    opset : ONNX opset
    example_size : side of the example input the graph is traced with

    Returns
    -------
    dict: the metadata stored in the file
    """
    try:
        import onnx
    except ImportError:
        raise EmsimError("ONNX export needs onnx (pip install 'emsim[onnx]')") from None
    path = Path(path)
    model = model.eval().float().cpu()
    x = torch.rand(1, 1, example_size, example_size)
    meta = {"emsim.model_config": json.dumps(model.config), "emsim.opset": str(opset), "emsim.version": __version__, "emsim.scale": str(upscale(model))}
    tmp = path.with_suffix(path.suffix + ".tmp")
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # tracer warnings on shape arithmetic: recorded as ops
        torch.onnx.export(model, (x,), str(tmp), dynamo=False, opset_version=opset, input_names=["image"], output_names=["output"], dynamic_axes={"image": {2: "height", 3: "width"}, "output": {2: "out_height", 3: "out_width"}})
    graph = onnx.load(str(tmp))
    for k, v in meta.items():
        graph.metadata_props.add(key=k, value=v)
    onnx.save(graph, str(tmp))
    os.replace(tmp, path)
    return meta


class OnnxGenerator(torch.nn.Module):
    """An exported generator run by onnxruntime, called like the torch module it was made
    from (tensor in, tensor out), so ``infer.restore_array`` tiles it the same way."""

    def __init__(self, path: str | Path, threads: int | None = None):
        super().__init__()
        try:
            import onnxruntime as ort
        except ImportError:
            raise EmsimError("running .onnx models needs onnxruntime (pip install 'emsim[onnx]')") from None
        p = Path(path)
        if not p.is_file():
            raise EmsimError(f"model not found: {p}")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise EmsimError(f"cannot load {p}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if "emsim.model_config" not in meta:
            raise EmsimError(f"{p} is not an ONNX model exported by emsim (no emsim.model_config metadata)")
        self.config = json.loads(meta["emsim.model_config"])
        self.scale = int(meta.get("emsim.scale", 1))
        self.opset = int(meta.get("emsim.opset", 0))
        self.input_name = self.session.get_inputs()[0].name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.session.run(None, {self.input_name: np.ascontiguousarray(x.detach().float().cpu().numpy())})[0]
        return torch.from_numpy(y).to(x.device)


def cache_dir() -> Path:
    """Where ``onnx_runtime`` keeps exported graphs: ``$EMSIM_CACHE`` or
    ``$XDG_CACHE_HOME/emsim`` (default ``~/.cache/emsim``), sub-folder ``onnx``."""
    root = os.environ.get("EMSIM_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "emsim"
    return Path(root) / "onnx"


def onnx_runtime(model, threads: int | None = None) -> OnnxGenerator | None:
    """``model`` run by onnxruntime: exported once to the cache (keyed by its config, a hash
    of its weights and the torch/emsim/opset versions), then loaded in ~0.2 s. None where
    onnx/onnxruntime are missing or the export fails (the caller keeps torch).

    Parameters
    ----------
    model : a registered generator (with ``config``)
    threads : onnxruntime's intra-op threads (None: one per core)

    Returns
    -------
    OnnxGenerator or None
    """
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    h = hashlib.sha256(json.dumps([model.config, torch.__version__, __version__, OPSET], sort_keys=True).encode())
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().float().cpu().contiguous().numpy().tobytes())
    path = cache_dir() / f"{model.config.get('arch', 'model')}-{h.hexdigest()[:24]}.onnx"
    try:
        if not path.is_file():
            import onnx  # noqa: F401 - the export needs it; a cached graph does not (its import takes 0.5 s)

            path.parent.mkdir(parents=True, exist_ok=True)
            export_onnx(model, path, example_size=32)
        return OnnxGenerator(path, threads=threads)
    except Exception:  # noqa: BLE001 - onnx missing, any export/runtime failure: torch runs it instead
        return None
