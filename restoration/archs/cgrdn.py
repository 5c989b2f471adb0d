"""CGRDN, the paper's generator (Lobato et al. 2023, "Network architecture").

3x3 conv to ``width`` features -> 4x4 conv, stride 2 -> ``n_grdb`` GRDBs, whose outputs are
concatenated, fused by a 1x1 conv and added to the downsampled features (semi-global
residual) -> 4x4 transposed conv, stride 2 -> 3x3 conv to 1 channel -> global residual with
the (normalised) input. A GRDB holds ``n_rdb`` RDBs (``blocks``). No normalisation layers,
no CBAM. With the defaults (64, 4, 4, 8, 32) it has 7,035,521 parameters, as the
reference implementation.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import GRDB, Normalised
from .registry import register


@register("cgrdn", "restore", default=True)
class CGRDN(Normalised):
    """Concatenated grouped residual dense network (the paper's generator)."""

    def __init__(self, width: int = 64, n_grdb: int = 4, n_rdb: int = 4, n_layers: int = 8, growth: int = 32, channels: int = 1):
        super().__init__()
        self.config = dict(arch=self.arch, width=width, n_grdb=n_grdb, n_rdb=n_rdb, n_layers=n_layers, growth=growth, channels=channels)
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.down = nn.Conv2d(width, width, 4, stride=2, padding=1)
        self.grdbs = nn.ModuleList(GRDB(width, growth, n_layers, n_rdb) for _ in range(n_grdb))
        self.fuse = nn.Conv2d(n_grdb * width, width, 1)
        self.up = nn.ConvTranspose2d(width, width, 4, stride=2, padding=1)
        self.tail = nn.Conv2d(width, channels, 3, padding=1)

    def features(self, z):
        d = self.down(self.head(z))
        outs, h = [], d
        for g in self.grdbs:
            h = g(h)
            outs.append(h)
        return d + self.fuse(torch.cat(outs, 1))

    def body(self, z):
        return self.tail(self.up(self.features(z)))
