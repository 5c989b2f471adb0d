"""``emsim restore`` and ``emsim evaluate``: apply and assess restoration networks."""

from __future__ import annotations

import time
from pathlib import Path

import click

from emsim.errors import EmsimError


def _device(device):
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EmsimError("--device cuda requested but no CUDA device is available")
    return device


@click.command("restore")
@click.argument("input_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", "ckpt", required=True, type=click.Path(dir_okay=False), help="Checkpoint: last.pt / best.pt of a run, or best.safetensors (with best.json beside it).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output file (.tif/.npy; same format as the input where possible).")
@click.option("--tile", type=int, default=512, show_default=True)
@click.option("--overlap", type=int, default=64, show_default=True)
@click.option("--device", default=None, help="cuda | cpu (default: cuda if available).")
@click.option("--amp", is_flag=True, help="bf16 autocast on CUDA.")
def restore(input_path, ckpt, out, tile, overlap, device, amp):
    """Restore INPUT (.npy, .tif, and .dm3/.dm4/.emd/.ser with rosettasciio) of any size."""
    _apply(input_path, ckpt, out, tile, overlap, device, amp, sr=False)


def _apply(input_path, ckpt, out, tile, overlap, device, amp, sr: bool):
    from emsim.io import read_input, write_output
    from restoration.checkpoint import load_generator
    from restoration.infer import restore_array

    if out.suffix.lower() not in (".npy", ".tif", ".tiff"):
        raise EmsimError(f"{out}: output must be .tif, .tiff or .npy")  # before the model is loaded
    if not out.parent.exists():
        raise EmsimError(f"{out}: folder {out.parent} does not exist")
    image, meta = read_input(input_path)
    device = _device(device)
    model = load_generator(ckpt, device, sr=sr)
    t = time.perf_counter()
    result = restore_array(model, image, tile=tile, overlap=overlap, device=device, amp=amp)
    write_output(out, result, meta, upscale=result.shape[0] // image.shape[0])
    click.echo(f"wrote {out} ({result.shape[0]}x{result.shape[1]}, {time.perf_counter() - t:.2f} s on {device})")


@click.command("sr")
@click.argument("input_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", "ckpt", required=True, type=click.Path(dir_okay=False), help="SR checkpoint (from `emsim train sr`).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output .tif/.npy (scale times larger).")
@click.option("--tile", type=int, default=256, show_default=True, help="Tile size in input pixels.")
@click.option("--overlap", type=int, default=32, show_default=True)
@click.option("--device", default=None)
@click.option("--amp", is_flag=True)
def sr(input_path, ckpt, out, tile, overlap, device, amp):
    """Super-resolve INPUT with an SR network (tiled for large images)."""
    _apply(input_path, ckpt, out, tile, overlap, device, amp, sr=True)


@click.command("evaluate")
@click.option("--model", "ckpt", type=click.Path(dir_okay=False), default=None, help="Checkpoint to evaluate (omit for baselines only).")
@click.option("--data", required=True, help="Zarr store of pairs.")
@click.option("--n", "n", type=int, default=32, show_default=True, help="Number of pairs (the store's last n: a run's held-out set).")
@click.option("--baselines", default=None, help="Comma-separated: bm3d, gaussian, raw (restore; default all) or bicubic, nearest, lbnlm (sr; default bicubic,lbnlm).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="Also write the table as CSV.")
@click.option("--device", default=None)
@click.option("--task", type=click.Choice(["restore", "sr"]), default="restore", show_default=True)
def evaluate(ckpt, data, n, baselines, csv_path, device, task):
    """PSNR, SSIM and time of the model against BM3D, the best Gaussian filter and the raw
    input; on stores with column truth (generate --truth columns) also the column-position
    error (pm) and the relative SCS error."""
    if baselines is None:
        baselines = "bicubic,lbnlm" if task == "sr" else "bm3d,gaussian,raw"
    names = tuple(b.strip() for b in baselines.split(",") if b.strip())
    if task == "sr":
        from restoration.evaluate import evaluate_sr_store

        rows, table = evaluate_sr_store(data, ckpt, n, names, _device(device))
    else:
        from restoration.checkpoint import load_generator
        from restoration.evaluate import evaluate_pairs, format_table, store_column_truths, store_pairs

        unknown = set(names) - {"bm3d", "gaussian", "raw"}
        if unknown:
            raise EmsimError(f"unknown baselines {sorted(unknown)} (use bm3d, gaussian, raw)")
        dev = _device(device)
        model = load_generator(ckpt, dev, sr=False) if ckpt else None
        rows = evaluate_pairs(store_pairs(data, n), model, dev, names, truths=store_column_truths(data, n))
        table = format_table(rows)
    click.echo(table)
    if csv_path:
        from restoration.evaluate import write_csv

        write_csv(csv_path, rows)
