"""Run every benchmark in turn: ``python -m bench [NAME ...]`` (names: core, dispatch, tui, ...)."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def main() -> None:
    wanted = set(sys.argv[1:])
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    for name in names:
        short = name.removeprefix("bench_")
        if wanted and short not in wanted:
            continue
        print(f"\n=========== bench {short} ===========", flush=True)
        module = importlib.import_module(f"bench.{name}")
        sys.argv = [name]
        module.main()


if __name__ == "__main__":
    main()
