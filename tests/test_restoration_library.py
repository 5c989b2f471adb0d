"""The network registry, the trainer's gradient flow, pickle-free weights, and emsim's own
metrics and registration against the maintained libraries (pytorch-msssim, scikit-image)."""

import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from cli.main import cli  # noqa: E402
from emsim.errors import EmsimError  # noqa: E402
from restoration import checkpoint  # noqa: E402
from restoration.archs import RESTORE, SR, build, default, names, task_of  # noqa: E402
from restoration.baselines.registration import masked_ncc_map  # noqa: E402
from restoration.metrics import ms_ssim  # noqa: E402
from restoration.train import TrainConfig, Trainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(width=8, n_grdb=1, n_rdb=1, n_layers=2, growth=4)


def test_registry_names_each_network_once_and_builds_it():
    assert set(names("restore")) == {"cgrdn", "grdn"} and set(names("sr")) == {"swinir", "cgrdn_sr"}
    assert set(RESTORE) | set(SR) == set(names()) and task_of("swinir") == "sr"
    for name in names():
        m = build({"arch": name, **({"scale": 2} if task_of(name) == "sr" else {}), **({"embed_dim": 12, "depths": [2], "num_heads": [2]} if name == "swinir" else TINY)})
        assert m.config["arch"] == name and type(build(m.config)) is type(m)
    with pytest.raises(EmsimError, match="unknown network"):
        build({"arch": "unet"})
    with pytest.raises(EmsimError, match="unknown model"):
        TrainConfig(model="unet")
    # no network name is written twice in the code: only in its @register decorator
    code = "\n".join(p.read_text() for d in ("emsim", "restoration", "cli", "benchmarks") for p in (ROOT / d).rglob("*.py"))
    for name in names():
        assert len(re.findall(rf"[\"']{name}[\"']", code)) == 1, name


def test_each_task_has_one_default_listed_first():
    assert names("restore")[0] == default("restore") == "cgrdn" and names("sr")[0] == default("sr") == "swinir"
    assert TrainConfig().network == "cgrdn" and TrainConfig(scale=4).network == "swinir"
    assert TrainConfig(model="cgrdn_sr", scale=2).model_config()["arch"] == "cgrdn_sr"
    with pytest.raises(EmsimError, match="needs scale 1"):
        TrainConfig(model="grdn", scale=2)
    out = CliRunner().invoke(cli, ["train", "sr", "--help"]).output
    assert "[swinir|cgrdn_sr]" in out


def test_constructor_owns_the_defaults():
    cfg = TrainConfig(**TINY, gan_after=-1, patch=32)
    assert cfg.model_config() == {"arch": "cgrdn", **TINY}
    assert build(TrainConfig().model_config()).config == build({"arch": "cgrdn"}).config  # the paper's CGRDN
    sr = TrainConfig(model="swinir", scale=4, arch={"embed_dim": 12}, gan_after=-1, patch=32)
    assert sr.model_config() == {"arch": "swinir", "scale": 4, "embed_dim": 12}


def test_discriminator_takes_no_gradient_in_the_generator_step(tmp_path):
    from emsim.distort import all_off
    from emsim.pairs import PairConfig

    cfg = TrainConfig(**TINY, steps=1, batch=2, patch=80, val_size=1, workers=0, gan_after=0, amp=False)
    t = Trainer(tmp_path / "run", cfg, pair_config=PairConfig(shape=(80, 80), distort=all_off()), device="cpu", quiet=True)
    x, y = next(t.batches)
    seen = []
    for p in t.D.parameters():
        p.register_hook(lambda g: seen.append(g))
    loss, y_g, terms = t.generator_step(x, y, x, gan=True)
    assert "adv" in terms and not seen and all(p.grad is None for p in t.D.parameters())
    assert all(p.requires_grad for p in t.D.parameters())  # switched back on for its own step
    t.discriminator_step(x, y, y_g)
    assert seen and all(p.grad is not None for p in t.D.parameters())


def test_safetensors_weights_load_without_pickle_and_restore(tmp_path):
    g = build({"arch": "cgrdn", **TINY}).eval()
    checkpoint.save_weights(tmp_path / "m.safetensors", g)
    assert (tmp_path / "m.json").is_file()
    g2 = checkpoint.load_generator(tmp_path / "m.safetensors")
    x = torch.rand(1, 1, 24, 24)
    torch.testing.assert_close(g2(x), g(x))
    np.save(tmp_path / "in.npy", np.random.default_rng(0).random((20, 28)).astype(np.float32))
    res = CliRunner().invoke(cli, ["restore", str(tmp_path / "in.npy"), "--model", str(tmp_path / "m.safetensors"), "--out", str(tmp_path / "out.npy"), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    (tmp_path / "m.json").unlink()
    with pytest.raises(EmsimError, match="m.json"):
        checkpoint.load_generator(tmp_path / "m.safetensors")


@pytest.mark.parametrize("shape", [(176, 176), (256, 192)])
def test_ms_ssim_agrees_with_pytorch_msssim(rng, shape):
    """Equal to pytorch-msssim (its window given in float64: its own float32 window moves
    SSIM by ~2e-5 through the E[x^2] - mu^2 cancellation; sizes even at every scale, where
    both downsample alike)."""
    pm = pytest.importorskip("pytorch_msssim")
    from scipy import ndimage

    t = torch.arange(11, dtype=torch.float64) - 5
    win = torch.exp(-(t**2) / (2 * 1.5**2))
    win = (win / win.sum()).reshape(1, 1, 1, 11)
    y = ndimage.gaussian_filter(rng.random(shape), 3.0)
    for noise in (0.005, 0.03):
        x = y + rng.normal(0, noise, shape)
        tx, ty, L = torch.from_numpy(x)[None, None], torch.from_numpy(y)[None, None], float(y.max() - y.min())
        assert ms_ssim(y, x) == pytest.approx(float(pm.ms_ssim(tx, ty, data_range=L, win=win)), abs=1e-9)
        assert ms_ssim(y, x) == pytest.approx(float(pm.ms_ssim(tx, ty, data_range=L, win_size=11, win_sigma=1.5)), abs=1e-4)


def test_masked_ncc_is_scikit_images_masked_correlation(rng):
    """Padfield's masked NCC: scikit-image's cross_correlate_masked with the opposite shift
    convention (its map reversed), wherever the overlap is not tiny."""
    from skimage.registration._masked_phase_cross_correlation import cross_correlate_masked

    f, m = rng.random((20, 24)), rng.random((18, 22))
    mf, mm = rng.random(f.shape) > 0.2, rng.random(m.shape) > 0.3
    ours, n = masked_ncc_map(f, m, mf, mm)
    ref = cross_correlate_masked(f, m, mf, mm, axes=(0, 1), mode="full", overlap_ratio=0)[::-1, ::-1]
    ok = n > 20
    assert ok.sum() > 300
    np.testing.assert_allclose(ours[ok], ref[ok], atol=1e-10)
