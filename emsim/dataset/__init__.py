"""Stage 5: datasets of pairs.

``store`` (sharded zarr v3 layout, manifest, checksums), ``generate`` (streaming
generation on local processes or Dask, resumable), ``preview`` (contact sheets) and
``torch`` (every PyTorch Dataset: stores, on-the-fly simulation, LR-only pipelines; it
imports torch, so it is never imported from here).

May import everything in ``emsim`` above it (pairs and the stages before).
"""
