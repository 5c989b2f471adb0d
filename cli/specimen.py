"""``emsim specimen``: a random specimen (extxyz) and optionally its clean projection."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from emsim.config import load_file, merge
from emsim.errors import EmsimError
from emsim.io import check_writable, write_image
from emsim.specimen import SpecimenConfig, generate_specimen

from .common import SEED, SIZE

STRUCTURE_SUFFIXES = (".extxyz", ".xyz")


def _config(path: Path | None) -> SpecimenConfig:
    """Specimen settings from a TOML/YAML/JSON file: the whole file, or its [specimen] table."""
    if path is None:
        return SpecimenConfig()
    data = load_file(path)
    if isinstance(data.get("specimen"), dict):
        data = data["specimen"]
    return merge(SpecimenConfig, SpecimenConfig(), data)


@click.command("specimen")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed.")
@click.option("--size", type=SIZE, default="256", show_default=True, help="Image size: H [W] in pixels.")
@click.option("--pixel-size", "pixel_size", type=click.FloatRange(min=1e-4, max=100.0), default=None, help="Pixel size in A (default: drawn from the config, U[0.025, 0.9]).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Config file (.toml/.yaml/.json): specimen settings or a [specimen] table.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output .extxyz (a .json record is written beside it).")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the rendered clean image (.png/.tif/.npy).")
def specimen(seed, size, pixel_size, config_path, out, png):
    """Generate a random specimen (crystalline, amorphous or isolated atoms, with support)."""
    if out.suffix.lower() not in STRUCTURE_SUFFIXES:
        raise EmsimError(f"{out}: unknown structure format {out.suffix!r} (use .extxyz or .xyz)")
    check_writable(out, STRUCTURE_SUFFIXES)
    if png is not None:
        check_writable(png)
    config = _config(config_path)
    spec_seed, image_seed = np.random.SeedSequence(seed).spawn(2)
    spec = generate_specimen(np.random.default_rng(spec_seed), config, shape=size, pixel_size=pixel_size)
    import ase.io

    try:
        ase.io.write(str(out), spec.to_ase(), format="extxyz")
    except OSError as e:
        raise EmsimError(f"cannot write {out}: {e.strerror or e}") from None
    record = {"seed": seed, "specimen": spec.info}
    if png is not None:
        record["image"] = _render(spec, np.random.default_rng(image_seed), png)
    out.with_suffix(".json").write_text(json.dumps(record, indent=1))
    info = spec.info
    support = info["support"]["type"] + " support" if info["support"] else "no support"
    click.echo(f"wrote {out} ({len(spec)} atoms, {info['type']}, {support}, dr {spec.pixel_size:.3f} A)")


def _render(spec, rng: np.random.Generator, path: Path) -> dict:
    """Clean image: the paper's random atom models (eq. 17-22), eq. 16, tone mapping (eq. 23-26)."""
    from emsim.imaging.atom_models import sample_atom_models
    from emsim.imaging.render import render_clean
    from emsim.imaging.tonemap import tone_map

    species = np.flatnonzero(np.bincount(spec.numbers, minlength=1))
    models, contrast = sample_atom_models(rng, species)
    clean = render_clean(spec.xy, spec.numbers, models, spec.pixel_size, spec.shape)
    image, tone = tone_map(clean, rng)
    write_image(path, image, scale=spec.pixel_size / 10, unit="nm")  # A -> nm
    return {"path": str(path), "contrast": contrast, "tone_map": tone}
