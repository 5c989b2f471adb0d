"""The one registry of networks: each generator registers itself with its name and task.

    @register("name", "restore" | "sr")
    class Net(nn.Module): ...

``build(config)`` rebuilds a network from its ``config`` dict (``{"arch": name, **constructor
keyword arguments}``, as every network stores in ``model.config`` and checkpoints keep);
``names(task)`` lists the registered names. The architecture modules of this package are
imported on first use, so this module (and the CLI that reads it) needs no torch until a
network is asked for.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from emsim.errors import EmsimError

TASKS = ("restore", "sr")
_NETWORKS: dict[str, tuple[str, type]] = {}


def register(name: str, task: str):
    """Class decorator: register a generator under ``name`` for ``task``; sets ``cls.arch``."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")

    def deco(cls):
        if name in _NETWORKS and _NETWORKS[name][1] is not cls:
            raise ValueError(f"network {name!r} is registered twice")
        cls.arch = name
        _NETWORKS[name] = (task, cls)
        return cls

    return deco


def _load() -> None:
    """Import every module of this package (they register their networks)."""
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        importlib.import_module(f"{__package__}.{info.name}")


def names(task: str | None = None) -> tuple[str, ...]:
    """Registered network names (of one task)."""
    _load()
    return tuple(n for n, (t, _) in _NETWORKS.items() if task is None or t == task)


def task_of(name: str) -> str:
    """The task ("restore" or "sr") of a registered network."""
    return _entry(name)[0]


def get(name: str) -> type:
    """The class of a registered network."""
    return _entry(name)[1]


def _entry(name: str) -> tuple[str, type]:
    _load()
    if name not in _NETWORKS:
        raise EmsimError(f"unknown network {name!r} (use {', '.join(_NETWORKS)})")
    return _NETWORKS[name]


def build(config: dict):
    """The network of a ``config`` dict ({"arch": name, **constructor arguments})."""
    cfg = dict(config)
    cls = get(cfg.pop("arch", None))
    try:
        return cls(**cfg)
    except (TypeError, ValueError) as e:
        raise EmsimError(f"cannot build {cls.arch}: {e}") from None


class Networks:
    """Read-only mapping name -> class of the networks of one task (or all)."""

    def __init__(self, task: str | None = None):
        self.task = task

    def __getitem__(self, name: str) -> type:
        if name not in names(self.task):
            raise KeyError(name)
        return get(name)

    def __iter__(self):
        return iter(names(self.task))

    def __len__(self) -> int:
        return len(names(self.task))

    def __contains__(self, name) -> bool:
        return name in names(self.task)


def upscale(model) -> int:
    """Output/input size ratio of a generator: its ``scale`` (SR networks), else 1."""
    return int(getattr(model, "scale", 1) or 1)


def n_parameters(model) -> int:
    """Number of parameters of a network."""
    return sum(p.numel() for p in model.parameters())
