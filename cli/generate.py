"""``emsim generate``: stream pairs into a sharded zarr store."""

from __future__ import annotations

import click

from emsim.dataset.generate import generate as run_generate
from emsim.pairs import MODALITIES, resolve_config

from .common import SEED, SIZE, command_line


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}"
        n /= 1024


@click.command("generate")
@click.option("--modality", type=click.Choice(MODALITIES), default=None, help="Detector and scan model (default from config: stem).")
@click.option("--n", "n", type=int, required=True, help="Number of pairs.")
@click.option("--out", required=True, help="Store path or URL (zarr v3 group).")
@click.option("--size", type=SIZE, default=None, help="Image size H [W] (default from config: 256).")
@click.option("--resolution", type=click.Choice(["hr", "lr", "mixed"]), default=None, help="Atomic-resolution specimens, low-resolution scenes, or both.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Dataset seed: sample i is a pure function of (seed, i, config).")
@click.option("--workers", type=int, default=None, help="Worker processes (default: all cores).")
@click.option("--shard-size", type=int, default=64, show_default=True, help="Samples per zarr shard (one task writes one shard).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None, help="TOML/YAML/JSON file overriding the paper's defaults.")
@click.option("--scheduler", default="local", show_default=True, help="local | dask-local | tcp://HOST:PORT (Dask scheduler).")
@click.option("--dtype", type=click.Choice(["float32", "float16"]), default="float32", show_default=True, help="Stored precision of x and y.")
@click.option("--task", type=click.Choice(["restore", "sr"]), default=None, help="restore (x, y on one grid) or sr (x an LR scan of y's field).")
@click.option("--scale", type=int, default=None, help="SR factor s: x is (H/s, W/s) (default 4).")
@click.option("--sr-mode", type=click.Choice(["scan", "paired"]), default=None, help="SR pairs: LR scan of the field, or LR field + misregistered HR sub-region.")
@click.option("--truth", default="", help="Ground truth to store beside the pairs, comma-separated: columns, masks, displacement, counts.")
@click.option("--overwrite", is_flag=True, help="Replace an existing store made with another config or seed.")
@click.option("--repair", is_flag=True, help="Verify the completed shards and regenerate exactly the corrupted ones.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def generate(modality, n, out, size, resolution, seed, workers, shard_size, config_file, scheduler, dtype, task, scale, sr_mode, truth, overwrite, repair, quiet):
    """Generate N deterministic (distorted, clean) pairs into the store OUT.

    Re-running the same command resumes an interrupted run (only missing shards are made);
    --repair also regenerates shards whose checksums fail.
    """
    sr = {k: v for k, v in (("scale", scale), ("mode", sr_mode)) if v is not None}
    config = resolve_config(config_file, modality=modality, resolution=resolution, shape=size, task=task, sr=sr or None)
    s = run_generate(out, n, config, seed=seed, workers=workers, shard_size=shard_size, dtype=dtype, scheduler=scheduler, overwrite=overwrite, progress=not quiet, truth=truth, repair=repair, command=command_line(click.get_current_context()))
    resumed = f" ({s.skipped} already present)" if s.skipped else ""
    if repair:
        click.echo("repair: " + (f"regenerated shard(s) {', '.join(map(str, s.repaired))}" if s.repaired else "no corrupt shards"))
    click.echo(f"{s.pairs} pairs in {s.seconds:.1f} s ({s.pairs_per_second:.2f} pairs/s){resumed}; store {out}: {_human(s.bytes)}")
    if s.stage_seconds and s.pairs:
        total = sum(s.stage_seconds.values())
        click.echo("per pair (worker time): " + ", ".join(f"{k} {1e3 * v / s.pairs:.1f} ms" for k, v in s.stage_seconds.items()) + f", total {1e3 * total / s.pairs:.1f} ms")
