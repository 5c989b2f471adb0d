import json

import numpy as np
import pytest

from emsim.config import ConfigError, merge
from emsim.pairs import PairConfig, make_pair, resolve_config
from emsim.dataset.preview import caption, pairs_sheet

SMALL = PairConfig(shape=(32, 32))


@pytest.mark.parametrize("modality", ["tem", "stem", "sem"])
@pytest.mark.parametrize("resolution", ["hr", "lr"])
def test_pair_is_pure_function_of_seed_index_config(modality, resolution):
    cfg = merge(PairConfig, SMALL, {"modality": modality, "resolution": resolution})
    a, b = make_pair(7, 3, cfg), make_pair(7, 3, cfg)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.record == b.record
    assert a.x.shape == a.y.shape == (32, 32) and a.x.dtype == np.float32
    assert np.isfinite(a.x).all() and np.isfinite(a.y).all()
    json.dumps(a.record, allow_nan=False)
    assert a.record["modality"] == modality and a.record["resolution"] == resolution
    assert ("specimen" in a.record) == (resolution == "hr") and ("scene" in a.record) == (resolution == "lr")
    c = make_pair(7, 4, cfg)
    assert not np.array_equal(a.y, c.y)


def test_record_holds_what_was_drawn():
    p = make_pair(0, 1, SMALL)
    r = p.record
    for key in ("specimen", "atom_models", "tone_map", "distortions", "pixel_size", "seed", "index"):
        assert key in r
    assert r["distortions"]["dose"]["e_per_A2"] == pytest.approx(r["distortions"]["dose"]["e_per_px"] / r["pixel_size"] ** 2)
    assert p.dose == r["distortions"]["dose"]["e_per_A2"]


def test_mixed_resolution_draws_both():
    cfg = merge(PairConfig, SMALL, {"resolution": "mixed"})
    kinds = {make_pair(1, i, cfg).resolution for i in range(12)}
    assert kinds == {"hr", "lr"}


def test_resolve_config_layers(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('modality = "tem"\nshape = [64, 48]\n[tone_map]\np_invert = 0.0\n')
    cfg = resolve_config(f, resolution="lr", modality=None)
    assert (cfg.modality, cfg.shape, cfg.resolution, cfg.tone_map.p_invert) == ("tem", (64, 48), "lr", 0.0)
    with pytest.raises(ConfigError, match="unknown key"):
        f.write_text("bogus = 1\n")
        resolve_config(f)
    with pytest.raises(ConfigError, match="image size"):
        resolve_config(shape=(8, 8))


def test_preview_sheet_and_captions():
    pairs = [make_pair(0, i, SMALL) for i in range(3)]
    sheet = pairs_sheet([(p.x, p.y, p.record) for p in pairs], tile=48, per_row=2)
    assert sheet.dtype == np.uint8 and sheet.ndim == 2
    assert sheet.shape[0] > 2 * (2 * 48)  # two rows of (x above y)
    text = caption(pairs[0].record)
    assert "stem" in text and "A" in text


def test_config_file_changes_only_what_it_names(tmp_path):
    """A file touching [distort.sem.jitter] keeps SEM's own defaults (black pixels off, the
    SEM detector), one touching [distort.stem.black_pixels] keeps STEM's density and steps."""
    default = PairConfig()
    f = tmp_path / "sem.toml"
    f.write_text("[distort.sem.jitter]\np = 0.5\n")
    cfg = resolve_config(f)
    assert cfg.distort.sem.jitter.p == 0.5
    assert cfg.distort.sem.black_pixels == default.distort.sem.black_pixels and cfg.distort.sem.black_pixels.p == 0.0
    assert cfg.distort.sem.detector == default.distort.sem.detector
    assert cfg == merge(PairConfig, default, {"distort": {"sem": {"jitter": {"p": 0.5}}}})  # as a CLI override
    f.write_text("[distort.stem.black_pixels]\nlevel = [0.0, 0.05]\n")
    bp = resolve_config(f).distort.stem.black_pixels
    assert (bp.density, bp.steps, bp.level) == (default.distort.stem.black_pixels.density, default.distort.stem.black_pixels.steps, (0.0, 0.05))
