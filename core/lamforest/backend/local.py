"""``local`` (the default backend): a folder, a pool of local worker processes, their log files.

The folder is ``LAMFOREST_HOME``, else the user data dir. Costs are what the
same calls would cost on Lambda, labelled as estimates.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from lamforest import records
from lamforest.backend.base import Backend, Compute
from lamforest.logs import LocalLogSource
from lamforest.spec import BuildSpec, SpecError, check_workers
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


def writer_alive(record: dict) -> bool:
    """Is the process that wrote this record (on this host) still the one running?

    A pid alone is not enough: after a reboot, or once the writer has ended, another
    process may hold the same pid. Records that carry ``boot_id`` and ``pid_start`` are
    matched on both; older records fall back to the pid.
    """
    pid = int(record.get("pid", 0) or 0)
    if not pid_alive(pid):
        return False
    boot = record.get("boot_id")
    if boot is not None and boot != records.boot_id():
        return False
    started = record.get("pid_start")
    return started is None or records.pid_start(pid) == started


def pool_size(workers: int | None) -> int:
    """The pool's size for a ``--workers`` value: one per core by default, and never more than the
    cores (more processes than cores only share them, each paying its own imports)."""
    from lamforest.backend.pool import default_workers

    cores = default_workers()
    return min(workers or cores, cores)


def local_backend(home: Path | str | None = None) -> Backend:
    from lamforest.backend.pool import LocalCompute, SyncCompute

    root = Path(home).expanduser() if home else default_home()
    if root.exists() and not root.is_dir():
        raise SpecError("home", f"{root} is a file, not a folder; point --home or LAMFOREST_HOME at a folder")
    # Not made here: the store makes folders as it writes, so reading (status, builds) a store that
    # does not exist yet leaves nothing behind.
    store = LocalStore(root)
    pools: dict[tuple[int, int], LocalCompute] = {}

    def make_compute(spec: BuildSpec, workers: int | None, sync: bool) -> Compute:
        check_workers(workers)
        if sync:
            return SyncCompute(store, memory_mb=spec.memory)
        key = (pool_size(workers), spec.memory)
        # The pool persists across builds, like warm Lambda environments; a broken one
        # (its workers could not start, or could not record a grove) is replaced.
        if key in pools and pools[key].broken:
            pools.pop(key).close()
        if key not in pools:
            pools[key] = LocalCompute(store, workers=key[0], memory_mb=spec.memory)
        return pools[key]

    def close_pools() -> None:
        for pool in pools.values():
            pool.close()
        pools.clear()

    host = platform.node()

    def is_stale(record: dict) -> bool:
        return record.get("host") == host and not writer_alive(record)

    backend = Backend(
        name="local",
        store=store,
        make_compute=make_compute,
        log_source=lambda: LocalLogSource(root),
        estimate=True,
        describe=f"local ({root})",
        is_stale=is_stale,
        pool_workers=pool_size,
    )
    backend.on_close(close_pools)
    return backend
