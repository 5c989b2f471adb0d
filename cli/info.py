"""``emsim info``: what a store holds."""

from __future__ import annotations

import json

import click

from emsim.dataset.store import describe


@click.command("info")
@click.argument("path")
@click.option("--verify", is_flag=True, help="Recompute every shard's checksum.")
@click.option("--json", "as_json", is_flag=True, help="Print the full summary as JSON.")
def info(path, verify, as_json):
    """Sample count, completeness, config summary and value statistics of a store."""
    d = describe(path, verify_checksums=verify)
    if as_json:
        click.echo(json.dumps(d, indent=1))
        return
    cfg = d.get("config") or {}
    click.echo(f"{d['path']}: {d['complete']}/{d['samples']} samples complete ({d['shards']['complete']}/{d['shards']['total']} shards of {d['shards']['size']})")
    click.echo(f"x {d['shape_x']} y {d['shape_y']} {d['dtype']}; seed {d['seed']}; config {d['config_hash'][:12]}; emsim {d['emsim_version']}; created {d['created']}")
    if d.get("card"):
        click.echo(f"card: {d['card']}")
    if d["truth"]:
        click.echo(f"truth: {', '.join(d['truth'])} (read with emsim.dataset.store.truth(group, i))")
    if d["old_format"]:
        click.echo(f"note: {d['old_format']}")
    click.echo(f"config: modality {cfg.get('modality')}, resolution {cfg.get('resolution')}, shape {cfg.get('shape')}")
    for key in ("modality", "resolution"):
        if key in d:
            click.echo(f"{key}: " + ", ".join(f"{k} {v}" for k, v in d[key].items()))
    for key, unit in (("pixel_size", "A"), ("dose", "e/A^2")):
        if d.get(key):
            v = d[key]
            click.echo(f"{key}: {v['min']:.4g} .. {v['max']:.4g} {unit} (median {v['median']:.4g})")
    for key in ("x", "y"):
        if key in d:
            v = d[key]
            click.echo(f"{key}: mean {v['mean']:.4g} std {v['std']:.4g} min {v['min']:.4g} max {v['max']:.4g}{'' if v['finite'] else ' NON-FINITE VALUES'}")
    if d.get("redraws"):
        r = d["redraws"]
        click.echo(f"redraws: {100 * r['rate']:.2f} % of {r['sampled']} sampled pairs were redrawn from a degenerate first draw (mean {r['mean']:.3f} redraws)")
    if verify:
        bad = d["corrupt_shards"]
        click.echo("checksums: all shards verified" if not bad else f"checksums: {len(bad)} corrupt shard(s): " + ", ".join(f"{k} ({v})" for k, v in bad.items()))
        if bad:
            raise SystemExit(1)
