"""Bands: straight stripes across the field, as in layered or lamellar specimens.

The paper names bands without specifying them. Modelled on what LR images of such
specimens show: cross-sections of multilayers and coatings (a stack of parallel layers of
different thickness and brightness), lamellar microstructures (pearlite, eutectics,
polysynthetic twins: near-periodic stripes), and crossing lamellae or slip bands (a second
set at another angle). Bands superpose additively, so crossings are brighter.

A scene's bands form one family of parallel stripes at a random orientation, plus with
p_cross a second family at 30-90 degrees to it. A family is either
- periodic (p_periodic): k stripes at a period P (log-uniform, 4-25 % of the field) with
  +-10 % jitter, all of width duty x P (+-20 %) and one intensity (+-10 %), centred on a
  random line of the field; or
- independent layers: k stripes through positions from the "individual points" type, of
  log-uniform widths (1-20 % of the field) and independent intensities.
Intensity profile across a band: flat, or graded (p_graded, per family): linear from
c (1 - g) to c (1 + g) across the band, g ~ U[0.3, 0.9] with a random sign (a wedge-shaped
layer or a composition gradient). Edges are sharp and anti-aliased (``raster.add_strips``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..config import IntRange, Range, check_probability, check_range, coin, integers, uniform
from .layout import anchors, field, log_uniform, uniforms
from .raster import add_strips

BAND_JITTER = 0.1  # periodic stacks: position jitter (of P) and intensity jitter
WIDTH_JITTER = 0.2  # periodic stacks: width jitter


@dataclasses.dataclass(frozen=True)
class BandsConfig:
    """p: probability that a scene has bands. count: bands per family. p_periodic: a
    family is a periodic stack. period: stack period, fraction of the field (log-uniform).
    duty: band width / period. width: independent band widths, fraction of the field
    (log-uniform). p_cross, cross_angle (degrees): a second, crossing family. intensity: c.
    p_graded, grade: graded profiles c (1 -+ g) across the band. weight: the layer's
    scale in the superposition."""

    p: float = 0.5
    count: IntRange = (1, 12)
    p_periodic: float = 0.5
    period: Range = (0.04, 0.25)
    duty: Range = (0.2, 0.7)
    width: Range = (0.01, 0.2)
    p_cross: float = 0.3
    cross_angle: Range = (30.0, 90.0)
    intensity: Range = (0.3, 1.0)
    p_graded: float = 0.5
    grade: Range = (0.3, 0.9)
    weight: Range = (0.3, 1.0)

    def __post_init__(self):
        for name in ("p", "p_periodic", "p_cross", "p_graded"):
            check_probability(f"bands.{name}", getattr(self, name))
        check_range("bands.count", self.count, 1, 10_000)
        check_range("bands.period", self.period, 1e-4, 10.0)
        check_range("bands.duty", self.duty, 0.0, 1.0)
        check_range("bands.width", self.width, 1e-4, 10.0)
        check_range("bands.cross_angle", self.cross_angle, 0.0, 90.0)
        check_range("bands.intensity", self.intensity, 0.0, 1e6)
        check_range("bands.grade", self.grade, 0.0, 0.99)
        check_range("bands.weight", self.weight, 0.0, 1e6)


def _family(rng: np.random.Generator, config: BandsConfig, shape, angle: float) -> dict:
    """One family of parallel bands at ``angle`` (their normal, from +x towards +y)."""
    H, W = shape
    cs, sn = math.cos(angle), math.sin(angle)
    k = integers(rng, config.count)
    family: dict = {"angle": angle, "periodic": coin(rng, config.p_periodic), "period": None, "points": None}
    if family["periodic"]:
        period = log_uniform(rng, config.period) * field(shape)
        ends = [x * cs + y * sn for x in (0, W - 1) for y in (0, H - 1)]
        centre = rng.uniform(min(ends), max(ends))
        offset = centre + period * (np.arange(k) - 0.5 * (k - 1) + rng.uniform(-BAND_JITTER, BAND_JITTER, k))
        width = uniform(rng, config.duty) * period * rng.uniform(1 - WIDTH_JITTER, 1 + WIDTH_JITTER, k)
        intensity = uniform(rng, config.intensity) * rng.uniform(1 - BAND_JITTER, 1 + BAND_JITTER, k)
        family["period"] = period
    else:
        xy, family["points"] = anchors(rng, shape, k, 1.0)
        offset = xy[:, 0] * cs + xy[:, 1] * sn
        width = log_uniform(rng, config.width, len(xy)) * field(shape)
        intensity = uniforms(rng, config.intensity, len(xy))
    grade = np.zeros(len(offset))
    if coin(rng, config.p_graded):
        grade = uniforms(rng, config.grade, len(offset)) * rng.choice([-1.0, 1.0], len(offset))
    return {**family, "offset": offset, "width": width, "intensity": intensity, "grade": grade}


def draw(rng: np.random.Generator, config: BandsConfig, shape) -> dict:
    """One family of bands, and with p_cross a second one crossing it."""
    weight = uniform(rng, config.weight)
    angle = rng.uniform(0.0, math.pi)
    families = [_family(rng, config, shape, angle)]
    if coin(rng, config.p_cross):
        cross = math.radians(uniform(rng, config.cross_angle)) * (1 if rng.random() < 0.5 else -1)
        families.append(_family(rng, config, shape, angle + cross))
    return {"weight": weight, "families": families}


def render(img: np.ndarray, layer: dict) -> None:
    """Add the bands of a layer record to img (float32, in place)."""
    w = float(layer["weight"])
    rows = []
    for f in layer["families"]:
        hw = 0.5 * np.asarray(f["width"], dtype=np.float64)
        c = w * np.asarray(f["intensity"], dtype=np.float64)
        slope = c * np.asarray(f["grade"], dtype=np.float64) / np.maximum(hw, 1e-12)
        n = hw.size
        rows.append(np.stack([np.full(n, math.cos(f["angle"])), np.full(n, math.sin(f["angle"])), np.asarray(f["offset"], dtype=np.float64), hw, c, slope], axis=1))
    if rows:
        add_strips(img, np.concatenate(rows))
