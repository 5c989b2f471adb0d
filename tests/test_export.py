"""Exported generators: onnxruntime agrees with torch within 1e-4 (CGRDN, SwinIR-light) at
sizes other than the traced one; `emsim export` writes ONNX and safetensors that
`emsim restore` / `emsim sr` accept, giving the checkpoint's output; restored and
super-resolved files keep the pixel size (TIFF: ImageJ and rosettasciio; .emd: axes)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from click.testing import CliRunner  # noqa: E402

from cli.main import cli  # noqa: E402
from restoration import checkpoint  # noqa: E402
from restoration.archs import build  # noqa: E402
from restoration.export import OnnxGenerator, export_onnx  # noqa: E402


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.parametrize("config", [{"arch": "cgrdn"}, {"arch": "swinir", "scale": 4}], ids=["cgrdn", "swinir-light"])
def test_onnx_matches_torch(tmp_path, config):
    torch.manual_seed(0)
    model = build(config).eval()
    meta = export_onnx(model, tmp_path / "m.onnx")
    assert meta["emsim.opset"] == "17"
    ort_model = OnnxGenerator(tmp_path / "m.onnx")
    assert ort_model.config == model.config and ort_model.scale == model.config.get("scale", 1)
    for shape in ((48, 48), (40, 72)):  # the graph was traced at 64 x 64
        x = torch.rand(1, 1, *shape) * 3 + 0.5
        with torch.no_grad():
            ref = model(x)
        got = ort_model(x)
        assert got.shape == ref.shape
        assert float((got - ref).abs().max()) <= 1e-4 * max(1.0, float(ref.abs().max()))


def _tiff(path, img, scale_nm):
    from emsim.io import write_image

    write_image(path, img, scale_nm, "nm")


def _calibration(path):
    import tifffile

    with tifffile.TiffFile(path) as tf:
        ij = tf.imagej_metadata["unit"], 1.0 / tf.pages[0].get_resolution()[0]
    axes = pytest.importorskip("rsciio.tiff").file_reader(str(path))[0]["axes"]
    return ij, [(a["scale"], a["units"]) for a in axes]


@pytest.mark.parametrize("task", ["restore", "sr"])
def test_exported_files_restore_like_the_checkpoint(tmp_path, task):
    torch.manual_seed(1)
    cfg = {"arch": "cgrdn", "width": 16, "n_grdb": 1, "n_rdb": 1, "n_layers": 2, "growth": 8} if task == "restore" else {"arch": "cgrdn_sr", "scale": 2, "width": 8, "n_grdb": 1, "n_rdb": 1, "n_layers": 1, "growth": 4}
    model = build(cfg)
    checkpoint.save(tmp_path / "best.pt", {"model": model.state_dict(), "model_config": model.config})
    res = run("export", tmp_path / "best.pt", "--onnx", tmp_path / "m.onnx", "--safetensors", tmp_path / "m.safetensors")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m.json").exists()
    img = np.random.default_rng(0).random((56, 40)).astype(np.float32) * 5 + 1
    _tiff(tmp_path / "in.tif", img, 0.02)
    outs = {}
    for name in ("best.pt", "m.onnx", "m.safetensors"):
        out = tmp_path / f"out_{name.replace('.', '_')}.tif"
        res = run(task, tmp_path / "in.tif", "--model", tmp_path / name, "--out", out, "--tile", 32, "--overlap", 8)
        assert res.exit_code == 0, res.output
        import tifffile

        outs[name] = tifffile.imread(out)
    s = 2 if task == "sr" else 1
    assert outs["best.pt"].shape == (56 * s, 40 * s)
    np.testing.assert_allclose(outs["m.onnx"], outs["best.pt"], atol=1e-4 * np.abs(outs["best.pt"]).max())
    np.testing.assert_array_equal(outs["m.safetensors"], outs["best.pt"])
    (unit, scale), axes = _calibration(tmp_path / "out_m_onnx.tif")
    assert unit == "nm" and scale == pytest.approx(0.02 / s)
    assert axes == [(pytest.approx(0.02 / s), "nm")] * 2
    wrong = "sr" if task == "restore" else "restore"
    res = run(wrong, tmp_path / "in.tif", "--model", tmp_path / "m.onnx", "--out", tmp_path / "w.tif")
    assert res.exit_code == 2 and "use `emsim" in res.output


def test_export_bad_requests(tmp_path):
    assert "nothing to export" in run("export", tmp_path / "x.pt").output
    res = run("export", tmp_path / "missing.pt", "--onnx", tmp_path / "m.onnx")
    assert res.exit_code == 2 and "not found" in res.output and not (tmp_path / "m.onnx").exists()
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    res = run("restore", tmp_path / "junk.onnx", "--model", tmp_path / "junk.onnx", "--out", tmp_path / "o.tif")
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_emd_output_keeps_axes_and_units(tmp_path):
    """.emd in, .emd out: axis names, units and offsets kept, scale divided by the SR factor."""
    emd = pytest.importorskip("rsciio.emd")
    from emsim.io import read_input, write_output

    img = np.random.default_rng(0).random((24, 20)).astype(np.float32)
    axes = [{"name": n, "size": k, "scale": sc, "offset": off, "units": "nm", "navigate": False} for n, k, sc, off in (("y", 24, 0.05, 1.5), ("x", 20, 0.04, -2.0))]
    emd.file_writer(str(tmp_path / "in.emd"), {"data": img, "axes": axes, "metadata": {"General": {"title": "t"}, "Signal": {"signal_type": ""}}, "original_metadata": {}})
    x, meta = read_input(tmp_path / "in.emd")
    write_output(tmp_path / "same.emd", x, meta)
    write_output(tmp_path / "sr.emd", np.kron(x, np.ones((2, 2), np.float32)), meta, upscale=2)
    for name, s in (("same.emd", 1), ("sr.emd", 2)):
        back = emd.file_reader(str(tmp_path / name))[0]
        assert back["data"].shape == (24 * s, 20 * s)
        got = [(a["name"], a["size"], a["scale"], a["offset"], a["units"]) for a in back["axes"]]
        assert got == [("y", 24 * s, pytest.approx(0.05 / s), pytest.approx(1.5), "nm"), ("x", 20 * s, pytest.approx(0.04 / s), pytest.approx(-2.0), "nm")]
    _tiff(tmp_path / "t.tif", img, 0.1)  # a TIFF's pixel size becomes the axes
    x, meta = read_input(tmp_path / "t.tif")
    write_output(tmp_path / "t.emd", x, meta)
    back = emd.file_reader(str(tmp_path / "t.emd"))[0]
    assert [(a["scale"], a["units"]) for a in back["axes"]] == [(pytest.approx(0.1), "nm")] * 2


def test_cached_graph_runs_without_importing_onnx(tmp_path):
    """The CPU default (onnxruntime) exports once; later processes load the cached graph
    with onnxruntime alone (importing onnx costs ~0.5 s of every `emsim restore`)."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from restoration.archs import build\n"
        "from restoration.export import onnx_runtime\n"
        "torch.manual_seed(0)\n"
        "g = onnx_runtime(build({'arch': 'cgrdn', 'width': 8, 'n_grdb': 1, 'n_rdb': 1, 'n_layers': 1}).eval())\n"
        "print(type(g).__name__, 'onnx' in sys.modules)\n"
    )
    env = {**os.environ, "EMSIM_CACHE": str(tmp_path)}
    first, second = (subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=True).stdout.split() for _ in range(2))
    assert first == ["OnnxGenerator", "True"] and second == ["OnnxGenerator", "False"]
