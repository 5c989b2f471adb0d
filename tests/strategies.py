"""Hypothesis strategies over every field of ``PairConfig``, read from its type hints.

``valid_configs``: configs the validator accepts, built by mutating a random subset of
leaves away from the paper's defaults (extreme but valid: ranges scaled by up to 10^±2,
pinned, probabilities pinned at 0 or 1, tiny and odd image sizes, every modality,
resolution and task); a mutation the validator refuses is dropped, so every drawn config
is one a user could run. ``invalid_configs``: the defaults with one leaf broken (wrong
type, reversed range, out-of-range probability) or an unknown key, with the dotted path
the error must name. Used by ``tests/test_fuzz.py`` and ``benchmarks/fuzz.py``.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
import types
import typing
from typing import Annotated, Literal, Union, get_args, get_origin

from hypothesis import strategies as st

from emsim.config import RANGE, from_dict, to_dict
from emsim.errors import ConfigError
from emsim.pairs import PairConfig

# Optional ranges that default to None (derived from other settings): nominal ranges to try
OPTIONAL = {
    "distort.dose.e_per_A2": (1.0, 1e5),
    "distort.stem.jitter.sigma_y": (0.0025, 0.8),
    "distort.sem.jitter.sigma_y": (0.0025, 0.8),
    "distort.stem.detector.sigma": (0.0, 0.3),
    "distort.sem.detector.sigma": (0.0, 0.3),
}
# leaves whose value must stay small for a sample to take milliseconds, not minutes
CAPPED = {"max_atoms": 5_000_000, "max_tries": 400, "site_tries": 40, "max_sites": 96, "count": 2000, "max_depth": 4}
# retry budgets: a config may raise them, but one that lowers them (max_tries = 1) may fail
# to find a crystal by design (a clear EmsimError), so they are drawn from [default, cap]
BUDGETS = ("max_tries", "site_tries")


@dataclasses.dataclass(frozen=True)
class Leaf:
    path: str  # dotted, from PairConfig
    tp: typing.Any
    default: typing.Any


def leaves(cls=PairConfig, prefix="", obj=None) -> list[Leaf]:
    """Every settable leaf of a config dataclass, with its type and default."""
    obj = cls() if obj is None else obj
    hints = typing.get_type_hints(cls, globalns=vars(sys.modules[cls.__module__]), include_extras=True)
    out = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp, value = hints[f.name], getattr(obj, f.name)
        if dataclasses.is_dataclass(tp):
            out += leaves(tp, f"{prefix}{f.name}.", value)
        else:
            out.append(Leaf(f"{prefix}{f.name}", tp, value))
    return out


LEAVES = leaves()


def _set(d: dict, path: str, value) -> None:
    *head, last = path.split(".")
    for k in head:
        d = d[k]
    d[last] = value


def _is_probability(leaf: Leaf) -> bool:
    name = leaf.path.rsplit(".", 1)[-1]
    return leaf.tp is float and (name == "p" or name.startswith("p_")) and 0.0 <= leaf.default <= 1.0


def _scaled(value: float, draw) -> float:
    if value == 0:
        return draw(st.sampled_from([0.0, 1e-3, 0.1, 1.0]))
    return float(value) * 10.0 ** draw(st.floats(-2.0, 2.0))


def _candidate(leaf: Leaf, draw):
    """A new value for one leaf (not necessarily valid)."""
    tp, d = leaf.tp, leaf.default
    name = leaf.path.rsplit(".", 1)[-1]
    if get_origin(tp) is Literal:
        return draw(st.sampled_from(get_args(tp)))
    if tp is bool:
        return draw(st.booleans())
    if _is_probability(leaf):
        return draw(st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0)))
    if leaf.path == "shape":
        return list(draw(st.tuples(st.integers(16, 48), st.integers(16, 48)) | st.tuples(st.integers(4, 12), st.integers(4, 12)).map(lambda t: (4 * t[0], 4 * t[1]))))
    if leaf.path == "sr.scale":
        return draw(st.sampled_from([2, 3, 4, 8]))
    if get_origin(tp) in (Union, types.UnionType):  # an optional range, None by default
        if not draw(st.booleans()):
            return None
        d = OPTIONAL[leaf.path]
        tp = next(a for a in get_args(tp) if a is not type(None))
    if get_origin(tp) is Annotated and RANGE in get_args(tp)[1:]:
        lo, hi = d
        pin = draw(st.integers(0, 3)) == 0
        if get_args(get_args(tp)[0])[0] is int:
            top = min(max(lo + 2, 2 * hi), CAPPED.get(name, 10**9))
            a, b = sorted(draw(st.tuples(st.integers(lo, top), st.integers(lo, top))))
        else:
            a, b = sorted((_scaled(lo, draw), _scaled(hi, draw)))
        return [a, a] if pin else [a, b]
    if tp is int:
        v = draw(st.integers(d if name in BUDGETS else 1, max(2, 2 * d)))
        return min(v, CAPPED.get(name, v))
    if tp is float:
        return _scaled(d, draw)
    origin = get_origin(tp)
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:  # choices: a non-empty subset of the defaults
            return draw(st.lists(st.sampled_from(d), min_size=1, max_size=len(d), unique=True))
        return [draw(st.floats(0.0, 10.0)) for _ in args]  # weights
    raise AssertionError(f"no strategy for {leaf.path}: {tp}")


@st.composite
def valid_configs(draw, max_mutations: int = 25, modality: str | None = None) -> PairConfig:
    """A config the validator accepts, up to ``max_mutations`` leaves away from the defaults
    (``modality``: pinned)."""
    data = to_dict(PairConfig() if modality is None else PairConfig(modality=modality))
    default_shape = data["shape"]
    picks = draw(st.lists(st.sampled_from(LEAVES), max_size=max_mutations, unique_by=lambda leaf: leaf.path))
    head = [leaf for leaf in LEAVES if leaf.path in ("resolution", "task", "shape", "sr.scale", "sr.mode") or (leaf.path == "modality" and modality is None)]
    picks = [leaf for leaf in picks if not (leaf.path == "modality" and modality is not None)]
    for leaf in [*draw(st.permutations(head)), *picks]:
        trial = copy.deepcopy(data)
        _set(trial, leaf.path, _candidate(leaf, draw))
        try:
            from_dict(PairConfig, trial)
        except ConfigError:
            continue
        data = trial
    if data["shape"] == default_shape:  # every small shape was refused (not a multiple of the scale)
        trial = copy.deepcopy(data)
        trial["shape"] = list(draw(st.sampled_from([(24, 24), (24, 48), (48, 24), (48, 48)])))
        from_dict(PairConfig, trial)
        data = trial
    return from_dict(PairConfig, data)


BREAKS = ("type", "reversed", "probability", "unknown")


@st.composite
def invalid_configs(draw) -> tuple[dict, str]:
    """(config dict with one fault, the dotted path of the faulty key): the ConfigError must
    name the key and the table holding it."""
    data = to_dict(PairConfig())
    kind = draw(st.sampled_from(BREAKS))
    if kind == "unknown":
        tables = sorted({leaf.path.rsplit(".", 1)[0] for leaf in LEAVES if "." in leaf.path} | {""})
        table = draw(st.sampled_from(tables))
        key = draw(st.sampled_from(["bogus", "sigmaa", "P", "dose_e_per_px"]))
        path = f"{table}.{key}" if table else key
        _set(data, path, 1.0)
        return data, path
    if kind == "reversed":
        pool = [leaf for leaf in LEAVES if get_origin(leaf.tp) is Annotated and leaf.default is not None and leaf.default[0] != leaf.default[1]]
        leaf = draw(st.sampled_from(pool))
        _set(data, leaf.path, [leaf.default[1], leaf.default[0]])
    elif kind == "probability":
        leaf = draw(st.sampled_from([leaf for leaf in LEAVES if _is_probability(leaf)]))
        _set(data, leaf.path, draw(st.sampled_from([-0.1, 1.5, 2.0, -1e-9, 1.0 + 1e-9])))
    else:
        leaf = draw(st.sampled_from(LEAVES))
        if leaf.tp is bool:
            bad = draw(st.sampled_from(["yes", 1.0, [True]]))
        elif get_origin(leaf.tp) is Literal:
            bad = draw(st.sampled_from(["nonsense", 3.5, None, ["tem"]]))
        elif leaf.tp in (int, float):
            bad = draw(st.sampled_from(["abc", True, [1.0, 2.0], {"a": 1}, float("nan")]))
        else:  # tuples and ranges
            bad = draw(st.sampled_from(["abc", {"a": 1}, [1, 2, 3, 4, 5], ["a", "b"]]))
        _set(data, leaf.path, bad)
    return data, leaf.path
