"""CGRDN speed: forward time (CPU, and GPU bf16 when available) and training throughput.

    python benchmarks/bench_restoration.py [--sizes 256 1024] [--train-batches 4 8 16]
"""

from __future__ import annotations

import argparse
import time

import torch

from restoration.losses import pixel_loss
from restoration.archs import n_parameters
from restoration.archs.cgrdn import CGRDN


def timed(fn, reps: int, sync) -> float:
    fn()
    sync()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    sync()
    return (time.perf_counter() - t) / reps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--train-batches", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    model = CGRDN().to(device).eval()
    print(f"CGRDN {n_parameters(model):,} parameters on {torch.cuda.get_device_name() if cuda else f'CPU ({torch.get_num_threads()} threads)'}")
    sizes = args.sizes or ([1024, 2048] if cuda else [256, 1024])
    for n in sizes:
        x = torch.rand(1, 1, n, n, device=device)
        with torch.no_grad():
            if cuda:
                model_cl = model.to(memory_format=torch.channels_last)
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    t = timed(lambda: model_cl(x), 5, sync)
                mem = torch.cuda.max_memory_allocated() / 2**30
                print(f"forward {n}x{n} bf16: {t * 1e3:.1f} ms (peak {mem:.2f} GiB)")
            else:
                t = timed(lambda: model(x), 1 if n >= 1024 else 3, sync)
                print(f"forward {n}x{n} fp32 CPU: {t:.2f} s")
    if cuda:
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for b in args.train_batches:
            x = torch.rand(b, 1, 256, 256, device=device).contiguous(memory_format=torch.channels_last)
            y = torch.rand(b, 1, 256, 256, device=device)

            def step():
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    loss, _ = pixel_loss(y, model(x).float())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

            torch.cuda.reset_peak_memory_stats()
            t = timed(step, 10, sync)
            print(f"train step batch {b} of 256^2 bf16: {1 / t:.2f} steps/s ({b / t:.1f} samples/s), peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
