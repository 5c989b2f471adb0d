"""benchmarks/gpu_check.py runs (tiny, on the CPU) and skips cleanly without a GPU."""

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def _module():
    sys.path.insert(0, str(SCRIPT.parent))  # as `python benchmarks/gpu_check.py` has it
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_dry_run_fills_the_table(capsys):
    rows = _module().main(["--dry-run", "--no-compile"])
    for key in ("forward_32_s", "forward_64_s", "train_steps_per_s", "loader_pairs_per_s_0_workers"):
        assert rows[key] > 0
    assert "train_steps_per_s" in capsys.readouterr().out


def test_without_a_gpu_it_skips():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert _module().main([]) == {"device": "cpu", "skipped": True}
