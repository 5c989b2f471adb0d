"""Sharded zarr v3 stores of (distorted x, clean y) pairs.

Layout of a store (a zarr v3 group at any path or URL zarr + fsspec accept):

    x, y          (n, H, W) float32 (or float16); one chunk per sample, K samples per shard
    pixel_size    (n,) float64, A
    dose          (n,) float64, electrons per A^2 (NaN where no dose was drawn)
    modality      (n,) str: tem | stem | sem
    resolution    (n,) str: hr | lr
    records       (n,) str: JSON record of everything drawn for the sample
    manifest      (n_shards,) str: JSON entry per completed shard (start, count, sha256)

Ground truth (``emsim generate --truth``, ``emsim.pairs.truth``), when requested:

    masks         (n, H, W) uint8 (on y's grid)
    displacement  (n, 2, H, W) float32, A (on x's grid)
    counts        (n, H, W) float32, expected electrons per pixel (on x's grid)
    columns/s{shard}/  per shard, ragged per-sample float32 tables: ``atoms`` (N, 5: x, y A, col,
                  row px, Z), ``columns`` (C, 6: x, y A, col, row px, height, scs),
                  ``species`` (S, 3: column index, Z, count), each with ``*_offsets``
                  (K + 1,) into it, and ``linear_tone`` (K,); read with ``truth(group, i)``

Every per-sample array has K samples per shard/chunk, so a task that owns shard s writes
whole shards only (two writers touching one zarr shard would lose data). The manifest
entry of a shard is written last, so a shard without an entry is incomplete and is
regenerated on resume. Root attribute "emsim" holds the version, seed, resolved config and
its hash, creation time, n and shapes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmsimError

# 2: distortion records hold a seed per sample and per-effect parameters with the seeds of
#    their random fields (replayable); stores of format 1 are readable, not resumable.
FORMAT_VERSION = 2
SCALARS = ("pixel_size", "dose", "modality", "resolution", "records")
# per-sample truth arrays: (shape, dtype) from the spec
TRUTH_ARRAYS = {
    "masks": lambda spec: (spec.shape_y, "uint8"),
    "displacement": lambda spec: ((2, *spec.shape_x), "float32"),
    "counts": lambda spec: (spec.shape_x, "float32"),
}
TABLES = ("atoms", "columns", "species")
# zarr v3 dimension names (xarray opens the store with them; x and y grids may differ in SR stores)
DIMENSIONS = {"x": ("sample", "x_row", "x_col"), "y": ("sample", "y_row", "y_col"), "masks": ("sample", "y_row", "y_col"), "displacement": ("sample", "component", "x_row", "x_col"), "counts": ("sample", "x_row", "x_col")}



@dataclasses.dataclass(frozen=True)
class StoreSpec:
    """What a store holds: the key that must match for a resume."""

    n: int
    shape_x: tuple[int, int]
    shape_y: tuple[int, int]
    shard_size: int
    dtype: str
    seed: int
    config_hash: str
    truth: tuple[str, ...] = ()

    @property
    def n_shards(self) -> int:
        return math.ceil(self.n / self.shard_size)

    def shard_range(self, shard: int) -> tuple[int, int]:
        start = shard * self.shard_size
        return start, min(self.n, start + self.shard_size)


def _zarr():
    import zarr

    return zarr


def open_group(path: str, mode: str):
    try:
        return _zarr().open_group(str(path), mode=mode)
    except (FileNotFoundError, KeyError):
        raise EmsimError(f"no emsim store at {path}") from None
    except Exception as e:  # zarr raises several types for a non-group path
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise EmsimError(f"cannot open store {path}: {msg}") from None


def exists(path: str) -> bool:
    try:
        _zarr().open_group(str(path), mode="r")
        return True
    except Exception:
        return False


def create(path: str, spec: StoreSpec, attrs: dict) -> None:
    """Create an empty store (overwriting whatever is at ``path``)."""
    zarr = _zarr()
    g = zarr.open_group(str(path), mode="w")
    K = spec.shard_size
    per_sample = {"x": (spec.shape_x, spec.dtype), "y": (spec.shape_y, spec.dtype)}
    for name in ("masks", "displacement", "counts"):
        if name in spec.truth:
            per_sample[name] = TRUTH_ARRAYS[name](spec)
    for name, (shape, dtype) in per_sample.items():
        g.create_array(name, shape=(spec.n, *shape), chunks=(1, *shape), shards=(K, *shape), dtype=dtype, fill_value=0 if dtype == "uint8" else np.nan, dimension_names=DIMENSIONS[name])
    for name in ("pixel_size", "dose"):
        g.create_array(name, shape=(spec.n,), chunks=(K,), dtype="float64", fill_value=np.nan, dimension_names=("sample",))
    for name in ("modality", "resolution", "records"):
        g.create_array(name, shape=(spec.n,), chunks=(K,), dtype=str, dimension_names=("sample",))
    g.create_array("manifest", shape=(spec.n_shards,), chunks=(1,), dtype=str, dimension_names=("shard",))
    g.attrs["emsim"] = {**attrs, "format": FORMAT_VERSION, **_spec_attrs(spec)}


def _spec_attrs(spec: StoreSpec) -> dict:
    d = dataclasses.asdict(spec)
    d["shape_x"], d["shape_y"], d["truth"] = list(spec.shape_x), list(spec.shape_y), list(spec.truth)
    return d


def read_attrs(path: str) -> dict:
    g = open_group(path, "r")
    attrs = dict(g.attrs).get("emsim")
    if not isinstance(attrs, dict) or not isinstance(attrs.get("format"), int):
        raise EmsimError(f"{path} is not an emsim store")
    if attrs["format"] > FORMAT_VERSION:
        raise EmsimError(f"{path} has store format {attrs['format']}, newer than this emsim reads ({FORMAT_VERSION}): upgrade emsim")
    return attrs


def old_format(attrs: dict) -> str | None:
    """Why a readable store cannot be resumed by this emsim, or None."""
    if attrs["format"] == FORMAT_VERSION:
        return None
    return f"made by emsim {attrs.get('emsim_version', '?')} (store format {attrs['format']}; this emsim writes format {FORMAT_VERSION}): resume needs --overwrite"


def spec_of(attrs: dict) -> StoreSpec:
    fields = {f.name for f in dataclasses.fields(StoreSpec)}
    d = {k: attrs[k] for k in fields if k in attrs}  # format 1 stores have no truth
    d["shape_x"], d["shape_y"] = tuple(d["shape_x"]), tuple(d["shape_y"])
    d["truth"] = tuple(d.get("truth", ()))
    return StoreSpec(**d)


def mismatch(existing: StoreSpec, wanted: StoreSpec) -> str | None:
    """Name the first field that differs between two specs, or None."""
    for f in dataclasses.fields(StoreSpec):
        a, b = getattr(existing, f.name), getattr(wanted, f.name)
        if a != b:
            return f"{f.name} {a} (store) != {b} (requested)"
    return None


def shard_checksum(x: np.ndarray, y: np.ndarray, records: list[str], truth: dict | None = None) -> str:
    """SHA-256 of a shard's data as stored (x, y bytes, the JSON records and the truth
    arrays, in name order)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    for r in records:
        h.update(r.encode())
        h.update(b"\n")
    for name in sorted(truth or {}):
        h.update(name.encode())
        h.update(np.ascontiguousarray(truth[name]).tobytes())
    return h.hexdigest()


def _ragged(tables: list[dict]) -> dict[str, np.ndarray]:
    """Per-sample column tables of a shard as flat arrays with offsets."""
    out: dict[str, np.ndarray] = {}
    for name in TABLES:
        parts = [np.asarray(t[name], dtype=np.float32) for t in tables]
        out[name] = np.concatenate(parts)
        out[f"{name}_offsets"] = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    out["linear_tone"] = np.array([t["linear_tone"] for t in tables], dtype=np.float32)
    return out


def _shard_truth(group, spec: StoreSpec, shard: int) -> dict[str, np.ndarray]:
    """The truth arrays of a stored shard (as ``write_shard`` checksums them)."""
    start, stop = spec.shard_range(shard)
    out = {name: group[name][start:stop] for name in TRUTH_ARRAYS if name in spec.truth}
    if "columns" in spec.truth:
        sub = group[f"columns/s{shard}"]
        out.update({f"columns/{k}": sub[k][:] for k in (*TABLES, *(f"{t}_offsets" for t in TABLES), "linear_tone")})
    return out


def write_shard(group, spec: StoreSpec, shard: int, columns: dict[str, Any]) -> dict:
    """Write one whole shard (x, y, the per-sample arrays and the truth), then its manifest
    entry."""
    start, stop = spec.shard_range(shard)
    x = np.asarray(columns["x"], dtype=spec.dtype)
    y = np.asarray(columns["y"], dtype=spec.dtype)
    if x.shape[0] != stop - start:
        raise ValueError(f"shard {shard} has {x.shape[0]} samples, expected {stop - start}")
    _clear_shard(group, spec, shard)
    group["x"][start:stop] = x
    group["y"][start:stop] = y
    for name in SCALARS:
        values = columns[name]
        group[name][start:stop] = np.asarray(values, dtype=object if name in ("modality", "resolution", "records") else "float64")
    truth = {}
    for name in TRUTH_ARRAYS:
        if name in spec.truth:
            truth[name] = np.asarray(columns[name], dtype=TRUTH_ARRAYS[name](spec)[1])
            group[name][start:stop] = truth[name]
    if "columns" in spec.truth:
        tables = _ragged(columns["columns"])
        sub = group.require_group(f"columns/s{shard}")
        for k, v in tables.items():
            sub.create_array(k, shape=v.shape, dtype=v.dtype, overwrite=True)[...] = v
            truth[f"columns/{k}"] = v
    entry = {"shard": shard, "start": start, "count": stop - start, "sha256": shard_checksum(x, y, list(columns["records"]), truth)}
    write_manifest_entry(group, entry)
    return entry


def _clear_shard(group, spec: StoreSpec, shard: int) -> None:
    """Delete what an earlier, interrupted or damaged write left of a shard (its chunks and,
    on a local store, the temporary files of a write killed midway), so that it is written
    afresh (zarr would otherwise read a truncated shard file to merge into it)."""
    from zarr.core.sync import sync

    prefix = f"{group.path}/" if group.path else ""
    data = ("x", "y", *SCALARS, *(t for t in TRUTH_ARRAYS if t in spec.truth))
    keys = {name: f"{prefix}{name}/c/" + "/".join([str(shard)] + ["0"] * (group[name].ndim - 1)) for name in (*data, "manifest")}
    for name in data:
        sync(group.store.delete(keys[name]))
    root = getattr(group.store, "root", None)  # a local store: a killed writer leaves <key>.<uuid>.partial
    if root is not None:
        for key in keys.values():
            for stale in Path(root, key).parent.glob(f"{Path(key).name}.*.partial"):
                stale.unlink(missing_ok=True)


def write_manifest_entry(group, entry: dict | None, shard: int | None = None) -> None:
    """Mark a shard complete (its entry) or incomplete (None): the last write of a shard."""
    shard = int(entry["shard"] if entry is not None else shard)
    group["manifest"][shard : shard + 1] = np.array([json.dumps(entry, sort_keys=True) if entry is not None else ""], dtype=object)


def truth(group, index: int, names=None) -> dict:
    """The stored ground truth of sample ``index`` (``names``: a subset; default all the
    store holds): masks, displacement, counts arrays and, for columns, the sample's
    ``atoms``, ``columns``, ``species`` tables and ``linear_tone``."""
    spec = spec_of(dict(group.attrs)["emsim"])
    names = spec.truth if names is None else tuple(names)
    missing = sorted(set(names) - set(spec.truth))
    if missing:
        raise EmsimError(f"the store holds no {', '.join(missing)} truth (it has: {', '.join(spec.truth) or 'none'}; generate with --truth)")
    i = int(index)
    out = {name: group[name][i] for name in names if name in TRUTH_ARRAYS}
    if "columns" in names:
        shard = i // spec.shard_size
        k = i - shard * spec.shard_size
        sub = group[f"columns/s{shard}"]
        tab = {}
        for t in TABLES:
            a, b = sub[f"{t}_offsets"][k : k + 2]
            tab[t] = sub[t][int(a) : int(b)]
        tab["linear_tone"] = float(sub["linear_tone"][k])
        out["columns"] = tab
    return out


def manifest(group) -> dict[int, dict]:
    """Completed shards: shard index -> manifest entry."""
    out = {}
    for i, text in enumerate(group["manifest"][:]):
        if text:
            entry = json.loads(text)
            out[int(entry["shard"])] = entry
    return out


def verify(path: str) -> dict[int, str]:
    """Recompute every completed shard's checksum; returns {shard: problem} for bad ones."""
    g = open_group(path, "r")
    spec = spec_of(read_attrs(path))
    bad = {}
    for shard, entry in manifest(g).items():
        start, stop = spec.shard_range(shard)
        if (entry["start"], entry["count"]) != (start, stop - start):
            bad[shard] = "manifest entry does not match the shard layout"
            continue
        try:
            got = shard_checksum(g["x"][start:stop], g["y"][start:stop], list(g["records"][start:stop]), _shard_truth(g, spec, shard))
        except Exception as e:  # unreadable (e.g. truncated) shard
            bad[shard] = f"unreadable: {type(e).__name__}"
            continue
        if got != entry["sha256"]:
            bad[shard] = "checksum mismatch"
    return bad


def read_record(group, index: int) -> dict:
    """The JSON record of one sample."""
    return json.loads(str(group["records"][int(index)]))


def consolidate(path: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _zarr().consolidate_metadata(str(path))


def complete_indices(path: str) -> np.ndarray:
    """Sample indices of all completed shards, in order."""
    g = open_group(path, "r")
    spec = spec_of(read_attrs(path))
    done = manifest(g)
    return np.concatenate([np.arange(*spec.shard_range(s)) for s in sorted(done)] or [np.zeros(0, dtype=np.int64)]).astype(np.int64)


def describe(path: str, verify_checksums: bool = False, sample: int = 256) -> dict:
    """Summary of a store: counts, completeness, config, and, over up to ``sample`` complete
    samples, value statistics of x and y and the rate of degenerate draws that were
    redrawn (``redraws``)."""
    attrs = read_attrs(path)
    spec = spec_of(attrs)
    g = open_group(path, "r")
    done = manifest(g)
    idx = complete_indices(path)
    out = {
        "path": str(path),
        "samples": spec.n,
        "complete": int(idx.size),
        "shards": {"total": spec.n_shards, "complete": len(done), "size": spec.shard_size},
        "shape_x": list(spec.shape_x),
        "shape_y": list(spec.shape_y),
        "dtype": spec.dtype,
        "seed": spec.seed,
        "config_hash": spec.config_hash,
        "created": attrs.get("created"),
        "emsim_version": attrs.get("emsim_version"),
        "format": attrs["format"],
        "truth": list(spec.truth),
        "old_format": old_format(attrs),
        "config": attrs.get("config"),
    }
    if "://" not in str(path) and (Path(path) / "README.md").exists():
        out["card"] = str(Path(path) / "README.md")
    bad = verify(path) if verify_checksums else {}
    if bad:  # statistics over the sound shards only
        idx = idx[~np.isin(idx // spec.shard_size, list(bad))]
    if idx.size:
        pick = idx[np.linspace(0, idx.size - 1, min(sample, idx.size)).astype(int)]
        for name in ("x", "y"):
            v = np.stack([g[name][k] for k in pick]).astype(np.float64)
            out[name] = {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max()), "finite": bool(np.isfinite(v).all())}
        redraws = [read_record(g, k).get("redraws") for k in pick]
        if all(r is not None for r in redraws):
            out["redraws"] = {"rate": float(np.mean([r > 0 for r in redraws])), "mean": float(np.mean(redraws)), "sampled": len(redraws)}
        for name in ("modality", "resolution"):
            labels = [str(v) for v in g[name][:][idx]]
            out[name] = {k: labels.count(k) for k in sorted(set(labels))}
        for name in ("pixel_size", "dose"):
            v = g[name][:][idx]
            v = v[np.isfinite(v)]
            out[name] = {"min": float(v.min()), "median": float(np.median(v)), "max": float(v.max())} if v.size else None
    if verify_checksums:
        out["corrupt_shards"] = {str(k): v for k, v in bad.items()}
    return out
