"""SwinIR (Liang et al. 2021), the lightweight SR setting of the paper and of Moeller et al.
2023/2024: embed 60, 4 RSTBs of 6 Swin layers, 6 heads, window 8, MLP ratio 2, 1-conv
residual connection, pixel-shuffle-direct upsampler (one 3x3 conv to s^2 C channels +
PixelShuffle). Grayscale x4: 878,836 parameters plus 24 relative-position bias tables of
(2*8-1)^2 x 6 = 1,350 each (Moeller: 0.878 M). State-dict keys and forward follow the
official implementation. The input is padded (reflect) to a multiple of the window and the
output cropped, as the reference ``check_image_size``; the per-image normalisation and the
bicubic residual (``blocks.SRNormalised``) are emsim's (``normalise=False, residual="none"``:
the reference network, on intensities in [0, 1] as its ``img_range`` 1 for grey).
``grid``: the pixel grid of the residual ("probe" or "centre", ``blocks.bicubic_upsample``).
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import SRNormalised, pad_to
from .registry import register


class DropPath(nn.Module):
    """Stochastic depth per sample (identity in eval mode)."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = float(p)

    def forward(self, x):
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


def window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * nW, ws * ws, C)."""
    B, H, W, C = x.shape
    x = x.view(B, H // ws, ws, W // ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, C)


def window_reverse(w: torch.Tensor, ws: int, H: int, W: int) -> torch.Tensor:
    """(B * nW, ws * ws, C) -> (B, H, W, C)."""
    C = w.shape[-1]
    B = w.shape[0] // ((H // ws) * (W // ws))
    x = w.view(B, H // ws, W // ws, ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, H, W, C)


class WindowAttention(nn.Module):
    """Window multi-head self-attention with a learned relative position bias."""

    def __init__(self, dim: int, window: int, heads: int, qkv_bias: bool = True):
        super().__init__()
        self.window, self.heads = window, heads
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("relative_position_index", rel[..., 0] * (2 * window - 1) + rel[..., 1], persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x, mask=None):
        Bn, N, C = x.shape
        q, k, v = self.qkv(x).reshape(Bn, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)].view(N, N, -1).permute(2, 0, 1)
        attn = attn + bias.unsqueeze(0)
        if mask is not None:
            nW = mask.shape[0]
            attn = attn.view(Bn // nW, nW, self.heads, N, N) + mask[None, :, None]
            attn = attn.view(-1, self.heads, N, N)
        out = (attn.softmax(-1) @ v).transpose(1, 2).reshape(Bn, N, C)
        return self.proj(out)


class SwinLayer(nn.Module):
    """Swin transformer layer: (shifted) window attention + MLP, pre-norm, residuals."""

    def __init__(self, dim: int, heads: int, window: int, shift: int, mlp_ratio: float, drop_path: float):
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self._masks: dict = {}

    def _mask(self, H: int, W: int, device) -> torch.Tensor | None:
        if not self.shift:
            return None
        if torch.compiler.is_exporting() or torch.jit.is_tracing():  # symbolic H, W (ONNX export): no cache
            return self._build_mask(H, W, device)
        key = (H, W, str(device))
        if key not in self._masks:
            self._masks = {key: self._build_mask(H, W, device)}
        return self._masks[key]

    def _build_mask(self, H, W, device) -> torch.Tensor:
        img = torch.zeros(1, H, W, 1, device=device)
        cnt = 0
        sl = (slice(0, -self.window), slice(-self.window, -self.shift), slice(-self.shift, None))
        for hs in sl:
            for wsl in sl:
                img[:, hs, wsl, :] = cnt
                cnt += 1
        mw = window_partition(img, self.window).squeeze(-1)
        m = mw[:, None, :] - mw[:, :, None]
        return m.masked_fill(m != 0, -100.0).masked_fill(m == 0, 0.0)

    def forward(self, x, size):
        H, W = size
        B, L, C = x.shape
        h = self.norm1(x).view(B, H, W, C)
        if self.shift:
            h = torch.roll(h, (-self.shift, -self.shift), (1, 2))
        h = self.attn(window_partition(h, self.window), self._mask(H, W, x.device))
        h = window_reverse(h, self.window, H, W)
        if self.shift:
            h = torch.roll(h, (self.shift, self.shift), (1, 2))
        x = x + self.drop_path(h.reshape(B, L, C))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class RSTB(nn.Module):
    """Residual Swin transformer block: ``depth`` Swin layers, a 3x3 conv, a residual."""

    def __init__(self, dim: int, depth: int, heads: int, window: int, mlp_ratio: float, drop_path: list[float]):
        super().__init__()
        self.layers = nn.ModuleList(SwinLayer(dim, heads, window, 0 if i % 2 == 0 else window // 2, mlp_ratio, drop_path[i]) for i in range(depth))
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x, size):
        h = x
        for layer in self.layers:
            h = layer(h, size)
        B, L, C = h.shape
        h = self.conv(h.transpose(1, 2).reshape(B, C, *size))
        return h.flatten(2).transpose(1, 2) + x


@register("swinir", "sr", default=True)
class SwinIR(SRNormalised):
    """SwinIR with the pixel-shuffle-direct upsampler (defaults: the lightweight SR model)."""

    def __init__(self, scale: int = 4, channels: int = 1, embed_dim: int = 60, depths=(6, 6, 6, 6), num_heads=(6, 6, 6, 6), window_size: int = 8, mlp_ratio: float = 2.0, drop_path_rate: float = 0.1, residual: str = "bicubic", grid: str = "probe", normalise: bool = True):
        super().__init__()
        sr = self.sr_options(scale, residual, grid, normalise)
        depths, num_heads = [int(d) for d in depths], [int(h) for h in num_heads]
        if len(depths) != len(num_heads) or embed_dim % max(num_heads) or window_size < 2:
            raise ValueError("SwinIR: depths and num_heads need equal length, embed_dim divisible by the heads, window >= 2")
        self.config = dict(arch=self.arch, channels=channels, embed_dim=embed_dim, depths=depths, num_heads=num_heads, window_size=window_size, mlp_ratio=float(mlp_ratio), drop_path_rate=float(drop_path_rate), **sr)
        self.window = int(window_size)
        self.conv_first = nn.Conv2d(channels, embed_dim, 3, padding=1)
        self.patch_norm = nn.LayerNorm(embed_dim)
        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        starts = [sum(depths[:i]) for i in range(len(depths))]
        self.layers = nn.ModuleList(RSTB(embed_dim, d, h, window_size, mlp_ratio, dpr[s0 : s0 + d]) for d, h, s0 in zip(depths, num_heads, starts))
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, padding=1)
        self.upsample = nn.Sequential(nn.Conv2d(embed_dim, self.scale**2 * channels, 3, padding=1), nn.PixelShuffle(self.scale))
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def body(self, z):
        h, w = z.shape[-2:]
        zp = pad_to(z, self.window, self.window)
        size = tuple(zp.shape[-2:])
        f = self.conv_first(zp)
        t = self.patch_norm(f.flatten(2).transpose(1, 2))
        for layer in self.layers:
            t = layer(t, size)
        t = self.norm(t)
        B, L, C = t.shape
        f = self.conv_after_body(t.transpose(1, 2).reshape(B, C, *size)) + f
        return self.upsample(f)[..., : self.scale * h, : self.scale * w]


def relative_position_parameters(model: nn.Module) -> int:
    """Number of parameters in relative-position bias tables."""
    return sum(p.numel() for n, p in model.named_parameters() if n.endswith("relative_position_bias_table"))
