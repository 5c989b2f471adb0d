"""Entry point of the ``emsim`` console script."""

from __future__ import annotations

import importlib

import click

from emsim._version import __version__

from .common import EmsimGroup

# command -> module of this package defining it (attribute of the same name): imported only
# when the command runs or help lists it, so no command pays for the others' libraries
# (calibrate and generate bring numba and scipy: 0.5 s of every start)
COMMANDS = {
    "render": "render", "specimen": "specimen", "generate": "generate", "info": "info", "preview": "preview",
    "stats": "stats", "calibrate": "calibrate", "quantify": "quantify", "train": "train", "restore": "restore",
    "sr": "restore", "evaluate": "restore", "export": "export",
}


class LazyGroup(EmsimGroup):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        return getattr(importlib.import_module(f".{COMMANDS[name]}", __package__), name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="emsim")
def cli():
    """emsim: synthetic electron-microscopy training data and restoration networks."""


def main(args=None):
    cli.main(args=args, prog_name="emsim")


if __name__ == "__main__":  # python -m cli.main / torchrun -m cli.main
    main()
