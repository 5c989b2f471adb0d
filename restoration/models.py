"""Generator and discriminator networks (Lobato et al. 2023, "Network architecture").

CGRDN: 3x3 conv to ``width`` features -> 4x4 conv, stride 2 -> ``n_grdb`` GRDBs, whose
outputs are concatenated, fused by a 1x1 conv and added to the downsampled features
(semi-global residual) -> 4x4 transposed conv, stride 2 -> 3x3 conv to 1 channel -> global
residual with the input. A GRDB holds ``n_rdb`` RDBs, concatenates their outputs, fuses
them 1x1 and adds its input; an RDB holds ``n_layers`` densely connected 3x3 convs
(growth ``growth``, ReLU), a 1x1 fusion and a local residual. No normalisation layers, no
CBAM. With the defaults (64, 4, 4, 8, 32) it has 7,035,521 parameters, as the reference
implementation.

GRDN (Kim et al. 2019, the paper's baseline): the same blocks cascaded (no concatenation),
with CBAM after the upsampling; 7,019,752 parameters at the defaults (paper: 7.02 M).

Both wrap the network in per-image normalisation (subtract the mean, divide by
max(std, 0.1)) and undo it at the output, so they take raw intensities.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

NORM_STD_MIN = 0.1


class RDB(nn.Module):
    """Residual dense block: densely connected 3x3 convs + 1x1 fusion + local residual."""

    def __init__(self, width: int = 64, growth: int = 32, n_layers: int = 8):
        super().__init__()
        self.layers = nn.ModuleList(nn.Conv2d(width + k * growth, growth, 3, padding=1) for k in range(n_layers))
        self.fuse = nn.Conv2d(width + n_layers * growth, width, 1)

    def forward(self, x):
        feats = [x]
        for conv in self.layers:
            feats.append(F.relu(conv(torch.cat(feats, 1))))
        return x + self.fuse(torch.cat(feats, 1))


class GRDB(nn.Module):
    """Grouped residual dense block: RDBs in sequence, outputs concatenated, 1x1 fusion,
    residual with the block input."""

    def __init__(self, width: int = 64, growth: int = 32, n_layers: int = 8, n_rdb: int = 4):
        super().__init__()
        self.rdbs = nn.ModuleList(RDB(width, growth, n_layers) for _ in range(n_rdb))
        self.fuse = nn.Conv2d(n_rdb * width, width, 1)

    def forward(self, x):
        outs, h = [], x
        for rdb in self.rdbs:
            h = rdb(h)
            outs.append(h)
        return x + self.fuse(torch.cat(outs, 1))


class CBAM(nn.Module):
    """Convolutional block attention module (channel then spatial attention), as in GRDN."""

    def __init__(self, width: int = 64, reduction: int = 16, kernel: int = 7):
        super().__init__()
        hidden = max(1, width // reduction)
        self.mlp = nn.Sequential(nn.Conv2d(width, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, width, 1))
        self.spatial = nn.Conv2d(2, 1, kernel, padding=kernel // 2)

    def forward(self, x):
        att = torch.sigmoid(self.mlp(F.adaptive_avg_pool2d(x, 1)) + self.mlp(F.adaptive_max_pool2d(x, 1)))
        x = x * att
        s = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)
        return x * torch.sigmoid(self.spatial(s))


class _Normalised(nn.Module):
    """Per-image input normalisation and its inverse around ``body`` (plus the global
    residual: the body predicts the correction to the normalised input)."""

    def normalise(self, x):
        mean = x.mean(dim=(-2, -1), keepdim=True)
        std = x.std(dim=(-2, -1), keepdim=True).clamp_min(NORM_STD_MIN)
        return (x - mean) / std, mean, std

    def forward(self, x):
        z, mean, std = self.normalise(x)
        h, w = z.shape[-2:]
        pad_h, pad_w = h % 2, w % 2  # the stride-2 pair needs even sizes
        zp = F.pad(z, (0, pad_w, 0, pad_h), mode="reflect") if (pad_h or pad_w) else z
        out = zp + self.body(zp)
        return out[..., :h, :w] * std + mean


class CGRDN(_Normalised):
    """Concatenated grouped residual dense network (the paper's generator)."""

    def __init__(self, width: int = 64, n_grdb: int = 4, n_rdb: int = 4, n_layers: int = 8, growth: int = 32, channels: int = 1):
        super().__init__()
        self.config = dict(arch="cgrdn", width=width, n_grdb=n_grdb, n_rdb=n_rdb, n_layers=n_layers, growth=growth, channels=channels)
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


class GRDN(_Normalised):
    """Grouped residual dense network (cascaded GRDBs + CBAM), the paper's baseline."""

    def __init__(self, width: int = 64, n_grdb: int = 4, n_rdb: int = 4, n_layers: int = 8, growth: int = 32, channels: int = 1):
        super().__init__()
        self.config = dict(arch="grdn", width=width, n_grdb=n_grdb, n_rdb=n_rdb, n_layers=n_layers, growth=growth, channels=channels)
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.down = nn.Conv2d(width, width, 4, stride=2, padding=1)
        self.grdbs = nn.Sequential(*(GRDB(width, growth, n_layers, n_rdb) for _ in range(n_grdb)))
        self.up = nn.ConvTranspose2d(width, width, 4, stride=2, padding=1)
        self.cbam = CBAM(width)
        self.tail = nn.Conv2d(width, channels, 3, padding=1)

    def body(self, z):
        return self.tail(self.cbam(self.up(self.grdbs(self.down(self.head(z))))))


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


ARCHS = {"cgrdn": CGRDN, "grdn": GRDN}


def build(config: dict) -> nn.Module:
    """Rebuild a generator from its ``config`` dict (as stored in checkpoints)."""
    cfg = dict(config)
    arch = cfg.pop("arch")
    if arch not in ARCHS:
        from .sr_models import SR_ARCHS  # super-resolution networks

        return SR_ARCHS[arch](**cfg)
    return ARCHS[arch](**cfg)


def upscale(model) -> int:
    """Output/input size ratio of a generator: its ``scale`` (SR models), else 1."""
    return int(getattr(model, "scale", 1) or 1)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
