"""User-facing errors: one line, no traceback, exit code 2 from the CLI."""


class EmsimError(ValueError):
    """An error caused by user input (bad argument, config or file); its message is one line."""


class ConfigError(EmsimError):
    """A configuration that cannot be used: unknown key, wrong type or out-of-range value."""


class TooManyAtoms(EmsimError):
    """A block would hold ``n`` atoms, above the atom budget."""

    def __init__(self, message: str, n: int):
        super().__init__(message)
        self.n = n


class GenerationInterrupted(RuntimeError):
    """A generation run lost a worker or was cut short; completed shards are kept and the
    same command resumes (exit code 1 from the CLI)."""
