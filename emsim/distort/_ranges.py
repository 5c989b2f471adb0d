"""Scalars pin ranges also when configs are built in code (``from_dict`` does it for dicts)."""

from __future__ import annotations

import dataclasses
import numbers


def pin_scalars(obj) -> None:
    """In a frozen config, replace a number given for a ``Range``/``IntRange`` field by
    (v, v) and a list by a tuple, before validation."""
    for f in dataclasses.fields(obj):
        if "Range" not in str(f.type):
            continue
        v = getattr(obj, f.name)
        if isinstance(v, numbers.Real) and not isinstance(v, bool):
            object.__setattr__(obj, f.name, (v, v))
        elif isinstance(v, list):
            object.__setattr__(obj, f.name, tuple(v))
