import json

import click
import numpy as np
import pytest
from click.testing import CliRunner

from cli.common import EmsimGroup
from cli.specimen import specimen
from emsim.config import from_dict
from emsim.imaging.atom_models import zpower_models
from emsim.specimen.crystal import cell_from_parameters
from emsim.errors import ConfigError, EmsimError
from emsim.io import read_image
from emsim.imaging.render import render_clean
from emsim.specimen import SpecimenConfig, generate_specimen, simulation_box

# cuts, defects and support off
BARE = {"wedge": {"p": 0.0}, "shape": {"p": 0.0}, "defects": {"p": 0.0}, "support": {"p": 0.0}}


def _config(**tables) -> SpecimenConfig:
    return from_dict(SpecimenConfig, {**BARE, **tables})


def test_simulation_box():
    box = simulation_box((100, 200), 0.5, d_ext=3.2, margin=10.0)
    assert box.extension == 6  # round(3.2 / 0.5)
    np.testing.assert_allclose(box.field, [100.0, 50.0, 100.0])
    np.testing.assert_allclose(box.lo, [-11.5, -11.5, 0.0])
    np.testing.assert_allclose(box.hi, [111.5, 61.5, 103.0])
    for bad in [dict(shape=(0, 4), pixel_size=0.1), dict(shape=(4, 4), pixel_size=-1.0), dict(shape=(4, 4), pixel_size=0.1, d_ext=-1.0), dict(shape="x", pixel_size=0.1)]:
        with pytest.raises(EmsimError):
            simulation_box(**bad)


def test_same_seed_same_specimen():
    for seed in range(6):
        a = generate_specimen(np.random.default_rng(seed), shape=(48, 64))
        b = generate_specimen(np.random.default_rng(seed), shape=(48, 64))
        np.testing.assert_array_equal(a.positions, b.positions)
        np.testing.assert_array_equal(a.numbers, b.numbers)
        assert a.info == b.info
    c = generate_specimen(np.random.default_rng(99), shape=(48, 64))
    assert c.info != a.info


def test_atoms_inside_extended_box_and_records():
    kinds = set()
    for seed in range(40):
        s = generate_specimen(np.random.default_rng(seed), shape=(40, 56), d_ext=4.0)
        lo, hi = s.box
        assert np.all((s.positions >= lo) & (s.positions < hi)), seed
        assert s.numbers.dtype == np.uint8 and len(s.positions) == len(s.numbers) == s.info["n_atoms"]
        assert 0.025 <= s.pixel_size <= 0.9 and s.shape == (40, 56)
        box = simulation_box(s.shape, s.pixel_size, 4.0)
        np.testing.assert_allclose(hi, box.hi)
        np.testing.assert_allclose(lo[:2], box.lo[:2])
        sup = s.info["support"]
        if sup:
            assert lo[2] == pytest.approx(-sup["thickness"]) and 10.0 <= sup["thickness"] <= 300.0
            assert "shape" not in sup
            assert np.sum(s.positions[:, 2] < 0) == sup["n_atoms"]
        else:
            assert lo[2] == 0.0 and np.all(s.positions[:, 2] >= 0)
        assert s.info["elements"] == sorted(set(s.numbers.tolist()))
        json.dumps(s.info)
        kinds.add(s.info["type"])
    assert kinds == {"crystalline", "amorphous", "points"}


def test_crystal_fills_box_at_its_density(rng):
    cfg = _config(kinds=[1.0, 0.0, 0.0], crystal={"length": [3.1, 6.0]})
    for _ in range(4):
        s = generate_specimen(rng, cfg, shape=(96, 96), pixel_size=0.5)
        c = s.info["crystal"]
        v_cell = abs(np.linalg.det(cell_from_parameters(c["lengths"], c["angles"])))
        lo, hi = s.box
        expected = np.prod(hi - lo) * c["atoms_per_cell"] / v_cell
        assert len(s) == pytest.approx(expected, rel=0.05)


def test_zone_axis_lies_along_z_in_the_specimen(rng):
    """Exactly on a zone axis, atoms stack in columns: far fewer distinct (x, y) than atoms."""
    cfg = _config(kinds=[1.0, 0.0, 0.0], crystal={"length": [3.1, 5.0], "elements": [1, 2]}, orientation={"p_zone_axis": 1.0, "mistilt": 0.0})
    for _ in range(3):
        s = generate_specimen(rng, cfg, shape=(64, 64), pixel_size=0.3)
        c, o = s.info["crystal"], s.info["orientation"]
        cell = cell_from_parameters(c["lengths"], c["angles"])
        d = np.array(o["rotation"]) @ (np.array(o["zone_axis"]) @ cell)
        np.testing.assert_allclose(d / np.linalg.norm(d), [0, 0, 1], atol=1e-12)
        repeat = np.linalg.norm(d)
        columns = len(np.unique(np.round(s.xy, 4), axis=0))
        lo, hi = s.box
        assert columns <= 1.5 * len(s) * repeat / (hi[2] - lo[2])


def test_support_and_types_follow_config(rng):
    cfg = _config(kinds=[0.0, 1.0, 0.0], support={"p": 1.0, "p_crystalline": 0.0, "thickness": [50.0, 50.0], "wedge": {"p": 0.0}, "defects": {"p": 0.0}})
    s = generate_specimen(rng, cfg, shape=(32, 32), pixel_size=0.4)
    assert s.info["type"] == "amorphous" and s.info["support"]["type"] == "amorphous"
    below = s.positions[:, 2] < 0
    assert below.sum() == s.info["support"]["n_atoms"] > 0
    assert s.positions[below, 2].min() >= -50.0 and s.box[0][2] == -50.0
    assert s.info["n_specimen_atoms"] == (~below).sum()


def test_to_ase(rng):
    s = generate_specimen(rng, shape=(32, 32))
    atoms = s.to_ase()
    assert len(atoms) == len(s)
    np.testing.assert_allclose(atoms.positions, s.positions)
    np.testing.assert_array_equal(atoms.numbers, s.numbers)


def test_config_errors():
    with pytest.raises(ConfigError, match="bogus"):
        from_dict(SpecimenConfig, {"crystal": {"bogus": 1}})
    with pytest.raises(ConfigError):
        from_dict(SpecimenConfig, {"kinds": [0, 0, 0]})
    with pytest.raises(ConfigError):
        from_dict(SpecimenConfig, {"support": {"p": 2.0}})
    with pytest.raises(EmsimError):
        generate_specimen(np.random.default_rng(0), shape=(0, 8))


@pytest.mark.parametrize("kind", [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
@pytest.mark.parametrize("seed", range(4))
def test_atom_budget_thins_blocks_along_the_beam(kind, seed):
    """Over the budget, specimen and support become thinner slabs (specimen on top of the
    support, which keeps its top face at z = 0) that each hold at most max_atoms atoms."""
    budget = 3000
    dense = {"crystal": {"length": [3.1, 6.0]}, "amorphous": {"z": [14, 14], "density": [2.3, 2.3]}}  # >= 0.005 atoms/A^3
    tables = {"kinds": kind, **dense, "support": {"p": 1.0, "thickness": [200.0, 300.0], **dense}}
    s = generate_specimen(np.random.default_rng(seed), _config(max_atoms=budget, **tables), shape=(64, 64), pixel_size=0.8)
    full = generate_specimen(np.random.default_rng(seed), _config(**tables), shape=(64, 64), pixel_size=0.8)
    assert s.info["thinned"] and not full.info["thinned"]
    assert 0 < s.info["n_specimen_atoms"] <= budget < full.info["n_specimen_atoms"]
    assert 0 < s.info["support"]["n_atoms"] <= budget
    assert s.info["support"]["thickness"] < s.info["support"]["thickness_drawn"]
    z = s.positions[:, 2]
    top = z[: s.info["n_specimen_atoms"]]
    assert top.min() >= 0 and top.max() < s.info["thickness"] < full.info["thickness"]
    assert z.min() >= -s.info["support"]["thickness"] and z[s.info["n_specimen_atoms"] :].max() < 0


@pytest.mark.parametrize("margin,ok", [(10.0, True), (0.0, False)])
def test_margin_keeps_image_borders_bright(rng, margin, ok):
    """A uniform amorphous specimen renders uniformly up to the image border only if atoms
    beyond the field (the margin) contribute their tails."""
    cfg = _config(kinds=[0.0, 1.0, 0.0], margin=margin, amorphous={"z": [14, 14], "density": [2.3, 2.3], "min_distance": [1.2, 1.2]})
    s = generate_specimen(rng, cfg, shape=(128, 128), pixel_size=0.25)
    models, _ = zpower_models([14], width=0.8)
    img = render_clean(s.xy, s.numbers, models, s.pixel_size, s.shape)
    border = np.concatenate([img[:2].ravel(), img[-2:].ravel(), img[:, :2].ravel(), img[:, -2:].ravel()]).mean()
    # over 20 seeds: 0.92-1.04 with the margin, 0.53-0.70 without
    assert (border / img[8:-8, 8:-8].mean() > 0.85) == ok


# --------------------------------------------------------------------------- CLI


@click.group(cls=EmsimGroup)
def _cli():
    pass


_cli.add_command(specimen)


def run(*args):
    return CliRunner().invoke(_cli, ["specimen", *args])


def test_cli_writes_specimen_and_projection(tmp_path):
    import ase.io

    out, png = tmp_path / "spec.extxyz", tmp_path / "proj.png"
    res = run("--seed", "3", "--size", "48", "--pixel-size", "0.2", "--out", str(out), "--png", str(png))
    assert res.exit_code == 0, res.output
    atoms = ase.io.read(str(out))
    rec = json.loads(out.with_suffix(".json").read_text())
    assert len(atoms) == rec["specimen"]["n_atoms"] and rec["seed"] == 3
    assert rec["specimen"]["pixel_size"] == 0.2
    img = read_image(png)
    assert img.shape == (48, 48) and img.max() > img.min()
    # the same seed regenerates the same specimen
    generated = generate_specimen(np.random.default_rng(np.random.SeedSequence(3).spawn(2)[0]), shape=(48, 48), pixel_size=0.2)
    np.testing.assert_allclose(atoms.positions, generated.positions, atol=1e-6)


def test_cli_config_file_and_size_pair(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[specimen]\nkinds = [0.0, 0.0, 1.0]\n[specimen.support]\np = 0.0\n')
    out = tmp_path / "s.xyz"
    res = run("--size", "32x40", "--config", str(cfg), "--out", str(out))
    assert res.exit_code == 0, res.output
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["specimen"]["type"] == "points" and rec["specimen"]["support"] is None
    assert rec["specimen"]["image_shape"] == [32, 40]


def test_cli_bad_input(tmp_path):
    res = run("--out", str(tmp_path / "s.png"))
    assert res.exit_code == 2 and "extxyz" in res.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[specimen]\nwedge = {p = 3}\n")
    res = run("--config", str(bad), "--out", str(tmp_path / "s.extxyz"))
    assert res.exit_code == 2 and "wedge.p" in res.output
    res = run("--out", str(tmp_path / "missing" / "s.extxyz"))
    assert res.exit_code == 2
