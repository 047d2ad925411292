"""Errors the CLI turns into one line on stderr and exit code 2."""


class UsageError(ValueError):
    """Bad input, bad credentials or bad usage: the user must change something."""
