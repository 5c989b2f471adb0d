import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).parent))

from fake_sampler import SAMPLER, FakeConfig  # noqa: E402

from emsim.dataset.generate import generate  # noqa: E402


@pytest.fixture(scope="module")
def fake_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("d") / "s.zarr"
    generate(out, 12, FakeConfig(), seed=4, workers=1, shard_size=5, progress=False, sampler="fake_sampler:SAMPLER")
    return out


def test_zarr_pairs_items(fake_store):
    from emsim.dataset.torch import ZarrPairs

    ds = ZarrPairs(fake_store, with_record=True)
    assert len(ds) == 12
    x, y, rec = ds[7]
    assert x.shape == (1, 8, 6) and x.dtype == torch.float32
    np.testing.assert_array_equal(y[0].numpy(), SAMPLER(4, 7, FakeConfig()).y)
    assert rec["index"] == 7


@pytest.mark.parametrize("ctx", ["spawn", "fork"])
def test_zarr_pairs_dataloader_two_workers(fake_store, ctx):
    from torch.utils.data import DataLoader

    from emsim.dataset.torch import ZarrPairs

    ds = ZarrPairs(fake_store)
    loader = DataLoader(ds, batch_size=3, num_workers=2, multiprocessing_context=ctx, shuffle=False)
    ys = torch.cat([y for _, y in loader])
    assert ys.shape == (12, 1, 8, 6)
    expect = np.stack([SAMPLER(4, i, FakeConfig()).y for i in range(12)])
    np.testing.assert_array_equal(ys[:, 0].numpy(), expect)
    assert len({tuple(v.flatten().tolist()) for v in ys}) == 12  # distinct samples
