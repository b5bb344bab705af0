"""The INIT of a local execution environment: what a fresh worker process loads before its first event.

Lambda's image holds scikit-learn's stack and no pandas (``image/requirements.txt``), but
scikit-learn imports pandas whenever it is installed, and pandas imports pyarrow's compute
kernels: about 60 MB and a few hundred ms of every cold start that no event uses (a worker reads
``.npy`` arrays, and Parquet through pyarrow alone). A local environment hides what the image
lacks before it imports the handler, so its INIT (the ``Init Duration`` of its first REPORT line,
and the memory every later call starts from) is the image's. ``bench/bench_startup.py`` measures it.

Only fresh worker processes call ``init`` (``lamforest.worker.local``, the estimate's probe): in
the driver's own process (``--sync``, the estimators' small in-process fits) the user's pandas
stays importable.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

NOT_IN_IMAGE = ("pandas",)


class _Hidden:
    """A meta path finder that says the packages it names are not installed.

    Not ``sys.modules[name] = None``: scikit-learn tests ``sys.modules["pandas"]`` for a
    DataFrame and would then read an attribute of None.
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None  # every other module: the usual finders


def hide(names: Sequence[str] = NOT_IN_IMAGE) -> None:
    """Make ``import NAME`` fail as if NAME were not installed, for names not imported yet."""
    missing = [n for n in names if n not in sys.modules]
    if missing and not any(isinstance(f, _Hidden) for f in sys.meta_path):
        sys.meta_path.insert(0, _Hidden(missing))


def init() -> None:
    """The environment's INIT: the image's package set, then the handler and its imports."""
    hide()
    import lamforest.worker.entry  # noqa: F401  - loaded now, as Lambda loads it in INIT
