"""``emsim train restore`` and ``emsim train sr``: train a restoration or super-resolution
network (``sr``: on simulated pairs, a store, or real LR images through an LR-only
pipeline, with a recipe of training settings)."""

from __future__ import annotations

import click

from emsim.errors import EmsimError
from emsim.pairs import MODALITIES, resolve_config
from emsim.pairs.lronly import INTENSITIES

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


class FactorSet(click.ParamType):
    """A set of multi-scale factors: ``0.5,0.6,0.7``; ``none`` (or empty) switches the
    sub-process off."""

    name = "F,F,..."

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        text = str(value).strip().lower()
        if text in ("", "none"):
            return ()
        try:
            return tuple(float(v) for v in text.split(","))
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of numbers (or 'none')", param, ctx)


RECIPES = ("emsim", "moeller2023", "moeller2024", "ede2019")  # restoration.train.RECIPES, without importing torch here


def _report(run_dir, metrics, baseline: str) -> None:
    """The run's summary lines: parameters (SwinIR's count beside the full one) and validation."""
    import json
    from pathlib import Path

    meta = json.loads((Path(run_dir) / "config.json").read_text())
    n, m = meta["parameters"], meta["parameters_without_position_tables"]
    counts = f"{n:,} parameters" + (f" ({m:,} without relative-position bias tables, as SwinIR counts)" if m != n else "")
    click.echo(f"model {meta['model_config']['arch']}: {counts}")
    if metrics:
        click.echo(f"validation: PSNR {metrics['val_psnr']:.2f} dB ({baseline} {metrics['raw_psnr']:.2f} dB), SSIM {metrics['val_ssim']:.4f} ({baseline} {metrics['raw_ssim']:.4f})")


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
    if _rank0():
        _report(run_dir, metrics, "raw")


@train.command("sr")
@click.option("--model", type=NetworkChoice("sr"), default=None, help="SR network (default: the recipe's, else the first listed).")
@click.option("--scale", type=click.IntRange(2, 16), default=4, show_default=True)
@click.option("--recipe", type=click.Choice(RECIPES), default="emsim", show_default=True, help="Training settings: emsim's own, or a paper's (SwinIR-light as Moeller 2023 / 2024 train it; Ede 2019's policy). --config and explicit options override it.")
@click.option("--lr-only-folder", type=click.Path(file_okay=False), default=None, help="Real LR images (.tif/.npy): train with an LR-only pipeline instead of simulated pairs.")
@click.option("--val-folder", type=click.Path(file_okay=False), default=None, help="HR reference images for LR-only validation, degraded by the pipeline (default: the last 10 % of the LR images are held out).")
@click.option("--lr-only-pipeline", type=click.Choice(["multiscale", "pixmix", "coverage"]), default=None, help="LR-only pipeline (default: the recipe's, else multiscale).")
@click.option("--intensity", type=click.Choice(INTENSITIES), default=None, help="LR-only gray values: raw, image (each image to [0, 1]) or crop (each pair to [0, 1]).")
@click.option("--ms-alpha", type=FactorSet(), default=None, help="Multi-scale factor set A of sub-process (2) (default: Table 1's for the scale).")
@click.option("--ms-beta", type=FactorSet(), default=None, help="Multi-scale factor set B of sub-process (3).")
@click.option("--ms-gamma", type=FactorSet(), default=None, help="Multi-scale factor set Gamma of sub-process (4).")
@click.option("--k-max", type=click.IntRange(0), default=None, help="PixMix's maximum number of mixing iterations K_max.")
@click.option("--pixmix-beta", type=click.FloatRange(0, min_open=True), default=None, help="PixMix's beta (mixing weight distributions).")
@click.option("--mixing-dir", type=click.Path(file_okay=False), default=None, help="PixMix mixing set folder (generated there if empty).")
@_common_options
def sr(model, scale, recipe, lr_only_folder, val_folder, lr_only_pipeline, intensity, ms_alpha, ms_beta, ms_gamma, k_max, pixmix_beta, mixing_dir, data, on_the_fly, modality, resolution, sim_config, run_dir, config_file, steps, batch, patch, lr, gan_after, workers, val_size, val_every, ckpt_every, seed, device, amp, compile_, quiet):
    """Train a super-resolution network on simulated LR/HR pairs, a store from
    `emsim generate --task sr`, or real LR images through an LR-only pipeline."""
    from restoration.train import config_from, lr_only_data, train as run_train

    sections = {"multiscale": {"alpha": ms_alpha, "beta": ms_beta, "gamma": ms_gamma}, "pixmix": {"k_max": k_max, "beta": pixmix_beta}}
    lr_options = {k: {n: v for n, v in sec.items() if v is not None} for k, sec in sections.items()}
    lr_options = {k: v for k, v in lr_options.items() if v} | {k: v for k, v in (("pipeline", lr_only_pipeline), ("intensity", intensity)) if v is not None}
    if not lr_only_folder and (lr_options or val_folder or mixing_dir):
        raise EmsimError("--val-folder, --mixing-dir and the LR-only pipeline options need --lr-only-folder")
    cfg = config_from(config_file, recipe, model=model, scale=scale, steps=steps, batch=batch, patch=patch, lr=lr, gan_after=gan_after, workers=workers, val_size=val_size, val_every=val_every, ckpt_every=ckpt_every, seed=seed, amp=amp, compile=compile_, lr_only=lr_options or None)
    lr_only = None
    pair_config = None
    if lr_only_folder:
        if data or on_the_fly:
            raise EmsimError("give one of --data, --on-the-fly or --lr-only-folder")
        lr_only = lr_only_data(cfg, lr_only_folder, val_folder, mixing_dir)
    else:
        data, pair_config = _data_source(data, on_the_fly, modality, resolution, sim_config, task="sr", sr={"scale": scale})
    _logging(quiet)
    metrics = run_train(run_dir, cfg, data=data, pair_config=pair_config, lr_only=lr_only, device=device, quiet=quiet)
    if _rank0():
        _report(run_dir, metrics, "bicubic")
