"""Contact sheet of low-resolution scenes, tone-mapped as the pipeline does (eq. 23-26).

    python examples/preview_scenes.py --n 16 --seed 0 --out lr.png
    python examples/preview_scenes.py --only grains --out grains.png   # one object type
    python examples/preview_scenes.py --clean --out lr_clean.png       # before tone mapping

Scene i uses numpy.random.default_rng([seed, i]); the caption lists its object types.
"""

from __future__ import annotations

import argparse

import numpy as np

from emsim.io import check_writable, write_image
from emsim.dataset.preview import sheet
from emsim.scenes import KINDS, SceneConfig, generate_scene
from emsim.imaging.tonemap import tone_map

SHORT = {"soft_particles": "soft", "sharp_particles": "sharp", "grains": "grains", "bands": "bands", "boxes": "boxes", "cracks": "cracks"}


def scene_sheet(n: int, seed: int, shape=(256, 256), config: SceneConfig = SceneConfig(), clean: bool = False, tile: int = 192, per_row: int = 8) -> np.ndarray:
    """8-bit sheet of n scenes (tone-mapped unless ``clean``), captioned with their objects."""
    images, captions = [], []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        img, record = generate_scene(rng, config, shape)
        if not clean:
            img, _ = tone_map(img, rng)
        images.append([img])
        captions.append("+".join(SHORT[k] for k in record["objects"]))
    return sheet(images, captions, tile=tile, per_row=per_row)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--tile", type=int, default=192)
    ap.add_argument("--only", choices=KINDS, default=None, help="scenes of one object type")
    ap.add_argument("--clean", action="store_true", help="show the images before tone mapping")
    ap.add_argument("--out", default="lr.png")
    args = ap.parse_args()
    check_writable(args.out, (".png",))
    config = SceneConfig.only(args.only) if args.only else SceneConfig()
    write_image(args.out, scene_sheet(args.n, args.seed, (args.size, args.size), config, args.clean, args.tile))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
