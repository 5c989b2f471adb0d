"""The PixMix mixing set D^mix, made procedurally (Moeller et al. 2024 use Hendrycks et
al.'s fractal images, converted to grayscale; no download exists here).

Two sources, alternating over the set's images:

- ``fractal``: attractors of random affine iterated function systems (IFS). N = 2..4
  maps A_i = R(theta) diag(s1, s2) D R(phi) with random sign flips D and translations in
  [-1, 1]^2; singular values are rescaled so the sigma-factor sum_i (s1 + 2 s2) lies in
  [(5 + N)/2, (6 + N)/2] (Anderson & Farrell 2022, the range that gives detailed,
  non-degenerate fractals), with s1 <= 0.95 (contractive). Points come from the chaos
  game (maps chosen with probability proportional to |det A_i|), each map shaded with its
  own gray level; the image is the log-scaled shaded density, lightly blurred, possibly
  inverted.
- ``scene``: emsim's own LR scenes (``emsim.scenes.generate_scene``), min-max scaled.

Image i is drawn from SeedSequence(seed, spawn_key=(i,)), so a set is reproducible. A set
can be cached in a directory (``mix_00000.npy`` ..., ``.png`` previews and a
``mixing.json`` manifest with the config and the records); any folder of .npy/.tif/.png
images (e.g. the real PixMix fractals) can be used instead with ``MixingSet.load``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
from scipy import ndimage

from ...config import jsonable, to_dict
from ...errors import ConfigError, EmsimError
from ...io import read_image, write_image
from .crops import sample_rng

SOURCES = ("fractal", "scene")
MANIFEST = "mixing.json"


@dataclasses.dataclass(frozen=True)
class MixingConfig:
    """``n`` images of ``size`` x ``size`` pixels from ``sources`` (cycled), from ``seed``.
    The default size is twice the default 256^2 training crop: PixMix crops a random
    region of a mixing image, as the reference resizes to 8/7 of the crop and crops."""

    n: int = 64
    size: int = 512
    sources: tuple[str, ...] = SOURCES
    seed: int = 0

    def __post_init__(self):
        if self.n < 1:
            raise ConfigError(f"mixing.n = {self.n} must be >= 1")
        if self.size < 16:
            raise ConfigError(f"mixing.size = {self.size} must be >= 16")
        if not self.sources or set(self.sources) - set(SOURCES):
            raise ConfigError(f"mixing.sources = {list(self.sources)} must be a non-empty subset of {list(SOURCES)}")


def _ifs_maps(rng: np.random.Generator, n_maps: int) -> tuple[np.ndarray, np.ndarray]:
    s1 = rng.uniform(0.2, 1.0, n_maps)
    s2 = s1 * rng.uniform(0.1, 1.0, n_maps)
    target = rng.uniform((5 + n_maps) / 2, (6 + n_maps) / 2)
    k = target / np.sum(s1 + 2 * s2)
    s1, s2 = np.minimum(s1 * k, 0.95), np.minimum(s2 * k, 0.95)
    s2 = np.minimum(s2, s1)
    th, ph = rng.uniform(0, 2 * np.pi, n_maps), rng.uniform(0, 2 * np.pi, n_maps)
    d = rng.choice([-1.0, 1.0], size=(n_maps, 2))

    def rot(a):
        return np.stack([np.stack([np.cos(a), -np.sin(a)], -1), np.stack([np.sin(a), np.cos(a)], -1)], -2)

    A = rot(th) @ (np.stack([s1, s2], -1)[..., None] * np.eye(2)) @ (d[..., None] * np.eye(2)) @ rot(ph)
    b = rng.uniform(-1, 1, (n_maps, 2))
    return A, b


def ifs_fractal(rng: np.random.Generator, size: int, chains: int = 2048, steps: int = 64, burn_in: int = 16) -> tuple[np.ndarray, dict]:
    """A random IFS fractal in [0, 1] (size x size) and its record (maps, shading)."""
    for attempt in range(20):
        n_maps = int(rng.integers(2, 5))
        A, b = _ifs_maps(rng, n_maps)
        p = np.abs(np.linalg.det(A))
        p = p / p.sum() if p.sum() > 0 else np.full(n_maps, 1.0 / n_maps)
        shade = rng.uniform(0.25, 1.0, n_maps)
        pts = rng.uniform(-1, 1, (chains, 2))
        xs, ws = [], []
        for t in range(steps):
            m = rng.choice(n_maps, size=chains, p=p)
            pts = np.einsum("nij,nj->ni", A[m], pts) + b[m]
            if t >= burn_in:
                xs.append(pts.copy())
                ws.append(shade[m])
        xy, w = np.concatenate(xs), np.concatenate(ws)
        lo, hi = np.percentile(xy, 0.5, axis=0), np.percentile(xy, 99.5, axis=0)
        span = float(np.max(hi - lo))
        if not np.isfinite(span) or span <= 1e-9:
            continue
        margin = 0.05 * size
        ij = ((xy - (lo + hi) / 2) / span * (size - 2 * margin) + size / 2).astype(np.int64)
        ok = np.all((ij >= 0) & (ij < size), axis=1)
        flat = ij[ok, 1] * size + ij[ok, 0]
        dens = np.bincount(flat, weights=w[ok], minlength=size * size).reshape(size, size)
        if np.count_nonzero(dens) < 0.01 * size * size:  # degenerate (a point or a line)
            continue
        img = ndimage.gaussian_filter(np.log1p(dens / np.mean(dens[dens > 0])), 0.7)
        img = img / img.max()
        invert = bool(rng.random() < 0.5)
        img = 1.0 - img if invert else img
        record = {"source": "fractal", "maps": A.tolist(), "offsets": b.tolist(), "probabilities": p.tolist(), "shade": shade.tolist(), "invert": invert, "attempt": attempt}
        return img.astype(np.float32), record
    raise EmsimError("could not draw a non-degenerate IFS fractal in 20 attempts")


def scene_image(rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict]:
    """An emsim LR scene, min-max scaled to [0, 1]."""
    try:
        from ...scenes import SceneConfig, generate_scene
    except ImportError as e:  # the scenes package is optional for the mixing set
        raise EmsimError(f"the 'scene' mixing source needs emsim.scenes ({e})") from None
    img, rec = generate_scene(rng, SceneConfig(), (size, size))
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return img.astype(np.float32), {"source": "scene", "scene": rec}


def mixing_image(config: MixingConfig, i: int) -> tuple[np.ndarray, dict]:
    """Image i of the set (deterministic in (config.seed, i))."""
    rng = sample_rng(config.seed, i)
    source = config.sources[i % len(config.sources)]
    return ifs_fractal(rng, config.size) if source == "fractal" else scene_image(rng, config.size)


class MixingSet:
    """A sequence of 2D float32 mixing images in [0, 1] (``len``, indexing)."""

    def __init__(self, images, names=None, records=None):
        self.images = [np.asarray(im, dtype=np.float32) for im in images]
        if not self.images:
            raise EmsimError("a mixing set needs at least one image")
        if any(im.ndim != 2 for im in self.images):
            raise EmsimError("mixing images must be 2D")
        self.names = list(names) if names is not None else [f"mix_{i:05d}" for i in range(len(self.images))]
        self.records = records

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.images[i]

    @classmethod
    def generate(cls, config: MixingConfig = MixingConfig(), directory: str | Path | None = None, png: bool = True) -> "MixingSet":
        """Make the set, or load it from ``directory`` when that holds the same set; a
        directory with a different manifest is an error (nothing is overwritten)."""
        if directory is None:
            imgs, recs = zip(*(mixing_image(config, i) for i in range(config.n)))
            return cls(imgs, records=list(recs))
        d = Path(directory)
        man = d / MANIFEST
        if man.is_file():
            data = json.loads(man.read_text())
            if data.get("config") != to_dict(config):
                raise EmsimError(f"{d} holds a mixing set made with a different config ({data.get('config')})")
            return cls([np.load(d / f, allow_pickle=False) for f in data["files"]], [Path(f).stem for f in data["files"]], data.get("records"))
        if d.exists() and any(d.iterdir()):
            raise EmsimError(f"{d} is not empty and has no {MANIFEST}; use MixingSet.load for a folder of your own images")
        d.mkdir(parents=True, exist_ok=True)
        files, imgs, recs = [], [], []
        for i in range(config.n):
            img, rec = mixing_image(config, i)
            name = f"mix_{i:05d}"
            np.save(d / f"{name}.npy", img)
            if png:
                write_image(d / f"{name}.png", img)
            files.append(f"{name}.npy")
            imgs.append(img)
            recs.append(jsonable(rec))
        tmp = d / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps({"config": to_dict(config), "files": files, "records": recs}))
        tmp.replace(man)  # written last: a set without a manifest is incomplete
        return cls(imgs, [Path(f).stem for f in files], recs)

    @classmethod
    def load(cls, directory: str | Path) -> "MixingSet":
        """All .npy/.tif/.tiff/.png images of a folder (sorted by name), min-max scaled to
        [0, 1]; with a manifest, just the files it lists."""
        d = Path(directory)
        if not d.is_dir():
            raise EmsimError(f"mixing set folder not found: {d}")
        man = d / MANIFEST
        if man.is_file():
            files = [d / f for f in json.loads(man.read_text())["files"]]
        else:
            files = sorted(p for p in d.iterdir() if p.suffix.lower() in (".npy", ".tif", ".tiff", ".png"))
        if not files:
            raise EmsimError(f"no mixing images (.npy, .tif, .png) in {d}")
        imgs = []
        for f in files:
            img = read_image(f).astype(np.float64)
            lo, hi = img.min(), img.max()
            imgs.append(((img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)).astype(np.float32))
        return cls(imgs, [f.stem for f in files])
