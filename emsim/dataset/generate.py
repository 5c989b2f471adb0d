"""Stream deterministic pairs into a sharded zarr store, locally or on a Dask cluster.

One task = one shard: it generates samples start..stop (each a pure function of
(seed, index, config)), writes the whole shard and then its manifest entry. Tasks run in a
process pool (``scheduler="local"``), a Dask LocalCluster (``"dask-local"``) or an existing
Dask scheduler (``"tcp://host:port"``); the store is bit-identical either way. Re-running
the same command resumes: shards with a manifest entry are kept, the rest regenerated. A
store made with a different seed, config, size or shard layout is refused unless
``overwrite``.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import json
import os
import platform
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from .._version import __version__
from . import store
from ..config import config_hash, to_dict
from ..errors import EmsimError
from ..pairs.truth import check_truth

SAMPLER = "emsim.pairs:SAMPLER"
DTYPES = ("float32", "float16")


@dataclasses.dataclass
class Summary:
    pairs: int  # generated in this run
    skipped: int  # already complete (resume)
    seconds: float
    bytes: int
    stage_seconds: dict

    @property
    def pairs_per_second(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else float("nan")


def _load_sampler(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def run_shard(path: str, spec: store.StoreSpec, shard: int, config_dict: dict, sampler: str = SAMPLER) -> dict:
    """Generate and write one shard (worker side). Returns its manifest entry plus the
    per-stage seconds spent."""
    make = _load_sampler(sampler)
    config = make.config_from_dict(config_dict)
    start, stop = spec.shard_range(shard)
    cols: dict[str, list] = {k: [] for k in ("x", "y", *store.SCALARS, *spec.truth)}
    stages: dict[str, float] = {}
    for index in range(start, stop):
        pair = make(spec.seed, index, config, spec.truth) if spec.truth else make(spec.seed, index, config)
        if pair.x.shape != spec.shape_x or pair.y.shape != spec.shape_y:
            raise RuntimeError(f"sample {index} has shapes {pair.x.shape}, {pair.y.shape}, expected {spec.shape_x}, {spec.shape_y}")
        cols["x"].append(pair.x)
        cols["y"].append(pair.y)
        cols["pixel_size"].append(pair.pixel_size)
        cols["dose"].append(np.nan if pair.dose is None else pair.dose)
        cols["modality"].append(pair.modality)
        cols["resolution"].append(pair.resolution)
        cols["records"].append(json.dumps(pair.record, sort_keys=True, separators=(",", ":")))
        for name in spec.truth:
            cols[name].append(pair.truth[name])
        for k, v in pair.timings.items():
            stages[k] = stages.get(k, 0.0) + v
    t = time.perf_counter()
    entry = store.write_shard(store.open_group(path, "r+"), spec, shard, {k: (v if k in (*store.SCALARS, "columns") else np.stack(v)) for k, v in cols.items()})
    stages["write"] = time.perf_counter() - t
    return {**entry, "stages": stages}


def _check_output(path: str) -> None:
    if "://" in path:
        return  # remote URL: zarr + fsspec report problems when opening
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise EmsimError(f"cannot write {path}: folder {parent} does not exist")
    if p.exists() and not p.is_dir():
        raise EmsimError(f"cannot write {path}: it is a file")
    if not os.access(p if p.exists() else parent, os.W_OK):
        raise EmsimError(f"cannot write {path}: permission denied")


def prepare(path: str, n: int, config, seed: int, shard_size: int, dtype: str, overwrite: bool, sampler: str = SAMPLER, truth=()):
    """Validate the request and create (or reopen, for a resume) the store.
    Returns (spec, done shards). Raises EmsimError before writing anything on bad input."""
    if n <= 0:
        raise EmsimError(f"--n must be positive, got {n}")
    if shard_size <= 0:
        raise EmsimError(f"--shard-size must be positive, got {shard_size}")
    if dtype not in DTYPES:
        raise EmsimError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype}")
    if not 0 <= seed < 2**63:
        raise EmsimError(f"seed must be a non-negative integer below 2^63, got {seed}")
    _check_output(path)
    make = _load_sampler(sampler)
    shape_x, shape_y = make.output_shapes(config)
    truth = check_truth(truth)
    if truth and getattr(config, "task", None) == "sr" and config.sr.mode == "paired" and {"columns", "masks"} & set(truth):
        raise EmsimError("columns and masks truth are not available for paired SR acquisitions (the HR field is rotated)")
    spec = store.StoreSpec(n, shape_x, shape_y, min(shard_size, n), dtype, int(seed), config_hash(config), truth)
    if store.exists(path) and not overwrite:
        attrs = store.read_attrs(path)
        if store.old_format(attrs):
            raise EmsimError(f"{path} was {store.old_format(attrs)}")
        diff = store.mismatch(store.spec_of(attrs), spec)
        if diff:
            raise EmsimError(f"{path} holds a different dataset ({diff}); use --overwrite to replace it")
        return spec, store.manifest(store.open_group(path, "r"))
    if overwrite and "://" not in path and Path(path).exists():
        shutil.rmtree(path)
    attrs = {
        "emsim_version": __version__,
        "numpy_version": np.__version__,
        "python": platform.python_version(),
        "config": to_dict(config),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "sampler": sampler,
    }
    try:
        store.create(path, spec, attrs)
    except OSError as e:  # e.g. a parent that is a file, a read-only or pseudo file system
        raise EmsimError(f"cannot write {path}: {e.strerror or e}") from None
    return spec, {}


def generate(
    path: str,
    n: int,
    config,
    *,
    seed: int = 0,
    workers: int | None = None,
    shard_size: int = 64,
    dtype: str = "float32",
    scheduler: str = "local",
    overwrite: bool = False,
    progress: bool = True,
    sampler: str = SAMPLER,
    truth=(),
) -> Summary:
    """Generate ``n`` pairs into the zarr store at ``path`` (see module docstring); ``truth``:
    ground-truth channels stored beside the pairs (``emsim.pairs.truth.TRUTH``)."""
    path = str(path)
    if not (scheduler in ("local", "dask-local") or scheduler.startswith("tcp://")):
        raise EmsimError(f"unknown scheduler {scheduler!r} (use local, dask-local or tcp://HOST:PORT)")
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise EmsimError(f"--workers must be positive, got {workers}")
    fresh = "://" not in path and not Path(path).exists()
    spec, done = prepare(path, n, config, seed, shard_size, dtype, overwrite, sampler, truth)
    todo = [s for s in range(spec.n_shards) if s not in done]
    skipped = sum(e["count"] for e in done.values())
    config_dict = to_dict(config)
    bar = _progress(spec.n, skipped, progress)
    t0 = time.perf_counter()
    stages: dict[str, float] = {}
    made = 0
    try:
        for entry in _run(path, spec, todo, config_dict, sampler, workers, scheduler):
            made += entry["count"]
            for k, v in entry["stages"].items():
                stages[k] = stages.get(k, 0.0) + v
            if bar is not None:
                bar.update(entry["count"])
    except BaseException:
        if fresh and not store.manifest(store.open_group(path, "r")):
            shutil.rmtree(path, ignore_errors=True)  # a store this call created and nothing finished in
        raise
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    store.consolidate(path)
    return Summary(made, skipped, seconds, _size(path), stages)


def _run(path, spec, todo, config_dict, sampler, workers, scheduler):
    """Yield manifest entries of the shards in ``todo`` as they complete."""
    if not todo:
        return
    if scheduler == "local":
        if workers == 1:
            for s in todo:
                yield run_shard(path, spec, s, config_dict, sampler)
            return
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(run_shard, path, spec, s, config_dict, sampler) for s in todo]
            try:
                for f in as_completed(futures):
                    yield f.result()
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise EmsimError("Dask schedulers need dask[distributed] (pip install 'emsim[dask]')") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) if scheduler == "dask-local" else None
    try:
        client = Client(cluster if cluster is not None else scheduler, timeout="30s")
    except OSError as e:
        raise EmsimError(f"cannot reach Dask scheduler {scheduler}: {e}") from None
    try:
        futures = client.map(run_shard, [path] * len(todo), [spec] * len(todo), todo, [config_dict] * len(todo), [sampler] * len(todo), pure=False)
        for f in dask_completed(futures):
            yield f.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _progress(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="pair", dynamic_ncols=True, smoothing=0.1)


def _size(path: str) -> int:
    if "://" in path:
        return 0
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
