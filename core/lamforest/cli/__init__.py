"""``lamforest``: the command line (``main`` parses, runs a command, maps errors to one line)."""

from lamforest.cli.main import main


def console() -> int:
    """The ``lamforest`` command's process: pandas hidden, then ``main``.

    No command uses pandas (files are read and written through pyarrow and numpy), but
    scikit-learn imports it whenever it is installed, and pandas imports pyarrow's compute
    kernels: ~60 MB and ~0.4 s of every command that loads scikit-learn. Hidden only in the
    command's own process, never in a Python session that calls ``main``; so is its allocator
    kept to one arena (``memory.one_arena``: a finish's peak no longer grows with its groves).
    """
    from lamforest.memory import one_arena
    from lamforest.worker import boot

    one_arena()
    boot.hide()
    return main()


__all__ = ["console", "main"]
