"""``local`` (the default backend): a folder, a pool of local worker processes, their log files.

The folder is ``LAMFOREST_HOME``, else the user data dir. Costs are what the
same calls would cost on Lambda, labelled as estimates.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
            # In this process: one thread (--sync), or one per core asked for (a small build's groves).
            threads = pool_size(workers) if workers else 1
            return SyncCompute(store, memory_mb=spec.memory, threads=threads, groves=spec.n_groves)
        key = (pool_size(workers), spec.memory)
        # The pool persists across builds, like warm Lambda environments; a broken one
        # (its workers could not start, or could not record a grove) is replaced.
        if key in pools and pools[key].broken:
            pools.pop(key).close()
        if key not in pools:
            # Processes for the groves there are, at once; more only if a later build has more work.
            pools[key] = LocalCompute(store, workers=key[0], memory_mb=spec.memory, eager=spec.n_groves)
        return pools[key]

    def close_pools() -> None:
        for pool in pools.values():
            pool.close()
        pools.clear()

    host = platform.node()

    def is_stale(record: Mapping[str, Any]) -> bool:
        """A running record whose writer is gone. Local workers run on this host, so a record naming
        another host, or one of an older format that names its writer by pid alone (any process may
        hold that pid now), names no process this driver can wait for."""
        if record.get("host") != host or "pid_start" not in record:
            return True
        if not records.writer_alive(record):
            return True
        if record.get("writer") == "in-process":
            return False  # a driver fitting its groves itself (--sync, a small estimator fit): it lives
        # Alive, but a grove is fitted by a local worker or, with --sync, by this very driver: any other
        # process holding that pid (and start time) is not fitting it, and waiting for it never ends.
        pid = int(record.get("pid", 0) or 0)
        return pid != os.getpid() and records.process_command(pid) not in (None, "lamforest.worker.local")

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
