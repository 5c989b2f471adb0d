"""Clean low-resolution scenes: particles, grains, bands, boxes and cracks (Lobato et al. 2023,
"The process of generating low-resolution images").

A scene is a linear superposition of a random non-empty subset of six object types, each
placed at positions from the "individual points" specimen type:

- soft particles (asymmetric eq. 17 blobs) and sharp particles (polygons or ellipses
  masking positive planes): ``particles``;
- grains (Voronoi cells masking positive planes, optional boundaries): ``grains``;
- bands (parallel or crossing stripes, flat or graded): ``bands``;
- boxes (rotated rectangles with graded intensity): ``boxes``;
- cracks (branching dark or bright paths): ``cracks`` -- the last layer, as a dark crack
  takes out a fraction of everything under it.

Each type enters independently with its probability ``p`` (0.5 each), redrawn if none
did, i.e. the subset is drawn conditioned on being non-empty (with the defaults:
uniform over the 63 non-empty subsets). Each layer has a random weight in the sum.

Everything is in pixel units and sizes scale with the field (min(H, W)).
``generate_scene`` draws a JSON-serialisable record and renders it with
``render_scene`` (deterministic, no randomness), so the record reproduces the image
exactly. The result is the clean image before tone mapping (eq. 23-26), which the
pipeline applies as for high-resolution images.

Stage 2 for low-resolution images. May import: ``emsim.config``, ``emsim.errors``,
``emsim.specimen`` (point positions), ``emsim.imaging``; not ``emsim.distort``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..config import coin
from ..errors import ConfigError, EmsimError
from . import bands, boxes, cracks, grains, particles
from .bands import BandsConfig
from .boxes import BoxesConfig
from .cracks import CracksConfig
from .grains import GrainsConfig
from .layout import plain
from .particles import SharpParticlesConfig, SoftParticlesConfig

__all__ = ["KINDS", "SceneConfig", "generate_scene", "draw_scene", "render_scene", "render_layer", "BandsConfig", "BoxesConfig", "CracksConfig", "GrainsConfig", "SharpParticlesConfig", "SoftParticlesConfig"]

KINDS = ("soft_particles", "sharp_particles", "grains", "bands", "boxes", "cracks")
MIN_SIZE = 8
_DRAW = {"soft_particles": particles.draw_soft, "sharp_particles": particles.draw_sharp, "grains": grains.draw, "bands": bands.draw, "boxes": boxes.draw, "cracks": cracks.draw}
_RENDER = {"soft_particles": particles.render_soft, "sharp_particles": particles.render_sharp, "grains": grains.render, "bands": bands.render, "boxes": boxes.render, "cracks": cracks.render}


@dataclasses.dataclass(frozen=True)
class SceneConfig:
    """One config per object type; each has ``p``, its probability of being in a scene."""

    soft_particles: SoftParticlesConfig = SoftParticlesConfig()
    sharp_particles: SharpParticlesConfig = SharpParticlesConfig()
    grains: GrainsConfig = GrainsConfig()
    bands: BandsConfig = BandsConfig()
    boxes: BoxesConfig = BoxesConfig()
    cracks: CracksConfig = CracksConfig()

    def __post_init__(self):
        if not any(getattr(self, k).p > 0 for k in KINDS):
            raise ConfigError(f"scene: at least one object type needs p > 0 ({', '.join(KINDS)})")

    @classmethod
    def only(cls, kind: str, **overrides) -> "SceneConfig":
        """Scenes of a single object type (previews, tests)."""
        if kind not in KINDS:
            raise EmsimError(f"unknown scene object {kind!r} (use {', '.join(KINDS)})")
        parts = {k: dataclasses.replace(getattr(cls(), k), p=1.0 if k == kind else 0.0) for k in KINDS}
        parts[kind] = dataclasses.replace(parts[kind], **overrides)
        return cls(**parts)


def _check_shape(shape) -> tuple[int, int]:
    try:
        H, W = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise EmsimError(f"scene shape must be (H, W), got {shape!r}") from None
    if min(H, W) < MIN_SIZE:
        raise EmsimError(f"scene shape {[H, W]} is smaller than {MIN_SIZE} x {MIN_SIZE} pixels")
    return H, W


def choose_objects(rng: np.random.Generator, config: SceneConfig) -> list[str]:
    """The object types of one scene: each with its p, conditioned on at least one."""
    while True:
        chosen = [k for k in KINDS if coin(rng, getattr(config, k).p)]
        if chosen:
            return chosen


def draw_scene(rng: np.random.Generator, config: SceneConfig = SceneConfig(), shape=(256, 256)) -> dict:
    """Draw a scene: the JSON-serialisable record of every object (no pixels)."""
    shape = _check_shape(shape)
    objects = choose_objects(rng, config)
    layers = [{"kind": k, **_DRAW[k](rng, getattr(config, k), shape)} for k in objects]
    return plain({"shape": list(shape), "objects": objects, "layers": layers})


def render_scene(record: dict, shape=None) -> np.ndarray:
    """Render a scene record (from ``draw_scene``, possibly via JSON) to a float32 image of
    ``shape`` (default: the record's); deterministic."""
    shape = _check_shape(record["shape"] if shape is None else shape)
    img = np.zeros(shape, dtype=np.float32)
    for layer in record["layers"]:
        render_layer(img, layer)
    return img


def render_layer(img: np.ndarray, layer: dict) -> None:
    """Add (or, for cracks, apply) one object layer of a scene record to ``img`` in place."""
    if layer.get("kind") not in _RENDER:
        raise EmsimError(f"unknown scene object {layer.get('kind')!r} in record")
    _RENDER[layer["kind"]](img, layer)


def generate_scene(rng: np.random.Generator, config: SceneConfig = SceneConfig(), shape=(256, 256)) -> tuple[np.ndarray, dict]:
    """A clean low-resolution image (float32, non-negative, before tone mapping) and the
    record of what was drawn: ``render_scene(record) == image``."""
    record = draw_scene(rng, config, shape)
    return render_scene(record), record
