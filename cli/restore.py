"""``emsim restore`` and ``emsim evaluate``: apply and assess restoration networks."""

from __future__ import annotations

import time
from pathlib import Path

import click

from emsim.errors import EmsimError
from restoration import BACKENDS


def _device(device):
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EmsimError("--device cuda requested but no CUDA device is available")
    return device


@click.command("restore")
@click.argument("input_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", "ckpt", required=True, type=click.Path(dir_okay=False), help="Checkpoint: last.pt / best.pt of a run, best.safetensors (with best.json beside it) or an exported .onnx.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output file (.tif/.npy/.emd; the input's pixel size is kept).")
@click.option("--tile", type=int, default=1024, show_default=True, help="Largest tile in pixels (tiles are shrunk to share the image evenly).")
@click.option("--overlap", type=int, default=64, show_default=True)
@click.option("--device", default=None, help="cuda | cpu (default: cuda if available).")
@click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True, help="auto: onnxruntime on the CPU (exported once, cached), torch on CUDA.")
@click.option("--amp", is_flag=True, help="bf16 autocast (CUDA, or a CPU with AVX512-BF16/AMX: ~2-3x faster, deviations ~1e-4 of the maximum).")
def restore(input_path, ckpt, out, tile, overlap, device, backend, amp):
    """Restore INPUT (.npy, .tif, and .dm3/.dm4/.emd/.ser with rosettasciio) of any size."""
    _apply(input_path, ckpt, out, tile, overlap, device, backend, amp, sr=False)


def _apply(input_path, ckpt, out, tile, overlap, device, backend, amp, sr: bool):
    from emsim.io import OUTPUT_SUFFIXES, read_input, write_output
    from restoration.checkpoint import load_generator
    from restoration.infer import prepare, restore_array

    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise EmsimError(f"{out}: output must be {', '.join(OUTPUT_SUFFIXES)}")  # before the model is loaded
    if not out.parent.exists():
        raise EmsimError(f"{out}: folder {out.parent} does not exist")
    image, meta = read_input(input_path)
    device = _device(device)
    model, backend = prepare(load_generator(ckpt, device, sr=sr), device, backend, amp)
    t = time.perf_counter()
    result = restore_array(model, image, tile=tile, overlap=overlap, device=device, amp=amp)
    write_output(out, result, meta, upscale=result.shape[0] // image.shape[0])
    click.echo(f"wrote {out} ({result.shape[0]}x{result.shape[1]}, {time.perf_counter() - t:.2f} s on {device}, {backend})")


@click.command("sr")
@click.argument("input_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", "ckpt", required=True, type=click.Path(dir_okay=False), help="SR checkpoint (from `emsim train sr`).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output .tif/.npy/.emd (scale times larger, pixel size divided by it).")
@click.option("--tile", type=int, default=256, show_default=True, help="Tile size in input pixels.")
@click.option("--overlap", type=int, default=32, show_default=True)
@click.option("--device", default=None)
@click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True)
@click.option("--amp", is_flag=True)
def sr(input_path, ckpt, out, tile, overlap, device, backend, amp):
    """Super-resolve INPUT with an SR network (tiled for large images)."""
    _apply(input_path, ckpt, out, tile, overlap, device, backend, amp, sr=True)


@click.command("evaluate")
@click.argument("folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--model", "ckpt", type=click.Path(dir_okay=False), default=None, help="Checkpoint to evaluate (omit for baselines only).")
@click.option("--data", default=None, help="Zarr store of pairs (protocols store and self).")
@click.option("--n", "n", type=int, default=32, show_default=True, help="Number of pairs (the store's last n: a run's held-out set).")
@click.option("--baselines", default=None, help="Comma-separated: bm3d, gaussian, raw (restore; default all) or bicubic, nearest, lbnlm (sr; default bicubic,lbnlm).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="Also write the table as CSV.")
@click.option("--device", default=None)
@click.option("--task", type=click.Choice(["restore", "sr"]), default="restore", show_default=True)
@click.option(
    "--protocol",
    type=click.Choice(["store", "self", "zoom"]),
    default="store",
    show_default=True,
    help="SR: store (the store's pairs; paired acquisitions registered), self (the paired-SR paper's self-training: 9 of 12 sub-images per pair train LB-NLM, 3 are tested) or zoom (Moeller 2023's zoom pyramid of pseudo-real references made from the images of FOLDER).",
)
@click.option("--scale", type=int, default=None, help="SR factor of the zoom protocol (default: the model's, else 4).")
@click.option("--zoom-reference", type=int, default=20, show_default=True, help="Zoom level of FOLDER's images (20: 20MX references).")
@click.option("--zoom-levels", default=None, help="Comma-separated integer zoom levels (default: every level from reference/scale to reference).")
@click.option("--grid", type=click.Choice(["centre", "probe"]), default="centre", show_default=True, help="Pixel grid of the zoom protocol's resizing (centre: Pillow's, as the paper).")
def evaluate(folder, ckpt, data, n, baselines, csv_path, device, task, protocol, scale, zoom_reference, zoom_levels, grid):
    """PSNR, SSIM and time of the model against BM3D, the best Gaussian filter and the raw
    input; on stores with column truth (generate --truth columns) also the column-position
    error (pm) and the relative SCS error. With --task sr: the SR metrics of the model,
    bicubic, nearest and LB-NLM (`emsim evaluate --task sr --protocol zoom FOLDER` for
    Moeller's zoom pyramid)."""
    if baselines is None:
        baselines = "bicubic,lbnlm" if task == "sr" else "bm3d,gaussian,raw"
    names = tuple(b.strip() for b in baselines.split(",") if b.strip())
    if (protocol == "zoom") != (folder is not None):
        raise EmsimError("FOLDER goes with --protocol zoom (and --protocol zoom needs a FOLDER)")
    if protocol == "zoom" and data:
        raise EmsimError("--protocol zoom evaluates FOLDER's images, not --data")
    if protocol != "zoom" and not data:
        raise EmsimError("--data is required (a store of pairs)")
    if task != "sr" and protocol != "store":
        raise EmsimError(f"--protocol {protocol} is for --task sr")
    if task == "sr" and protocol == "zoom":
        from restoration.evaluate import evaluate_zoom, format_sr_table

        dev = _device(device)
        model = None
        if ckpt:
            from restoration.checkpoint import load_generator

            model = load_generator(ckpt, dev, sr=True)
        try:
            levels = [int(v) for v in zoom_levels.split(",") if v.strip()] if zoom_levels else None
        except ValueError:
            raise EmsimError(f"--zoom-levels must be comma-separated integers, got {zoom_levels!r}") from None
        rows = evaluate_zoom(folder, model, dev, names, scale, levels, zoom_reference, grid)
        table = format_sr_table(rows, f"images per level; zoom levels {rows[0]['zoom_level']}..{rows[-1]['zoom_level']} of {zoom_reference}, {grid} grid")
    elif task == "sr":
        from restoration.evaluate import evaluate_sr_store

        rows, table = evaluate_sr_store(data, ckpt, n, names, _device(device), protocol)
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
