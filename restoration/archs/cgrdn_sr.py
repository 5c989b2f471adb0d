"""CGRDN-SR: the CGRDN trunk (head, stride-2 down, concatenated GRDBs, semi-global residual,
transposed-conv up) at LR resolution, its 3x3 output conv replaced by a pixel-shuffle tail
(3x3 conv to s^2 C channels + PixelShuffle); 7,044,176 parameters at x4. The SR options
(``residual``, ``grid``, ``normalise``) are those of ``blocks.SRNormalised``."""

from __future__ import annotations

from torch import nn

from .blocks import SRNormalised, pad_to
from .cgrdn import CGRDN
from .registry import register


@register("cgrdn_sr", "sr")
class CGRDNSR(SRNormalised):
    """CGRDN trunk at LR resolution with a pixel-shuffle tail."""

    def __init__(self, scale: int = 4, width: int = 64, n_grdb: int = 4, n_rdb: int = 4, n_layers: int = 8, growth: int = 32, channels: int = 1, residual: str = "bicubic", grid: str = "probe", normalise: bool = True):
        super().__init__()
        sr = self.sr_options(scale, residual, grid, normalise)
        self.config = dict(arch=self.arch, width=width, n_grdb=n_grdb, n_rdb=n_rdb, n_layers=n_layers, growth=growth, channels=channels, **sr)
        self.trunk = CGRDN(width, n_grdb, n_rdb, n_layers, growth, channels)
        self.trunk.tail = nn.Identity()  # trunk.body(z): head -> down -> GRDBs -> up features
        self.tail = nn.Sequential(nn.Conv2d(width, self.scale**2 * channels, 3, padding=1), nn.PixelShuffle(self.scale))

    def body(self, z):
        h, w = z.shape[-2:]
        f = self.trunk.body(pad_to(z, 2, 2))  # the stride-2 pair needs even sizes
        return self.tail(f)[..., : self.scale * h, : self.scale * w]
