"""Every PyTorch dataset of emsim (this module imports torch; the simulator never needs it).

- ``ZarrPairs(path)``: map-style dataset over a store written by ``emsim generate``;
- ``SimulatedPairs(seed, config)``: iterable dataset generating pairs on the fly;
- ``LROnlyDataset(pairs)`` / ``make_torch_dataset``: LR-only SR pairs from real images
  (``emsim.pairs.lronly.LROnlyPairs``), drawn at stream positions by ``PositionSampler``;
- ``CroppedPairs``: random patch crops of a map-style dataset, drawn from the stream
  position (SR-aware: the HR crop starts on the LR probe grid);
- ``StreamSampler``: endless, resumable, rank-strided shuffled stream of (item, position);
- ``PositionSampler``: endless, resumable, rank-strided stream of global positions (for
  sources with a pair at every position, such as an unbounded ``LROnlyPairs``).

Map-style datasets accept an index or the (index, position) items of ``StreamSampler``.
All return float32 tensors of shape 1 x H x W (x, y); ``ZarrPairs`` and ``SimulatedPairs``
add, on request, a dict of ground truth (``truth=("masks", "counts", ...)``, see
``emsim.pairs.truth``: masks (H, W) uint8, displacement (2, H, W), counts (1, H, W), columns
a dict of tables) and the record. ``collate`` batches such items (the ragged column
tables as lists).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, Sampler, get_worker_info

from ..errors import EmsimError
from ..pairs import PairConfig, make_pair
from ..pairs.lronly import LROnlyPairs
from ..pairs.truth import check_truth
from . import store


def tensor(a: np.ndarray) -> torch.Tensor:
    """A 2D array as a float32 tensor 1 x H x W."""
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None]


def truth_tensors(truth: dict) -> dict:
    """A sample's ground truth as tensors (columns: a dict of tensors per table)."""
    out = {}
    for k, v in truth.items():
        if k == "columns":
            out[k] = {t: torch.as_tensor(np.asarray(a)) for t, a in v.items()}
        elif k == "counts":
            out[k] = tensor(v)
        else:
            out[k] = torch.from_numpy(np.ascontiguousarray(v))
    return out


def collate(batch):
    """``default_collate``, except that ragged column tables stay a list per sample."""
    from torch.utils.data import default_collate

    cols = [b[2].pop("columns") for b in batch if len(b) > 2 and isinstance(b[2], dict) and "columns" in b[2]]
    out = default_collate(batch)
    if cols:
        out[2]["columns"] = cols
    return out


def _index(item) -> int:
    return int(item[0] if isinstance(item, tuple) else item)


class ZarrPairs(Dataset):
    """Map-style dataset over the completed shards of an emsim store.

    The zarr group is opened lazily in each process (so DataLoader workers, forked or
    spawned, each get their own handle). ``indices`` restricts the dataset (e.g. a held-out
    range); by default all samples of completed shards. ``with_record`` adds the sample's
    JSON record (a dict) as a third element; ``transform(x, y)`` is applied to the tensors.
    """

    def __init__(self, path, indices=None, with_record: bool = False, transform=None, truth=()):
        self.path = str(path)
        self.spec = store.spec_of(store.read_attrs(self.path))
        self.truth = tuple(truth)
        missing = sorted(set(self.truth) - set(self.spec.truth))
        if missing:
            raise EmsimError(f"{self.path} holds no {', '.join(missing)} truth (it has: {', '.join(self.spec.truth) or 'none'})")
        self.indices = store.complete_indices(self.path) if indices is None else np.asarray(indices, dtype=np.int64)
        self.with_record = with_record
        self.transform = transform
        self._group = None
        self._pid = None

    def __len__(self) -> int:
        return int(self.indices.size)

    def _open(self):
        if self._group is None or self._pid != os.getpid():
            self._group = store.open_group(self.path, "r")
            self._pid = os.getpid()
        return self._group

    def __getitem__(self, item):
        g = self._open()
        k = int(self.indices[_index(item)])
        x, y = tensor(g["x"][k]), tensor(g["y"][k])
        if self.transform is not None:
            x, y = self.transform(x, y)
        out = (x, y)
        if self.truth:
            out += (truth_tensors(store.truth(g, k, self.truth)),)
        if self.with_record:
            out += (store.read_record(g, k),)
        return out

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_group"] = None
        return state


class SimulatedPairs(IterableDataset):
    """Pairs generated on the fly, reproducibly.

    The stream of a rank is the sequence of global indices start + rank + world * p,
    p = 0, 1, 2, ...; DataLoader workers split it in blocks of ``batch_size`` (worker w
    makes the blocks p // batch_size = w mod num_workers), which is the order a DataLoader
    with that batch size returns them in. So the stream is the same for any number of
    workers, no two workers or ranks make the same sample, and ``load_state_dict`` resumes
    mid-epoch at any batch boundary. ``length``: samples per rank per epoch (None:
    endless). rank/world default to torch.distributed's. Call ``advance(n)`` as batches are
    consumed (the trainer does) so ``state_dict`` knows the position.
    """

    def __init__(self, seed: int, config=None, length: int | None = None, *, start: int = 0, batch_size: int = 1, rank: int | None = None, world_size: int | None = None, with_record: bool = False, truth=()):
        self.seed, self.config, self.length = int(seed), config or PairConfig(), length
        self.truth = check_truth(truth)
        self.start, self.batch_size, self.with_record = int(start), max(1, int(batch_size)), with_record
        if rank is None or world_size is None:
            dist = torch.distributed
            ready = dist.is_available() and dist.is_initialized()
            rank = dist.get_rank() if ready else 0
            world_size = dist.get_world_size() if ready else 1
        self.rank, self.world = int(rank), int(world_size)
        self.position = 0

    def index_at(self, p: int) -> int:
        return self.start + self.rank + self.world * p

    def __iter__(self):
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        B = self.batch_size
        p = self.position
        while self.length is None or p < self.length:
            if (p // B) % nw == wid:
                pair = make_pair(self.seed, self.index_at(p), self.config, self.truth)
                out = (tensor(pair.x), tensor(pair.y))
                if self.truth:
                    out += (truth_tensors(pair.truth),)
                yield out + (pair.record,) if self.with_record else out
                p += 1
            else:  # skip to this worker's next block
                p = (p // B + 1) * B

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError("an endless SimulatedPairs has no length")
        return self.length

    def advance(self, n: int) -> None:
        self.position += int(n)

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "start": self.start, "rank": self.rank, "world": self.world, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if (state["seed"], state["start"], state["rank"], state["world"]) != (self.seed, self.start, self.rank, self.world):
            raise ValueError("state belongs to a different stream (seed, start, rank or world size)")
        self.position = int(state["position"])


class LROnlyDataset(Dataset):
    """torch view of an ``LROnlyPairs``: item k (an index or ``PositionSampler``'s position)
    is pair k -- of the subset ``indices`` if given, else of the pairs themselves, any
    position of an unbounded stream -- as (x, y) float32 tensors 1 x h x w (+ record)."""

    def __init__(self, pairs: LROnlyPairs, indices=None, with_record: bool = False):
        self.pairs, self.with_record = pairs, with_record
        self.indices = None if indices is None else np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.pairs) if self.indices is None else int(self.indices.size)

    def __getitem__(self, item):
        k = _index(item)
        lr, hr, rec = self.pairs[k if self.indices is None else int(self.indices[k])]
        return (tensor(lr), tensor(hr), rec) if self.with_record else (tensor(lr), tensor(hr))


def make_torch_dataset(pairs, *args, with_record: bool = False, **kwargs) -> LROnlyDataset:
    """An ``LROnlyDataset`` over ``pairs`` (an ``LROnlyPairs``, or the arguments to make one:
    ``make_torch_dataset(folder, config, hr_size=..., seed=...)``)."""
    if not isinstance(pairs, LROnlyPairs):
        pairs = LROnlyPairs(pairs, *args, **kwargs)
    elif args or kwargs:
        raise EmsimError("make_torch_dataset: no further arguments with an LROnlyPairs")
    return LROnlyDataset(pairs, with_record=with_record)


class CroppedPairs(Dataset):
    """Pairs of a map-style dataset randomly cropped to patch x patch, the crop drawn from
    the stream position (so resumed runs see the same crops). For SR pairs (x smaller than
    y by the scale s) the HR crop starts on the LR probe grid and the LR crop is the
    matching patch / s window. Items are (index, position) pairs of ``StreamSampler``."""

    def __init__(self, pairs, patch: int, seed: int):
        self.pairs, self.patch, self.seed = pairs, int(patch), int(seed)

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, item):
        i, pos = item
        x, y = self.pairs[i][:2]
        H, W = y.shape[-2:]
        s = H // x.shape[-2]
        p = self.patch
        if H < p or W < p:
            raise EmsimError(f"store images {H}x{W} are smaller than the patch {p}")
        rng = np.random.default_rng([self.seed, pos])
        r, c = s * int(rng.integers(0, (H - p) // s + 1)), s * int(rng.integers(0, (W - p) // s + 1))
        return x[..., r // s : (r + p) // s, c // s : (c + p) // s], y[..., r : r + p, c : c + p]


class StreamSampler(Sampler):
    """Endless, resumable shuffled stream over n items for one rank: epoch e visits
    randperm(n, seed + e)[rank::world]; yields (item, stream position) from ``start``."""

    def __init__(self, n: int, seed: int, rank: int = 0, world: int = 1, start: int = 0):
        self.n, self.seed, self.rank, self.world, self.start = n, seed, rank, world, start

    def __iter__(self):
        per_epoch = len(range(self.rank, self.n, self.world))
        pos = self.start
        while True:
            epoch, k = divmod(pos, per_epoch)
            perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + epoch))[self.rank :: self.world]
            for i in perm[k:].tolist():
                yield i, pos
                pos += 1


class PositionSampler(Sampler):
    """Endless, resumable stream of global positions for one rank: rank + world * p for
    p = start, start + 1, ... (``start``: the rank's position, e.g. step * batch)."""

    def __init__(self, start: int = 0, rank: int = 0, world: int = 1):
        self.start, self.rank, self.world = int(start), int(rank), int(world)

    def __iter__(self):
        p = self.start
        while True:
            yield self.rank + self.world * p
            p += 1
