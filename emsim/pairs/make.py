"""One training pair as a pure function of (seed, index, config), and its replay.

    config -> specimen (HR) or scene (LR) -> clean image -> tone mapping -> distortions

``make_pair(seed, index, config)``: the clean stage (``emsim.pairs.clean``) then the
distortion chain of the modality (``emsim.distort``), or an SR sample (``emsim.pairs.sr``);
a degenerate draw (``clean.degeneracy``: e.g. a specimen cut down to no atoms) is redrawn
from the sample's own continuing streams, and the record counts the ``redraws``.
``replay(clean, record)`` puts the distortions a record drew onto a clean image: onto the
pair's own clean image it reproduces x and y bit for bit; onto another clean image it
gives the same noise realisation, scan path and artefacts.
"""

from __future__ import annotations

import time

import numpy as np

from ..config import from_dict
from ..distort import COUNTING, distort
from ..distort import replay as replay_distortions
from ..distort.effect import new_seed
from ..errors import EmsimError
from .clean import CleanImage, Pair, clean_image, stage_rngs, with_redraws
from .config import PairConfig, output_shapes
from .sr import make_sr_pair
from .truth import check_truth, ground_truth


def make_pair(seed: int, index: int, config: PairConfig = PairConfig(), truth=()) -> Pair:
    """Sample ``index`` of the dataset with ``seed`` and ``config`` (pure function);
    ``truth``: ground-truth channels to add (``emsim.pairs.truth.TRUTH``), in ``pair.truth``."""
    truth = check_truth(truth)
    if config.task == "sr":
        return make_sr_pair(seed, index, config, truth)
    rngs = stage_rngs(seed, index)

    def attempt():
        clean = clean_image(seed, index, config, rngs)
        t = time.perf_counter()
        before = {COUNTING[config.modality]: None} if "counts" in truth else None
        x, y, distortions = distort(clean.image, config.modality, clean.pixel_size, new_seed(rngs["distort"]), config.distort, resample=clean.resample, before=before)
        record = {"seed": int(seed), "index": int(index), "modality": config.modality, **clean.record, "distortions": distortions}
        pair = Pair(x, y, record, {**clean.timings, "distort": time.perf_counter() - t})
        pair.truth = ground_truth(truth, clean.specimen, clean.models, record, config.shape, clean.pixel_size, distortions, before)
        return pair, clean.image

    return with_redraws(attempt, config.tone_map.std_mean_ratio, f"sample {index} of seed {seed}")


def replay(clean, record: dict, resample=None) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the distortions of a pair's ``record`` applied to ``clean``: a
    ``CleanImage`` (``emsim.pairs.clean_image(seed, index, config, redraws=r)``
    regenerates a pair's own, r = ``record["redraws"]``) or a 2D array. Exact scan jitter needs the resampler of the field: the
    ``CleanImage``'s, or ``resample``."""
    if record.get("task") == "sr":
        raise EmsimError("SR records hold two acquisitions: replay each with emsim.distort.replay")
    if isinstance(clean, CleanImage):
        clean, resample = clean.image, resample or clean.resample
    x, y, _ = replay_distortions(clean, record["distortions"], resample=resample)
    return x, y


class PairSampler:
    """What ``emsim.dataset.generate`` needs to drive make_pair (``emsim.pairs:SAMPLER``)."""

    config_class = PairConfig

    def __call__(self, seed: int, index: int, config: PairConfig, truth=()) -> Pair:
        return make_pair(seed, index, config, truth)

    @staticmethod
    def config_from_dict(d: dict) -> PairConfig:
        return from_dict(PairConfig, d)

    @staticmethod
    def output_shapes(config: PairConfig) -> tuple[tuple[int, int], tuple[int, int]]:
        return output_shapes(config)


SAMPLER = PairSampler()
