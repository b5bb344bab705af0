"""Which backend: a (store, compute, log source) triple, from flags and environment.

``local`` (the default): a folder (``LAMFOREST_HOME``, else the user data
dir), a pool of local worker processes, their log files. Costs are what the
same calls would cost on Lambda, labelled as estimates.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lamforest.compute import Compute
from lamforest.logs import LocalLogSource, LogSource
from lamforest.spec import BuildSpec
from lamforest.store.base import Store
from lamforest.store.local import LocalStore

BACKENDS = ("local", "aws")


class ConfigError(RuntimeError):
    """The backend cannot be used as configured; the message says what to do."""


def default_home() -> Path:
    env = os.environ.get("LAMFOREST_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("lamforest", appauthor=False))


@dataclass
class Backend:
    name: str
    store: Store
    logs: LogSource
    # (spec, workers, sync) -> a Compute for this build
    make_compute: Callable[[BuildSpec, int | None, bool], Compute]
    estimate: bool  # True when costs are what Lambda would charge, not a bill
    describe: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    # Stale "running" records: a dead local worker, or older than the function timeout.
    is_stale: Callable[[dict], bool] = lambda record: False
    n_jobs: Callable[[BuildSpec], int] = lambda spec: 1
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def price_arch(self, requested: str | None = None) -> str:
        """The architecture to price with: the deployed function's when there is one (on AWS it is
        fixed by Terraform, a spec's is only a request), else the requested one, else x86_64."""
        return str(self.details.get("architecture") or requested or "x86_64")

    def new_log_source(self) -> LogSource:
        """A fresh reader (each watcher keeps its own read position)."""
        factory = self.details.get("log_factory")
        return factory() if factory else self.logs

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()


def open_backend(name: str | None = None, *, home: Path | str | None = None) -> Backend:
    name = name or os.environ.get("LAMFOREST_BACKEND", "local")
    if name == "local":
        return local_backend(home)
    if name == "aws":
        from lamforest.config_aws import aws_backend

        return aws_backend()
    raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")


def pid_alive(pid: int) -> bool:
    """Is ``pid`` alive? A zombie counts as dead: orphans of a killed driver are not
    always reaped (e.g. in containers), and their groves must be dispatched again."""
    if pid <= 0:
        return False
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def local_backend(home: Path | str | None = None) -> Backend:
    import platform

    root = Path(home).expanduser() if home else default_home()
    root.mkdir(parents=True, exist_ok=True)
    store = LocalStore(root)
    pools: dict[tuple[int, int], Any] = {}

    def make_compute(spec: BuildSpec, workers: int | None, sync: bool) -> Compute:
        from lamforest.compute.local import LocalCompute, SyncCompute, default_workers

        if sync:
            return SyncCompute(store, memory_mb=spec.memory)
        key = (workers or default_workers(), spec.memory)
        # The pool persists across builds, like warm Lambda environments.
        if key not in pools:
            pools[key] = LocalCompute(store, workers=key[0], memory_mb=spec.memory)
        return pools[key]

    def close_pools() -> None:
        for pool in pools.values():
            pool.close()
        pools.clear()

    host = platform.node()

    def is_stale(record: dict) -> bool:
        return record.get("host") == host and not pid_alive(int(record.get("pid", 0) or 0))

    backend = Backend(
        name="local",
        store=store,
        logs=LocalLogSource(root),
        make_compute=make_compute,
        estimate=True,
        describe=f"local ({root})",
        details={"home": str(root), "log_factory": lambda: LocalLogSource(root)},
        is_stale=is_stale,
    )
    backend._closers.append(close_pools)
    return backend
