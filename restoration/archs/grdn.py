"""GRDN (Kim et al. 2019), the paper's baseline: the CGRDN blocks cascaded (no
concatenation), with CBAM after the upsampling; 7,019,752 parameters at the defaults
(paper: 7.02 M)."""

from __future__ import annotations

from torch import nn

from .blocks import CBAM, GRDB, Normalised
from .registry import register


@register("grdn", "restore")
class GRDN(Normalised):
    """Grouped residual dense network (cascaded GRDBs + CBAM), the paper's baseline."""

    def __init__(self, width: int = 64, n_grdb: int = 4, n_rdb: int = 4, n_layers: int = 8, growth: int = 32, channels: int = 1):
        super().__init__()
        self.config = dict(arch=self.arch, width=width, n_grdb=n_grdb, n_rdb=n_rdb, n_layers=n_layers, growth=growth, channels=channels)
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.down = nn.Conv2d(width, width, 4, stride=2, padding=1)
        self.grdbs = nn.Sequential(*(GRDB(width, growth, n_layers, n_rdb) for _ in range(n_grdb)))
        self.up = nn.ConvTranspose2d(width, width, 4, stride=2, padding=1)
        self.cbam = CBAM(width)
        self.tail = nn.Conv2d(width, channels, 3, padding=1)

    def body(self, z):
        return self.tail(self.cbam(self.up(self.grdbs(self.down(self.head(z))))))
