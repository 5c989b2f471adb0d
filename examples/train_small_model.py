"""Train a small torch model on emsim pairs, from a store or simulated on the fly.

    emsim generate --modality stem --n 512 --size 64 --out pairs.zarr
    python examples/train_small_model.py --data pairs.zarr
    python examples/train_small_model.py --on-the-fly --modality stem --steps 200

Any torch model works: this one is a three-layer CNN predicting the residual.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader

from emsim.dataset.torch import SimulatedPairs, ZarrPairs
from emsim.pairs import resolve_config


class SmallNet(nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 1, 3, padding=1))

    def forward(self, x):
        return x + self.net(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", help="zarr store from `emsim generate`")
    ap.add_argument("--on-the-fly", action="store_true")
    ap.add_argument("--modality", default="stem")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if args.on_the_fly:
        config = resolve_config(modality=args.modality, shape=(args.size, args.size))
        dataset = SimulatedPairs(seed=0, config=config, batch_size=args.batch)
        loader = DataLoader(dataset, batch_size=args.batch, num_workers=args.workers)
    else:
        dataset = ZarrPairs(args.data)
        loader = DataLoader(dataset, batch_size=args.batch, shuffle=True, num_workers=args.workers, drop_last=True)
    model = SmallNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    step = 0
    while step < args.steps:
        for x, y in loader:
            loss = nn.functional.l1_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if args.on_the_fly:
                dataset.advance(x.shape[0])  # keeps dataset.state_dict() resumable
            step += 1
            if step % 20 == 0:
                with torch.no_grad():
                    raw = nn.functional.l1_loss(x, y)
                print(f"step {step}: L1 {loss.item():.4f} (input L1 {raw.item():.4f})")
            if step >= args.steps:
                break


if __name__ == "__main__":
    main()
