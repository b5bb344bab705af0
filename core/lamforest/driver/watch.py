"""Watch a build: its state and every grove's, rebuilt from the store and the log source.

``Watcher.refresh`` costs one LIST of the build's prefix plus one GET per
record that changed, so any process can watch a build another one started.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from lamforest import documents, keys, records
from lamforest import spec as specmod
from lamforest.backend.base import Backend
from lamforest.cost import price, total_gb_seconds, total_usd
from lamforest.driver import lease as leasemod
from lamforest.driver.plan import BrokenBuildError, BuildError, Plan, load_plan, read_summary
from lamforest.logs import LogSource, Report, parse_report
from lamforest.spec import BuildSpec, SpecError
from lamforest.store.base import get_json, location

# interrupted: no summary and the driver's lease has lapsed (`lamforest finish NAME` resumes it);
# broken: the build's spec.json, summary.json or a grove record cannot be read (``status`` refuses it
# with the way out, ``list_builds`` lists it with that line).
BUILD_STATES = ("queued", "running", "finishing", "interrupted", "done", "failed", "cancelled", "broken")
GROVE_STATES = ("queued", "running", "done", "failed", "cancelled")
ACTIVE_STATES = ("queued", "running", "finishing")  # a driver is (or should be) at work; "interrupted": none is


@dataclass
class GroveRow:
    """One grove as the store and its REPORT line describe it."""

    grove: int
    trees: int
    seed: int
    state: str = "queued"
    attempt: int = 0
    started: float | None = None
    ended: float | None = None
    request_id: str | None = None
    error: str | None = None
    report: Report | None = None
    cost_usd: float | None = None
    record: dict[str, Any] = field(default_factory=dict)  # its grove record (a records.GroveRecord); {} when queued

    @property
    def gid(self) -> str:
        return keys.grove_id(self.grove)

    @property
    def retries(self) -> int:
        return max(0, self.attempt - 1)

    @property
    def duration_s(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started

    def to_dict(self) -> dict[str, Any]:
        return {
            "grove": self.grove,
            "trees": self.trees,
            "seed": self.seed,
            "state": self.state,
            "attempt": self.attempt,
            "started": self.started,
            "ended": self.ended,
            "duration_s": self.duration_s,
            "request_id": self.request_id,
            "error": self.error,
            "billed_ms": self.report.billed_ms if self.report else None,
            "init_ms": self.report.init_ms if self.report else None,
            "max_memory_mb": self.report.max_memory_mb if self.report else None,
            "cost_usd": self.cost_usd,
        }


@dataclass
class BuildStatus:
    name: str
    state: str
    backend: str
    plan: Plan
    rows: list[GroveRow]
    billed_ms: float = 0.0
    gb_seconds: float = 0.0
    cost_usd: float = 0.0
    cost_estimate: bool = True
    reports: int = 0
    summary: documents.Summary | None = None
    cancel_reason: str | None = None
    model: str | None = None
    dispatch: dict[str, Any] | None = None  # the compute's counters (dispatch.json): throttles, failed entries
    # Grove counts of a finished build read from its summary alone (``brief``): its rows were not read.
    brief_counts: dict[str, int] | None = None
    error: str | None = None  # why the build failed, is interrupted, or cannot be read
    driver_seen: float | None = None  # when a driver last renewed the build's lease, as far as known
    paused_s: float = 0.0  # time no driver held it between one driver's end and the next one's start
    late_cancel: bool = False  # a cancel was asked for after the build had ended: it changed nothing

    @property
    def hint(self) -> str | None:
        """What the user can do next, for states that need a hand."""
        if self.state == "interrupted":
            return f"its driver stopped; resume it with `lamforest finish {self.name}`"
        if self.state == "failed":
            return "it has no model; fix the cause and start a new build"
        return None

    @property
    def spec(self) -> BuildSpec:
        return self.plan.spec

    @property
    def brief(self) -> bool:
        """Made from the summary alone: counts and totals are right, ``rows`` are not filled."""
        return self.brief_counts is not None

    def count(self, state: str) -> int:
        if self.brief_counts is not None:
            return self.brief_counts.get(state, 0)
        return sum(1 for r in self.rows if r.state == state)

    @property
    def trees_done(self) -> int:
        if self.brief_counts is not None and self.summary is not None:
            return int(self.summary.get("trees_done", self.summary.get("trees", 0)) or 0)
        return sum(r.trees for r in self.rows if r.state == "done")

    @property
    def elapsed_s(self) -> float:
        """Seconds a driver worked on the build since it was created: to now while it is active, to
        its end once it ended (the summary's ``finished``; without a summary, the last grove event),
        less the time it sat interrupted before a resume (``paused_s``), so the clock neither jumps
        when the build ends or is resumed nor counts for a build nobody drives."""
        created = self.plan.created + self.paused_s
        if self.summary is not None:
            if isinstance(self.summary.get("driven_s"), (int, float)):
                return max(0.0, float(self.summary["driven_s"]))  # the finishing driver's own count
            if self.summary.get("finished"):
                return max(0.0, float(self.summary["finished"]) - created)
            return float(self.summary.get("wall_s") or 0.0)
        if self.state in ACTIVE_STATES:
            return max(0.0, time.time() - created)
        marks = [t for r in self.rows for t in (r.started, r.ended) if t]
        if self.state == "interrupted" and self.driver_seen is not None:
            marks.append(self.driver_seen)  # the clock stopped when the driver did
        return max(0.0, max(marks) - created) if marks else 0.0

    @property
    def projected_cost_usd(self) -> float | None:
        done = self.trees_done
        if not done:
            return None
        return self.cost_usd / done * self.spec.trees

    @property
    def test_score(self) -> float | None:
        return self.summary.get("test_score") if self.summary else None

    def to_json(self) -> dict[str, Any]:
        s: Mapping[str, Any] = self.summary or {}  # every field, present or not, as JSON
        return {
            "name": self.name,
            "state": self.state,
            "backend": self.backend,
            "task": self.plan.task,
            "model_type": self.spec.model,
            "trees": self.spec.trees,
            "trees_done": self.trees_done,
            "grove_size": self.spec.grove,
            "groves": {
                "total": len(self.rows),
                **{st: self.count(st) for st in GROVE_STATES},
            },
            "elapsed_s": round(self.elapsed_s, 3),
            "billed_ms": self.billed_ms,
            "gb_seconds": round(self.gb_seconds, 6),
            "cost_usd": round(self.cost_usd, 8),
            "cost_is_estimate": self.cost_estimate,
            "projected_cost_usd": (round(self.projected_cost_usd, 8) if self.projected_cost_usd is not None else None),
            "test_score": s.get("test_score"),
            "metric": s.get("metric"),
            "oob_score": s.get("oob_score"),
            "model": self.model,
            "model_kind": s.get("model_kind", "merged" if self.model else None),
            "forest_mb": s.get("forest_mb"),
            "memory": s.get("memory"),
            "cancel_reason": self.cancel_reason,
            "failures": s.get("failures", []),
            "error": self.error or s.get("error"),
            "hint": self.hint,
            "dispatch": self.dispatch,
            **({"sharded": s.get("sharded"), "test": s.get("test")} if self.plan.sharded is not None else {}),
        }


class Watcher:
    """An incremental view of one build, kept up to date from the store and the log source."""

    def __init__(self, backend: Backend, name: str, plan: Plan | None = None, logs: LogSource | None = None) -> None:
        self.backend = backend
        self.name = name
        self.plan = plan or load_plan(backend, name)
        self.logs = logs if logs is not None else backend.log_source()
        self._versions: dict[str, str] = {}
        self._records: dict[str, dict[str, records.GroveRecord]] = {}  # gid -> state -> record
        self._reports: dict[str, Report] = {}
        self._summary: documents.Summary | None = None
        self._cancel: dict[str, Any] | None = None
        self._dispatch: dict[str, Any] | None = None
        self._lease: documents.Lease | None = None
        self._lease_at: float | None = None  # when the lease was last renewed, as far as we know
        self.driving = False  # set by the driver that runs the build: its own lease cannot lapse
        self._taken: dict[int, float] = {}  # driver generation -> when it took the build (its claim)
        self._renewed: dict[int, float] = {}  # driver generation -> its last renewal seen
        self._rids: set[str] = set()  # request ids of every record seen: joins shared logs to this build
        # Grove records that exist but cannot be read (records are written whole, so this is damage,
        # not a write in progress): key -> why. A driver refuses to go on past them (``unreadable_record``).
        self.unreadable: dict[str, str] = {}
        self.listing: dict[str, str] = {}  # the last LIST of the build: every key's version tag
        self.rows = [
            GroveRow(grove=i, trees=t, seed=s)
            for i, (t, s) in enumerate(zip(self.plan.spec.grove_sizes(), self.plan.spec.grove_seeds(), strict=True))
        ]

    def _changed(self, key: str, version: str) -> bool:
        if self._versions.get(key) == version:
            return False
        self._versions[key] = version
        return True

    @property
    def cancel_requested(self) -> bool:
        """The build's CANCEL marker was seen by the last refresh."""
        return self._cancel is not None

    def refresh(self, listing: dict[str, str] | None = None) -> BuildStatus:
        """Bring the view up to date: one LIST of the build (unless ``listing`` is that LIST's
        fresh result), one GET per record that changed, new log lines."""
        store = self.backend.store
        if listing is None:
            listing = store.list(keys.build(self.name))
        self.listing = listing
        present: dict[str, set[str]] = {}
        for key, version in listing.items():
            if parsed := keys.parse_state(self.name, key):
                gid, st = parsed
                present.setdefault(gid, set()).add(st)
                if self._changed(key, version):
                    try:
                        rec = records.parse_grove(get_json(store, key), st)
                        self._records.setdefault(gid, {})[st] = rec
                        self.unreadable.pop(key, None)
                        if rid := rec.get("request_id"):
                            self._rids.add(rid)
                    except KeyError:
                        self._versions.pop(key, None)  # removed since the LIST: next refresh
                    except ValueError as exc:
                        self._records.get(gid, {}).pop(st, None)
                        self._versions.pop(key, None)  # read again: it may be mended
                        self.unreadable[key] = f"{type(exc).__name__}: {str(exc)[:80]}"
            elif key == keys.lease(self.name) and self._changed(key, version):
                self._read_lease(key)
            elif (gen := keys.driver_gen(self.name, key)) is not None and gen not in self._taken:
                self._read_claim(key, gen)
            elif key == keys.dispatch(self.name) and self._changed(key, version):
                self._dispatch = get_json(store, key)
            elif key == keys.summary(self.name) and self._changed(key, version):
                try:
                    self._summary = read_summary(self.backend, self.name)
                except BrokenBuildError:
                    self._versions.pop(key, None)  # read again until it is mended
                    raise
            elif key == keys.cancel(self.name) and self._changed(key, version):
                try:
                    self._cancel = get_json(store, key)
                except (KeyError, ValueError):
                    self._cancel = {"reason": "cancelled"}
        for key in [k for k in self.unreadable if k not in listing]:
            del self.unreadable[key]  # deleted, as the advice says
        if keys.cancel(self.name) not in listing:
            self._cancel = None
        if keys.lease(self.name) not in listing:
            self._lease = self._lease_at = None
        for line in self.logs.lines(self.name):
            rep = parse_report(line)
            if rep:
                self._reports[rep.request_id] = rep
        return self._status(present, listing)

    def _read_lease(self, key: str) -> None:
        try:
            doc: documents.Lease = documents.parse_lease(self.backend.store.get_bytes(key))
        except KeyError:
            self._versions.pop(key, None)  # removed since the LIST: next refresh
            return
        except ValueError:
            doc = {}  # garbage (writes are whole): a lease that names nobody, dated when first seen
        first = self._lease is None
        self._lease = doc
        # The first read trusts the driver's clock (unless it is in the future); a renewal seen
        # later happened since our previous LIST, so our own clock dates it and clock skew
        # between machines cannot make a live driver look dead.
        written = leasemod.renewed_at(self._lease)
        if first:
            # A lease that cannot say when it was renewed (garbage, forged, dated in the future) is no
            # sign of a driver: a live one writes whole, honest leases. Dated 0: lapsed at once.
            self._lease_at = written if written is not None else 0.0
        else:
            self._lease_at = time.time()
        gen = self._lease.get("gen")
        if isinstance(gen, int) and written is not None:
            self._renewed[gen] = max(written, self._renewed.get(gen, written))

    def _read_claim(self, key: str, gen: int) -> None:
        """When generation ``gen`` took the build (a claim is written once, by an exclusive create)."""
        try:
            at = documents.parse_driver_claim(self.backend.store.get_bytes(key)).get("at")
        except (KeyError, ValueError):
            return  # unreadable: the pause around it is not counted
        if at is not None:
            self._taken[gen] = float(at)

    def paused_s(self) -> float:
        """Seconds between each driver's last sign of work (a grove event or a lease renewal after it
        took the build) and the next driver taking it: the time the build sat interrupted."""
        marks = [t for r in self.rows for t in (r.started, r.ended) if t]
        gens = sorted(self._taken)
        out = 0.0
        for gen, nxt in itertools.pairwise(gens):
            start, taken = self._taken[gen], self._taken[nxt]
            seen = [t for t in (*marks, self._renewed.get(gen, start)) if start <= t < taken]
            out += taken - max([start, *seen])
        return out

    def unreadable_record(self) -> str | None:
        """What a driver says, and stops on, when a grove record cannot be read: the file, why, and the
        way out (delete it and the grove's file, then finish fits the grove again)."""
        if not self.unreadable:
            return None
        key, why = next(iter(sorted(self.unreadable.items())))
        parsed = keys.parse_state(self.name, key)
        store = self.backend.store
        extra = ""
        if parsed and parsed[1] == "done":
            extra = f" and {location(store, keys.grove(self.name, parsed[0]))}"
        return (
            f"{location(store, key)} cannot be read ({why}); delete it{extra}, then run "
            f"`lamforest finish {self.name}` to fit that grove again"
        )

    @property
    def lease_lapsed(self) -> bool:
        """A driver ran this build and is gone: it released its lease (a quit, a signal, an error),
        its process on this host has ended, or it has not renewed the lease for longer than the bound."""
        if self.driving or self._lease is None or self._lease_at is None:
            return False
        if self._lease.get("released") or leasemod.process_gone(self._lease):
            return True
        return time.time() - self._lease_at > leasemod.timeout_for(self._lease)

    def _writer_may_live(self, run: Mapping[str, Any]) -> bool:
        """A record marked in-process was written by the driver fitting its own groves: it lives only as
        that driver, the holder of the build's lease (a forged one naming any other live process would
        be waited for as long as that process lives)."""
        if run.get("writer") != "in-process":
            return True
        lease = self._lease or {}
        return (
            not lease.get("released")
            and lease.get("pid") == run.get("pid")
            and lease.get("host") == run.get("host")
            and lease.get("pid_start") == run.get("pid_start")
        )

    def _row_state(self, gid: str, states: set[str]) -> tuple[str, Mapping[str, Any]]:
        recs = self._records.get(gid, {})
        if "done" in states and "done" in recs:
            return "done", recs["done"]
        if "running" in states and "running" in recs:
            run = recs["running"]
            failed = recs.get("failed") if "failed" in states else None
            newer = failed is None or run.get("attempt", 1) > failed.get("attempt", 1)
            if newer:
                if not self.backend.is_stale(run) and self._writer_may_live(run):
                    return "running", run
                # Its worker is gone: a failed attempt, retried, not a grove waited on for ever.
                return "failed", records.lost(run)
        if "failed" in states and "failed" in recs:
            return "failed", recs["failed"]
        if "cancelled" in states and "cancelled" in recs:
            return "cancelled", recs["cancelled"]
        return "queued", {}

    def _build_state(self) -> str:
        """The build's state from what the last refresh saw (groves' rows already updated)."""
        if self._summary is not None:  # parse_summary refuses one without a state
            return self._summary["state"]
        if self._cancel is not None:
            return "cancelled"
        if self.lease_lapsed:
            return "interrupted"
        if self.rows and all(r.state == "done" for r in self.rows):
            return "finishing"
        if any(r.state != "queued" for r in self.rows):
            return "running"
        return "queued"

    def _status(self, present: dict[str, set[str]], listing: dict[str, str]) -> BuildStatus:
        spec = self.plan.spec
        arch = self.backend.price_arch(spec.arch)
        for row in self.rows:
            st, rec = self._row_state(row.gid, present.get(row.gid, set()))
            row.state, row.record = st, cast(dict[str, Any], rec)  # the record as read, or {} (queued)
            row.attempt = int(rec.get("attempt", 0)) if rec else 0
            row.started = rec.get("started")
            row.ended = rec.get("ended") if st in ("done", "failed", "cancelled") else None
            row.request_id = rec.get("request_id")
            row.error = f"{rec.get('error')}: {rec.get('message')}" if st == "failed" else None
            row.report = self._reports.get(row.request_id or "")
            if row.report:
                row.cost_usd = price(row.report.billed_ms, row.report.memory_mb, arch).usd
        reports = list(self._reports.values())
        if self.logs.shared:  # one log for every build (CloudWatch): join by request id
            reports = [r for rid, r in self._reports.items() if rid in self._rids]
        billed = sum(r.billed_ms for r in reports)
        gbs = total_gb_seconds(reports)
        cost = total_usd(reports, arch)
        state = self._build_state()
        model_key = keys.model(self.name)
        model = None
        if model_key in listing:
            local = self.backend.store.local_path(model_key)
            model = str(local) if local else f"{self.backend.store.url}/{model_key}"
        return BuildStatus(
            name=self.name,
            state=state,
            backend=self.backend.name,
            plan=self.plan,
            rows=self.rows,
            billed_ms=billed,
            gb_seconds=gbs,
            cost_usd=cost,
            cost_estimate=self.backend.estimate,
            reports=len(reports),
            summary=self._summary,
            dispatch=self._dispatch,
            # A cancel that came after the build ended (done or failed) is no reason of its state.
            cancel_reason=(self._cancel or {}).get("reason")
            if self._cancel is not None and state == "cancelled"
            else None,
            late_cancel=self._cancel is not None and state in ("done", "failed"),
            model=model,
            driver_seen=self._lease_at,
            paused_s=self.paused_s(),
            error=self._gone() if state == "interrupted" else None,
        )

    def _gone(self) -> str:
        """Why the build has no driver, as its lease says."""
        lease = self._lease or {}
        if lease.get("released"):
            return "its driver stopped without finishing it"
        if leasemod.process_gone(lease):
            return f"its driver (pid {lease.get('pid')}) has ended"
        if not self._lease_at:
            return "its lease cannot be read or says no believable renewal time"
        return f"no driver has renewed its lease for {time.time() - self._lease_at:.0f} s"


def summary_status(backend: Backend, plan: Plan, summary: documents.Summary, listing: dict[str, str]) -> BuildStatus:
    """A finished build's status from its summary alone (no grove record read): for lists."""
    name = plan.spec.name
    groves = plan.spec.n_groves
    state = summary["state"]
    failed = {f.get("grove") for f in summary.get("failures") or [] if isinstance(f, dict)}
    counts = {"done": groves} if state == "done" else {"failed": len(failed)}
    billed = float(summary.get("billed_ms") or 0.0)
    gbs = summary.get("gb_seconds")
    if gbs is None:  # summaries of builds that ended without a model do not carry it
        gbs = billed / 1000 * plan.spec.memory / 1024
    model_key = keys.model(name)
    model = None
    if model_key in listing:
        local = backend.store.local_path(model_key)
        model = str(local) if local else f"{backend.store.url}/{model_key}"
    return BuildStatus(
        name=name,
        state=state,
        backend=backend.name,
        plan=plan,
        rows=[],
        billed_ms=billed,
        gb_seconds=float(gbs),
        cost_usd=float(summary.get("cost_usd") or 0.0),
        cost_estimate=bool(summary.get("cost_is_estimate", backend.estimate)),
        summary=summary,
        cancel_reason=summary.get("reason") if state == "cancelled" else None,
        model=model,
        brief_counts=counts,
    )


class BuildsView:
    """Every build of a store, kept up to date across refreshes at the least cost (the builds list).

    A refresh costs one LIST of the build names, plus, per build:
    - seen for the first time: its spec (one GET) and one LIST of its prefix;
    - finished (it has a summary): its summary, read once; after that nothing, ever (its grove records
      are not read: ``status`` names one that cannot be);
    - not finished: a ``Watcher`` kept across refreshes: one LIST plus one GET per record that
      changed; its logs come through the backend's shared reader (``shared_log_source``).
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._watchers: dict[str, Watcher] = {}
        self._final: dict[str, BuildStatus] = {}

    def forget(self, name: str) -> None:
        """Read ``name`` afresh next time (e.g. after it was resumed)."""
        self._watchers.pop(name, None)
        self._final.pop(name, None)

    def refresh(self) -> list[BuildStatus]:
        names = self.backend.store.children(keys.BUILDS)
        out = []
        for name in names:
            st = self._final.get(name) or self._refresh_one(name)
            if st is not None:
                out.append(st)
        for name in (set(self._watchers) | set(self._final)) - set(names):
            self.forget(name)  # deleted from the store
        out.sort(key=lambda s: s.plan.created, reverse=True)
        return out

    def _refresh_one(self, name: str) -> BuildStatus | None:
        watcher = self._watchers.get(name)
        listing = None
        if watcher is None:
            try:
                plan = load_plan(self.backend, name)
            except BrokenBuildError as exc:  # shown, not hidden; read again until it is fixed
                return broken_status(self.backend, name, str(exc))
            except (BuildError, SpecError):
                return None  # a folder without spec.json: a build being created, or not ours
            listing = self.backend.store.list(keys.build(name))
            if keys.summary(name) in listing:
                try:
                    summary = read_summary(self.backend, name)
                except BrokenBuildError as exc:
                    return broken_status(self.backend, name, str(exc))
                if summary is not None:
                    st = self._final[name] = summary_status(self.backend, plan, summary, listing)
                    return st
            watcher = Watcher(self.backend, name, plan=plan, logs=self.backend.shared_log_source())
            self._watchers[name] = watcher
        try:
            st = watcher.refresh(listing)
        except BrokenBuildError as exc:
            return broken_status(self.backend, name, str(exc))
        if damaged := watcher.unreadable_record():  # read again next time: it may be mended
            return broken_status(self.backend, name, damaged)
        if st.summary is not None:
            self._final[name] = st
            del self._watchers[name]
        return st


def status(backend: Backend, name: str) -> BuildStatus:
    """The build as its store and logs show it. A grove record that cannot be read is a
    ``BrokenBuildError`` with the driver's way out: its grove's state, and so the build's, are not
    known (a done build's count of trees would be short, silently)."""
    watcher = Watcher(backend, name)
    st = watcher.refresh()
    if damaged := watcher.unreadable_record():
        raise BrokenBuildError(damaged)
    return st


def list_builds(backend: Backend) -> list[BuildStatus]:
    """Every build in the store, newest first; one whose spec.json, summary.json or a grove record
    cannot be read is listed as ``broken`` (with the way out in ``error``) rather than hidden or fatal
    to the list."""
    out = []
    for name in backend.store.children(keys.BUILDS):
        try:
            out.append(status(backend, name))
        except BrokenBuildError as exc:
            out.append(broken_status(backend, name, str(exc)))
        except (BuildError, SpecError):
            continue  # a folder without spec.json: a build being created, or not ours
    out.sort(key=lambda s: s.plan.created, reverse=True)
    return out


def broken_status(backend: Backend, name: str, error: str) -> BuildStatus:
    """A stand-in status for a build whose plan cannot be read: its name, ``broken``, why."""
    plan = Plan(
        spec=specmod.BuildSpec(name=name, trees=1, grove=1),
        task="unknown",
        data_ref="",
        n_train=0,
        n_test=0,
        n_features=0,
        classes=None,
        created=0.0,
        backend=backend.name,
    )
    return BuildStatus(name=name, state="broken", backend=backend.name, plan=plan, rows=[], error=error)
