"""The one registry of networks: each generator registers itself with its name and task.

    @register("name", "restore" | "sr", default=False)
    class Net(nn.Module): ...

``build(config)`` rebuilds a network from its ``config`` dict (``{"arch": name, **constructor
keyword arguments}``, as every network stores in ``model.config`` and checkpoints keep);
``names(task)`` lists the registered names (the task's default first), ``default(task)``
names the default. The modules of this package are imported on first use, so this module
(and the CLI that reads it) needs no torch until a network is asked for.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from pathlib import Path

from emsim.errors import EmsimError

TASKS = ("restore", "sr")
_NETWORKS: dict[str, tuple[str, type]] = {}
_DEFAULTS: dict[str, str] = {}
_loaded = False


def register(name: str, task: str, default: bool = False):
    """Class decorator: register a generator; sets ``cls.arch`` to ``name``.

    Parameters
    ----------
    name : the network's name (``config["arch"]``, ``--model``)
    task : "restore" or "sr"
    default : the task's default network
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")

    def deco(cls):
        if name in _NETWORKS and _NETWORKS[name][1] is not cls:
            raise ValueError(f"network {name!r} is registered twice")
        if default and _DEFAULTS.get(task, name) != name:
            raise ValueError(f"task {task!r} has two default networks: {_DEFAULTS[task]!r} and {name!r}")
        cls.arch = name
        _NETWORKS[name] = (task, cls)
        if default:
            _DEFAULTS[task] = name
        return cls

    return deco


def _load() -> None:
    """Import every module of this package once (they register their networks)."""
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
            importlib.import_module(f"{__package__}.{info.name}")
        _loaded = True


def names(task: str | None = None) -> tuple[str, ...]:
    """Registered network names (of one task), each task's default first."""
    _load()
    found = [n for n, (t, _) in _NETWORKS.items() if task is None or t == task]
    return tuple(sorted(found, key=lambda n: n not in _DEFAULTS.values()))


def default(task: str) -> str:
    """The default network of ``task``."""
    _load()
    if task not in _DEFAULTS:
        raise EmsimError(f"no default network for task {task!r}")
    return _DEFAULTS[task]


def task_of(name: str) -> str:
    """The task ("restore" or "sr") of a registered network."""
    return _entry(name)[0]


def get(name: str) -> type:
    """The class of a registered network."""
    return _entry(name)[1]


def _entry(name: str) -> tuple[str, type]:
    _load()
    if name not in _NETWORKS:
        raise EmsimError(f"unknown network {name!r} (use {', '.join(names())})")
    return _NETWORKS[name]


def build(config: dict):
    """The network of a config dict.

    Parameters
    ----------
    config : {"arch": name, **keyword arguments of its constructor}

    Returns
    -------
    torch.nn.Module (its ``config`` holds every constructor argument)
    """
    cfg = dict(config)
    cls = get(cfg.pop("arch", None))
    try:
        return cls(**cfg)
    except (TypeError, ValueError) as e:
        raise EmsimError(f"cannot build {cls.arch}: {e}") from None


class Networks(Mapping):
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


def upscale(model) -> int:
    """Output/input size ratio of a generator: its ``scale`` (SR networks), else 1."""
    return int(getattr(model, "scale", 1) or 1)


def n_parameters(model) -> int:
    """Number of parameters of a network."""
    return sum(p.numel() for p in model.parameters())
