"""SR networks: parameter counts, shapes, normalisation, bicubic residual, build, training."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emsim.imaging.resample import cubic_upsample  # noqa: E402
from restoration.archs import SR as SR_ARCHS  # noqa: E402
from restoration.archs import build, n_parameters  # noqa: E402
from restoration.archs.blocks import bicubic_upsample  # noqa: E402
from restoration.archs.cgrdn_sr import CGRDNSR  # noqa: E402
from restoration.archs.swinir import SwinIR, relative_position_parameters  # noqa: E402

TINY_SWIN = dict(embed_dim=12, depths=(2, 2), num_heads=(2, 2), window_size=4, mlp_ratio=2.0)
TINY_CGRDN = dict(width=8, n_grdb=2, n_rdb=2, n_layers=2, growth=4)


def swin_count(scale, c=1, e=60, blocks=24, rstb=4, mlp=2):
    """Closed form for SwinIR with the pixel-shuffle-direct upsampler (no bias tables)."""
    conv = lambda i, o: i * o * 9 + o  # noqa: E731
    block = 2 * 2 * e + (e * 3 * e + 3 * e) + (e * e + e) + (e * mlp * e + mlp * e) + (mlp * e * e + e)
    return conv(c, e) + 2 * e + blocks * block + rstb * conv(e, e) + 2 * e + conv(e, e) + conv(e, scale * scale * c)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_swinir_lightweight_parameter_count(scale):
    m = SwinIR(scale=scale)
    tables = relative_position_parameters(m)
    assert tables == 24 * (2 * 8 - 1) ** 2 * 6
    assert n_parameters(m) - tables == swin_count(scale)
    if scale == 4:
        assert n_parameters(m) - tables == 878_836  # Moeller et al.: 0.878 M


def test_cgrdn_sr_parameter_count():
    # CGRDN (7,035,521) without its 3x3 output conv (64*9 + 1), plus the pixel-shuffle tail
    assert n_parameters(CGRDNSR(scale=4)) == 7_035_521 - (64 * 9 + 1) + (64 * 9 * 16 + 16)
    assert n_parameters(CGRDNSR(scale=2, **TINY_CGRDN)) > 0


@pytest.mark.parametrize("arch,kw", [("swinir", TINY_SWIN), ("cgrdn_sr", TINY_CGRDN)])
@pytest.mark.parametrize("scale", [2, 3])
@pytest.mark.parametrize("shape", [(1, 1, 16, 16), (2, 1, 13, 9), (1, 1, 3, 5)])
def test_any_input_size(arch, kw, scale, shape):
    torch.manual_seed(0)
    m = SR_ARCHS[arch](scale=scale, **kw).eval()
    with torch.no_grad():
        y = m(torch.rand(shape))
    assert y.shape == (shape[0], 1, scale * shape[2], scale * shape[3])
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("arch,kw", [("swinir", TINY_SWIN), ("cgrdn_sr", TINY_CGRDN)])
def test_affine_equivariance(arch, kw):
    """Per-image normalisation: G(a x + b) = a G(x) + b (when Std(x) > 0.1)."""
    torch.manual_seed(0)
    m = SR_ARCHS[arch](scale=2, **kw).eval()
    x = torch.rand(1, 1, 12, 12) + 1.0
    with torch.no_grad():
        torch.testing.assert_close(m(3.0 * x + 7.0), 3.0 * m(x) + 7.0, rtol=1e-4, atol=1e-4)


def test_torch_bicubic_matches_numpy(rng):
    x = rng.random((2, 1, 7, 11)).astype(np.float32)
    for s in (2, 3, 4):
        got = bicubic_upsample(torch.from_numpy(x), s).numpy()
        for b in range(2):
            np.testing.assert_allclose(got[b, 0], cubic_upsample(x[b, 0], s), atol=1e-5)


@pytest.mark.parametrize("arch,kw,tail", [("swinir", TINY_SWIN, "upsample"), ("cgrdn_sr", TINY_CGRDN, "tail")])
def test_zero_tail_gives_bicubic_on_the_probe_grid(arch, kw, tail, rng):
    """With the last conv zeroed the network is its residual path: de-normalised bicubic of
    the normalised input = bicubic of the input, equal to it at the probe pixels."""
    m = SR_ARCHS[arch](scale=4, **kw).eval()
    conv = getattr(m, tail)[0]
    torch.nn.init.zeros_(conv.weight)
    torch.nn.init.zeros_(conv.bias)
    x = rng.random((9, 10)).astype(np.float32) * 5 + 2
    with torch.no_grad():
        y = m(torch.from_numpy(x)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(y, cubic_upsample(x, 4), atol=1e-4)
    np.testing.assert_allclose(y[::4, ::4], x, atol=1e-4)


@pytest.mark.parametrize("arch,kw", [("swinir", TINY_SWIN), ("cgrdn_sr", TINY_CGRDN)])
def test_build_round_trip(arch, kw):
    import json

    torch.manual_seed(0)
    m = SR_ARCHS[arch](scale=2, residual="nearest", **kw).eval()
    cfg = json.loads(json.dumps(m.config))  # JSON-able, as stored in checkpoints
    m2 = build(cfg).eval()
    m2.load_state_dict(m.state_dict())
    x = torch.rand(1, 1, 10, 10)
    with torch.no_grad():
        torch.testing.assert_close(m2(x), m(x))
    with pytest.raises(ValueError):
        SR_ARCHS[arch](scale=2, residual="cubic", **kw)


def test_tiny_model_trains_on_cpu():
    """Forward/backward of a tiny SwinIR on CPU: a few Adam steps reduce the L1 loss on
    fixed LR/HR pairs (HR: smooth random images, LR = HR[::2, ::2])."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    hr = torch.nn.functional.avg_pool2d(torch.rand(4, 1, 40, 40, generator=g), 5, 1)[..., :32, :32]
    lr = hr[..., ::2, ::2]
    m = SwinIR(scale=2, **TINY_SWIN)
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    losses = []
    for _ in range(25):
        loss = (m(lr) - hr).abs().mean()
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is not None for p in m.parameters() if p.requires_grad)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_centre_grid_torch_bicubic_matches_pillow_and_numpy(rng):
    """grid="centre" (HR pixel k at LR coordinate (k + 0.5)/s - 0.5) is Pillow's BICUBIC
    upscaling of the edge-padded image and the numpy ``cubic_upsample(..., "centre")``."""
    from PIL import Image

    x = rng.random((2, 1, 9, 11)).astype(np.float32)
    for s in (2, 3, 4):
        got = bicubic_upsample(torch.from_numpy(x), s, "centre").numpy()
        p = 3
        padded = np.pad(x[0, 0], p, mode="edge")
        ref = np.asarray(Image.fromarray(padded, mode="F").resize((s * padded.shape[1], s * padded.shape[0]), Image.Resampling.BICUBIC))
        ref = ref[s * p : s * (p + 9), s * p : s * (p + 11)]
        np.testing.assert_allclose(got[0, 0, 2:-2, 2:-2], ref[2:-2, 2:-2], atol=1e-5)
        for b in range(2):
            np.testing.assert_allclose(got[b, 0], cubic_upsample(x[b, 0], s, "centre"), atol=1e-5)
        assert not np.allclose(got[0, 0], bicubic_upsample(torch.from_numpy(x), s)[0, 0].numpy(), atol=1e-3)  # the grids differ


@pytest.mark.parametrize("arch,kw,tail", [("swinir", TINY_SWIN, "upsample"), ("cgrdn_sr", TINY_CGRDN, "tail")])
def test_grid_and_switches_of_the_sr_networks(arch, kw, tail, rng):
    """``grid`` sets the residual's pixel grid; ``normalise=False`` and ``residual="none"``
    give the plain network of the papers. All go into ``config``, so ``build`` rebuilds them."""
    x = rng.random((9, 10)).astype(np.float32) * 5 + 2
    t = torch.from_numpy(x)[None, None]
    for grid, normalise in [("centre", True), ("centre", False), ("probe", False)]:
        m = SR_ARCHS[arch](scale=4, grid=grid, normalise=normalise, **kw).eval()
        conv = getattr(m, tail)[0]
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.zeros_(conv.bias)
        assert m.config["grid"] == grid and m.config["normalise"] is normalise and build(m.config).grid == grid
        with torch.no_grad():
            np.testing.assert_allclose(m(t)[0, 0].numpy(), cubic_upsample(x, 4, grid), atol=1e-4)
    plain = SR_ARCHS[arch](scale=2, normalise=False, residual="none", **kw).eval()
    conv = getattr(plain, tail)[0]
    torch.nn.init.zeros_(conv.weight)
    torch.nn.init.zeros_(conv.bias)
    with torch.no_grad():
        assert torch.count_nonzero(plain(t)) == 0  # no residual, no de-normalisation
    with pytest.raises(ValueError, match="grid"):
        SR_ARCHS[arch](scale=2, grid="corner", **kw)
