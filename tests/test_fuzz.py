"""Fuzzed configs: every valid PairConfig makes finite pairs of the declared shapes and
dtypes with a JSON record and no degenerate pair; every invalid one is a ConfigError that
names the faulty key and its table, and nothing else. ``benchmarks/fuzz.py`` runs the long
version (10^5 samples)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).parent))

from strategies import invalid_configs, valid_configs  # noqa: E402

from emsim.config import from_dict  # noqa: E402
from emsim.errors import ConfigError  # noqa: E402
from emsim.pairs import PairConfig, make_pair  # noqa: E402
from emsim.pairs.config import output_shapes  # noqa: E402
from emsim.pairs.clean import degeneracy  # noqa: E402

SAMPLES_PER_CONFIG = 4
EXAMPLES = 84  # per modality: 3 x 84 x 4 = 1008 samples
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)


def check_sample(config: PairConfig, seed: int, index: int) -> None:
    """The properties every sample of a valid config has (raises AssertionError)."""
    p = make_pair(seed, index, config)
    sx, sy = output_shapes(config)
    assert p.x.shape == sx and p.y.shape == sy, (p.x.shape, p.y.shape, sx, sy)
    assert p.x.dtype == np.float32 and p.y.dtype == np.float32
    assert np.isfinite(p.x).all() and np.isfinite(p.y).all()
    assert np.ptp(p.x) > 0 and np.ptp(p.y) > 0, "constant image"
    json.dumps(p.record, allow_nan=False)
    if config.task == "restore":
        assert degeneracy(p.y, p.x, p.y, (0.0, np.inf)) is None


def check_invalid(data: dict, path: str) -> None:
    """from_dict must raise a ConfigError naming the key and its table."""
    try:
        from_dict(PairConfig, data)
    except ConfigError as e:
        msg = str(e)
        table, _, key = path.rpartition(".")
        assert key in msg and table in msg, f"{path}: {msg}"
        assert "\n" not in msg
        return
    raise AssertionError(f"{path}: accepted")


def _valid(modality):
    @FUZZ
    @given(valid_configs(modality=modality))
    def run(config):
        for k in range(SAMPLES_PER_CONFIG):
            check_sample(config, 1, k)

    run()


@pytest.mark.parametrize("modality", ["stem", "tem", "sem"])
def test_valid_configs_make_valid_pairs(modality):
    _valid(modality)


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(invalid_configs())
def test_invalid_configs_are_named_config_errors(case):
    check_invalid(*case)
