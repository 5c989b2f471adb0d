"""``emsim calibrate``: a distortion config centred on what real images show."""

from __future__ import annotations

import json
from pathlib import Path

import click

from emsim.analysis.calibrate import calibrate as run_calibrate
from emsim.analysis.calibrate import to_toml
from emsim.errors import EmsimError
from emsim.io import read_input


def _pixel_size_A(meta: dict) -> float | None:
    """A file's pixel size in A, where its calibration has a length unit."""
    unit = (meta.get("unit") or "").replace("µ", "u").replace("μ", "u").lower()
    factor = {"a": 1.0, "å": 1.0, "angstrom": 1.0, "nm": 10.0, "um": 1e4, "micron": 1e4, "microns": 1e4, "m": 1e10}.get(unit)
    return meta["scale"] * factor if factor and meta.get("scale") else None


@click.command("calibrate")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--modality", type=click.Choice(["tem", "stem", "sem"]), required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Config to write (.toml); use it with --config / --sim-config.")
@click.option("--pixel-size", type=click.FloatRange(min=1e-4), default=None, help="Pixel size in A (default: from the files' calibration).")
@click.option("--width", type=click.FloatRange(0.01, 0.99), default=0.25, show_default=True, help="Relative half-width of the config's ranges around the estimates.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the per-image estimates (.json).")
def calibrate(images, modality, out, pixel_size, width, report):
    """Estimate dose, detector noise, scan jitter, fast-scan blur, row lines, saturation and
    outlier pixels from IMAGES and write a config whose ranges are centred on them."""
    if out.suffix.lower() != ".toml":
        raise EmsimError(f"{out}: the config is written as .toml")
    loaded = [read_input(p) for p in images]
    sizes = {_pixel_size_A(meta) for _, meta in loaded} - {None}
    if pixel_size is None and len(sizes) == 1:
        pixel_size = sizes.pop()
    config, rep = run_calibrate([img for img, _ in loaded], modality, pixel_size, width)
    est = rep["estimate"]
    head = [f"# emsim calibrate --modality {modality} from {len(images)} image(s): {', '.join(p.name for p in images)}"]
    head.append(f"# estimates: {json.dumps({k: round(v, 6) for k, v in est.items()})}; pixel size {pixel_size} A; ranges +-{100 * width:.0f} %")
    out.write_text("\n".join(head) + "\n" + to_toml(config))
    click.echo(f"wrote {out}")
    jitter = "" if modality == "tem" else f", jitter x {est['jitter_x']:.3g} px / y {est['jitter_y']:.3g} px, fast-scan {'alpha %.3g' % est['fast_alpha'] if est['fast_alpha'] > 0 else 'off'}"
    click.echo(f"dose {est['e_per_px']:.4g} e/px{jitter}, saturated {100 * est['saturated']:.2f} %, zingers {est['zinger_density']:.2g}/px, black pixels {est['black_density']:.2g}/px, row lines {est['row_line_rate']:.2g}/row")
    if pixel_size is None:
        click.echo("note: no pixel size (give --pixel-size): jitter converted at 0.1 A per pixel; the specimen's pixel-size range is unchanged")
    if modality != "tem" and est["e_per_px"] < 50:
        click.echo("note: below ~50 e/px scan jitter is hard to tell from noise in one image; calibrate from several images")
    if report:
        report.write_text(json.dumps(rep, indent=1))
