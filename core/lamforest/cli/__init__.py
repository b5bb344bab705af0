"""``lamforest``: the command line (``main`` parses, runs a command, maps errors to one line)."""

from lamforest.cli.main import main

__all__ = ["main"]
