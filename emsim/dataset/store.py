"""Sharded zarr v3 stores of (distorted x, clean y) pairs.

Layout of a store (a zarr v3 group at any path or URL zarr + fsspec accept):

    x, y          (n, H, W) float32 (or float16); one chunk per sample, K samples per shard
    pixel_size    (n,) float64, A
    dose          (n,) float64, electrons per A^2 (NaN where no dose was drawn)
    modality      (n,) str: tem | stem | sem
    resolution    (n,) str: hr | lr
    records       (n,) str: JSON record of everything drawn for the sample
    manifest      (n_shards,) str: JSON entry per completed shard (start, count, sha256)

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
from typing import Any

import numpy as np

from ..errors import EmsimError

# 2: distortion records hold a seed per sample and per-effect parameters with the seeds of
#    their random fields (replayable); stores of format 1 are readable, not resumable.
FORMAT_VERSION = 2
SCALARS = ("pixel_size", "dose", "modality", "resolution", "records")



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
    for name, shape in (("x", spec.shape_x), ("y", spec.shape_y)):
        g.create_array(name, shape=(spec.n, *shape), chunks=(1, *shape), shards=(K, *shape), dtype=spec.dtype, fill_value=np.nan)
    for name in ("pixel_size", "dose"):
        g.create_array(name, shape=(spec.n,), chunks=(K,), dtype="float64", fill_value=np.nan)
    for name in ("modality", "resolution", "records"):
        g.create_array(name, shape=(spec.n,), chunks=(K,), dtype=str)
    g.create_array("manifest", shape=(spec.n_shards,), chunks=(1,), dtype=str)
    g.attrs["emsim"] = {**attrs, "format": FORMAT_VERSION, **_spec_attrs(spec)}


def _spec_attrs(spec: StoreSpec) -> dict:
    d = dataclasses.asdict(spec)
    d["shape_x"], d["shape_y"] = list(spec.shape_x), list(spec.shape_y)
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
    d = {k: attrs[k] for k in fields}
    d["shape_x"], d["shape_y"] = tuple(d["shape_x"]), tuple(d["shape_y"])
    return StoreSpec(**d)


def mismatch(existing: StoreSpec, wanted: StoreSpec) -> str | None:
    """Name the first field that differs between two specs, or None."""
    for f in dataclasses.fields(StoreSpec):
        a, b = getattr(existing, f.name), getattr(wanted, f.name)
        if a != b:
            return f"{f.name} {a} (store) != {b} (requested)"
    return None


def shard_checksum(x: np.ndarray, y: np.ndarray, records: list[str]) -> str:
    """SHA-256 of a shard's data as stored (x, y bytes and the JSON records)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    for r in records:
        h.update(r.encode())
        h.update(b"\n")
    return h.hexdigest()


def write_shard(group, spec: StoreSpec, shard: int, columns: dict[str, Any]) -> dict:
    """Write one whole shard (x, y and the per-sample arrays), then its manifest entry."""
    start, stop = spec.shard_range(shard)
    x = np.asarray(columns["x"], dtype=spec.dtype)
    y = np.asarray(columns["y"], dtype=spec.dtype)
    if x.shape[0] != stop - start:
        raise ValueError(f"shard {shard} has {x.shape[0]} samples, expected {stop - start}")
    group["x"][start:stop] = x
    group["y"][start:stop] = y
    for name in SCALARS:
        values = columns[name]
        group[name][start:stop] = np.asarray(values, dtype=object if name in ("modality", "resolution", "records") else "float64")
    entry = {"shard": shard, "start": start, "count": stop - start, "sha256": shard_checksum(x, y, list(columns["records"]))}
    group["manifest"][shard : shard + 1] = np.array([json.dumps(entry, sort_keys=True)], dtype=object)
    return entry


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
            got = shard_checksum(g["x"][start:stop], g["y"][start:stop], list(g["records"][start:stop]))
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
        "old_format": old_format(attrs),
        "config": attrs.get("config"),
    }
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
        out["corrupt_shards"] = {str(k): v for k, v in verify(path).items()}
    return out
