"""CPU inference speed of the full CGRDN (the paper's generator, 7.0 M parameters) as
``emsim restore`` runs it: wall time of ``restore_array`` per image, for the ways torch and
onnxruntime can execute it and for several tile sizes, with each variant's largest
deviation from the float32 eager reference.

    python benchmarks/infer_speed.py --sizes 256 1024 --threads 2 --repeat 3

Times are the mean over ``--repeat`` calls after one warm-up (torch.compile's first call,
its compile time, is reported separately). Weights are the default initialisation: the
cost does not depend on them; the deviations are those of an untrained network.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restoration.archs import build, default  # noqa: E402
from restoration.infer import restore_array  # noqa: E402


def _time(fn, repeat):
    t0 = time.perf_counter()
    y = fn()
    first = time.perf_counter() - t0
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return y, first, float(np.mean(ts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--variants", nargs="+", default=None, help="subset of the variants to run")
    ap.add_argument("--out", default=None, help="JSON results")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    arch = {"arch": default("restore")}  # the full CGRDN
    model = build(arch).eval()
    rng = np.random.default_rng(0)
    onnx_path = Path(tempfile.mkdtemp()) / "model.onnx"
    from restoration.export import OnnxGenerator, export_onnx

    export_onnx(model, onnx_path)
    ort = OnnxGenerator(onnx_path, threads=a.threads)

    cl = build(arch).eval()
    cl.load_state_dict(model.state_dict())
    cl = cl.to(memory_format=torch.channels_last)

    class ChannelsLast(torch.nn.Module):
        def forward(self, x):
            return cl(x.contiguous(memory_format=torch.channels_last)).contiguous()

    class BF16(torch.nn.Module):  # `emsim restore --amp` on the CPU: autocast in channels_last
        def forward(self, x):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return cl(x.contiguous(memory_format=torch.channels_last)).float().contiguous()

    def frozen(example):
        with torch.no_grad():
            return torch.jit.optimize_for_inference(torch.jit.trace(model, example))

    results = []
    for n in a.sizes:
        img = rng.poisson(50 * (1 + np.sin(np.arange(n) / 3)[:, None] * np.cos(np.arange(n) / 4)[None]), size=(n, n)).astype(np.float32)
        ref = None
        variants = {
            "eager tile 512": (model, 512, 64),
            "eager tile 256": (model, 256, 32),
            "eager untiled": (model, n, 0),
            "channels_last untiled": (ChannelsLast(), n, 0),
            "channels_last tile 512": (ChannelsLast(), 512, 64),
            "onnxruntime untiled": (ort, n, 0),
            "onnxruntime tile 512": (ort, 512, 64),
            "onnxruntime tile 256": (ort, 256, 32),
            "jit-frozen untiled": ("jit", n, 0),
            "bf16 autocast channels_last untiled": (BF16(), n, 0),
            "compile untiled": ("compile", n, 0),
        }
        for name, (m, tile, overlap) in variants.items():
            if a.variants and not any(v in name for v in a.variants):
                continue
            if m == "jit":
                m = frozen(torch.from_numpy(img)[None, None])
            elif m == "compile":
                m = torch.compile(model)
            y, first, mean = _time(lambda: restore_array(m, img, tile=tile, overlap=overlap), a.repeat)
            if ref is None:
                ref = restore_array(model, img, tile=n, overlap=0)
            err = float(np.abs(y - ref).max() / np.abs(ref).max())
            row = {"size": n, "variant": name, "seconds": mean, "first_call": first, "max_rel_dev": err}
            results.append(row)
            print(f"{n:5d}  {name:28s} {mean:8.2f} s  (first {first:7.2f} s)  max |dy|/max|y| {err:.1e}", flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
