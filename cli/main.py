"""Entry point of the ``emsim`` console script."""

from __future__ import annotations

import click

from emsim import __version__

from .common import EmsimGroup
from .render import render


@click.group(cls=EmsimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="emsim")
def cli():
    """emsim: synthetic electron-microscopy training data and restoration networks."""


cli.add_command(render)


def main(args=None):
    cli.main(args=args, prog_name="emsim")
