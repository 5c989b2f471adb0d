"""PyTorch datasets over emsim pairs (torch is imported lazily: the simulator never needs it).

- ``ZarrPairs(path)``: map-style dataset over a store written by ``emsim generate``.
- ``SimulatedPairs(seed, config)``: iterable dataset generating pairs on the fly.

Both return float32 tensors of shape 1 x H x W (x, y), optionally with the record.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

_CLASSES: dict[str, type] = {}


def __getattr__(name: str):
    if name in ("ZarrPairs", "SimulatedPairs"):
        if not _CLASSES:
            _build()
        return _CLASSES[name]
    raise AttributeError(name)


def _tensor(a: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None]


def _build() -> None:
    import torch
    from torch.utils.data import Dataset, IterableDataset, get_worker_info

    from . import store

    class ZarrPairs(Dataset):
        """Map-style dataset over the completed shards of an emsim store.

        The zarr group is opened lazily in each process (so DataLoader workers, forked or
        spawned, each get their own handle). ``indices`` restricts the dataset (e.g. a
        held-out range); by default all samples of completed shards. ``with_record`` adds
        the sample's JSON record (a dict) as a third element; ``transform(x, y)`` is
        applied to the tensors.
        """

        def __init__(self, path, indices=None, with_record: bool = False, transform=None):
            self.path = str(path)
            attrs = store.read_attrs(self.path)
            self.spec = store.spec_of(attrs)
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

        def __getitem__(self, i: int):
            g = self._open()
            k = int(self.indices[i])
            x, y = _tensor(g["x"][k]), _tensor(g["y"][k])
            if self.transform is not None:
                x, y = self.transform(x, y)
            if self.with_record:
                return x, y, store.read_record(g, k)
            return x, y

        def __getstate__(self):
            state = dict(self.__dict__)
            state["_group"] = None
            return state

    class SimulatedPairs(IterableDataset):
        """Pairs generated on the fly, reproducibly.

        The stream of a rank is the sequence of global indices start + rank + world * p,
        p = 0, 1, 2, ...; DataLoader workers split it in blocks of ``batch_size`` (worker w
        makes the blocks p // batch_size = w mod num_workers), which is the order a
        DataLoader with that batch size returns them in. So the stream is the same for any
        number of workers, no two workers or ranks make the same sample, and
        ``load_state_dict`` resumes mid-epoch at any batch boundary. ``length``: samples
        per rank per epoch (None: endless). rank/world default to torch.distributed's.
        Call ``advance(n)`` as batches are consumed (the trainer does) so ``state_dict``
        knows the position.
        """

        def __init__(self, seed: int, config=None, length: int | None = None, *, start: int = 0, batch_size: int = 1, rank: int | None = None, world_size: int | None = None, with_record: bool = False):
            from .pipeline import PairConfig

            self.seed, self.config, self.length = int(seed), config or PairConfig(), length
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
            from .pipeline import make_pair

            info = get_worker_info()
            wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
            B = self.batch_size
            p = self.position
            end = self.length if self.length is not None else None
            while end is None or p < end:
                if (p // B) % nw == wid:
                    pair = make_pair(self.seed, self.index_at(p), self.config)
                    x, y = _tensor(pair.x), _tensor(pair.y)
                    yield (x, y, pair.record) if self.with_record else (x, y)
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

    for cls in (ZarrPairs, SimulatedPairs):  # picklable by name (DataLoader spawn workers)
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
        _CLASSES[cls.__name__] = cls
