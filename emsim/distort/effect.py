"""What every distortion effect is: a unit that samples its parameters, then applies them.

    params = effect.sample(rng, config, ctx)     # a JSON-able dict, or None (did not occur)
    x, y = effect.apply(x, y, params, ctx)       # deterministic given params

``sample`` draws everything random the effect needs, including the seed of any random
field it will generate (Poisson counts, AR(1) series, pink noise, random walks), so
``apply`` is a pure function of (x, y, params, context): a record replays exactly, and
the same params put onto another clean image give the same noise realisation and scan
path. ``apply`` may report values it derives from the image (a clip threshold, a median
fill) through ``ctx.note``; they join the record but are never read back.

Each effect of a sample draws from its own stream, ``stream(seed, name)``, derived from the
sample's distortion seed and the effect's name, so switching one effect off (p = 0)
leaves every other effect's draws unchanged.
"""

from __future__ import annotations

import dataclasses
import zlib
from typing import Callable

import numpy as np

SEED_BOUND = 2**63


@dataclasses.dataclass
class Context:
    """What effects know besides their own parameters: the image ``shape``, ``pixel_size``
    (A), the dose scale ``alpha`` (electrons per unit intensity), the jitter clip ``bound``
    (A), the exact-jitter ``resample(dx, dy)`` callable, and the notes of the effect being
    applied."""

    shape: tuple[int, int]
    pixel_size: float = 1.0
    alpha: float = 1.0
    bound: float = 0.0
    resample: Callable | None = None
    notes: dict = dataclasses.field(default_factory=dict)

    def note(self, **values) -> None:
        """Record values derived from the image during ``apply``."""
        self.notes.update(values)


@dataclasses.dataclass(frozen=True)
class Effect:
    """A named distortion: ``sample(rng, config, ctx) -> params | None`` and
    ``apply(x, y, params, ctx) -> (x, y)``."""

    name: str
    sample: Callable
    apply: Callable

    def run(self, x, y, rng: np.random.Generator, config, ctx: Context):
        """Sample then apply once: (x, y, record), record None if the effect did not occur."""
        params = self.sample(rng, config, ctx)
        if params is None:
            return x, y, None
        ctx.notes = {}
        x, y = self.apply(x, y, params, ctx)
        return x, y, {**params, **ctx.notes}


def on_x(fn: Callable) -> Callable:
    """``apply`` of an effect that changes x only, from ``fn(x, params, ctx) -> x``."""

    def apply(x, y, params, ctx):
        return fn(x, params, ctx), y

    apply.__doc__ = fn.__doc__
    return apply


def run_on_x(effect: Effect, x, rng, config, ctx: Context | None = None):
    """One-off use of an x-only effect: (x, record)."""
    x, _, rec = effect.run(x, x, rng, config, ctx or Context(np.shape(x)))
    return x, rec


def stream(seed: int, name: str) -> np.random.Generator:
    """The generator of effect ``name`` in the sample with distortion seed ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=(zlib.crc32(name.encode()),))))


def new_seed(rng: np.random.Generator) -> int:
    """A seed for a random field, drawn in ``sample`` and stored in the params."""
    return int(rng.integers(0, SEED_BOUND))


def field_rng(params: dict) -> np.random.Generator:
    """The generator of the random field of ``params`` (its ``seed``)."""
    return np.random.Generator(np.random.PCG64(int(params["seed"])))
