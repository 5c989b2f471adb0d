"""Shared CLI plumbing: one-line errors with exit code 2, and the ``--size H [W]`` option."""

from __future__ import annotations

import sys

import click

from emsim.errors import EmsimError, GenerationInterrupted

EXIT_USAGE = 2


def normalize_size_args(args: list[str]) -> list[str]:
    """Rewrite ``--size H W`` (two integers) as ``--size HxW`` so click sees one value."""
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a == "--size" and i + 2 < len(args) and args[i + 1].isdigit() and args[i + 2].isdigit():
            out += [a, f"{args[i + 1]}x{args[i + 2]}"]
            i += 3
            continue
        out.append(a)
        i += 1
    return out


class SizeType(click.ParamType):
    """Image size: ``256`` (square) or ``H W`` / ``HxW``."""

    name = "H [W]"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        parts = str(value).lower().replace(",", "x").split("x")
        try:
            dims = tuple(int(p) for p in parts)
        except ValueError:
            self.fail(f"{value!r} is not a size (use 256 or H W)", param, ctx)
        if len(dims) == 1:
            dims = dims * 2
        if len(dims) != 2 or min(dims) < 1:
            self.fail(f"{value!r} is not a size (use 256 or H W)", param, ctx)
        return dims


SIZE = SizeType()


class NetworkChoice(click.ParamType):
    """A network name of the registry (``restoration.archs``) for one task (its default
    listed first), read when a value is checked or help is shown, so the CLI imports no
    torch before it needs it."""

    name = "network"

    def __init__(self, task: str):
        self.task = task

    def _names(self) -> tuple[str, ...]:
        from restoration.archs import names

        return names(self.task)

    def get_metavar(self, param, ctx=None):
        return "[" + "|".join(self._names()) + "]"

    def convert(self, value, param, ctx):
        if value in self._names():
            return value
        self.fail(f"{value!r} is not one of {', '.join(self._names())}", param, ctx)


SEED = click.IntRange(0, 2**63 - 1)  # numpy SeedSequence entropy: non-negative


class EmsimGroup(click.Group):
    """Click group that turns EmsimError (bad input) into a one-line message and exit 2, and
    an OSError (the environment failing mid-run) into a one-line message and exit 1."""

    def main(self, args=None, *a, **k):
        args = list(sys.argv[1:] if args is None else args)
        self.argv = args  # the command line as given, for dataset cards
        return super().main(normalize_size_args(args), *a, **k)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EmsimError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(EXIT_USAGE)
        except OSError as e:  # the environment failed (disk full, file system gone): completed shards stay
            where = f"{e.filename}: " if e.filename else ""
            click.echo(f"error: {where}{e.strerror or e}", err=True)
            ctx.exit(1)
        except GenerationInterrupted as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


def command_line(ctx: click.Context) -> str:
    """The command line of this invocation (``emsim ...``), shell-quoted."""
    import shlex

    return shlex.join(["emsim", *getattr(ctx.find_root().command, "argv", [])])
