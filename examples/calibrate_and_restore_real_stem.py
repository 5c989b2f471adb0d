"""Calibrate emsim on real STEM images, check that the calibrated data cover them, train a
small CGRDN on the calibrated distribution and restore a real frame.

    python examples/calibrate_and_restore_real_stem.py [--images FOLDER] [--steps 600] [--out out/real]

Without --images, the ADF and ABF frames shipped in atomap's wheel (400 x 380 crops of a
perovskite, 0.093 A per pixel) are fetched with ``pip download --no-deps atomap`` into
~/.cache/emsim-test-data. Writes OUT/calibrated.toml, OUT/store.zarr (calibrated pairs),
OUT/stats.png (coverage histograms), the run in OUT/run and OUT/restored.png (each real
frame above its restoration).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path


def atomap_frames() -> Path:
    cache = Path.home() / ".cache" / "emsim-test-data"
    names = ("test_ADF_cropped.hdf5", "test_ABF_cropped.hdf5")
    if not all((cache / n).is_file() for n in names):
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "atomap==0.4.2", "-d", str(cache)], check=True)
        with zipfile.ZipFile(next(cache.glob("atomap-*.whl"))) as z:
            for n in names:
                (cache / n).write_bytes(z.read(f"atomap/tests/datasets/{n}"))
    folder = cache / "frames"
    folder.mkdir(exist_ok=True)
    for n in names:
        if not (folder / n).exists():
            (folder / n).symlink_to(cache / n)
    return folder


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=Path, default=None)
    ap.add_argument("--pixel-size", type=float, default=0.093, help="A")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--out", type=Path, default=Path("out/real"))
    args = ap.parse_args()
    from click.testing import CliRunner

    from cli.main import cli
    from emsim.dataset.preview import sheet
    from emsim.io import read_input, write_image
    from emsim.pairs import resolve_config
    from restoration.checkpoint import load_generator
    from restoration.infer import restore_array
    from restoration.train import TrainConfig, train

    folder = args.images or atomap_frames()
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".hdf5", ".hspy", ".tif", ".tiff", ".npy", ".dm3", ".dm4", ".emd"))
    args.out.mkdir(parents=True, exist_ok=True)
    run = CliRunner()
    toml = args.out / "calibrated.toml"
    r = run.invoke(cli, ["calibrate", *map(str, files), "--modality", "stem", "--pixel-size", str(args.pixel_size), "--out", str(toml)])
    print(r.output)
    store = args.out / "store.zarr"
    r = run.invoke(cli, ["generate", "--config", str(toml), "--n", "64", "--size", "128", "--out", str(store), "--overwrite", "--quiet", "--workers", "1"])
    print(r.output)
    r = run.invoke(cli, ["stats", str(store), "--against", str(folder), "--png", str(args.out / "stats.png")])
    print(r.output)
    cfg = TrainConfig(width=32, n_grdb=2, n_rdb=2, n_layers=4, growth=16, steps=args.steps, batch=8, patch=args.size, lr=5e-4, warmup=50, gan_after=-1, val_size=16, val_every=max(50, args.steps // 4), ckpt_every=max(50, args.steps // 4), workers=0)
    metrics = train(args.out / "run", cfg, pair_config=resolve_config(toml), quiet=True)
    print(f"validation on calibrated pairs: PSNR {metrics['val_psnr']:.2f} dB (raw {metrics['raw_psnr']:.2f} dB)")
    model = load_generator(args.out / "run" / "best.pt")
    columns = []
    for f in files:
        img = read_input(f)[0]
        columns.append([img, restore_array(model, img, tile=256, overlap=32)])
    write_image(args.out / "restored.png", sheet(columns, [f.name for f in files], tile=320))
    print(f"wrote {args.out / 'restored.png'}")


if __name__ == "__main__":
    main()
