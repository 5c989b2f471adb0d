"""A cheap deterministic sampler with the pipeline's interface, for store/generate tests."""

import dataclasses

import numpy as np

from emsim.config import from_dict


@dataclasses.dataclass(frozen=True)
class FakeConfig:
    shape: tuple[int, int] = (8, 6)
    sleep: float = 0.0


@dataclasses.dataclass
class FakePair:
    x: np.ndarray
    y: np.ndarray
    record: dict
    timings: dict
    modality: str = "stem"
    resolution: str = "hr"

    @property
    def pixel_size(self):
        return self.record["pixel_size"]

    @property
    def dose(self):
        return self.record["dose"]


def _maybe_die(index):
    """Fault injection: with EMSIM_FAKE_KILL="INDEX:MARKER", the process drawing sample INDEX
    kills itself with SIGKILL, once (it creates MARKER first, so a retry survives)."""
    import os
    import signal

    spec = os.environ.get("EMSIM_FAKE_KILL")
    if not spec:
        return
    at, marker = spec.split(":", 1)
    if index == int(at) and not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)


class FakeSampler:
    config_class = FakeConfig

    def __call__(self, seed, index, config):
        import time

        _maybe_die(index)

        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
        if config.sleep:
            time.sleep(config.sleep)
        y = rng.random(config.shape).astype(np.float32)
        x = y + rng.normal(0, 0.1, config.shape).astype(np.float32)
        return FakePair(x, y, {"index": index, "pixel_size": 0.1 + index, "dose": float(rng.uniform(1, 100))}, {"fake": 0.0})

    @staticmethod
    def config_from_dict(d):
        return from_dict(FakeConfig, d)

    @staticmethod
    def output_shapes(config):
        return tuple(config.shape), tuple(config.shape)


SAMPLER = FakeSampler()
