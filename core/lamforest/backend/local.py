"""``local`` (the default backend): a folder, a pool of local worker processes, their log files.

The folder is ``LAMFOREST_HOME``, else the user data dir. Costs are what the
same calls would cost on Lambda, labelled as estimates.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from lamforest.backend.base import Backend, Compute
from lamforest.logs import LocalLogSource
from lamforest.spec import BuildSpec
from lamforest.store.local import LocalStore


def default_home() -> Path:
    env = os.environ.get("LAMFOREST_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("lamforest", appauthor=False))


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


def _pool_workers(workers: int | None) -> int:
    from lamforest.backend.pool import default_workers

    return workers or default_workers()


def local_backend(home: Path | str | None = None) -> Backend:
    from lamforest.backend.pool import LocalCompute, SyncCompute, default_workers

    root = Path(home).expanduser() if home else default_home()
    root.mkdir(parents=True, exist_ok=True)
    store = LocalStore(root)
    pools: dict[tuple[int, int], LocalCompute] = {}

    def make_compute(spec: BuildSpec, workers: int | None, sync: bool) -> Compute:
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
        make_compute=make_compute,
        log_source=lambda: LocalLogSource(root),
        estimate=True,
        describe=f"local ({root})",
        is_stale=is_stale,
        pool_workers=_pool_workers,
    )
    backend.on_close(close_pools)
    return backend
