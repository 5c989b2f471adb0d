"""The relativistic patch GAN's discriminator (Lobato et al. 2023, eq. 2-3, 15)."""

from __future__ import annotations

import torch
from torch import nn


class PatchDiscriminator(nn.Module):
    """Conditional 70x70 patch discriminator (pix2pix) on (x, y) pairs, without zero
    padding and with instance instead of batch normalisation. Returns the raw (logit)
    patch map C(.) used by the relativistic average loss (eq. 2-3)."""

    def __init__(self, channels: int = 2, width: int = 64):
        super().__init__()

        def block(cin, cout, stride, norm=True):
            layers = [nn.Conv2d(cin, cout, 4, stride=stride)]
            if norm:
                layers.append(nn.InstanceNorm2d(cout, affine=True))
            layers.append(nn.LeakyReLU(0.2))
            return layers

        self.net = nn.Sequential(
            *block(channels, width, 2, norm=False),
            *block(width, 2 * width, 2),
            *block(2 * width, 4 * width, 2),
            *block(4 * width, 8 * width, 1),
            nn.Conv2d(8 * width, 1, 4, stride=1),
        )

    def forward(self, x, y):
        return self.net(torch.cat([x, y], 1))
