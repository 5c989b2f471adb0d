"""SR training: the LR-only stream and held-out validation in the trainer, the data's pixel
grid in the network, EMA, schedules, objectives and the papers' recipes (CPU)."""

import dataclasses
import json

import numpy as np
import pytest
import tifffile

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from cli.main import cli  # noqa: E402
from emsim.errors import EmsimError  # noqa: E402
from emsim.pairs.lronly import LROnlyData, MixingConfig, MixingSet  # noqa: E402
from restoration import checkpoint  # noqa: E402
from restoration.archs import build  # noqa: E402
from restoration.train import RECIPES, TrainConfig, _loaders, _schedule, config_from, gaussian_blur, lr_only_data, objective, recipe, train  # noqa: E402

TINY_SWIN = {"embed_dim": 12, "depths": [2], "num_heads": [2], "window_size": 4}
RUN = dict(steps=2, batch=2, patch=32, val_size=2, val_every=2, ckpt_every=2, log_every=1, workers=0, gan_after=-1)


@pytest.fixture
def lr_folder(tmp_path, rng):
    d = tmp_path / "lr"
    d.mkdir()
    for i in range(3):
        tifffile.imwrite(d / f"lr_{i}.tif", (rng.random((96, 96)) * 100 + 20 * i).astype(np.float32))
    return d


@pytest.fixture
def ref_folder(tmp_path, rng):
    d = tmp_path / "refs"
    d.mkdir()
    for i in range(2):
        np.save(d / f"ref_{i}.npy", rng.random((64, 64)).astype(np.float32))
    return d


def _batches(it, n):
    return [next(it) for _ in range(n)]


def test_lr_only_stream_draws_fresh_pairs_and_resumes(rng):
    """Every training step gets new pairs (more positions than the old 64 x n frozen set, no
    repeats), the stream resumes at step * batch and ranks take disjoint positions."""
    images = [rng.random((64, 64)).astype(np.float32) for _ in range(3)]
    data = LROnlyData(images, "multiscale", hr_size=32, seed=3)
    assert len(data.train.images) == 2  # the last image is held out
    cfg = TrainConfig(model="swinir", scale=4, arch=TINY_SWIN, **RUN | {"batch": 4})
    it, (vx, vy) = _loaders(cfg, None, None, 0, 0, 1, "cpu", data)
    batches = _batches(it, 40)  # 160 positions > 64 x 2 (the old frozen set)
    for k in (0, 7, 39):  # batch k holds the pairs of stream positions 4k .. 4k + 3
        for j in range(4):
            lr, hr, rec = data.train[4 * k + j]
            torch.testing.assert_close(batches[k][0][j, 0], torch.from_numpy(lr))
            torch.testing.assert_close(batches[k][1][j, 0], torch.from_numpy(hr))
    assert len({(x.numpy().tobytes(), y.numpy().tobytes()) for xb, yb in batches for x, y in zip(xb, yb)}) > 140  # nearly all new
    resumed, _ = _loaders(cfg, None, None, 7 * 4, 0, 1, "cpu", data)
    for a, b in zip(next(resumed), batches[7]):
        torch.testing.assert_close(a, b)
    rank1, _ = _loaders(cfg, None, None, 0, 1, 2, "cpu", data)
    torch.testing.assert_close(next(rank1)[1][0, 0], torch.from_numpy(data.train[1][1]))
    assert vx.shape == (2, 1, 8, 8) and vy.shape == (2, 1, 32, 32)  # val_size crops of the held-out image
    with pytest.raises(EmsimError, match="do not match"):
        _loaders(TrainConfig(model="swinir", scale=4, arch=TINY_SWIN, **RUN | {"patch": 64}), None, None, 0, 0, 1, "cpu", data)


def test_lr_only_run_validates_on_references_with_a_centre_grid_network(tmp_path, lr_folder, ref_folder):
    """Validation pairs are the degraded references (never trained on), the network's
    residual follows the data's pixel grid and checkpoints rebuild it."""
    cfg = TrainConfig(model="swinir", scale=4, arch=TINY_SWIN, **RUN | {"val_size": 8})
    data = lr_only_data(cfg, lr_folder, ref_folder)
    train(tmp_path / "run", cfg, lr_only=data, device="cpu", quiet=True)
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    lo = meta["lr_only"]
    assert lo["validation"] == "references" and lo["validation_images"] == ["ref_0.npy", "ref_1.npy"]
    assert lo["train_images"] == ["lr_0.tif", "lr_1.tif", "lr_2.tif"] and lo["config"]["grid"] == "centre"
    assert meta["model_config"]["grid"] == "centre"
    for f in ("best.pt", "best.safetensors", "last.pt"):
        assert checkpoint.load_generator(tmp_path / "run" / f).grid == "centre"
    val = data.validation(8)
    assert len(val) == 8  # 4 crops of each 64^2 reference, round-robin
    with pytest.raises(EmsimError, match="grid"):
        train(tmp_path / "bad", TrainConfig(model="swinir", scale=4, arch=TINY_SWIN | {"grid": "probe"}, **RUN), lr_only=data, device="cpu", quiet=True)


def test_ema_copy_is_validated_saved_and_resumed(tmp_path, lr_folder):
    cfg = TrainConfig(model="swinir", scale=4, arch=TINY_SWIN, ema=0.5, **RUN | {"steps": 1, "val_every": 1, "ckpt_every": 1})
    data = lr_only_data(cfg, lr_folder)
    torch.manual_seed(cfg.seed)
    g0 = build(cfg.model_config() | {"grid": "centre"}).state_dict()
    train(tmp_path / "run", cfg, lr_only=data, device="cpu", quiet=True)
    last, best = checkpoint.load(tmp_path / "run" / "last.pt"), checkpoint.load(tmp_path / "run" / "best.pt")
    assert best["ema"] is True
    for k, g1 in last["model"].items():
        torch.testing.assert_close(last["ema"][k], 0.5 * g0[k] + 0.5 * g1)  # E1 = ema G0 + (1 - ema) G1
        torch.testing.assert_close(best["model"][k], last["ema"][k])
    assert any(not torch.equal(last["ema"][k], v) for k, v in last["model"].items())
    train(tmp_path / "run", dataclasses.replace(cfg, steps=2), lr_only=data, device="cpu", quiet=True)
    assert checkpoint.load(tmp_path / "run" / "last.pt")["step"] == 2


def test_multistep_schedule_halves_at_the_milestones():
    f = _schedule(TrainConfig(schedule="multistep", steps=100, warmup=0))
    assert [f(s) for s in (0, 49, 50, 79, 80, 90, 95, 99)] == [1, 1, 0.5, 0.5, 0.25, 0.125, 0.0625, 0.0625]
    with pytest.raises(EmsimError, match="milestones"):
        TrainConfig(milestones=(0.8, 0.5))


def test_objectives_and_target_blur(rng):
    y = torch.from_numpy(rng.random((2, 1, 16, 16)).astype(np.float32))
    y_g = y + 0.1
    loss, terms = objective(TrainConfig(objective="mse", loss_scale=200.0), y, y_g)
    assert float(loss) == pytest.approx(200 * 0.01, rel=1e-4) and terms["l2"] == pytest.approx(0.01, rel=1e-4)
    assert float(objective(TrainConfig(objective="l1"), y, y_g)[0]) == pytest.approx(0.1, rel=1e-4)
    torch.testing.assert_close(gaussian_blur(torch.full((1, 1, 9, 9), 3.0), 2.5), torch.full((1, 1, 9, 9), 3.0))
    from scipy import ndimage

    ref = ndimage.gaussian_filter(y[0, 0].numpy().astype(np.float64), 2.5, truncate=2 / 2.5, mode="mirror")  # 5 x 5 taps
    np.testing.assert_allclose(gaussian_blur(y, 2.5)[0, 0].numpy(), ref, atol=1e-5)


def test_recipes_resolve_to_their_settings(tmp_path):
    from cli.train import RECIPES as CLI_RECIPES

    assert CLI_RECIPES == RECIPES
    em = config_from(recipe_name="emsim", scale=4)
    assert em == TrainConfig(scale=4, gan_after=-1)  # emsim's own: loss mix, cosine, batch 8, normalisation + bicubic residual
    assert (em.objective, em.schedule, em.batch, em.ema, em.lr_only.intensity) == ("emsim", "cosine", 8, 0.0, "raw")
    m23 = config_from(recipe_name="moeller2023", scale=4)
    assert (m23.model, m23.objective, m23.optimizer, m23.lr, m23.betas, m23.weight_decay, m23.grad_clip) == ("swinir", "l1", "adam", 2e-4, (0.9, 0.999), 0.0, 0.0)
    assert (m23.schedule, m23.lr_gamma, m23.warmup, m23.ema, m23.batch, m23.patch, m23.steps, m23.gan_after) == ("multistep", 0.5, 0, 0.999, 16, 256, 150_000, -1)
    assert np.allclose(np.array(m23.milestones) * 150_000, [25_000, 40_000, 55_000, 75_000, 85_000])
    assert m23.arch == {"normalise": False, "residual": "none"}
    assert (m23.lr_only.pipeline, m23.lr_only.multiscale, m23.lr_only.intensity) == ("multiscale", {"dihedral": True}, "image")
    assert config_from(recipe_name="moeller2023", scale=2).batch == 4  # the paper's 2x batch
    m24 = config_from(recipe_name="moeller2024", scale=4)
    assert (m24.steps, m24.milestones, m24.ema, m24.lr_only.pipeline) == (30_000, (0.5, 0.8, 0.9, 0.95), 0.999, "pixmix")
    assert m24.lr_only.pipeline_config(4).k_max == 30 and m24.lr_only.pipeline_config(4).beta == 2.0
    ede = config_from(recipe_name="ede2019", scale=4)
    assert (ede.patch, ede.objective, ede.loss_scale, ede.target_blur, ede.lr, ede.milestones, ede.steps, ede.ema) == (512, "mse", 200.0, 2.5, 1e-3, (0.125, 0.25), 100_000, 0.0)
    assert ede.lr_only.pipeline_config(4).s == (4,) and ede.lr_only.intensity == "crop"
    # a --config file overrides the recipe, explicit options override both
    (tmp_path / "t.json").write_text(json.dumps({"batch": 6, "ema": 0.99, "lr_only": {"pixmix": {"k_max": 4}}}))
    c = config_from(str(tmp_path / "t.json"), "moeller2024", scale=4, batch=2)
    assert (c.batch, c.ema, c.lr_only.pipeline_config(4).k_max, c.lr_only.pipeline_config(4).beta) == (2, 0.99, 4, 2.0)
    with pytest.raises(EmsimError, match="unknown recipe"):
        recipe("lobato2023")


@pytest.mark.parametrize("name", RECIPES)
def test_two_step_run_with_each_recipe(name, tmp_path, lr_folder, ref_folder):
    mixing = tmp_path / "mix"
    MixingSet.generate(MixingConfig(n=2, size=64, sources=("fractal",)), mixing)
    args = ["train", "sr", "--recipe", name, "--lr-only-folder", str(lr_folder), "--val-folder", str(ref_folder), "--out", str(tmp_path / "run"), "--steps", "2", "--batch", "2", "--patch", "32", "--workers", "0", "--val-size", "2", "--val-every", "2", "--ckpt-every", "2", "--device", "cpu", "--quiet"]
    if name == "moeller2024":
        args += ["--mixing-dir", str(mixing), "--k-max", "3"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    assert meta["train"]["batch"] == 2 and meta["train"]["patch"] == 32  # explicit options override the recipe
    assert meta["train"] == json.loads(json.dumps(meta["train"])) and meta["model_config"]["grid"] == "centre"
    assert meta["parameters_without_position_tables"] == 878_836 and meta["parameters"] == 878_836 + 24 * 225 * 6
    assert "878,836 without relative-position bias tables" in res.output and "validation: PSNR" in res.output
    if name != "emsim":
        assert meta["model_config"]["normalise"] is False and meta["model_config"]["residual"] == "none"
    if name == "moeller2024":
        assert meta["lr_only"]["config"]["k_max"] == 3


def test_train_sr_cli_lr_only_options(tmp_path, lr_folder):
    r = CliRunner()
    base = ["train", "sr", "--out", str(tmp_path / "r"), "--device", "cpu"]
    res = r.invoke(cli, base + ["--on-the-fly", "--val-folder", str(lr_folder)])
    assert res.exit_code == 2 and "need --lr-only-folder" in res.output
    one = tmp_path / "one"
    one.mkdir()
    np.save(one / "a.npy", np.zeros((64, 64), np.float32))
    res = r.invoke(cli, base + ["--lr-only-folder", str(one)])
    assert res.exit_code == 2 and "held-out validation" in res.output
    res = r.invoke(cli, base + ["--lr-only-folder", str(lr_folder), "--scale", "3", "--patch", "48"])
    assert res.exit_code == 2 and "Table 1" in res.output
    cfg = config_from(scale=2, lr_only={"multiscale": {"gamma": []}})
    assert cfg.lr_only.pipeline_config(2).gamma == () and len(cfg.lr_only.pipeline_config(2).beta) == 10
