"""One-command GPU check (under 5 minutes on one GPU), printing a table:

- CGRDN (the paper's, 7.0 M parameters) forward time at 1024^2 and 2048^2 in bf16 (the
  paper's bar: 1024^2 under 1 s on a 12 GB V100);
- training steps/s and peak memory at batch 8 of 256^2 (pixel losses + the relativistic
  patch GAN, bf16 autocast, channels_last), as ``restoration.train`` steps;
- the on-the-fly loader's pairs/s (``SimulatedPairs``, default HR-STEM 256^2) with N CPU
  workers;
- whether ``torch.compile`` works (and its forward time at 1024^2).

    python benchmarks/gpu_check.py [--workers 8] [--steps 20] [--json out.json]
    python benchmarks/gpu_check.py --dry-run     # tiny sizes, any device: checks the script runs

Without a GPU it says so and exits 0 (``--dry-run`` runs everything tiny on the CPU).
"""

from __future__ import annotations

import argparse
import json
import time

from bench_restoration import timed


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on whatever device there is")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile check (slow to compile on a CPU)")
    args = ap.parse_args(argv)
    import torch
    from torch.utils.data import DataLoader

    from emsim.dataset.torch import SimulatedPairs
    from emsim.pairs import resolve_config
    from restoration.archs import build, default, n_parameters
    from restoration.train import TrainConfig, Trainer

    cuda = torch.cuda.is_available()
    if not cuda and not args.dry_run:
        print("no CUDA device: nothing to check (use --dry-run to exercise the script on the CPU)")
        return {"device": "cpu", "skipped": True}
    device = "cuda" if cuda else "cpu"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    tiny = args.dry_run
    arch = {"width": 8, "n_grdb": 1, "n_rdb": 1, "n_layers": 2, "growth": 4} if tiny else {}
    sizes = (32, 64) if tiny else (1024, 2048)
    rows: dict = {"device": torch.cuda.get_device_name() if cuda else "cpu", "torch": torch.__version__}
    model = build({"arch": default("restore"), **arch}).to(device).eval()
    rows["parameters"] = n_parameters(model)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else torch.autocast("cpu", enabled=False)
    with torch.no_grad():
        for s in sizes:
            x = torch.rand(1, 1, s, s, device=device)
            if cuda:
                model = model.to(memory_format=torch.channels_last)
                x = x.contiguous(memory_format=torch.channels_last)

            def fwd():
                with amp:
                    model(x)

            rows[f"forward_{s}_s"] = timed(fwd, 1 if tiny else 5, sync)
    # training steps (the trainer's own generator and discriminator steps)
    patch = 80 if tiny else 256
    cfg = TrainConfig(**arch, steps=1, batch=2 if tiny else 8, patch=patch, gan_after=0, val_size=1, workers=0)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(tmp, cfg, pair_config=resolve_config(shape=(patch, patch)), device=device, quiet=True)
        xb = torch.rand(cfg.batch, 1, patch, patch, device=device)
        yb = torch.rand(cfg.batch, 1, patch, patch, device=device)
        if cuda:
            torch.cuda.reset_peak_memory_stats()

        def step():
            _, y_g, _ = trainer.generator_step(xb, yb, xb, gan=True)
            trainer.discriminator_step(xb, yb, y_g)

        rows["train_steps_per_s"] = 1.0 / timed(step, 2 if tiny else args.steps, sync)
        rows["train_peak_memory_GiB"] = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
        trainer.close()
    # the on-the-fly loader
    size, n = (32, 8) if tiny else (256, 256)
    workers = 0 if tiny else args.workers
    stream = SimulatedPairs(0, resolve_config(modality="stem", shape=(size, size)), batch_size=8)
    loader = DataLoader(stream, batch_size=8, num_workers=workers, **({"multiprocessing_context": "spawn", "prefetch_factor": 4} if workers else {}))
    it = iter(loader)
    next(it)  # workers started, JIT caches warm
    t = time.perf_counter()
    got = 0
    while got < n:
        got += next(it)[0].shape[0]
    rows[f"loader_pairs_per_s_{workers}_workers"] = got / (time.perf_counter() - t)
    # torch.compile
    if args.no_compile:
        rows["compile"] = "not checked"
    else:
        _check_compile(rows, model, sizes[0], device, amp, sync, tiny)
    width = max(len(k) for k in rows)
    for k, v in rows.items():
        print(f"{k:<{width}}  {v:.4g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return rows


def _check_compile(rows, model, size, device, amp, sync, tiny) -> None:
    import torch

    try:
        compiled = torch.compile(model)
        x = torch.rand(1, 1, size, size, device=device)
        with torch.no_grad(), amp:
            compiled(x)
        with torch.no_grad():
            rows["compile_forward_s"] = timed(lambda: compiled(x), 1 if tiny else 5, sync)
        rows["compile"] = "works"
    except Exception as e:  # report, do not fail: it is what the check is for
        rows["compile"] = f"fails: {type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"


if __name__ == "__main__":
    main()
