import dataclasses

import numpy as np
import pytest

from emsim import config
from emsim.config import ConfigError, from_dict, to_dict
from emsim.imaging.tonemap import ToneMapConfig


def test_roundtrip_and_hash():
    cfg = ToneMapConfig(beta=(0.6, 1.1))
    again = from_dict(ToneMapConfig, to_dict(cfg))
    assert again == cfg
    assert config.config_hash(cfg) == config.config_hash(again)
    assert config.config_hash(cfg) != config.config_hash(ToneMapConfig())


def test_unknown_key_and_types():
    with pytest.raises(ConfigError, match="unknown key bogus"):
        from_dict(ToneMapConfig, {"bogus": 1})
    with pytest.raises(ConfigError, match="p_invert"):
        from_dict(ToneMapConfig, {"p_invert": "yes"})
    with pytest.raises(ConfigError):
        from_dict(ToneMapConfig, {"p_invert": 1.5})
    with pytest.raises(ConfigError, match="exceeds"):
        from_dict(ToneMapConfig, {"beta": [1.5, 0.5]})


def test_scalar_pins_a_range():
    cfg = from_dict(ToneMapConfig, {"beta": 0.8})
    assert cfg.beta == (0.8, 0.8)
    assert config.uniform(np.random.default_rng(0), cfg.beta) == 0.8


def test_load_files(tmp_path):
    (tmp_path / "c.toml").write_text("p_invert = 0.0\nbeta = [0.9, 1.0]\n")
    assert from_dict(ToneMapConfig, config.load_file(tmp_path / "c.toml")).beta == (0.9, 1.0)
    (tmp_path / "bad.toml").write_text("p_invert = = 0\n")
    with pytest.raises(ConfigError, match="malformed"):
        config.load_file(tmp_path / "bad.toml")
    with pytest.raises(ConfigError):
        config.load_file(tmp_path / "missing.toml")


def test_coin_and_uniform_do_not_consume_when_pinned():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert config.coin(rng, 0.0) is False and config.coin(rng, 1.0) is True
    assert config.uniform(rng, (2.0, 2.0)) == 2.0
    assert rng.bit_generator.state == state


def test_replace_and_merge():
    @dataclasses.dataclass(frozen=True)
    class Outer:
        tone: ToneMapConfig = ToneMapConfig()

    o = config.replace(Outer(), **{"tone.p_invert": 0.0})
    assert o.tone.p_invert == 0.0
    m = config.merge(Outer, Outer(), {"tone": {"beta": [1.0, 1.2]}})
    assert m.tone.beta == (1.0, 1.2) and m.tone.p_invert == 0.5
