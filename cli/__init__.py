"""The ``emsim`` command: click wiring only; the logic lives in the emsim package."""
