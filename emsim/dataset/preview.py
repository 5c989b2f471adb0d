"""Contact sheets of pairs: distorted x above clean y, with the key parameters as captions."""

from __future__ import annotations

import numpy as np

from ..io import to_uint8


def _fit(img: np.ndarray, tile: int, robust: bool) -> np.ndarray:
    """Scale to 8 bit (percentile window for noisy images) and resize to a tile x tile box."""
    from PIL import Image

    img = np.asarray(img, dtype=np.float64)
    lo, hi = (np.percentile(img, [0.5, 99.5]) if robust else (img.min(), img.max()))
    im = Image.fromarray(to_uint8(np.clip(img, lo, hi), lo, hi))
    scale = tile / max(im.size)
    return np.asarray(im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BOX))


def caption(record: dict) -> str:
    """Short description: modality, resolution, pixel size, dose and specimen or scene type."""
    parts = [record.get("modality", "?"), record.get("resolution", "?"), f"{record.get('pixel_size', float('nan')):.3g}A"]
    dose = record.get("distortions", {}).get("dose", {})
    if dose.get("e_per_A2") is not None:
        parts.append(f"{dose['e_per_A2']:.3g}e/A2")
    if "specimen" in record:
        parts.append(str(record["specimen"].get("type", "")))
    elif "scene" in record:
        parts.append("+".join(record["scene"].get("objects", [])) if isinstance(record["scene"].get("objects"), list) else "scene")
    return " ".join(p for p in parts if p)


def sheet(columns: list[list[np.ndarray]], captions: list[str] | None = None, tile: int = 192, per_row: int = 8) -> np.ndarray:
    """Grid of columns (each a list of images stacked vertically: x then y), ``per_row``
    columns per row of the sheet, captions under each column. Returns an 8-bit image."""
    from PIL import Image, ImageDraw

    pad, text_h = 4, 14
    n_img = max(len(c) for c in columns)
    cell_w, cell_h = tile + pad, n_img * (tile + pad) + (text_h if captions else 0) + pad
    rows = (len(columns) + per_row - 1) // per_row
    cols = min(per_row, len(columns))
    canvas = Image.new("L", (cols * cell_w + pad, rows * cell_h + pad), 255)
    draw = ImageDraw.Draw(canvas)
    for k, column in enumerate(columns):
        x0, y0 = pad + (k % per_row) * cell_w, pad + (k // per_row) * cell_h
        for j, img in enumerate(column):
            canvas.paste(Image.fromarray(_fit(img, tile, robust=(j == 0))), (x0, y0 + j * (tile + pad)))
        if captions:
            draw.text((x0, y0 + n_img * (tile + pad)), captions[k][: tile // 6], fill=0)
    return np.asarray(canvas)


def pairs_sheet(pairs, tile: int = 192, per_row: int = 8) -> np.ndarray:
    """Sheet of (x, y, record) triples: x above y, captioned."""
    pairs = list(pairs)
    return sheet([[x, y] for x, y, _ in pairs], [caption(r) for _, _, r in pairs], tile, per_row)


def preview_config(config, seed: int, n: int, tile: int = 192) -> np.ndarray:
    """Sheet of the first ``n`` pairs of the dataset (seed, config)."""
    from ..pairs.make import make_pair

    pairs = [make_pair(seed, i, config) for i in range(n)]
    return pairs_sheet([(p.x, p.y, p.record) for p in pairs], tile)


def preview_store(path: str, n: int, tile: int = 192) -> np.ndarray:
    """Sheet of the first ``n`` complete samples of a store."""
    from . import store

    g = store.open_group(path, "r")
    idx = store.complete_indices(path)[:n]
    return pairs_sheet([(g["x"][k], g["y"][k], store.read_record(g, k)) for k in idx], tile)
