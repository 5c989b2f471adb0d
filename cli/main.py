"""Entry point of the ``emsim`` console script."""

from __future__ import annotations

import click

from emsim._version import __version__

from .calibrate import calibrate
from .common import EmsimGroup
from .export import export
from .generate import generate
from .info import info
from .preview import preview
from .quantify import quantify
from .render import render
from .restore import evaluate, restore, sr
from .specimen import specimen
from .stats import stats
from .train import train


@click.group(cls=EmsimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="emsim")
def cli():
    """emsim: synthetic electron-microscopy training data and restoration networks."""


for command in (render, specimen, generate, info, preview, stats, calibrate, quantify, train, restore, sr, evaluate, export):
    cli.add_command(command)


def main(args=None):
    cli.main(args=args, prog_name="emsim")


if __name__ == "__main__":  # python -m cli.main / torchrun -m cli.main
    main()
