"""Contact sheet of distorted (top row) and target (bottom row) pairs of one modality.

    python examples/preview_distortions.py --modality stem --n 8 --seed 0 --out sheet.png

The same as ``emsim preview --modality M --n N --seed S --out FILE``: random specimens,
the paper's random atom contrast and tone mapping, then the modality's distortion chain;
captions give the pixel size, dose and specimen type.
"""

from __future__ import annotations

import argparse

from emsim.io import check_writable, write_image
from emsim.pairs import MODALITIES, resolve_config
from emsim.dataset.preview import preview_config


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modality", choices=MODALITIES, default="stem")
    ap.add_argument("--n", type=int, default=8, help="number of pairs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=192, help="image size in pixels")
    ap.add_argument("--out", required=True, help="output .png")
    args = ap.parse_args()
    out = check_writable(args.out, (".png",))
    config = resolve_config(modality=args.modality, shape=(args.size, args.size))
    write_image(out, preview_config(config, args.seed, args.n))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
