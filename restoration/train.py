"""Training of restoration generators (with the relativistic patch GAN after a warm-up).

Data: an emsim zarr store (``ZarrPairs``; the last ``val_size`` complete samples are held
out) or pairs simulated on the fly (``SimulatedPairs``; validation uses a fixed index range
far beyond any training index). AdamW/Adam with linear warm-up and cosine decay, gradient
clipping, bf16 autocast and channels_last on CUDA, optional torch.compile, DDP under
torchrun (rank-strided streams / samplers). ``run_dir`` gets config.json, log.csv,
last.pt (every ``ckpt_every`` steps, resumable) and best.pt (best validation PSNR).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.nn import functional as F

from emsim.config import from_dict, to_dict
from emsim.errors import EmsimError

from . import checkpoint
from .losses import LossWeights, adversarial_loss, discriminator_loss, pixel_loss
from .metrics import psnr, ssim
from .models import PatchDiscriminator, build, n_parameters

VAL_BASE_INDEX = 1 << 40  # on-the-fly validation indices start here (training never gets there)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters. Architecture defaults are the paper's CGRDN; batch 8 of 256^2
    patches fits a 12 GB GPU in bf16. The GAN phase starts at ``gan_after`` (-1: never).
    Super-resolution: model cgrdn_sr or swinir with ``scale`` > 1 (``patch`` is the HR
    patch; the LR input is patch / scale); ``arch_kwargs`` go to the SR model (e.g. SwinIR's
    embed_dim, depths)."""

    model: Literal["cgrdn", "grdn", "cgrdn_sr", "swinir"] = "cgrdn"
    scale: int = 1
    arch_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    width: int = 64
    n_grdb: int = 4
    n_rdb: int = 4
    n_layers: int = 8
    growth: int = 32
    steps: int = 100_000
    batch: int = 8
    patch: int = 256
    optimizer: Literal["adamw", "adam"] = "adamw"
    lr: float = 2e-4
    lr_min: float = 1e-6
    warmup: int = 500
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    gan_after: int = 20_000
    lr_d: float = 1e-4
    loss: LossWeights = LossWeights()
    amp: bool = True
    channels_last: bool = True
    compile: bool = False
    ckpt_every: int = 1000
    val_every: int = 1000
    val_size: int = 32
    log_every: int = 50
    workers: int = 2
    seed: int = 0

    def __post_init__(self):
        for name in ("steps", "batch", "patch", "ckpt_every", "val_every", "log_every", "width", "growth"):
            if getattr(self, name) <= 0:
                raise EmsimError(f"{name} must be positive, got {getattr(self, name)}")
        if self.patch % 2:
            raise EmsimError(f"patch must be even, got {self.patch}")
        sr = self.model in ("cgrdn_sr", "swinir")
        if sr != (self.scale > 1):
            raise EmsimError(f"model {self.model} needs {'a scale > 1' if sr else 'scale 1'} (got scale {self.scale})")
        if self.patch % (2 * self.scale):
            raise EmsimError(f"patch {self.patch} must be a multiple of twice the scale {self.scale}")
        if self.gan_after >= 0 and self.patch < 70:
            raise EmsimError(f"the 70x70 patch discriminator needs patch >= 70 (got {self.patch}); set gan_after = -1 for smaller patches")

    def model_config(self) -> dict:
        if self.model == "swinir":
            return dict(arch="swinir", scale=self.scale, **self.arch_kwargs)
        cfg = dict(arch=self.model, width=self.width, n_grdb=self.n_grdb, n_rdb=self.n_rdb, n_layers=self.n_layers, growth=self.growth)
        return {**cfg, "scale": self.scale, **self.arch_kwargs} if self.model == "cgrdn_sr" else cfg


# --------------------------------------------------------------------------- data


class _StreamSampler(torch.utils.data.Sampler):
    """Endless, resumable shuffled stream over n items for one rank: epoch e visits
    randperm(n, seed + e)[rank::world]; yields (item, stream position)."""

    def __init__(self, n: int, seed: int, rank: int, world: int, start: int = 0):
        self.n, self.seed, self.rank, self.world, self.start = n, seed, rank, world, start

    def __iter__(self):
        per_epoch = len(range(self.rank, self.n, self.world))
        pos = self.start
        while True:
            epoch, k = divmod(pos, per_epoch)
            perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + epoch))[self.rank :: self.world]
            for i in perm[k:].tolist():
                yield i, pos
                pos += 1


class _CroppedStore(torch.utils.data.Dataset):
    """Pairs from a store, randomly cropped to patch x patch (crop drawn from the stream
    position, so resumed runs see the same crops). For SR stores (x smaller than y by the
    scale s) the HR crop starts on the LR probe grid and the LR crop is the matching
    patch / s window."""

    def __init__(self, pairs, patch: int, seed: int):
        self.pairs, self.patch, self.seed = pairs, patch, seed

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, item):
        i, pos = item
        x, y = self.pairs[i]
        H, W = y.shape[-2:]
        s = H // x.shape[-2]
        p = self.patch
        if H < p or W < p:
            raise EmsimError(f"store images {H}x{W} are smaller than the patch {p}")
        rng = np.random.default_rng([self.seed, pos])
        r, c = s * int(rng.integers(0, (H - p) // s + 1)), s * int(rng.integers(0, (W - p) // s + 1))
        return x[..., r // s : (r + p) // s, c // s : (c + p) // s], y[..., r : r + p, c : c + p]


class _Indexed(torch.utils.data.Dataset):
    """(x, y) tensors from an indexable source of (lr, hr, record) numpy triples (LR-only
    pipelines), addressed by the stream sampler's (item, position)."""

    def __init__(self, source, indices):
        self.source, self.indices = source, np.asarray(indices)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, item):
        i = item[0] if isinstance(item, tuple) else item
        lr, hr, _ = self.source[int(self.indices[i])]
        return torch.from_numpy(np.ascontiguousarray(lr, dtype=np.float32))[None], torch.from_numpy(np.ascontiguousarray(hr, dtype=np.float32))[None]


def _loaders(cfg: TrainConfig, data: str | None, pair_config, start: int, rank: int, world: int, device, lr_only=None):
    """(training iterator, validation tensors (x, y) on CPU)."""
    from emsim.dataset.torch import SimulatedPairs, ZarrPairs

    pin = str(device).startswith("cuda")
    kw = dict(num_workers=cfg.workers, pin_memory=pin, persistent_workers=cfg.workers > 0)
    if cfg.workers > 0:
        kw["multiprocessing_context"] = "spawn"
        kw["prefetch_factor"] = 4
    if data is not None:
        full = ZarrPairs(data)
        if len(full) <= cfg.val_size:
            raise EmsimError(f"store {data} has {len(full)} complete samples; need more than val_size={cfg.val_size}")
        train = ZarrPairs(data, indices=full.indices[: -cfg.val_size])
        val = ZarrPairs(data, indices=full.indices[-cfg.val_size :])
        sampler = _StreamSampler(len(train), cfg.seed, rank, world, start)
        loader = torch.utils.data.DataLoader(_CroppedStore(train, cfg.patch, cfg.seed), batch_size=cfg.batch, sampler=sampler, **kw)
        val_pairs = [val[i] for i in range(len(val))]
    elif lr_only is not None:
        n = len(lr_only)
        if n <= cfg.val_size:
            raise EmsimError(f"the LR-only source has {n} samples; need more than val_size={cfg.val_size}")
        train = _Indexed(lr_only, np.arange(n - cfg.val_size))
        sampler = _StreamSampler(len(train), cfg.seed, rank, world, start)
        loader = torch.utils.data.DataLoader(train, batch_size=cfg.batch, sampler=sampler, **kw)
        val = _Indexed(lr_only, np.arange(n - cfg.val_size, n))
        val_pairs = [val[i] for i in range(len(val))]
    else:
        from emsim.config import merge
        from emsim.pairs import PairConfig, make_pair

        pc = merge(PairConfig, pair_config, {"shape": [cfg.patch, cfg.patch]})
        if (pc.task == "sr") != (cfg.scale > 1) or (cfg.scale > 1 and pc.sr.scale != cfg.scale):
            raise EmsimError(f"the simulation (task {pc.task}, scale {pc.sr.scale}) does not match the model's scale {cfg.scale}")
        stream = SimulatedPairs(cfg.seed, pc, batch_size=cfg.batch, rank=rank, world_size=world)
        stream.load_state_dict({**stream.state_dict(), "position": start})
        loader = torch.utils.data.DataLoader(stream, batch_size=cfg.batch, **kw)
        val_pairs = []
        for k in range(cfg.val_size):
            p = make_pair(cfg.seed, VAL_BASE_INDEX + k, pc)
            val_pairs.append((torch.from_numpy(p.x)[None], torch.from_numpy(p.y)[None]))
    vx = torch.stack([x for x, _ in val_pairs])
    vy = torch.stack([y for _, y in val_pairs])
    return iter(loader), (vx, vy)


# --------------------------------------------------------------------------- loop


def _schedule(cfg: TrainConfig):
    def factor(step: int) -> float:
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
        return (cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * t))) / cfg.lr

    return factor


def _optimizer(cfg: TrainConfig, params, lr: float):
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.99))


@torch.no_grad()
def validate(model, vx: torch.Tensor, vy: torch.Tensor, device, amp: bool) -> dict:
    """Mean PSNR/SSIM of the model output and of the raw input against the targets."""
    model.eval()
    outs = []
    for k in range(0, len(vx), 8):
        with _autocast(device, amp):
            outs.append(model(vx[k : k + 8].to(device)).float().cpu())
    model.train()
    out = torch.cat(outs)
    if vx.shape[-1] != vy.shape[-1]:  # SR: the raw baseline is the bicubic upsampled input
        from .sr_models import bicubic_upsample

        vx = bicubic_upsample(vx, vy.shape[-1] // vx.shape[-1])
    m = {"val_psnr": [], "val_ssim": [], "raw_psnr": [], "raw_ssim": []}
    for x, y, o in zip(vx[:, 0].numpy(), vy[:, 0].numpy(), out[:, 0].numpy()):
        m["val_psnr"].append(psnr(y, o))
        m["val_ssim"].append(ssim(y, o))
        m["raw_psnr"].append(psnr(y, x))
        m["raw_ssim"].append(ssim(y, x))
    return {k: float(np.mean(v)) for k, v in m.items()} | {"val_l1": float(F.l1_loss(out, vy)), "raw_l1": float(F.l1_loss(vx, vy))}


def _upsample(x, s: int):
    from .sr_models import bicubic_upsample

    return bicubic_upsample(x, s)


def _autocast(device, amp: bool):
    if amp and str(device).startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _dist_env() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world


def train(run_dir: str | Path, cfg: TrainConfig = TrainConfig(), *, data: str | None = None, pair_config=None, lr_only=None, device: str | None = None, quiet: bool = False) -> dict:
    """Train (or resume, if run_dir holds last.pt) and return the last validation metrics.
    Data: a store (``data``), simulation (``pair_config``) or an indexable source of
    (lr, hr, record) from the LR-only pipelines (``lr_only``, e.g. emsim.lronly.LROnlyPairs)."""
    rank, local_rank, world = _dist_env()
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if device is None:
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise EmsimError("--device cuda requested but no CUDA device is available")
    run = Path(run_dir)
    torch.manual_seed(cfg.seed + rank)
    if pair_config is None and data is None and lr_only is None:
        from emsim.pairs import PairConfig

        pair_config = PairConfig()

    G = build(cfg.model_config()).to(device)
    D = PatchDiscriminator().to(device)
    if cfg.channels_last and str(device).startswith("cuda"):
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    opt_g, opt_d = _optimizer(cfg, G.parameters(), cfg.lr), _optimizer(cfg, D.parameters(), cfg.lr_d)
    sched = torch.optim.lr_scheduler.LambdaLR(opt_g, _schedule(cfg))
    step, best = 0, -math.inf
    last = run / "last.pt"
    if last.exists():
        ck = checkpoint.load(last, map_location=device)
        if ck["model_config"] != cfg.model_config():
            raise EmsimError(f"{last} holds a {ck['model_config']} model; the run asks for {cfg.model_config()}")
        G.load_state_dict(ck["model"])
        D.load_state_dict(ck["disc"])
        opt_g.load_state_dict(ck["opt_g"])
        opt_d.load_state_dict(ck["opt_d"])
        sched.load_state_dict(ck["sched"])
        step, best = int(ck["step"]), float(ck["best"])
    # the data are opened before the run directory is made: bad input leaves nothing behind
    batches, (vx, vy) = _loaders(cfg, data, pair_config, step * cfg.batch, rank, world, device, lr_only)
    run.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        meta = {"train": to_dict(cfg), "data": data, "lr_only": None if lr_only is None else repr(lr_only), "pair_config": to_dict(pair_config) if pair_config is not None else None, "parameters": n_parameters(G)}
        (run / "config.json").write_text(json.dumps(meta, indent=1))
    Gt, Dt = G, D
    if world > 1:
        ids = [local_rank] if str(device).startswith("cuda") else None
        Gt = torch.nn.parallel.DistributedDataParallel(G, device_ids=ids)
        Dt = torch.nn.parallel.DistributedDataParallel(D, device_ids=ids)
    if cfg.compile:
        Gt, Dt = torch.compile(Gt), torch.compile(Dt)

    log_path = run / "log.csv"
    fields = ["step", "time", "lr", "samples_per_s", "loss", "l1", "l2", "mlwt", "fourier", "mean", "std", "adv", "d_loss", "val_psnr", "val_ssim", "raw_psnr", "raw_ssim", "val_l1", "raw_l1"]
    new_log = not log_path.exists()
    logf = open(log_path, "a", newline="") if rank == 0 else None
    writer = csv.DictWriter(logf, fieldnames=fields, extrasaction="ignore") if logf else None
    if writer and new_log:
        writer.writeheader()
    metrics: dict = {}
    t0, seen = time.perf_counter(), 0
    try:
        while step < cfg.steps:
            x, y = next(batches)
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if cfg.channels_last and str(device).startswith("cuda"):
                x, y = x.contiguous(memory_format=torch.channels_last), y.contiguous(memory_format=torch.channels_last)
            gan = 0 <= cfg.gan_after <= step
            x_c = x if cfg.scale == 1 else _upsample(x, cfg.scale)  # the discriminator's condition
            with _autocast(device, cfg.amp):
                y_g = Gt(x)
                loss, terms = pixel_loss(y.float(), y_g.float(), cfg.loss)
                if gan:
                    adv = adversarial_loss(Dt(x_c, y).float(), Dt(x_c, y_g).float())
                    loss = loss + cfg.loss.adv * adv
                    terms["adv"] = float(adv.detach())
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(G.parameters(), cfg.grad_clip)
            opt_g.step()
            sched.step()
            if gan:
                with _autocast(device, cfg.amp):
                    d_loss = discriminator_loss(Dt(x_c, y).float(), Dt(x_c, y_g.detach()).float())
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
                terms["d_loss"] = float(d_loss.detach())
            step += 1
            seen += x.shape[0] * world
            row = None
            if step % cfg.log_every == 0 or step == cfg.steps:
                row = {"step": step, "time": round(time.perf_counter() - t0, 2), "lr": sched.get_last_lr()[0], "samples_per_s": seen / (time.perf_counter() - t0), "loss": float(loss.detach()), **terms}
            if step % cfg.val_every == 0 or step == cfg.steps:
                metrics = validate(G, vx, vy, device, cfg.amp)
                row = {**(row or {"step": step, "time": round(time.perf_counter() - t0, 2)}), **metrics}
                if rank == 0 and metrics["val_psnr"] > best:
                    best = metrics["val_psnr"]
                    checkpoint.save(run / "best.pt", {"model": G.state_dict(), "model_config": cfg.model_config(), "step": step, "val_psnr": best})
            if row and writer:
                writer.writerow(row)
                logf.flush()
                if not quiet:
                    print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
            if rank == 0 and (step % cfg.ckpt_every == 0 or step == cfg.steps):
                checkpoint.save(last, {"model": G.state_dict(), "model_config": cfg.model_config(), "disc": D.state_dict(), "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "sched": sched.state_dict(), "step": step, "best": best, "train_config": to_dict(cfg)})
    finally:
        if logf:
            logf.close()
    return metrics


def config_from(path: str | None = None, **overrides) -> TrainConfig:
    """TrainConfig from defaults, a TOML/YAML/JSON file and explicit (non-None) overrides."""
    from emsim.config import load_file, merge

    base = TrainConfig() if path is None else from_dict(TrainConfig, load_file(path))
    changes = {k: v for k, v in overrides.items() if v is not None}
    return merge(TrainConfig, base, changes) if changes else base
