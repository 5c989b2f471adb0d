"""Inference: tile planning, the onnxruntime default on the CPU (same output as torch
within 1e-4, exported once and cached) and bf16 on the CPU."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emsim.errors import EmsimError  # noqa: E402
from restoration.archs import build  # noqa: E402
from restoration.infer import ALIGN, _starts, bf16_supported, prepare, restore_array  # noqa: E402


@pytest.mark.parametrize("tile,overlap", [(512, 64), (256, 32), (64, 16), (16, 0), (128, 64)])
def test_tiles_cover_evenly_with_the_overlap(tile, overlap):
    for n in range(ALIGN, 3000, ALIGN):
        starts, size = _starts(n, tile, overlap)
        assert size <= tile and size % ALIGN == 0 and starts[0] == 0 and starts[-1] + size == n
        assert all(s % ALIGN == 0 for s in starts)
        assert all(0 < b - a <= size - overlap for a, b in zip(starts, starts[1:]))
        # fewest tiles: one fewer of at most `tile` could not cover n with the overlap
        k = len(starts)
        assert k == 1 or (k - 1) * tile - (k - 2) * overlap < n
    assert _starts(1024, 512, 64) == ([0, 320, 640], 384)  # three tiles of 384, not three of 512


def _model():
    torch.manual_seed(0)
    return build({"arch": "cgrdn", "width": 16, "n_grdb": 2, "n_rdb": 2, "n_layers": 3, "growth": 8}).eval()


def test_auto_backend_is_onnxruntime_with_torchs_output():
    pytest.importorskip("onnxruntime")
    from restoration.export import cache_dir

    model = _model()
    img = np.random.default_rng(0).poisson(30, (72, 100)).astype(np.float32)
    ref = restore_array(model, img, tile=64, overlap=16)
    fast, name = prepare(model, "cpu")
    assert name == "onnxruntime"
    out = restore_array(fast, img, tile=64, overlap=16)
    assert np.abs(out - ref).max() <= 1e-4 * np.abs(ref).max()
    files = sorted(cache_dir().glob("cgrdn-*.onnx"))
    mtimes = [f.stat().st_mtime_ns for f in files]
    prepare(model, "cpu")  # cached: nothing re-exported
    assert sorted(cache_dir().glob("cgrdn-*.onnx")) == files and [f.stat().st_mtime_ns for f in files] == mtimes
    with torch.no_grad():
        model.tail.bias += 1.0  # other weights: another graph
    prepare(model, "cpu")
    assert len(list(cache_dir().glob("cgrdn-*.onnx"))) == len(files) + 1
    assert prepare(model, "cpu", backend="torch") == (model, "torch")


def test_bad_backend_requests():
    model = _model()
    with pytest.raises(EmsimError, match="CPU"):
        prepare(model, "cuda", backend="onnxruntime")
    with pytest.raises(EmsimError, match="cannot be combined"):
        prepare(model, "cpu", backend="onnxruntime", amp=True)
    with pytest.raises(EmsimError, match="backend must be"):
        prepare(model, "cpu", backend="tensorflow")


def test_bf16_on_the_cpu():
    model = _model()
    img = np.random.default_rng(1).poisson(30, (64, 64)).astype(np.float32)
    ref = restore_array(model, img, tile=64, overlap=0)
    if not bf16_supported():
        with pytest.raises(EmsimError, match="bf16"):
            prepare(model, "cpu", amp=True)
        return
    m, name = prepare(model, "cpu", amp=True)
    assert name == "torch bf16"
    out = restore_array(m, img, tile=64, overlap=0, amp=True)
    dev = np.abs(out - ref).max() / np.abs(ref).max()
    assert 0 < dev < 1e-2  # bf16 (8-bit mantissa) in the convolutions, not float32
