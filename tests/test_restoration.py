import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emsim.errors import EmsimError  # noqa: E402
from emsim.io import read_image  # noqa: E402
from restoration import checkpoint, losses  # noqa: E402
from restoration.infer import restore_array  # noqa: E402
from restoration.metrics import psnr  # noqa: E402
from restoration.archs import build, n_parameters  # noqa: E402
from restoration.archs.cgrdn import CGRDN  # noqa: E402
from restoration.archs.discriminator import PatchDiscriminator  # noqa: E402
from restoration.archs.grdn import GRDN  # noqa: E402

TINY = dict(width=8, n_grdb=2, n_rdb=2, n_layers=2, growth=4)


def test_parameter_counts():
    assert n_parameters(CGRDN()) == 7_035_521  # the reference implementation
    assert n_parameters(GRDN()) == pytest.approx(7.02e6, rel=1e-3)  # paper: 7.02 M
    assert n_parameters(CGRDN()) - n_parameters(GRDN()) == pytest.approx(2e4, rel=0.25)  # paper: ~20k more


@pytest.mark.parametrize("shape", [(1, 1, 32, 32), (2, 1, 37, 50), (1, 1, 17, 9)])
@pytest.mark.parametrize("cls", [CGRDN, GRDN])
def test_shapes_preserved(cls, shape):
    torch.manual_seed(0)
    assert cls(**TINY)(torch.randn(shape)).shape == shape


def test_input_normalisation_makes_the_model_affine_equivariant():
    """Per-image normalisation: G(a x + b) = a G(x) + b (when Std(x) > 0.1)."""
    torch.manual_seed(0)
    g = CGRDN(**TINY).eval()
    x = torch.rand(1, 1, 24, 24) + 1.0
    with torch.no_grad():
        torch.testing.assert_close(g(3.0 * x + 7.0), 3.0 * g(x) + 7.0, rtol=1e-4, atol=1e-4)


def test_discriminator_has_no_padding_and_instance_norm():
    d = PatchDiscriminator()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())
    assert sum(isinstance(m, torch.nn.InstanceNorm2d) for m in d.modules()) == 3
    assert all(m.padding == (0, 0) for m in d.modules() if isinstance(m, torch.nn.Conv2d))
    out = d(torch.randn(2, 1, 128, 128), torch.randn(2, 1, 128, 128))
    assert out.shape == (2, 1, 8, 8)


def test_l1_weight_matches_formula():
    y = torch.rand(3, 1, 16, 16) * torch.tensor([1.0, 0.2, 1e-4]).view(3, 1, 1, 1)
    c = 0.05
    expected = np.mean([c / max(losses.SIGMA_MIN, float(y[i].std())) for i in range(3)])
    assert float(losses.l1_loss(y, y + c)) == pytest.approx(expected, rel=1e-5)
    assert float(losses.l2_loss(y, y + c)) == pytest.approx(np.mean([c * c / max(losses.SIGMA_MIN, float(y[i].std())) for i in range(3)]), rel=1e-5)


def test_mlwt_and_fourier_losses():
    y = torch.rand(2, 1, 32, 32)
    y2 = torch.rand(2, 1, 32, 32)
    assert float(losses.mlwt_loss(y, y)) == 0.0
    assert float(losses.mlwt_loss(y, y2)) > 0.1
    # whitening is invariant to affine intensity changes of the image
    torch.testing.assert_close(losses.local_whitening(3 * y + 2, 4), losses.local_whitening(y, 4), rtol=1e-4, atol=1e-3)
    f = losses.fourier_loss(y, y2)
    assert float(f) == pytest.approx(float(losses.fourier_loss(y2, y)), rel=1e-6)  # symmetric
    assert float(losses.fourier_loss(y, y)) == pytest.approx(1e-12 ** (0.125 / 2), rel=1e-6)  # 0 up to eps
    assert float(losses.mean_loss(y, y + 0.3)) == pytest.approx(0.3, rel=1e-5)
    assert float(losses.std_loss(y, 2 * y)) == pytest.approx(float(y.flatten(1).std(1).mean()), rel=1e-4)


def test_relativistic_losses():
    zero = torch.zeros(2, 1, 4, 4)
    assert float(losses.adversarial_loss(zero, zero)) == pytest.approx(2 * math.log(2))
    assert float(losses.discriminator_loss(zero, zero)) == pytest.approx(2 * math.log(2))
    # a discriminator that scores real far above fake has a small loss, the generator a large one
    real, fake = zero + 5, zero - 5
    assert float(losses.discriminator_loss(real, fake)) < 1e-3
    assert float(losses.adversarial_loss(real, fake)) > 10
    # only relative scores matter
    assert float(losses.discriminator_loss(real + 3, fake + 3)) == pytest.approx(float(losses.discriminator_loss(real, fake)))


def test_losses_have_finite_gradients_on_flat_images():
    y = torch.ones(1, 1, 16, 16)
    y_g = torch.ones(1, 1, 16, 16, requires_grad=True)
    total, _ = losses.pixel_loss(y, y_g)
    total.backward()
    assert torch.isfinite(y_g.grad).all()


def test_tiled_inference_matches_full_image_away_from_borders():
    torch.manual_seed(1)
    g = CGRDN(width=8, n_grdb=1, n_rdb=1, n_layers=1, growth=4).eval()  # receptive field < overlap/4
    img = np.random.default_rng(0).random((150, 133)).astype(np.float32)
    with torch.no_grad():
        full = g(torch.from_numpy(img)[None, None])[0, 0].numpy()
    tiled = restore_array(g, img, tile=64, overlap=32)
    assert tiled.shape == img.shape
    # the per-tile normalisation differs slightly from the full image's, so compare the
    # restoration (output minus input) relative to its own scale, away from the border
    inner = (slice(12, -12), slice(12, -12))
    diff = np.abs(tiled - full)[inner].max() / np.abs(full - img)[inner].max()
    assert diff < 0.02
    assert psnr(full, tiled) > 50


def test_tiled_inference_exact_for_a_pointwise_model():
    """No seams: a model with no spatial support reproduces the image exactly."""

    class Pointwise(torch.nn.Module):
        def forward(self, x):
            return 2 * x + 1

    img = np.random.default_rng(1).random((100, 77)).astype(np.float32)
    np.testing.assert_allclose(restore_array(Pointwise(), img, tile=32, overlap=8), 2 * img + 1, rtol=1e-6)


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    g = CGRDN(**TINY)
    checkpoint.save(tmp_path / "m.pt", {"model": g.state_dict(), "model_config": g.config, "step": 3})
    raw = torch.load(tmp_path / "m.pt", weights_only=True)  # no arbitrary pickles
    assert raw["step"] == 3
    g2 = checkpoint.load_generator(tmp_path / "m.pt")
    x = torch.rand(1, 1, 20, 20)
    with torch.no_grad():
        torch.testing.assert_close(g.eval()(x), g2(x))
    assert isinstance(build(dict(arch="grdn", **TINY)), GRDN)
    with pytest.raises(EmsimError, match="is a restoration model"):
        checkpoint.load_generator(tmp_path / "m.pt", sr=True)  # e.g. `emsim sr` with a CGRDN


def test_input_images_must_be_finite(tmp_path):
    img = np.ones((20, 20), dtype=np.float32)
    img[3, 4] = np.nan
    np.save(tmp_path / "nan.npy", img)
    with pytest.raises(EmsimError, match="NaN or infinite"):
        read_image(tmp_path / "nan.npy")


def test_tiled_super_resolution_is_seamless():
    """Tiles of an SR model are blended at the output scale: a pointwise upsampler
    (nearest x3) is reproduced exactly, and a real SR model matches its full-image output."""

    class Nearest3(torch.nn.Module):
        scale = 3

        def forward(self, x):
            return x.repeat_interleave(3, -2).repeat_interleave(3, -1)

    img = np.random.default_rng(2).random((45, 70)).astype(np.float32)
    np.testing.assert_allclose(restore_array(Nearest3(), img, tile=16, overlap=8), np.kron(img, np.ones((3, 3))), rtol=1e-6)
    from restoration.archs.cgrdn_sr import CGRDNSR

    torch.manual_seed(0)
    m = CGRDNSR(scale=2, width=8, n_grdb=1, n_rdb=1, n_layers=1, growth=4).eval()
    with torch.no_grad():
        full = m(torch.from_numpy(img)[None, None])[0, 0].numpy()
    tiled = restore_array(m, img, tile=32, overlap=16)
    assert tiled.shape == (90, 140)
    inner = (slice(16, -16), slice(16, -16))  # the image borders are padded differently
    assert psnr(full[inner], tiled[inner]) > 50


def test_output_keeps_pixel_size_scaled_by_the_sr_factor(tmp_path):
    """TIFF resolution tags and microscope-file pixel scales survive restoration; super-
    resolution by s divides the pixel size by s."""
    import tifffile

    from emsim.io import read_input, write_output

    img = np.random.default_rng(0).random((24, 20)).astype(np.float32)
    tifffile.imwrite(tmp_path / "in.tif", img, resolution=(10.0, 10.0), resolutionunit="CENTIMETER")
    x, meta = read_input(tmp_path / "in.tif")
    np.testing.assert_array_equal(x, img)
    write_output(tmp_path / "same.tif", x, meta)
    write_output(tmp_path / "sr.tif", np.kron(x, np.ones((4, 4), np.float32)), meta, upscale=4)
    for name, ppu in (("same.tif", 10.0), ("sr.tif", 40.0)):
        with tifffile.TiffFile(tmp_path / name) as tf:
            assert tf.pages[0].get_resolution() == pytest.approx((ppu, ppu))

    emd = pytest.importorskip("rsciio.emd")
    axes = [{"name": n, "size": k, "scale": 0.05, "offset": 0.0, "units": "nm", "navigate": False} for n, k in (("y", 24), ("x", 20))]
    emd.file_writer(str(tmp_path / "in.emd"), {"data": img, "axes": axes, "metadata": {"General": {"title": "t"}, "Signal": {"signal_type": ""}}, "original_metadata": {}})
    x, meta = read_input(tmp_path / "in.emd")
    np.testing.assert_array_equal(x, img)
    write_output(tmp_path / "emd_sr.tif", np.kron(x, np.ones((2, 2), np.float32)), meta, upscale=2)
    with tifffile.TiffFile(tmp_path / "emd_sr.tif") as tf:  # ImageJ calibration (Fiji) ...
        assert tf.imagej_metadata["unit"] == "nm" and tf.pages[0].get_resolution() == pytest.approx((40.0, 40.0))
    axes = pytest.importorskip("rsciio.tiff").file_reader(str(tmp_path / "emd_sr.tif"))[0]["axes"]  # ... and HyperSpy's
    assert [(a["scale"], a["units"]) for a in axes] == [(pytest.approx(0.025), "nm")] * 2
