"""Typed configuration objects.

Every stage of emsim keeps its parameters in a frozen dataclass whose defaults are the
paper's ranges and probabilities. This module turns nested dicts (from TOML/YAML files or
code) into those dataclasses with strict checking (unknown keys and wrong types are errors
naming the offending key), turns them back into plain dicts for records and store
attributes, and hashes them.

Conventions for fields:
- ``Range`` fields are ``(low, high)`` pairs drawn uniformly; a scalar pins the value
  (it is stored as ``(v, v)``).
- probabilities ``p_*`` lie in [0, 1]; setting one to 0 switches the effect off.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import sys
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import numpy as np

from .errors import ConfigError

RANGE = "range"  # marks (low, high) pairs: low <= high is checked
Range = Annotated[tuple[float, float], RANGE]
IntRange = Annotated[tuple[int, int], RANGE]


def uniform(rng: np.random.Generator, r: Range) -> float:
    """Draw from U[r[0], r[1]] (a pinned range returns its value without consuming rng)."""
    lo, hi = r
    if lo == hi:
        return float(lo)
    return float(rng.uniform(lo, hi))


def integers(rng: np.random.Generator, r: IntRange) -> int:
    """Draw an integer uniformly from the closed range [r[0], r[1]]."""
    lo, hi = r
    if lo == hi:
        return int(lo)
    return int(rng.integers(lo, hi + 1))


def coin(rng: np.random.Generator, p: float) -> bool:
    """Bernoulli(p); p = 0 or 1 does not consume rng, so switched-off effects stay free."""
    if p <= 0.0:
        return False
    if p >= 1.0:
        return True
    return bool(rng.random() < p)


# --------------------------------------------------------------------------- conversion


def _is_dataclass_type(t: Any) -> bool:
    return isinstance(t, type) and dataclasses.is_dataclass(t)


def _convert(value: Any, tp: Any, path: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Annotated:
        base, *meta = get_args(tp)
        out = _convert(value, base, path)
        if RANGE in meta and out[0] > out[1]:
            raise ConfigError(f"{path}: range low {out[0]} exceeds high {out[1]}")
        return out
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(value, a, path)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{path}: invalid value {value!r}")
    if origin is typing.Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{path}: {value!r} is not one of {list(get_args(tp))}")
        return value
    if _is_dataclass_type(tp):
        if isinstance(tp, type) and isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table of settings, got {value!r}")
        return from_dict(tp, value, path)
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(value, (list, tuple)):
            if len(args) == 2 and args[1] is not Ellipsis and args[0] is args[1]:
                value = (value, value)  # a scalar pins a range
            else:
                raise ConfigError(f"{path}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{path}: expected {len(args)} values, got {len(value)}")
        return tuple(_convert(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin in (list,):
        (a,) = get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        return [_convert(v, a, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin in (dict,):
        ka, va = get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table, got {value!r}")
        return {_convert(k, ka, path): _convert(v, va, f"{path}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        v = float(value)
        if not math.isfinite(v):
            raise ConfigError(f"{path}: expected a finite number, got {value!r}")
        return v
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    return value


@functools.lru_cache(maxsize=None)
def _fields(cls: type) -> tuple[dict, frozenset]:
    """Type hints and init-field names of a config dataclass (resolving hints is slow)."""
    hints = typing.get_type_hints(cls, globalns=vars(sys.modules[cls.__module__]), include_extras=True)
    return hints, frozenset(f.name for f in dataclasses.fields(cls) if f.init)


def from_dict(cls: type, data: dict | None, path: str | None = None) -> Any:
    """Build dataclass ``cls`` from a nested dict, rejecting unknown keys and wrong types."""
    path = path or cls.__name__
    data = dict(data or {})
    hints, names = _fields(cls)
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"(known: {', '.join(sorted(names))})"
        )
    kwargs = {k: _convert(v, hints[k], f"{path}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError as e:  # a check in __post_init__: say which table it is in
        raise ConfigError(f"{path}: {e}") from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{path}: {e}") from None


def to_dict(obj: Any) -> Any:
    """Plain JSON-compatible structure (tuples become lists) of a config dataclass."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return jsonable(obj)


def replace(obj: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` that also accepts dotted keys for nested configs."""
    nested: dict[str, dict[str, Any]] = {}
    flat: dict[str, Any] = {}
    for k, v in changes.items():
        head, _, rest = k.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = v
        else:
            flat[k] = v
    for head, sub in nested.items():
        flat[head] = replace(getattr(obj, head), **sub)
    return dataclasses.replace(obj, **flat)


def merge(cls: type, base: Any, overrides: dict | None) -> Any:
    """Apply a nested dict of overrides on top of ``base`` (a ``cls`` instance)."""
    data = to_dict(base)
    _deep_update(data, overrides or {})
    return from_dict(cls, data)


def _deep_update(dst: dict, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _deep_update(dst[k], v)
        else:
            dst[k] = v


def config_hash(obj: Any) -> str:
    """SHA-256 of the canonical JSON of a config (stable across runs and machines)."""
    text = json.dumps(to_dict(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def load_file(path: str | Path) -> dict:
    """Read a TOML (.toml) or YAML (.yaml/.yml) file into a dict; errors are one line."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read config {p}: {e.strerror or e}") from None
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover
                import tomli as tomllib
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise ConfigError("YAML configs need PyYAML (pip install pyyaml)") from None
            data = yaml.safe_load(text) or {}
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"config {p}: unknown format {suffix!r} (use .toml, .yaml or .json)")
    except ConfigError:
        raise
    except Exception as e:  # parser errors of any of the three libraries
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConfigError(f"malformed config {p}: {msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {p}: top level must be a table of settings")
    return data


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays (recursively) to plain Python for JSON records."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


def check_probability(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"{name} = {p} is not a probability in [0, 1]")


def check_range(name: str, r: Range, lo: float = -math.inf, hi: float = math.inf) -> None:
    if not (lo <= r[0] <= r[1] <= hi):
        raise ConfigError(f"{name} = {list(r)} must satisfy {lo} <= low <= high <= {hi}")
