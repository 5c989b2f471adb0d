"""Building blocks shared by the generators: residual dense blocks (RDB, GRDB), CBAM, the
per-image normalisation wrappers (restoration and SR) and the probe-grid upsamplers.

Normalisation: the input is normalised per image (subtract the mean, divide by max(std,
0.1)), the body predicts a correction, the output is de-normalised, so networks take raw
intensities. SR networks add the upsampled normalised input (``residual="bicubic"``: Keys
bicubic on the probe grid, HR pixel k at LR coordinate k/s, as
``emsim.imaging.resample.cubic_upsample``; "nearest" or "none").
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from emsim.imaging.resample import keys_taps

NORM_STD_MIN = 0.1
RESIDUALS = ("bicubic", "nearest", "none")


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


class Normalised(nn.Module):
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


def bicubic_upsample(x: torch.Tensor, s: int) -> torch.Tensor:
    """Keys bicubic (a = -0.5) on the probe grid: HR pixel k at LR coordinate k/s, edge
    samples replicated; the same as ``emsim.imaging.resample.cubic_upsample`` (its weights:
    ``keys_taps``). One depthwise 4x4 conv per output phase, then PixelShuffle.

    Parameters
    ----------
    x : (B, C, h, w) tensor
    s : integer factor

    Returns
    -------
    (B, C, s h, s w) tensor
    """
    if s == 1:
        return x
    B, C, h, w = x.shape
    t = torch.arange(s, dtype=torch.float64) / s
    w1 = torch.stack(keys_taps(t), dim=1)  # (s, 4): phase r, taps -1..2 (the one Keys kernel)
    k = (w1[:, None, :, None] * w1[None, :, None, :]).reshape(s * s, 1, 4, 4).to(x.dtype).to(x.device)
    xp = F.pad(x.reshape(B * C, 1, h, w), (1, 2, 1, 2), mode="replicate")
    out = F.pixel_shuffle(F.conv2d(xp, k), s)
    return out.reshape(B, C, s * h, s * w)


def nearest_upsample(x: torch.Tensor, s: int) -> torch.Tensor:
    """Each pixel repeated s x s times: (B, C, h, w) -> (B, C, s h, s w)."""
    return x.repeat_interleave(s, -2).repeat_interleave(s, -1)


class SRNormalised(Normalised):
    """Per-image normalisation around ``body`` (B, C, h, w) -> (B, C, s h, s w), plus the
    chosen upsampled-input residual."""

    scale: int
    residual: str

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"expected (B, C, h, w), got shape {tuple(x.shape)}")
        z, mean, std = self.normalise(x)
        out = self.body(z)
        if self.residual == "bicubic":
            out = out + bicubic_upsample(z, self.scale)
        elif self.residual == "nearest":
            out = out + nearest_upsample(z, self.scale)
        return out * std + mean


def pad_to(x: torch.Tensor, mh: int, mw: int) -> torch.Tensor:
    """Pad the last two axes at the end to multiples of (mh, mw) (reflect where it fits)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % mh, (-w) % mw
    if not (ph or pw):
        return x
    mode = "reflect" if (ph < h and pw < w) else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def check_sr(scale: int, residual: str) -> None:
    """ValueError unless ``scale`` is a positive integer and ``residual`` one of ``RESIDUALS``."""
    if isinstance(scale, bool) or int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    if residual not in RESIDUALS:
        raise ValueError(f"residual must be one of {RESIDUALS}, got {residual!r}")
