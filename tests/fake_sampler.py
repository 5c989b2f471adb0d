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


class FakeSampler:
    config_class = FakeConfig

    def __call__(self, seed, index, config):
        import time

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
