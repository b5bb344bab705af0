"""One driver per build, and how a watcher tells a build someone drives from one whose driver is gone.

**Taking a build.** A driver takes a build by creating ``builds/<b>/drivers/<gen>.json`` for the
next generation with the store's exclusive create (``O_EXCL`` on a folder, ``If-None-Match`` on
S3): of two drivers that try at once, exactly one gets it. The holder of the highest generation
drives. Another driver may take the build over only when that holder is gone:

- it released the lease (a clean end, a quit, a signal): at once;
- it ran on this host and its process has ended (pid, start time and boot id): at once;
- otherwise (another host, or a lease this process cannot check): once the lease has not been
  renewed for ``timeout_for(doc)`` seconds, which ``acquire`` waits for, bounded, saying so.

A live holder makes ``acquire`` raise ``DriverBusy`` naming it: a second ``finish`` never
dispatches a grove twice.

**Renewing.** While it drives, a daemon thread rewrites ``builds/<b>/lease.json`` every
``renew_s`` seconds (one PUT, and one HEAD for the next generation's key: a driver paused past
the timeout and taken over learns it and stops). A watcher already LISTs the build's prefix;
the lease's version tag changes at each renewal, so it GETs the lease only then. A build without
a summary whose lease was released, or has not moved for the timeout, is ``interrupted`` and
``lamforest finish NAME`` resumes it. A build no driver ever ran has no lease: ``queued``.
"""

from __future__ import annotations

import os
import platform
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from lamforest import documents, keys, records
from lamforest.driver.plan import BuildError
from lamforest.store.base import Store

RENEW_S = 5.0
TIMEOUT_S = 60.0  # twelve missed renewals: a slow store or a paused laptop is not a dead driver
SKEW_S = 60.0  # a renewal dated further ahead than this is not believed


class DriverBusy(BuildError):
    """Another live driver holds the build."""


def timeout_for(doc: Mapping[str, Any]) -> float:
    """How long a lease may go unrenewed: at least ``TIMEOUT_S`` and six of its own periods."""
    try:
        every = float(doc.get("renew_s", RENEW_S))
    except (TypeError, ValueError):
        every = RENEW_S
    return max(TIMEOUT_S, 6 * every) if every == every else TIMEOUT_S  # NaN: the default


def renewed_at(doc: Mapping[str, Any]) -> float | None:
    """When the lease says it was renewed, if that is a believable time."""
    at = doc.get("renewed")
    if isinstance(at, bool) or not isinstance(at, (int, float)) or at != at:
        return None
    return float(at) if at <= time.time() + SKEW_S else None


def process_gone(doc: Mapping[str, Any]) -> bool:
    """The lease names a process on this host that has ended: its driver is gone for sure.

    Only a lease that names its process fully (pid, start time, boot id) is judged; of any
    other this host can say nothing, and the lease's age decides.
    """
    if doc.get("host") != platform.node() or "pid_start" not in doc or "boot_id" not in doc:
        return False
    try:
        return not records.writer_alive(doc)
    except (TypeError, ValueError):
        return False


def held_by(doc: Mapping[str, Any]) -> str:
    pid, host = doc.get("pid"), doc.get("host")
    return f"pid {pid} on {host}" if pid is not None and host else "another driver"


class Lease:
    """Generation ``gen`` of a build's lease, held by this process: renew it from a daemon
    thread until ``release``. ``lost`` says why, if another driver took the build over."""

    def __init__(self, store: Store, name: str, gen: int = 0, renew_s: float | None = None) -> None:
        self.store = store
        self.name = name
        self.gen = gen
        self.renew_s = RENEW_S if renew_s is None else renew_s
        self.error: str | None = None  # the last renewal's failure, if any
        self.lost: str | None = None
        self.depth = 0
        self.owner = threading.get_ident()
        self.token = uuid.uuid4().hex  # in the claim and the lease: this driver's, not a look-alike's
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lamforest-lease-{name}", daemon=True)

    def doc(self, released: bool = False) -> documents.Lease:
        return documents.lease(
            renewed=time.time(),
            renew_s=self.renew_s,
            gen=self.gen,
            host=platform.node(),
            pid=os.getpid(),
            boot_id=records.boot_id(),
            pid_start=records.pid_start(os.getpid()),
            token=self.token,
            released=released,
        )

    def _superseded(self) -> bool:
        """Another driver holds the build now: it claimed the next generation (this one's lease had
        lapsed), or this driver's own claim is gone or is another's (the lock files were deleted)."""
        if self.gen and self.lost is None:
            if self.store.exists(keys.driver(self.name, self.gen + 1)):
                self.lost = f"another driver took build {self.name!r} over (its lease had not been renewed in time)"
            else:
                try:
                    claim = documents.parse_driver_claim(self.store.get_bytes(keys.driver(self.name, self.gen)))
                except (KeyError, ValueError):
                    claim = None
                if claim is None or claim.get("token") != self.token:
                    self.lost = f"the driver claim of build {self.name!r} was removed or replaced; another may hold it"
        return self.lost is not None

    def renew(self, released: bool = False) -> None:
        try:
            if not self._superseded():
                documents.write_lease(self.store, self.name, self.doc(released))
            self.error = None
        except Exception as exc:  # a store hiccup must not stop the build; the next renewal retries
            self.error = f"{type(exc).__name__}: {exc}"

    def _loop(self) -> None:
        while not self._stop.wait(self.renew_s):
            self.renew()
            if self.lost:
                return

    def start(self) -> Lease:
        self.renew()  # before the first refresh, so a resumed build is not seen as interrupted
        self._thread.start()
        return self

    def __enter__(self) -> Lease:
        self.depth += 1
        if self.depth == 1 and not self._thread.is_alive():
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1
        if self.depth <= 0:
            self.release()

    def release(self) -> None:
        """Stop renewing, and say so in the lease: a build left without a summary is
        ``interrupted`` at once, and the next ``finish`` takes it without waiting."""
        _held.pop((self.store.url, self.name), None)
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.renew_s + 5)
        self.renew(released=True)


_held: dict[tuple[str, str], Lease] = {}  # leases this process holds: the same thread may nest
_held_lock = threading.Lock()


def _latest(store: Store, name: str) -> int:
    gens = (keys.driver_gen(name, k) for k in store.list(keys.drivers(name)))
    return max((g for g in gens if g is not None), default=0)


def _holder(store: Store, name: str, gen: int) -> tuple[Mapping[str, Any] | None, bytes | None]:
    """What the store says of generation ``gen``'s holder, and the lease's bytes (each renewal
    changes them: they date it by the reader's clock)."""
    try:
        raw: bytes | None = store.get_bytes(keys.lease(name))
    except KeyError:
        raw = None
    try:
        doc = documents.parse_lease(raw) if raw is not None else None
    except ValueError:
        doc = None  # garbage: says nothing of anyone
    if doc is not None and doc.get("gen", 0) == gen:
        return doc, raw
    if gen:  # the holder created its claim and has not written its lease yet (or the lease is garbage)
        try:
            claim = documents.parse_driver_claim(store.get_bytes(keys.driver(name, gen)))
        except (KeyError, ValueError):
            claim = None
        if claim is not None:
            return {**claim, "renewed": claim.get("at")}, raw
    return doc, raw


def acquire(
    store: Store,
    name: str,
    *,
    renew_s: float | None = None,
    say: Callable[[str], None] | None = None,
    poll_s: float = 1.0,
) -> Lease:
    """Take build ``name`` for this driver; ``DriverBusy`` if a live driver holds it.

    Returns the lease, held: use it in a ``with``, which renews it and releases it at the end.
    A thread of this process that already holds it gets the same lease back (``finish`` runs
    ``run`` inside its own lease).
    """
    with _held_lock:
        mine = _held.get((store.url, name))
        if mine is not None and mine.owner == threading.get_ident():
            return mine
    watched: tuple[bytes | None, float] | None = None  # the lease when we began watching it, and when
    while True:
        gen = _latest(store, name)
        doc, version = _holder(store, name, gen)
        free = doc is None or bool(doc.get("released")) or process_gone(doc)
        if not free and doc is not None:
            renewed = renewed_at(doc)
            limit = timeout_for(doc)
            if renewed is not None and time.time() - renewed > limit:
                free = True  # as a watcher sees it: interrupted
            elif doc.get("host") == platform.node() and "pid_start" in doc and "boot_id" in doc and renewed is not None:
                raise DriverBusy(_busy(name, doc))  # a live process on this host renews it
            if not free:
                if watched is None:
                    watched = (version, time.monotonic())
                    if say:
                        say(
                            f"build {name!r}: waiting up to {limit:.0f} s for the lease of {held_by(doc)} to lapse "
                            "(it cannot be checked from here)"
                        )
                elif version != watched[0]:
                    raise DriverBusy(_busy(name, doc))
                elif time.monotonic() - watched[1] > limit:
                    free = True
        if free:
            lease = Lease(store, name, gen + 1, renew_s)
            claim = documents.driver_claim(lease.doc(), at=time.time())
            if documents.create_driver_claim(store, name, gen + 1, claim):
                with _held_lock:
                    _held[(store.url, name)] = lease
                return lease
            watched = None  # another driver took it this instant: judge its claim
            continue
        time.sleep(poll_s)


def _busy(name: str, doc: Mapping[str, Any]) -> str:
    renewed = renewed_at(doc)
    ago = f", lease renewed {max(0.0, time.time() - renewed):.0f} s ago" if renewed is not None else ""
    return (
        f"build {name!r} is being driven by {held_by(doc)}{ago}: nothing dispatched twice. "
        f"`lamforest status {name}` shows its progress; if that process is stuck, stop it and run "
        f"`lamforest finish {name}` again"
    )
