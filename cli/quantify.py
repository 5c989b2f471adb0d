"""``emsim quantify``: Gaussian-peak fits of atomic columns (positions and SCS)."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from emsim.analysis.quantify import FIELDS, fit_columns, read_columns
from emsim.analysis.stats import write_csv
from emsim.errors import EmsimError


@click.command("quantify")
@click.argument("source")
@click.option("--columns", "table", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Starting positions: a CSV with col, row (px).")
@click.option("--index", type=click.IntRange(0), default=None, help="With a store as SOURCE: the sample, whose column truth gives the starting positions.")
@click.option("--image", "which", type=click.Choice(["x", "y"]), default="x", show_default=True, help="With a store: fit the distorted x or the clean y.")
@click.option("--background", type=click.Choice(["constant", "planar"]), default="planar", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Fitted columns (.csv).")
def quantify(source, table, index, which, background, out):
    """Fit the atomic columns of SOURCE (an image, or sample --index of a store with column
    truth) from starting positions: position, width, height and scattering cross-section
    per column, as StatSTEM does."""
    if out.suffix.lower() != ".csv":
        raise EmsimError(f"{out}: the fit is written as .csv")
    truth = None
    if index is not None:
        from emsim.dataset import store

        g = store.open_group(source, "r")
        image = np.asarray(g[which][index], dtype=np.float64)
        truth = store.truth(g, index, ("columns",))["columns"]["columns"]
        start = truth[:, 2:4] if table is None else read_columns(table)
    else:
        if table is None:
            raise EmsimError("give --columns TABLE.csv (starting positions), or a store with --index")
        from emsim.io import read_image

        image, start = read_image(source), read_columns(table)
    if len(start) == 0:
        raise EmsimError("no columns to fit (a store sample needs a zone-axis crystal)")
    fit = fit_columns(image, start, background=background)
    rows = [{k: float(fit[k][i]) for k in FIELDS} for i in range(len(start))]
    if truth is not None and table is None:
        for r, t in zip(rows, truth):
            r.update(true_col=float(t[2]), true_row=float(t[3]), height=int(t[4]), true_scs=float(t[5]))
    write_csv(out, rows)
    err = ""
    if truth is not None and table is None:
        d = np.hypot(fit["col"] - truth[:, 2], fit["row"] - truth[:, 3])
        err = f"; position error vs truth: RMS {np.sqrt(np.nanmean(d * d)):.3g} px"
    click.echo(f"wrote {out} ({len(rows)} columns{err})")
