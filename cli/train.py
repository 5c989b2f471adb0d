"""``emsim train restore``: train a restoration network."""

from __future__ import annotations

import click

from emsim.errors import EmsimError
from emsim.pairs import MODALITIES, resolve_config

from .common import SEED, NetworkChoice


@click.group("train")
def train():
    """Train networks on emsim pairs."""


def _common_options(f):
    options = [
        click.option("--data", type=str, default=None, help="Zarr store from `emsim generate` (the last --val-size samples are held out)."),
        click.option("--on-the-fly", "on_the_fly", is_flag=True, help="Simulate pairs in the DataLoader workers instead of reading a store."),
        click.option("--modality", type=click.Choice(MODALITIES), default=None, help="On-the-fly modality (default stem)."),
        click.option("--resolution", type=click.Choice(["hr", "lr", "mixed"]), default=None, help="On-the-fly resolution (default hr)."),
        click.option("--sim-config", type=click.Path(dir_okay=False), default=None, help="Simulation config file for --on-the-fly."),
        click.option("--out", "run_dir", required=True, type=click.Path(file_okay=False), help="Run directory (resumed if it holds last.pt)."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None, help="Training config file (TOML/YAML/JSON)."),
        click.option("--steps", type=int, default=None),
        click.option("--batch", type=int, default=None),
        click.option("--patch", type=int, default=None),
        click.option("--lr", type=float, default=None),
        click.option("--gan-after", type=int, default=None, help="Step at which the GAN phase starts (-1: never)."),
        click.option("--workers", type=int, default=None, help="DataLoader workers."),
        click.option("--val-size", type=int, default=None),
        click.option("--val-every", type=int, default=None),
        click.option("--ckpt-every", type=int, default=None),
        click.option("--seed", type=SEED, default=None),
        click.option("--device", type=str, default=None, help="cuda | cpu (default: cuda if available)."),
        click.option("--amp/--no-amp", default=None, help="bf16 autocast on CUDA."),
        click.option("--compile", "compile_", is_flag=True, default=None, help="torch.compile the networks."),
        click.option("--quiet", is_flag=True),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def _rank0() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


def _logging(quiet: bool) -> None:
    """Training log lines on stdout (rank 0; ``restoration.train`` logs nothing elsewhere)."""
    import logging
    import sys

    if not quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)


def _data_source(data, on_the_fly, modality, resolution, sim_config, **sim_overrides):
    if bool(data) == bool(on_the_fly):
        raise EmsimError("give exactly one of --data PATH or --on-the-fly")
    if data:
        return data, None
    return None, resolve_config(sim_config, modality=modality, resolution=resolution, **sim_overrides)


@train.command("restore")
@click.option("--model", type=NetworkChoice("restore"), default=None, help="Generator network (default: the first listed).")
@_common_options
def restore(model, data, on_the_fly, modality, resolution, sim_config, run_dir, config_file, steps, batch, patch, lr, gan_after, workers, val_size, val_every, ckpt_every, seed, device, amp, compile_, quiet):
    """Train CGRDN/GRDN with the paper's losses (pixel losses, then the relativistic GAN)."""
    from restoration.train import config_from, train as run_train

    data, pair_config = _data_source(data, on_the_fly, modality, resolution, sim_config)
    cfg = config_from(config_file, model=model, steps=steps, batch=batch, patch=patch, lr=lr, gan_after=gan_after, workers=workers, val_size=val_size, val_every=val_every, ckpt_every=ckpt_every, seed=seed, amp=amp, compile=compile_)
    _logging(quiet)
    metrics = run_train(run_dir, cfg, data=data, pair_config=pair_config, device=device, quiet=quiet)
    if metrics and _rank0():
        click.echo(f"validation: PSNR {metrics['val_psnr']:.2f} dB (raw {metrics['raw_psnr']:.2f} dB), SSIM {metrics['val_ssim']:.4f} (raw {metrics['raw_ssim']:.4f})")


@train.command("sr")
@click.option("--model", type=NetworkChoice("sr"), default=None, help="SR network (default: the first listed).")
@click.option("--scale", type=click.IntRange(2, 16), default=4, show_default=True)
@click.option("--lr-only-folder", type=click.Path(file_okay=False), default=None, help="Real LR images (.tif/.npy): train with an LR-only pipeline instead of simulated pairs.")
@click.option("--lr-only-pipeline", type=click.Choice(["multiscale", "pixmix", "coverage"]), default="multiscale", show_default=True)
@click.option("--mixing-dir", type=click.Path(file_okay=False), default=None, help="PixMix mixing set folder (generated there if empty).")
@_common_options
def sr(model, scale, lr_only_folder, lr_only_pipeline, mixing_dir, data, on_the_fly, modality, resolution, sim_config, run_dir, config_file, steps, batch, patch, lr, gan_after, workers, val_size, val_every, ckpt_every, seed, device, amp, compile_, quiet):
    """Train a super-resolution network on simulated LR/HR pairs, a store from
    `emsim generate --task sr`, or real LR images through an LR-only pipeline."""
    from restoration.train import config_from, train as run_train

    cfg = config_from(config_file, model=model, scale=scale, steps=steps, batch=batch, patch=patch, lr=lr, gan_after=-1 if gan_after is None else gan_after, workers=workers, val_size=val_size, val_every=val_every, ckpt_every=ckpt_every, seed=seed, amp=amp, compile=compile_)
    lr_only = None
    pair_config = None
    if lr_only_folder:
        if data or on_the_fly:
            raise EmsimError("give one of --data, --on-the-fly or --lr-only-folder")
        from emsim.pairs.lronly import PIPELINES, LROnlyPairs

        cls = PIPELINES[lr_only_pipeline]
        pipeline = cls(s=(scale,)) if lr_only_pipeline == "coverage" else cls(scale=scale)
        lr_only = LROnlyPairs(lr_only_folder, pipeline, hr_size=cfg.patch, seed=cfg.seed, mixing=mixing_dir)
    else:
        data, pair_config = _data_source(data, on_the_fly, modality, resolution, sim_config, task="sr", sr={"scale": scale})
    _logging(quiet)
    metrics = run_train(run_dir, cfg, data=data, pair_config=pair_config, lr_only=lr_only, device=device, quiet=quiet)
    if metrics and _rank0():
        click.echo(f"validation: PSNR {metrics['val_psnr']:.2f} dB (bicubic {metrics['raw_psnr']:.2f} dB), SSIM {metrics['val_ssim']:.4f} (bicubic {metrics['raw_ssim']:.4f})")
