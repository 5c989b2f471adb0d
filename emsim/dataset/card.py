"""Dataset cards: ``README.md`` and a machine-readable ``card.json`` at the root of every
complete store: emsim version, the command line, seed, n, arrays (shapes, dtypes), the
resolved config with its hash and the paper's defaults it departs from, statistics (as
``emsim info``), truth channels, redraw rate, how to load it and what to cite."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from .._version import __version__
from ..config import to_dict
from . import store

CARD = ("README.md", "card.json")
CITATION = "I. Lobato, T. Friedrich and S. Van Aert, Deep convolutional neural networks to restore single-shot electron microscopy images, npj Computational Materials (2024); arXiv:2303.17025"


def departures(config) -> list[dict]:
    """The settings of a ``PairConfig`` that differ from the paper's defaults (emsim's
    ``PairConfig()``): [{"key": dotted path, "value": ..., "default": ...}]."""
    from ..pairs import PairConfig

    if not isinstance(config, PairConfig):
        return []
    out: list[dict] = []

    def walk(a, b, prefix):
        if isinstance(a, dict) and isinstance(b, dict):
            for k in a:
                walk(a[k], b.get(k), f"{prefix}.{k}" if prefix else k)
        elif a != b:
            out.append({"key": prefix, "value": a, "default": b})

    walk(to_dict(config), to_dict(PairConfig()), "")
    return out


def card(path: str, config, command: str | None = None) -> dict:
    """The card of the store at ``path`` (a dict, what card.json holds)."""
    attrs = store.read_attrs(path)
    d = store.describe(path)
    g = store.open_group(path, "r")
    arrays = {name: {"shape": list(g[name].shape), "dtype": str(g[name].dtype)} for name in ("x", "y", "masks", "displacement", "counts") if name in g}
    return {
        "emsim_version": __version__,
        "store_format": attrs["format"],
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "created": attrs.get("created"),
        "command": command,
        "seed": d["seed"],
        "n": d["samples"],
        "shard_size": d["shards"]["size"],
        "arrays": arrays,
        "truth": d["truth"],
        "config_hash": d["config_hash"],
        "config": attrs.get("config"),
        "departures_from_paper_defaults": departures(config),
        "statistics": {k: d.get(k) for k in ("x", "y", "pixel_size", "dose", "modality", "resolution", "redraws")},
        "cite": CITATION,
    }


def markdown(c: dict, name: str) -> str:
    """README.md of a card."""
    lines = [f"# {name}: emsim dataset", "", f"{c['n']} (distorted x, clean y) pairs made by emsim {c['emsim_version']} (store format {c['store_format']}), seed {c['seed']}, {c['shard_size']} samples per shard."]
    if c["command"]:
        lines += ["", "```bash", c["command"], "```"]
    cfg = c["config"] or {}
    lines += ["", "## Contents", "", "| array | shape | dtype |", "|---|---|---|"]
    lines += [f"| `{k}` | {v['shape']} | {v['dtype']} |" for k, v in c["arrays"].items()]
    lines += ["", "Per sample also `pixel_size` (A), `dose` (e/A^2), `modality`, `resolution`, `records` (the JSON record of everything drawn; `emsim.distort.replay` re-applies its distortions)."]
    if c["truth"]:
        lines += [f"Ground truth: {', '.join(c['truth'])} (read with `emsim.dataset.store.truth(group, i)`)."]
    lines += ["", "## Config", "", f"Modality {cfg.get('modality')}, resolution {cfg.get('resolution')}, image {cfg.get('shape')}, task {cfg.get('task')}; config hash `{c['config_hash'][:16]}` (the full resolved config is in card.json and the store's attributes)."]
    dep = c["departures_from_paper_defaults"]
    lines += ["", "Departures from the paper's defaults:" if dep else "No departures from the paper's defaults (Lobato et al. 2023, as emsim reads them)."]
    lines += [f"- `{x['key']}` = {json.dumps(x['value'])} (default {json.dumps(x['default'])})" for x in dep]
    st = c["statistics"]
    lines += ["", "## Statistics", ""]
    for k in ("x", "y"):
        if st.get(k):
            v = st[k]
            lines.append(f"- `{k}`: mean {v['mean']:.4g}, std {v['std']:.4g}, min {v['min']:.4g}, max {v['max']:.4g}")
    for k, unit in (("pixel_size", "A"), ("dose", "e/A^2")):
        if st.get(k):
            v = st[k]
            lines.append(f"- {k}: {v['min']:.4g} .. {v['max']:.4g} {unit}, median {v['median']:.4g}")
    for k in ("modality", "resolution"):
        if st.get(k):
            lines.append(f"- {k}: " + ", ".join(f"{a} {b}" for a, b in st[k].items()))
    if st.get("redraws"):
        lines.append(f"- degenerate first draws redrawn: {100 * st['redraws']['rate']:.2f} % (of {st['redraws']['sampled']} sampled)")
    lines += [
        "",
        "## Loading",
        "",
        "```python",
        "import zarr",
        f'g = zarr.open_group("{name}", mode="r")',
        'x, y = g["x"][0], g["y"][0]',
        "",
        "import xarray as xr  # dimension names are stored",
        f'ds = xr.open_zarr("{name}", consolidated=True)',
        "",
        "from emsim.dataset.torch import ZarrPairs  # PyTorch",
        f'pairs = ZarrPairs("{name}")',
        "```",
        "",
        "## Cite",
        "",
        c["cite"],
        "",
    ]
    return "\n".join(lines)


def write(path: str, config, command: str | None = None) -> None:
    """Write README.md and card.json at the root of the store at ``path``."""
    c = card(path, config, command)
    name = Path(str(path).rstrip("/")).name
    texts = {"README.md": markdown(c, name), "card.json": json.dumps(c, indent=1, default=str)}
    if "://" in str(path):
        import fsspec

        for fname, text in texts.items():
            with fsspec.open(f"{str(path).rstrip('/')}/{fname}", "w") as f:
                f.write(text)
        return
    for fname, text in texts.items():
        (Path(path) / fname).write_text(text)
