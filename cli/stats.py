"""``emsim stats``: scale-free statistics of a store or of real images, and coverage."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from emsim.analysis.stats import DISTANCE, IMAGE_FEATURES, PAIR_FEATURES, coverage, histogram_png, source_stats, write_csv
from emsim.errors import EmsimError


def _summary(rows: list[dict], keys) -> list[str]:
    out = []
    for k in keys:
        v = np.array([r[k] for r in rows if k in r], dtype=float)
        v = v[np.isfinite(v)]
        if v.size:
            p5, p50, p95 = np.percentile(v, [5, 50, 95])
            out.append(f"  {k:<22} median {p50:10.4g}   5-95 %: {p5:10.4g} .. {p95:<10.4g}")
    return out


@click.command("stats")
@click.argument("source")
@click.option("--against", "reference", default=None, help="Reference store, image folder or image: how well SOURCE covers it.")
@click.option("--n", "n", type=click.IntRange(3, 100_000), default=256, show_default=True, help="Samples read from a store.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Per-image table (.csv or .json).")
@click.option("--png", type=click.Path(dir_okay=False), default=None, help="Histograms of the features, SOURCE grey, REFERENCE outlined.")
def stats(source, reference, n, out, png):
    """Noise (counts per pixel), contrast, spectrum, scan-noise and saturation statistics of
    SOURCE (a store or a folder of images); with --against, each reference image's
    out-of-distribution score and the share of reference images SOURCE covers."""
    for path, suffixes in ((out, (".csv", ".json")), (png, (".png",))):
        if path and not path.lower().endswith(suffixes):
            raise EmsimError(f"{path}: use {' or '.join(suffixes)}")
    rows = source_stats(source, n)
    ref_rows = source_stats(reference, n) if reference else None
    keys = IMAGE_FEATURES + (PAIR_FEATURES if "psnr" in rows[0] else ())
    click.echo(f"{source}: {len(rows)} images")
    click.echo("\n".join(_summary(rows, keys)))
    result = None
    if ref_rows is not None:
        click.echo(f"{reference}: {len(ref_rows)} images")
        click.echo("\n".join(_summary(ref_rows, [k for k in keys if k in ref_rows[0]])))
        result = coverage(rows, ref_rows)
        click.echo(f"coverage: {100 * result['covered']:.0f} % of the reference images lie within SOURCE (score <= {result['limit']:.2f}, SOURCE's own 95th percentile)")
        for r in sorted(result["reference"], key=lambda r: -r["ood"])[:10]:
            click.echo(f"  {r['name']:<32} ood {r['ood']:6.2f} {'covered' if r['covered'] else 'OUTSIDE'}  nearest {r['nearest']}")
    if out:
        if out.lower().endswith(".json"):
            Path(out).write_text(json.dumps({"source": rows, "reference": ref_rows, "coverage": result}, indent=1))
        else:
            write_csv(out, [{"set": "source", **r} for r in rows] + [{"set": "reference", **r} for r in ref_rows or []])
        click.echo(f"wrote {out}")
    if png:
        histogram_png(png, rows, ref_rows, list(DISTANCE))
        click.echo(f"wrote {png}")
