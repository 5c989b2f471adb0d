"""``emsim export``: a trained generator as ONNX and/or safetensors."""

from __future__ import annotations

from pathlib import Path

import click

from emsim.errors import EmsimError


@click.command("export")
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--onnx", "onnx_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write an ONNX graph (dynamic image size) here.")
@click.option("--safetensors", "st_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the weights here (NAME.safetensors, config in NAME.json).")
@click.option("--opset", type=click.IntRange(13, 21), default=None, help="ONNX opset (default 17).")
def export(checkpoint, onnx_path, st_path, opset):
    """Export the generator of CHECKPOINT (a run's best.pt / last.pt) for inference.

    `emsim restore` and `emsim sr` accept the exported files as --model.
    """
    from restoration.checkpoint import load_generator, save_weights
    from restoration.export import OPSET, export_onnx

    if onnx_path is None and st_path is None:
        raise EmsimError("nothing to export: give --onnx FILE and/or --safetensors FILE")
    if st_path is not None and st_path.suffix != ".safetensors":
        raise EmsimError(f"--safetensors needs a .safetensors file name, got {st_path.name}")
    for p in (onnx_path, st_path):
        if p is not None and not p.parent.exists():
            raise EmsimError(f"cannot write {p}: folder {p.parent} does not exist")
    model = load_generator(checkpoint)
    if st_path is not None:
        save_weights(st_path, model)
        click.echo(f"weights: {st_path} (config {st_path.with_suffix('.json').name})")
    if onnx_path is not None:
        meta = export_onnx(model, onnx_path, opset=opset or OPSET)
        click.echo(f"onnx: {onnx_path} (opset {meta['emsim.opset']}, dynamic height and width)")
