"""Building blocks shared by the generators: residual dense blocks (RDB, GRDB), CBAM, the
per-image normalisation wrappers (restoration and SR) and the upsamplers.

Normalisation: the input is normalised per image (subtract the mean, divide by max(std,
0.1)), the body predicts a correction, the output is de-normalised, so networks take raw
intensities. SR networks add the upsampled normalised input (``residual="bicubic"``: Keys
bicubic, as ``emsim.imaging.resample.cubic_upsample``; "nearest" or "none"). Both are
emsim's: SR networks can switch them off (``normalise=False``, ``residual="none"``: the
plain network of the papers, on intensities in [0, 1]). The bicubic residual follows the
data's pixel grid (``grid``): "probe" (HR pixel k at LR coordinate k/s, emsim's simulated
scans, where an LR probe is an HR probe) or "centre" ((k + 0.5)/s - 0.5, Pillow's, the
LR-only pipelines').
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from emsim.imaging.resample import GRIDS, grid_coords, keys_taps

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

    def standardise(self, x):
        """(x - mean) / max(std, 0.1) per image, and the mean and the divisor."""
        mean = x.mean(dim=(-2, -1), keepdim=True)
        std = x.std(dim=(-2, -1), keepdim=True).clamp_min(NORM_STD_MIN)
        return (x - mean) / std, mean, std

    def forward(self, x):
        z, mean, std = self.standardise(x)
        h, w = z.shape[-2:]
        pad_h, pad_w = h % 2, w % 2  # the stride-2 pair needs even sizes
        zp = F.pad(z, (0, pad_w, 0, pad_h), mode="reflect") if (pad_h or pad_w) else z
        out = zp + self.body(zp)
        return out[..., :h, :w] * std + mean


def bicubic_upsample(x: torch.Tensor, s: int, grid: str = "probe") -> torch.Tensor:
    """Keys bicubic (a = -0.5), HR pixel k at the LR coordinate of ``grid`` (k/s or
    (k + 0.5)/s - 0.5), edge samples replicated; the same as
    ``emsim.imaging.resample.cubic_upsample`` (its weights: ``keys_taps``). One depthwise
    5x5 conv per output phase (taps -2..2 around the LR pixel), then PixelShuffle.

    Parameters
    ----------
    x : (B, C, h, w) tensor
    s : integer factor
    grid : "probe" or "centre"

    Returns
    -------
    (B, C, s h, s w) tensor
    """
    if s == 1:
        return x
    B, C, h, w = x.shape
    c = torch.from_numpy(grid_coords(s, s, grid))  # LR offsets of the s phases from their LR pixel
    f = torch.floor(c)
    taps = torch.stack(keys_taps(c - f), dim=1)  # (s, 4): taps f-1 .. f+2 (the one Keys kernel)
    w1 = torch.zeros(s, 5, dtype=torch.float64)
    for r in range(s):
        lo = int(f[r]) + 1  # tap f-1 at index f-1+2
        w1[r, lo : lo + 4] = taps[r]
    k = (w1[:, None, :, None] * w1[None, :, None, :]).reshape(s * s, 1, 5, 5).to(x.dtype).to(x.device)
    xp = F.pad(x.reshape(B * C, 1, h, w), (2, 2, 2, 2), mode="replicate")
    out = F.pixel_shuffle(F.conv2d(xp, k), s)
    return out.reshape(B, C, s * h, s * w)


def nearest_upsample(x: torch.Tensor, s: int) -> torch.Tensor:
    """Each pixel repeated s x s times: (B, C, h, w) -> (B, C, s h, s w)."""
    return x.repeat_interleave(s, -2).repeat_interleave(s, -1)


class SRNormalised(Normalised):
    """``body`` (B, C, h, w) -> (B, C, s h, s w) with, if ``normalise``, per-image
    normalisation around it, plus the chosen upsampled-input residual on ``grid``."""

    scale: int
    residual: str
    grid: str
    normalise: bool

    def sr_options(self, scale: int, residual: str, grid: str, normalise: bool) -> dict:
        """Check and set the SR options; returns them for the network's ``config``."""
        check_sr(scale, residual, grid)
        self.scale, self.residual, self.grid, self.normalise = int(scale), residual, grid, bool(normalise)
        return {"scale": self.scale, "residual": residual, "grid": grid, "normalise": self.normalise}

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"expected (B, C, h, w), got shape {tuple(x.shape)}")
        z, mean, std = self.standardise(x) if self.normalise else (x, 0.0, 1.0)
        out = self.body(z)
        if self.residual == "bicubic":
            out = out + bicubic_upsample(z, self.scale, self.grid)
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


def check_sr(scale: int, residual: str, grid: str = "probe") -> None:
    """ValueError unless ``scale`` is a positive integer, ``residual`` one of ``RESIDUALS``
    and ``grid`` one of ``GRIDS``."""
    if isinstance(scale, bool) or int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    if residual not in RESIDUALS:
        raise ValueError(f"residual must be one of {RESIDUALS}, got {residual!r}")
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}, got {grid!r}")
