"""Training of restoration and SR generators (with the relativistic patch GAN after a warm-up).

Data: an emsim zarr store (``ZarrPairs``; the last ``val_size`` complete samples are held
out), pairs simulated on the fly (``SimulatedPairs``; validation uses a fixed index range
far beyond any training index) or LR-only data (``emsim.pairs.lronly.LROnlyData``: a fresh
pair at every stream position, validation on held-out images; ``lr_only_data`` builds it
from the config's ``lr_only`` section). AdamW/Adam with linear warm-up and cosine decay or
multi-step halving, gradient clipping, an optional EMA copy of the generator (validated and
saved as best), bf16 autocast and channels_last on CUDA, optional torch.compile, DDP under
torchrun (rank-strided streams and samplers; only rank 0 validates, logs and writes, with
barriers around checkpoints). ``run_dir`` gets config.json, log.csv, last.pt (every
``ckpt_every`` steps, resumable), best.pt and, loadable without pickle, best.safetensors +
best.json (best validation PSNR).

Recipes (``recipe``, ``config_from(recipe_name=...)``) set the papers' settings: "emsim" (the
defaults: the restoration loss mix with 1/std weights, cosine schedule, batch 8, per-image
normalisation and a bicubic residual in the network), "moeller2023" and "moeller2024"
(SwinIR-light as the authors' KAIR configuration trains it) and "ede2019" (the one-stage
generator's policy of Ede 2019 on SwinIR-light).

The step: the generator step (pixel losses, plus the adversarial loss in the GAN phase;
the discriminator's parameters take no gradients and its unwrapped module is used, so DDP
arms no reduction for it), then the discriminator step (one forward of the concatenated
real and fake pairs through the DDP-wrapped discriminator).
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.nn import functional as F

from emsim.config import from_dict, load_file, merge, to_dict
from emsim.errors import EmsimError
from emsim.pairs.lronly import PIPELINES, LROnlyData

from . import checkpoint
from .archs import build, default, n_parameters, names, task_of
from .archs.blocks import bicubic_upsample
from .archs.discriminator import PatchDiscriminator
from .archs.swinir import SwinIR, relative_position_parameters
from .losses import LossWeights, adversarial_loss, discriminator_loss, pixel_loss
from .metrics import psnr, ssim

VAL_BASE_INDEX = 1 << 40  # on-the-fly validation indices start here (training never gets there)
LOG_FIELDS = ["step", "time", "lr", "samples_per_s", "loss", "l1", "l2", "mlwt", "fourier", "mean", "std", "adv", "d_loss", "val_psnr", "val_ssim", "raw_psnr", "raw_ssim", "val_l1", "raw_l1"]
log = logging.getLogger("restoration.train")
BLUR_TAPS = 5  # Ede 2019's 5 x 5 target blur


@dataclasses.dataclass(frozen=True)
class LROnlyOptions:
    """The LR-only data of a run (``lr_only_data``). ``pipeline``: multiscale | pixmix |
    coverage; ``multiscale``, ``pixmix``, ``coverage``: fields of that pipeline's config
    (``emsim.pairs.lronly``: e.g. alpha, beta, gamma; k_max, beta; fill), whose scale (s)
    is the run's; ``intensity``: "raw" (as read), "image" (each image min-max scaled to
    [0, 1], the papers' 8-bit gray values / 255) or "crop" (each pair by its HR crop, Ede's
    [0, 1] crops)."""

    pipeline: Literal["multiscale", "pixmix", "coverage"] = "multiscale"
    multiscale: dict[str, Any] = dataclasses.field(default_factory=dict)
    pixmix: dict[str, Any] = dataclasses.field(default_factory=dict)
    coverage: dict[str, Any] = dataclasses.field(default_factory=dict)
    intensity: Literal["raw", "image", "crop"] = "raw"

    def pipeline_config(self, scale: int):
        """The chosen pipeline's config at SR factor ``scale``."""
        args = dict(getattr(self, self.pipeline))
        if self.pipeline == "coverage":
            args.setdefault("s", [scale])
        else:
            args["scale"] = scale
        return from_dict(PIPELINES[self.pipeline], args, f"lr_only.{self.pipeline}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters. ``model``: a registered network (``restoration.archs.names()``;
    None: the registry's default for the task, restoration at ``scale`` 1, SR above);
    ``arch``: keyword arguments of its constructor, which owns the defaults; ``width``,
    ``n_grdb``, ``n_rdb``, ``n_layers``, ``growth``: shortcuts for the CGRDN family's
    arguments (None: the constructor's default). SR networks take ``scale`` > 1 (``patch``
    is the HR patch; the LR input is patch / scale). Batch 8 of 256^2 patches fits a 12 GB
    GPU in bf16. The GAN phase starts at ``gan_after`` (-1: never).

    ``schedule``: "cosine" (after ``warmup``, to ``lr_min``) or "multistep" (times
    ``lr_gamma`` at each of ``milestones``, fractions of ``steps``); ``betas``: Adam's;
    ``ema``: decay of an exponential moving average of the generator's weights (0: off),
    which is validated and saved as best; ``objective``: "emsim" (``losses.pixel_loss``
    with ``loss``: 1/std-weighted L1, L2, MLWT, Fourier, mean and std terms), "l1" or
    "mse" (plain means), times ``loss_scale``; ``target_blur``: standard deviation (px) of
    a 5 x 5 Gaussian blur of the HR targets, training and validation (0: off);
    ``lr_only``: the LR-only data section."""

    model: str | None = None
    scale: int = 1
    arch: dict[str, Any] = dataclasses.field(default_factory=dict)
    width: int | None = None
    n_grdb: int | None = None
    n_rdb: int | None = None
    n_layers: int | None = None
    growth: int | None = None
    steps: int = 100_000
    batch: int = 8
    patch: int = 256
    optimizer: Literal["adamw", "adam"] = "adamw"
    lr: float = 2e-4
    lr_min: float = 1e-6
    warmup: int = 500
    schedule: Literal["cosine", "multistep"] = "cosine"
    milestones: tuple[float, ...] = (0.5, 0.8, 0.9, 0.95)
    lr_gamma: float = 0.5
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    ema: float = 0.0
    objective: Literal["emsim", "l1", "mse"] = "emsim"
    loss_scale: float = 1.0
    target_blur: float = 0.0
    lr_only: LROnlyOptions = LROnlyOptions()
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
        for name in ("steps", "batch", "patch", "ckpt_every", "val_every", "log_every"):
            if getattr(self, name) <= 0:
                raise EmsimError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("width", "n_grdb", "n_rdb", "n_layers", "growth"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise EmsimError(f"{name} must be positive, got {getattr(self, name)}")
        if self.model is not None and self.model not in names():
            raise EmsimError(f"unknown model {self.model!r} (use {', '.join(names())})")
        if self.patch % 2:
            raise EmsimError(f"patch must be even, got {self.patch}")
        sr = task_of(self.network) == "sr"
        if sr != (self.scale > 1):
            raise EmsimError(f"model {self.network} needs {'a scale > 1' if sr else 'scale 1'} (got scale {self.scale})")
        if self.patch % (2 * self.scale):
            raise EmsimError(f"patch {self.patch} must be a multiple of twice the scale {self.scale}")
        if self.gan_after >= 0 and self.patch < 70:
            raise EmsimError(f"the 70x70 patch discriminator needs patch >= 70 (got {self.patch}); set gan_after = -1 for smaller patches")
        if any(not 0 < m <= 1 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise EmsimError(f"milestones {list(self.milestones)} must be increasing fractions of the steps in (0, 1]")
        if not 0 <= self.ema < 1 or any(not 0 <= b < 1 for b in self.betas):
            raise EmsimError(f"ema {self.ema} and betas {list(self.betas)} must lie in [0, 1)")
        if not (self.loss_scale > 0 and self.lr_gamma > 0 and self.target_blur >= 0):
            raise EmsimError("loss_scale and lr_gamma must be positive, target_blur >= 0")

    @property
    def network(self) -> str:
        """The generator's registered name: ``model``, or the task's default."""
        return self.model or default("sr" if self.scale > 1 else "restore")

    def model_config(self) -> dict:
        """{"arch": network, **constructor arguments} of the generator (the shortcuts that
        are set, ``scale`` for SR, then ``arch``)."""
        shortcuts = {k: getattr(self, k) for k in ("width", "n_grdb", "n_rdb", "n_layers", "growth") if getattr(self, k) is not None}
        return {"arch": self.network, **({"scale": self.scale} if self.scale > 1 else {}), **shortcuts, **self.arch}


# --------------------------------------------------------------------------- recipes

RECIPES = ("emsim", "moeller2023", "moeller2024", "ede2019")
# SwinIR-light as KAIR trains it (the Moeller configs: Adam 2e-4 with betas (0.9, 0.999), no
# weight decay or clipping, MultiStepLR halving, EMA 0.999 of the weights, L1, batch 16 of
# 256^2 targets) and the reference network: no per-image normalisation, no bicubic residual
_SWINIR_KAIR = dict(model=SwinIR.arch, arch={"normalise": False, "residual": "none"}, objective="l1", optimizer="adam", lr=2e-4, betas=(0.9, 0.999), weight_decay=0.0, grad_clip=0.0, schedule="multistep", warmup=0, ema=0.999, batch=16, patch=256, gan_after=-1)


def recipe(name: str, scale: int = 4) -> dict:
    """TrainConfig fields of a training recipe for SR at ``scale``.

    - "emsim": emsim's defaults (no GAN phase for SR).
    - "moeller2023": the public configuration of Moeller et al. 2023 (STEM 5MX-to-5-10:
      milestones 25k, 40k, 55k, 75k, 85k, here as fractions of the paper's 150k steps;
      the paper's text says AdamW at 1e-3), batch 4 at 2x (the paper); multi-scale pairs
      with KAIR's dihedral augmentation, gray values of each image in [0, 1].
    - "moeller2024": 30k steps (SwinIR's milestones at 50/80/90/95 %; AdamW 2e-4 in the
      paper, weight decay not given), PixMix K_max 30, beta 2 with the basic (dihedral)
      augmentation.
    - "ede2019": Ede's one-stage generator policy (Sec. IX) on SwinIR-light: Adam 1e-3
      halved at 12.5 % and 25 % of 1e5 steps, batch 16, 512^2 crops scaled to [0, 1],
      coverage 1/s^2 with the dihedral augmentation, MSE x 200 (lambda; p(c) = 1 for one
      coverage) against targets blurred by the 5 x 5 Gaussian of 2.5 px. Not reproduced:
      Ede's generators, ALRC and the momentum schedule.

    Parameters
    ----------
    name : one of ``RECIPES``
    scale : SR factor (> 1)

    Returns
    -------
    dict of TrainConfig fields (``merge`` it onto a TrainConfig)
    """
    if name not in RECIPES:
        raise EmsimError(f"unknown recipe {name!r} (use {', '.join(RECIPES)})")
    if scale < 2:
        raise EmsimError(f"recipes are for super-resolution (scale > 1), got scale {scale}")
    if name == "emsim":
        return {"gan_after": -1}
    if name == "moeller2023":
        ms = tuple(m / 150_000 for m in (25_000, 40_000, 55_000, 75_000, 85_000))
        return _SWINIR_KAIR | dict(steps=150_000, milestones=ms, batch=16 if scale >= 4 else 4, lr_only={"pipeline": "multiscale", "multiscale": {"dihedral": True}, "intensity": "image"})
    if name == "moeller2024":
        return _SWINIR_KAIR | dict(steps=30_000, milestones=(0.5, 0.8, 0.9, 0.95), lr_only={"pipeline": "pixmix", "pixmix": {"k_max": 30, "beta": 2.0, "dihedral": True}, "intensity": "image"})
    return _SWINIR_KAIR | dict(objective="mse", loss_scale=200.0, target_blur=2.5, lr=1e-3, milestones=(0.125, 0.25), ema=0.0, steps=100_000, patch=512, lr_only={"pipeline": "coverage", "coverage": {"dihedral": True}, "intensity": "crop"})


# --------------------------------------------------------------------------- data


def lr_only_data(cfg: TrainConfig, source, val_source=None, mixing=None) -> LROnlyData:
    """The LR-only data of a run: ``cfg.lr_only``'s pipeline at ``cfg.scale``, HR crops of
    ``cfg.patch``, seeded by ``cfg.seed``.

    Parameters
    ----------
    cfg : TrainConfig
    source : folder (or list) of real LR images
    val_source : folder (or list) of HR references for validation (None: hold out images)
    mixing : PixMix's mixing set (see ``emsim.pairs.lronly.LROnlyPairs``)

    Returns
    -------
    emsim.pairs.lronly.LROnlyData
    """
    o = cfg.lr_only
    return LROnlyData(source, o.pipeline_config(cfg.scale), hr_size=cfg.patch, seed=cfg.seed, mixing=mixing, val_source=val_source, intensity=o.intensity)


def _loaders(cfg: TrainConfig, data: str | None, pair_config, start: int, rank: int, world: int, device, lr_only=None):
    """(training iterator, validation tensors (x, y) on CPU)."""
    from emsim.dataset.torch import CroppedPairs, LROnlyDataset, PositionSampler, SimulatedPairs, StreamSampler, ZarrPairs, tensor

    pin = str(device).startswith("cuda")
    kw = dict(num_workers=cfg.workers, pin_memory=pin, persistent_workers=cfg.workers > 0)
    if cfg.workers > 0:
        kw["multiprocessing_context"] = "spawn"
        kw["prefetch_factor"] = 4
    if data is not None:
        full = ZarrPairs(data)
        if len(full) <= cfg.val_size:
            raise EmsimError(f"store {data} has {len(full)} complete samples; need more than val_size={cfg.val_size}")
        train_set = CroppedPairs(ZarrPairs(data, indices=full.indices[: -cfg.val_size]), cfg.patch, cfg.seed)
        val = ZarrPairs(data, indices=full.indices[-cfg.val_size :])
        loader = torch.utils.data.DataLoader(train_set, batch_size=cfg.batch, sampler=StreamSampler(len(train_set), cfg.seed, rank, world, start), **kw)
        val_pairs = [val[i] for i in range(len(val))]
    elif lr_only is not None:
        if (lr_only.scale, lr_only.train.hr_size) != (cfg.scale, cfg.patch):
            raise EmsimError(f"the LR-only data (scale {lr_only.scale}, {lr_only.train.hr_size}^2 crops) do not match the run (scale {cfg.scale}, patch {cfg.patch})")
        loader = torch.utils.data.DataLoader(LROnlyDataset(lr_only.train), batch_size=cfg.batch, sampler=PositionSampler(start, rank, world), **kw)
        val_pairs = [(tensor(lr), tensor(hr)) for lr, hr, _ in lr_only.validation(cfg.val_size)]
    else:
        from emsim.pairs import PairConfig, make_pair

        pc = merge(PairConfig, pair_config, {"shape": [cfg.patch, cfg.patch]})
        if (pc.task == "sr") != (cfg.scale > 1) or (cfg.scale > 1 and pc.sr.scale != cfg.scale):
            raise EmsimError(f"the simulation (task {pc.task}, scale {pc.sr.scale}) does not match the model's scale {cfg.scale}")
        stream = SimulatedPairs(cfg.seed, pc, batch_size=cfg.batch, rank=rank, world_size=world)
        stream.load_state_dict({**stream.state_dict(), "position": start})
        loader = torch.utils.data.DataLoader(stream, batch_size=cfg.batch, **kw)
        val_pairs = [(tensor(p.x), tensor(p.y)) for p in (make_pair(cfg.seed, VAL_BASE_INDEX + k, pc) for k in range(cfg.val_size))]
    return iter(loader), (torch.stack([x for x, *_ in val_pairs]), torch.stack([y for _, y, *_ in val_pairs]))


# --------------------------------------------------------------------------- pieces


def _schedule(cfg: TrainConfig):
    def factor(step: int) -> float:
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        if cfg.schedule == "multistep":
            return cfg.lr_gamma ** sum(step >= round(m * cfg.steps) for m in cfg.milestones)
        t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
        return (cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * t))) / cfg.lr

    return factor


def _optimizer(cfg: TrainConfig, params, lr: float):
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


def gaussian_blur(y: torch.Tensor, sigma: float, taps: int = BLUR_TAPS) -> torch.Tensor:
    """(B, C, H, W) blurred by a normalised taps x taps Gaussian of ``sigma`` px (reflected edges)."""
    t = torch.arange(taps, dtype=torch.float64) - (taps - 1) / 2
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    g = (g / g.sum()).to(y.dtype).to(y.device)
    B, C, H, W = y.shape
    z = F.pad(y.reshape(B * C, 1, H, W), (taps // 2,) * 4, mode="reflect")
    z = F.conv2d(F.conv2d(z, g.view(1, 1, 1, taps)), g.view(1, 1, taps, 1))
    return z.reshape(B, C, H, W)


def objective(cfg: TrainConfig, y: torch.Tensor, y_g: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """The pixel objective of ``cfg`` (times ``loss_scale``) and its logged terms."""
    if cfg.objective == "emsim":
        loss, terms = pixel_loss(y, y_g, cfg.loss)
    else:
        loss = F.l1_loss(y_g, y) if cfg.objective == "l1" else F.mse_loss(y_g, y)
        terms = {"l1" if cfg.objective == "l1" else "l2": float(loss.detach())}
    return cfg.loss_scale * loss, terms


def _autocast(device, amp: bool):
    if amp and str(device).startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


@torch.no_grad()
def validate(model, vx: torch.Tensor, vy: torch.Tensor, device, amp: bool) -> dict:
    """Mean PSNR/SSIM of the model output and of the raw input (SR: bicubic) against the targets."""
    model.eval()
    outs = []
    for k in range(0, len(vx), 8):
        with _autocast(device, amp):
            outs.append(model(vx[k : k + 8].to(device)).float().cpu())
    model.train()
    out = torch.cat(outs)
    if vx.shape[-1] != vy.shape[-1]:  # SR: the raw baseline is the bicubic upsampled input, on the model's grid
        vx = bicubic_upsample(vx, vy.shape[-1] // vx.shape[-1], getattr(model, "grid", "probe"))
    m = {"val_psnr": [], "val_ssim": [], "raw_psnr": [], "raw_ssim": []}
    for x, y, o in zip(vx[:, 0].numpy(), vy[:, 0].numpy(), out[:, 0].numpy()):
        m["val_psnr"].append(psnr(y, o))
        m["val_ssim"].append(ssim(y, o))
        m["raw_psnr"].append(psnr(y, x))
        m["raw_ssim"].append(ssim(y, x))
    return {k: float(np.mean(v)) for k, v in m.items()} | {"val_l1": float(F.l1_loss(out, vy)), "raw_l1": float(F.l1_loss(vx, vy))}


def _dist_env() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world


def _barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


class Trainer:
    """One training run (the arguments of ``train``): ``setup`` (networks, optimisers,
    resume, data, run directory), then ``fit`` repeats ``generator_step``,
    ``discriminator_step`` and ``validate_and_save``."""

    def __init__(self, run_dir, cfg: TrainConfig, *, data=None, pair_config=None, lr_only=None, device=None, quiet: bool = False):
        self.cfg, self.run = cfg, Path(run_dir)
        self.rank, self.local_rank, self.world = _dist_env()
        if device is None:
            device = f"cuda:{self.local_rank}" if torch.cuda.is_available() else "cpu"
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise EmsimError("--device cuda requested but no CUDA device is available")
        self.owns_group = self.world > 1 and not torch.distributed.is_initialized()
        if self.owns_group:
            torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        self.device, self.quiet = device, quiet or self.rank != 0
        self.cuda = str(device).startswith("cuda")
        if pair_config is None and data is None and lr_only is None:
            from emsim.pairs import PairConfig

            pair_config = PairConfig()
        try:
            self.setup(data, pair_config, lr_only)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Destroy the process group if this trainer initialised it."""
        if self.owns_group and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

    # ------------------------------------------------------------------ setup

    def setup(self, data, pair_config, lr_only) -> None:
        cfg = self.cfg
        torch.manual_seed(cfg.seed + self.rank)
        model_config = cfg.model_config()
        if lr_only is not None and cfg.scale > 1:  # the bicubic residual on the data's pixel grid
            if model_config.setdefault("grid", lr_only.grid) != lr_only.grid:
                raise EmsimError(f"the network's grid {model_config['grid']!r} is not the LR-only data's {lr_only.grid!r}")
        self.G = build(model_config).to(self.device)
        self.D = PatchDiscriminator().to(self.device)
        if cfg.channels_last and self.cuda:
            self.G, self.D = self.G.to(memory_format=torch.channels_last), self.D.to(memory_format=torch.channels_last)
        self.opt_g, self.opt_d = _optimizer(cfg, self.G.parameters(), cfg.lr), _optimizer(cfg, self.D.parameters(), cfg.lr_d)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt_g, _schedule(cfg))
        self.step, self.best = 0, -math.inf
        last = self.run / "last.pt"
        ck = checkpoint.load(last, map_location=self.device) if last.exists() else None
        if ck is not None:
            if build(ck["model_config"]).config != self.G.config:
                raise EmsimError(f"{last} holds a {ck['model_config']} model; the run asks for {self.G.config}")
            self.G.load_state_dict(ck["model"])
            self.D.load_state_dict(ck["disc"])
            self.opt_g.load_state_dict(ck["opt_g"])
            self.opt_d.load_state_dict(ck["opt_d"])
            self.sched.load_state_dict(ck["sched"])
            self.step, self.best = int(ck["step"]), float(ck["best"])
        self.E = copy.deepcopy(self.G).requires_grad_(False) if cfg.ema > 0 else None  # starts as G (KAIR)
        if self.E is not None and ck is not None and "ema" in ck:
            self.E.load_state_dict(ck["ema"])
        # the data are opened before the run directory is made: bad input leaves nothing behind
        self.batches, (self.vx, self.vy) = _loaders(cfg, data, pair_config, self.step * cfg.batch, self.rank, self.world, self.device, lr_only)
        if cfg.target_blur:
            self.vy = gaussian_blur(self.vy, cfg.target_blur)
        self.run.mkdir(parents=True, exist_ok=True)
        if self.rank == 0:
            meta = {"train": to_dict(cfg), "model_config": self.G.config, "data": data, "lr_only": None if lr_only is None else lr_only.describe(), "pair_config": to_dict(pair_config) if pair_config is not None else None, **parameter_counts(self.G)}
            (self.run / "config.json").write_text(json.dumps(meta, indent=1))
        self.Gt, self.Dt = self.G, self.D
        if self.world > 1:
            ids = [self.local_rank] if self.cuda else None
            self.Gt = torch.nn.parallel.DistributedDataParallel(self.G, device_ids=ids)
            self.Dt = torch.nn.parallel.DistributedDataParallel(self.D, device_ids=ids)
        if cfg.compile:
            self.Gt, self.Dt = torch.compile(self.Gt), torch.compile(self.Dt)

    # ------------------------------------------------------------------ steps

    def generator_step(self, x, y, x_c, gan: bool) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Pixel losses (+ adversarial in the GAN phase) and the generator's update; returns
        (loss, generated batch, loss terms). The discriminator takes no gradients here."""
        cfg = self.cfg
        self.D.requires_grad_(False)
        try:
            with _autocast(self.device, cfg.amp):
                y_g = self.Gt(x)
                loss, terms = objective(cfg, y.float(), y_g.float())
                if gan:
                    with torch.no_grad():
                        c_real = self.D(x_c, y).float()
                    adv = adversarial_loss(c_real, self.D(x_c, y_g).float())
                    loss = loss + cfg.loss.adv * adv
                    terms["adv"] = float(adv.detach())
        finally:
            self.D.requires_grad_(True)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.G.parameters(), cfg.grad_clip)
        self.opt_g.step()
        self.sched.step()
        if self.E is not None:
            self.update_ema()
        return loss.detach(), y_g.detach(), terms

    @torch.no_grad()
    def update_ema(self) -> None:
        """E <- ema E + (1 - ema) G for the weights; buffers copied."""
        for e, g in zip(self.E.parameters(), self.G.parameters()):
            e.lerp_(g, 1.0 - self.cfg.ema)
        for e, g in zip(self.E.buffers(), self.G.buffers()):
            e.copy_(g)

    def discriminator_step(self, x_c, y, y_g) -> float:
        """Relativistic discriminator loss on the real and generated pairs (one forward of
        both, concatenated: instance normalisation is per sample) and its update."""
        with _autocast(self.device, self.cfg.amp):
            c_real, c_fake = self.Dt(torch.cat([x_c, x_c]), torch.cat([y, y_g])).float().chunk(2)
            d_loss = discriminator_loss(c_real, c_fake)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        return float(d_loss.detach())

    # ------------------------------------------------------------------ validation and saving

    def validate_and_save(self, force: bool) -> dict:
        """Rank 0 validates (every ``val_every`` steps) and writes best.* and last.pt
        (every ``ckpt_every``); the other ranks wait at the barriers."""
        cfg, step = self.cfg, self.step
        metrics: dict = {}
        validating = step % cfg.val_every == 0 or force
        saving = step % cfg.ckpt_every == 0 or force
        if validating or saving:
            _barrier()
        net = self.E if self.E is not None else self.G  # the EMA copy is the validated, best model
        if self.rank == 0 and validating:
            metrics = validate(net, self.vx, self.vy, self.device, cfg.amp)
            if metrics["val_psnr"] > self.best:
                self.best = metrics["val_psnr"]
                checkpoint.save(self.run / "best.pt", {"model": net.state_dict(), "model_config": net.config, "step": step, "val_psnr": self.best, "ema": self.E is not None})
                checkpoint.save_weights(self.run / "best.safetensors", net)
        if self.rank == 0 and saving:
            payload = {"model": self.G.state_dict(), "model_config": self.G.config, "disc": self.D.state_dict(), "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "sched": self.sched.state_dict(), "step": step, "best": self.best, "train_config": to_dict(cfg)}
            if self.E is not None:
                payload["ema"] = self.E.state_dict()
            checkpoint.save(self.run / "last.pt", payload)
        if validating or saving:
            _barrier()
        return metrics

    # ------------------------------------------------------------------ loop

    def fit(self) -> dict:
        """Train to ``cfg.steps``; returns the last validation metrics (rank 0)."""
        cfg = self.cfg
        logf = open(self.run / "log.csv", "a", newline="") if self.rank == 0 else None
        writer = csv.DictWriter(logf, fieldnames=LOG_FIELDS, extrasaction="ignore") if logf else None
        if writer and logf.tell() == 0:
            writer.writeheader()
        metrics: dict = {}
        t0, seen = time.perf_counter(), 0
        try:
            while self.step < cfg.steps:
                x, y = (t.to(self.device, non_blocking=True) for t in next(self.batches))
                if cfg.target_blur:
                    y = gaussian_blur(y, cfg.target_blur)
                if cfg.channels_last and self.cuda:
                    x, y = x.contiguous(memory_format=torch.channels_last), y.contiguous(memory_format=torch.channels_last)
                gan = 0 <= cfg.gan_after <= self.step
                x_c = x if cfg.scale == 1 else bicubic_upsample(x, cfg.scale, getattr(self.G, "grid", "probe"))  # the discriminator's condition
                loss, y_g, terms = self.generator_step(x, y, x_c, gan)
                if gan:
                    terms["d_loss"] = self.discriminator_step(x_c, y, y_g)
                self.step += 1
                seen += x.shape[0] * self.world
                last = self.step == cfg.steps
                row = {"step": self.step, "time": round(time.perf_counter() - t0, 2)}
                if self.step % cfg.log_every == 0 or last:
                    row.update({"lr": self.sched.get_last_lr()[0], "samples_per_s": seen / (time.perf_counter() - t0), "loss": float(loss), **terms})
                new = self.validate_and_save(last)
                metrics = new or metrics
                row.update(new)
                if writer and len(row) > 2:
                    writer.writerow(row)
                    logf.flush()
                    if not self.quiet:
                        log.info(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        finally:
            if logf:
                logf.close()
            self.close()
        return metrics


def train(run_dir: str | Path, cfg: TrainConfig = TrainConfig(), *, data: str | None = None, pair_config=None, lr_only=None, device: str | None = None, quiet: bool = False) -> dict:
    """Train (or resume, if run_dir holds last.pt) and return the last validation metrics.

    Parameters
    ----------
    run_dir : folder of the run (created after the data were opened)
    cfg : TrainConfig
    data, pair_config, lr_only : one source: a store path, a simulation config
        (``emsim.pairs.PairConfig``), or LR-only data (``emsim.pairs.lronly.LROnlyData``,
        e.g. from ``lr_only_data``: the network's bicubic residual gets its pixel grid);
        none: simulation with the default config
    device : "cuda", "cpu", ... (default: CUDA if available)
    quiet : no log lines

    Returns
    -------
    dict of the last validation metrics (empty on ranks other than 0).
    """
    return Trainer(run_dir, cfg, data=data, pair_config=pair_config, lr_only=lr_only, device=device, quiet=quiet).fit()


def parameter_counts(model) -> dict:
    """{"parameters": all, "parameters_without_position_tables": without SwinIR's
    relative-position bias tables, as SwinIR reports its size (878,836 for grey x4)}."""
    n = n_parameters(model)
    return {"parameters": n, "parameters_without_position_tables": n - relative_position_parameters(model)}


def config_from(path: str | None = None, recipe_name: str | None = None, **overrides) -> TrainConfig:
    """TrainConfig from defaults, a recipe (``recipe``, at the scale the file or the
    overrides give), a TOML/YAML/JSON file (changing only what it names) and explicit
    (non-None) overrides, in that order."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    file = load_file(path) if path is not None else {}
    scale = int(changes.get("scale", file.get("scale", TrainConfig.scale)))
    return merge(TrainConfig, TrainConfig(), _layered(recipe(recipe_name, scale) if recipe_name else {}, file, changes))


def _layered(*layers: dict) -> dict:
    """Nested dicts merged key by key, later layers winning (checked once, together)."""
    out: dict = {}
    for layer in layers:
        for k, v in layer.items():
            out[k] = _layered(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
