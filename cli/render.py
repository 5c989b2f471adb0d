"""``emsim render``: clean image of a known structure."""

from __future__ import annotations

import json
from pathlib import Path

import click

from emsim.io import check_writable, write_image
from emsim.imaging.known import default_structure, render_file

from .common import SEED, SIZE


@click.command("render")
@click.argument("structure", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pixel-size", "pixel_size", type=click.FloatRange(min=1e-4, max=100.0), default=0.1, show_default=True, help="Pixel size in A.")
@click.option("--size", type=SIZE, default="256", show_default=True, help="Image size: H [W] in pixels.")
@click.option("--zone-axis", nargs=3, type=int, default=(0, 0, 1), show_default=True, help="Zone axis [u v w] along the beam (a Cartesian direction for a finite structure).")
@click.option("--contrast", type=click.Choice(["zpower", "random"]), default="zpower", show_default=True, help="zpower: intensity ~ Z^gamma (HAADF-like); random: the paper's randomised atom model.")
@click.option("--gamma", type=click.FloatRange(min=0.1, max=4.0), default=1.7, show_default=True, help="Exponent of the zpower contrast.")
@click.option("--width", type=click.FloatRange(min=0.01, max=10.0), default=0.35, show_default=True, help="Column width r_m in A of the zpower contrast.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the random contrast.")
@click.option("--thickness", type=click.FloatRange(min=1e-3), default=None, help="Specimen thickness in A (default: one lattice repeat along the zone axis).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output .tif/.npy/.png (a .json record is written beside it).")
def render(structure, pixel_size, size, zone_axis, contrast, gamma, width, seed, thickness, out):
    """Render STRUCTURE (any file ase reads; default: bundled SrTiO3) along a zone axis."""
    check_writable(out)
    image, record = render_file(structure or default_structure(), pixel_size, size, zone_axis, contrast=contrast, gamma=gamma, width=width, seed=seed, thickness=thickness)
    write_image(out, image, scale=pixel_size / 10, unit="nm")  # A -> nm
    out.with_suffix(".json").write_text(json.dumps(record, indent=1))
    click.echo(f"wrote {out} ({size[0]}x{size[1]}, {record['n_atoms']} atoms, {record['formula']} along {record['zone_axis']})")
