"""``emsim preview``: contact sheet of pairs from a config or from a store."""

from __future__ import annotations

import click

from emsim.io import check_writable, write_image
from emsim.pairs import MODALITIES, resolve_config
from emsim.dataset.preview import preview_config, preview_store

from .common import SEED, SIZE


@click.command("preview")
@click.argument("store_path", required=False)
@click.option("--modality", type=click.Choice(MODALITIES), default=None)
@click.option("--resolution", type=click.Choice(["hr", "lr", "mixed"]), default=None)
@click.option("--size", type=SIZE, default=None, help="Image size H [W] (default from config: 256).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None)
@click.option("--n", "n", type=click.IntRange(1, 256), default=16, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--tile", type=click.IntRange(32, 1024), default=192, show_default=True, help="Pixels per image on the sheet.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output .png")
def preview(store_path, modality, resolution, size, config_file, n, seed, tile, out):
    """Sheet of pairs, x above y, captioned with modality, pixel size, dose and specimen.

    With STORE_PATH: the first N samples of that store; otherwise N fresh pairs.
    """
    check_writable(out, (".png",))
    if store_path:
        img = preview_store(store_path, n, tile)
    else:
        img = preview_config(resolve_config(config_file, modality=modality, resolution=resolution, shape=size), seed, n, tile)
    write_image(out, img)
    click.echo(f"wrote {out}")
