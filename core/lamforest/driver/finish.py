"""End a build: stream its groves to score it (test and OOB), write its manifest and summary, and the
merged forest when it fits; or write the summary of a build that ended without a model.

Finishing holds a few groves at a time, never the forest: held-out votes and
OOB sums are accumulated grove by grove, in grove order, with the same
additions as the merged forest (so the scores are the merged forest's). The
merged scikit-learn file is written only under the merge policy.

``finalize`` runs its steps in order: the held-out rows (``_held_out``), one pass over the groves
(``stream_groves``), the OOB score (``oob_scores``), the merged file (``write_model``), the manifest,
and last the summary, whose existence says the build has ended.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lamforest import artifacts, documents, forest, keys, memory, treefile
from lamforest import data as datamod
from lamforest.backend.base import Backend
from lamforest.driver import estimate, sharded, stream
from lamforest.driver.oob import write_oob
from lamforest.driver.plan import BuildError, Plan
from lamforest.driver.schedule import permanent
from lamforest.driver.stream import GroveMismatch
from lamforest.driver.watch import BuildStatus, Watcher
from lamforest.grove import Grove, bootstraps
from lamforest.spec import SpecError
from lamforest.store.base import location

MERGE_MODES = ("auto", "always", "never")
EARLY_BUDGET_S = 0.2  # the longest one look of the driver spends streaming groves while the build runs
DEFAULT_MERGE_LIMIT_MB = forest.DEFAULT_MERGE_LIMIT_MB


@dataclass(frozen=True)
class MergePolicy:
    """When ``finish`` writes the single scikit-learn file: ``auto`` below ``limit_mb`` (the
    merged forest's estimated size in memory), ``always``, or ``never`` (the groves are the model)."""

    mode: str = "auto"
    limit_mb: float = DEFAULT_MERGE_LIMIT_MB

    def __post_init__(self) -> None:
        if self.mode not in MERGE_MODES:
            raise SpecError("merge", f"{self.mode!r} is not one of {', '.join(MERGE_MODES)}")
        if not isinstance(self.limit_mb, (int, float)) or isinstance(self.limit_mb, bool) or not self.limit_mb > 0:
            raise SpecError("merge_limit", f"{self.limit_mb!r}: the limit is a positive number of MB")

    @classmethod
    def parse(cls, mode: str | None, limit_mb: Any) -> MergePolicy:
        """From command-line text: ``limit_mb`` may be a string."""
        if limit_mb is None:
            return cls(mode or "auto")
        try:
            limit = float(limit_mb)
        except (TypeError, ValueError):
            raise SpecError("merge_limit", f"{limit_mb!r} is not a number of MB") from None
        return cls(mode or "auto", limit)

    def keeps(self, nbytes: int) -> bool:
        """Whether a merged forest of ``nbytes`` in memory gets its file."""
        return self.mode == "always" or (self.mode == "auto" and nbytes <= self.limit_mb * 1e6)


def load_grove(backend: Backend, name: str, grove: int, record: dict[str, Any] | None = None) -> Grove:
    """A done grove, checked against its done ``record`` (sha256, bytes) before it is read.

    Raises ``GroveMismatch`` when the file is missing or is not the file the
    worker wrote, and ``BuildError`` when it is not a valid grove file.
    """
    gid = keys.grove_id(grove)
    try:
        blob = backend.store.get_bytes(keys.grove(name, gid))
    except KeyError:
        raise GroveMismatch(
            artifacts.grove_error(name, gid, "its file is missing", backend.store, file_there=False), [gid]
        ) from None
    why = artifacts.mismatch(blob, record)
    if why:
        raise GroveMismatch(artifacts.grove_error(name, gid, why, backend.store), [gid])
    try:
        return artifacts.loads_grove(blob)
    except artifacts.TreeFileError as exc:
        raise BuildError(artifacts.grove_error(name, gid, str(exc), backend.store)) from None


def forget_groves(backend: Backend, name: str, gids: list[str]) -> None:
    """Remove groves' done records and files so that the next dispatch fits them again."""
    for gid in gids:
        backend.store.delete(keys.state(name, gid, "done"))
        backend.store.delete(keys.grove(name, gid))


def write_end(
    backend: Backend,
    st: BuildStatus,
    state: str,
    failures: list[dict[str, Any]],
    t_start: float,
    *,
    error: str | None = None,
    reason: str | None = None,
) -> None:
    """The summary of a build that ended without a model: failed (``error``) or cancelled (``reason``)."""
    summary = documents.end_summary(
        state,
        error=error,
        reason=reason,
        failures=failures,
        wall_s=time.time() - t_start,
        driven_s=st.elapsed_s,  # the time drivers worked on it, interruptions left out
        trees_done=st.trees_done,
        billed_ms=st.billed_ms,
        cost_usd=st.cost_usd,
        finished=time.time(),
    )
    documents.write_summary(backend.store, st.name, summary)


def write_failed(backend: Backend, watcher: Watcher, failures: list[dict[str, Any]], t_start: float) -> BuildStatus:
    st = watcher.refresh()
    bad = [r for r in st.rows if r.state == "failed"]
    # One sentence per distinct error, naming its groves: a shard gone fails every grove the same way.
    by_error: dict[str, list[int]] = {}
    for r in bad:
        by_error.setdefault(str(r.error), []).append(r.grove)
    said = "; ".join(
        f"grove{'s' if len(gs) > 1 else ''} {', '.join(map(str, gs[:8]))}{' ...' if len(gs) > 8 else ''}: {err}"
        for err, gs in list(by_error.items())[:5]
    )
    how = "with an error no retry mends" if all(permanent(r.error) for r in bad) else f"after {st.spec.retries} retries"
    error = f"{len(bad)} grove(s) failed {how}: {said}"
    write_end(backend, st, "failed", failures, t_start, error=error)
    return watcher.refresh()


def _wait_reports(backend: Backend, watcher: Watcher) -> BuildStatus:
    # REPORT lines can trail the done records (CloudWatch ingests with a delay; a local
    # worker logs after its handler returns): wait for them, bounded, so the cost is whole.
    st = watcher.refresh()
    deadline = time.monotonic() + backend.report_wait_s
    while any(r.report is None for r in st.rows) and time.monotonic() < deadline:
        time.sleep(0.2)
        st = watcher.refresh()
    return st


def _listed_from_records(plan: Plan, st: BuildStatus, merge: MergePolicy) -> list[documents.ManifestGrove] | None:
    """A sharded build's manifest entries from its done records, when finish needs no grove in memory:
    its workers score the held-out rows, it has no OOB sums, and the forest is above the merge policy.
    The workers that score and predict check each grove's bytes against these hashes. None otherwise."""
    if plan.sharded is None or merge.mode == "always":
        return None
    wanted = ("trees", "sha256", "bytes", "tree_bytes", "estimator")
    if not st.rows or not all(all(k in r.record for k in wanted) for r in st.rows):
        return None  # groves written before their records said this much
    listed: list[documents.ManifestGrove] = [
        {
            "grove": r.grove,
            "trees": _planned_trees(plan.spec.name, r.grove, r.record, plan.spec.grove_sizes()[r.grove]),
            "sha256": str(r.record["sha256"]),
            "bytes": int(r.record["bytes"]),
            "tree_bytes": int(r.record["tree_bytes"]),
        }
        for r in st.rows
    ]
    if merge.keeps(sum(int(r.record["tree_bytes"]) for r in st.rows)):
        return None  # small enough to merge: read the groves
    return listed


def _planned_trees(name: str, index: int, record: dict[str, Any], planned: int) -> int:
    """A done record's tree count, which must be the plan's (the workers check the bytes against the hash);
    else the grove is fitted again, once, as any grove that is not what its plan says."""
    if int(record["trees"]) != planned:
        gid = keys.grove_id(index)
        why = f"its done record says {record['trees']} trees, the plan {planned}"
        raise GroveMismatch(artifacts.grove_error(name, gid, why), [gid])
    return planned


def _held_out(backend: Backend, plan: Plan) -> tuple[np.ndarray, Any]:
    """The held-out rows the groves vote on, checked against the plan's hash; none (a build that trains
    on every row, or sharded data, whose workers score it) is zero rows and no labels."""
    name = plan.spec.name
    if not plan.n_test or plan.sharded is not None:
        return np.zeros((0, plan.n_features), dtype=np.float32), None
    try:
        return datamod.get_test(backend.store, name, plan.test_sha256)
    except (KeyError, ValueError, OSError, EOFError):  # deleted, truncated, not an npz
        where = location(backend.store, keys.test_set(name))
        raise BuildError(
            f"{where} (the held-out rows) is missing or unreadable: this build cannot be scored; "
            "build it again under a new name"
        ) from None


@dataclass
class Streamed:
    """What one pass over the done groves gave: the manifest's entries, the forest's size, the held-out
    votes and OOB sums (grove order: the merged forest's additions), and the groves kept to merge."""

    listed: list[documents.ManifestGrove]
    estimator: str
    trees: int
    tree_bytes: int
    votes: forest.Votes
    oob_total: np.ndarray | None
    oob_count: np.ndarray | None
    kept: list[Grove] | None  # sparse held-out rows: the groves as scikit-learn forests, to merge
    seconds: float
    writer: treefile.ForestWriter | None = None  # dense rows: the merged file, spooled grove by grove
    oob: bool = True  # whether OOB sums are still being added (bootstrapped, not sharded, every grove has them)
    by_records: bool = False  # listed from the done records: no grove read


def stream_groves(
    backend: Backend,
    plan: Plan,
    st: BuildStatus,
    merge: MergePolicy,
    X_te: np.ndarray,
    early: EarlyStream | None = None,
) -> Streamed:
    """Read the done groves in order, a few at a time: each is checked against the plan, voted on the
    held-out rows, its OOB sums added, listed, and spooled for the merged file while ``merge`` allows.
    With ``early``, the groves it streamed while the build ran are not read again: the pass goes on
    from the first grove it has not taken.

    A sharded build above the merge policy reads no grove: its manifest comes from the done records
    and its workers score it."""
    t0 = time.perf_counter()
    name = plan.spec.name
    taken = early.take_over() if early is not None else None
    if taken is not None:
        out, rows = taken, st.rows[len(taken.listed) :]
    else:
        out, rows = _start_stream(backend, plan, st, merge, X_te)
    records = [r.record for r in rows]
    files = [r.get("bytes") for r in records]  # read ahead by size
    raw = not datamod.is_sparse(X_te)
    for loaded in stream.groves(backend, name, [r.grove for r in rows], records=records, raw=raw, sizes=files):
        _take(backend, plan, merge, out, loaded)
        del loaded
    if not out.by_records:
        out.trees = out.votes.trees
    out.seconds += time.perf_counter() - t0
    return out


def _start_stream(
    backend: Backend, plan: Plan, st: BuildStatus, merge: MergePolicy, X_te: np.ndarray
) -> tuple[Streamed, list[Any]]:
    """The empty pass and the rows it must read (none when the done records say it all)."""
    votes = forest.Votes(X_te, plan.class_arrays, threads=stream.threads(), outputs=plan.outputs)
    # A sharded grove fits a sample, not the train set: its out-of-bag rows are not the forest's.
    oob = bootstraps(plan.spec.params, plan.spec.model) and plan.sharded is None
    out = Streamed([], "", 0, 0, votes, None, None, [] if merge.mode != "never" else None, 0.0, oob=oob)
    from_records = _listed_from_records(plan, st, merge)
    if from_records is not None:  # nothing to vote on here and no merged file to write: read no grove
        out.listed, out.estimator, out.kept = from_records, str(st.rows[0].record["estimator"]), None
        out.tree_bytes = sum(g["tree_bytes"] for g in from_records)
        out.trees = sum(g["trees"] for g in from_records)
        out.by_records = True
        return out, []
    rows = st.rows
    # Dense held-out rows vote through the groves' trees as arrays (the same votes to the bit, each grove
    # held once), and a forest that may be merged is spooled to its file grove by grove, so finish never
    # holds the forest. Sparse rows vote through scikit-learn's trees (the arrays read dense rows), whose
    # groves are kept to merge as before. Above the limit by the done records' sizes: nothing to keep.
    raw = not datamod.is_sparse(X_te)
    above = (
        merge.mode == "auto"
        and all("tree_bytes" in r.record for r in rows)
        and not merge.keeps(sum(int(r.record["tree_bytes"]) for r in rows))
    )
    if raw or above:
        out.kept = None
    if raw and not above and merge.mode != "never" and rows:
        out.writer = treefile.ForestWriter()
    return out, rows


def _take(backend: Backend, plan: Plan, merge: MergePolicy, out: Streamed, loaded: stream.Loaded) -> None:
    """One grove of the pass, the next in grove order: checked, voted, its OOB sums added, listed, spooled."""
    name = plan.spec.name
    g = loaded.grove
    est = g.estimator
    planned = plan.spec.grove_sizes()[loaded.index]
    n_features = out.votes.X.shape[1]
    # A grove file replaced by another build's (its record forged to match): named before it votes.
    why = None
    if len(est.estimators_) != planned:
        why = f"it holds {len(est.estimators_)} trees, the plan {planned}"
    elif est.n_features_in_ != n_features:  # its trees would index columns the rows lack
        why = f"its trees read {est.n_features_in_} features, the plan's rows have {n_features}"
    if why is not None:
        gid = keys.grove_id(loaded.index)
        raise GroveMismatch(artifacts.grove_error(name, gid, why, backend.store), [gid])
    out.estimator = out.estimator or forest.kind(est)
    out.votes.add(est)  # refuses a grove whose classes are not the plan's
    if out.oob and g.oob_sum is not None and g.oob_count is not None:
        # Grove order, as forest.oob_score sums them: the same additions.
        out.oob_total = g.oob_sum if out.oob_total is None else out.oob_total + g.oob_sum
        out.oob_count = g.oob_count if out.oob_count is None else out.oob_count + g.oob_count
    elif out.oob:
        out.oob = False  # a grove without sums (an older file): no OOB score rather than a wrong one
        out.oob_total = out.oob_count = None
    nbytes = forest.tree_bytes(est)
    out.tree_bytes += nbytes
    out.listed.append(
        {
            "grove": loaded.index,
            "trees": len(est.estimators_),
            "sha256": loaded.sha256,
            "bytes": loaded.nbytes,
            "tree_bytes": nbytes,
        }
    )
    if merge.mode == "auto" and not merge.keeps(out.tree_bytes):
        out.kept = None  # past the limit: this forest is its groves; stop holding trees
        if out.writer is not None:
            out.writer.close()
            out.writer = None
    elif out.kept is not None:
        out.kept.append(Grove(est, g.trees, g.seed))
    elif out.writer is not None:
        try:
            out.writer.add(est)
        except artifacts.TreeFileError as exc:  # not one forest with the groves before (checked above)
            gid = keys.grove_id(loaded.index)
            raise GroveMismatch(artifacts.grove_error(name, gid, str(exc), backend.store), [gid]) from None


class EarlyStream:
    """The finish's pass over the groves, begun while the build runs.

    Each time the driver looks (``advance``), the next grove in grove order is taken if it is done:
    read, checked, voted on the held-out rows, its OOB sums added and its trees spooled, exactly as
    the finish would take it, in the same order, so the scores and the merged file are the same to
    the bit. When the last grove lands only the groves not yet taken are left to read: on a pool
    busy fitting the rest, the finish's work mostly overlaps the fits instead of following them.

    Only where that pass is the whole finish: dense held-out rows, data not sharded. Anything
    unusual (a grove not as its record says, rows gone) drops what was taken; the finish then
    streams every grove itself and says what it finds, as it always has.
    """

    def __init__(self, backend: Backend, plan: Plan, merge: MergePolicy | None) -> None:
        self.backend, self.plan, self.merge = backend, plan, merge or MergePolicy()
        self._out: Streamed | None = None
        self._versions: dict[str, str] = {}  # each taken grove's file: its version tag before it was read
        self.held_out: tuple[np.ndarray, Any] | None = None
        self.given_up = plan.sharded is not None
        self.peak_reset: bool | None = None  # memory.reset_peak's answer, when the pass began

    @property
    def taken(self) -> int:
        """How many groves, from the first, the pass holds."""
        return len(self._out.listed) if self._out is not None else 0

    def advance(self, st: BuildStatus, listing: Mapping[str, str], budget_s: float = EARLY_BUDGET_S) -> None:
        """Take the next groves that are done with every grove before them, for about ``budget_s``
        (the driver's loop stays responsive). ``listing``: the LIST ``st`` was read from, made before
        the groves are read: each taken grove's version tag, for ``unchanged``."""
        t0 = time.perf_counter()
        while not self.given_up and time.perf_counter() - t0 < budget_s:
            if self.taken >= len(st.rows) or st.rows[self.taken].state != "done":
                return
            self._take_one(st, st.rows[self.taken], listing)

    def unchanged(self, listing: Mapping[str, str]) -> None:
        """Give the pass up if a grove it took has been rewritten, removed or replaced since (its
        version tag in a later LIST of the build differs): the finish then reads every grove and
        says what is wrong, as it says it of a grove damaged before it was taken."""
        if any(listing.get(key) != version for key, version in self._versions.items()):
            self._give_up()

    def _take_one(self, st: BuildStatus, row: Any, listing: Mapping[str, str]) -> None:
        """Take ``row``'s grove (the first time, set the pass up as the finish would); give up on
        anything unusual."""
        t0 = time.perf_counter()
        key = keys.grove(self.plan.spec.name, row.gid)
        version = listing.get(key)
        if version is None:  # not listed with its done record: nothing to tell a later change by
            self._give_up()
            return
        self._versions[key] = version
        try:
            if self._out is None:
                self.peak_reset = memory.reset_peak()  # the finish's peak counts from here
                self.held_out = _held_out(self.backend, self.plan)
                X_te = self.held_out[0]
                if datamod.is_sparse(X_te):
                    self._give_up()
                    return
                self._out, rows = _start_stream(self.backend, self.plan, st, self.merge, X_te)
                if not rows:  # the records say it all: nothing to read early
                    self._give_up()
                    return
            record = row.record
            for loaded in stream.groves(
                self.backend, self.plan.spec.name, [row.grove], records=[record], raw=True, sizes=[record.get("bytes")]
            ):
                _take(self.backend, self.plan, self.merge, self._out, loaded)
                del loaded
        except Exception:  # the finish reads every grove again and says what is wrong
            self._give_up()
            return
        self._out.seconds += time.perf_counter() - t0

    def take_over(self) -> Streamed | None:
        """What was taken, for the finish to go on from (once), or None when it must start over."""
        out, self._out = self._out, None
        if self.given_up or out is None:
            return None
        self.given_up = True
        return out

    def close(self) -> None:
        """Drop what was taken (a build that ends without a finish)."""
        self._give_up()

    def _give_up(self) -> None:
        self.given_up = True
        out, self._out = self._out, None
        if out is not None and out.writer is not None:
            out.writer.close()


def oob_scores(backend: Backend, plan: Plan, streamed: Streamed) -> tuple[float | None, int | None]:
    """The OOB score from the groves' sums, checked against the train rows the groves saw, and how many
    rows no tree left out; writes each row's OOB decision (``oob.npy``). Drops the sums: (None, None)
    when there are none."""
    total, count = streamed.oob_total, streamed.oob_count
    streamed.oob_total = streamed.oob_count = None
    if total is None or count is None:
        return None, None
    try:
        X_tr, y_tr = datamod.open_train(backend.store, plan.data_ref)
        w_tr = datamod.open_weight(backend.store, plan.data_ref)
        datamod.check_train(plan.data_ref, X_tr, y_tr, w_tr)  # OOB scores only against the rows the groves saw
    except (ValueError, OSError, EOFError) as exc:  # DataIntegrityError, or a .npy too short to open
        raise BuildError(f"build {plan.spec.name!r}: {' '.join(str(exc).split())}") from None
    decision, score = forest.oob_from_sums(total, count, np.asarray(y_tr), plan.class_arrays)
    missing = int(np.count_nonzero(count == 0))  # rows every tree drew: their OOB is a guess
    write_oob(backend, plan.spec.name, decision)  # the estimators' oob_decision_function_ / oob_prediction_
    return score, missing


def write_model(backend: Backend, name: str, streamed: Streamed, merge: MergePolicy) -> tuple[int | None, str | None]:
    """``model.tree`` when the policy keeps a forest of this size (its bytes and sha256), else none: a
    file left by an earlier finish under another policy is removed. The spooled file is streamed to the
    store (or, for sparse held-out rows, the kept groves are merged and released)."""
    kept, streamed.kept = streamed.kept, None
    writer, streamed.writer = streamed.writer, None
    if (kept is None and writer is None) or not merge.keeps(streamed.tree_bytes):
        if writer is not None:
            writer.close()
        backend.store.delete(keys.model(name))
        return None, None
    if writer is not None:  # streamed out to a local file, then stored: never whole in memory
        with tempfile.TemporaryDirectory(prefix="lamforest-") as folder:
            path = Path(folder) / "merged"
            with open(path, "wb") as f:
                writer.write(f)
            sha = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    sha.update(chunk)
            backend.store.put_file(keys.model(name), path)
            return path.stat().st_size, sha.hexdigest()
    assert kept is not None  # no writer: the groves were kept (above)
    merged = forest.merge(kept)
    del kept
    blob = artifacts.dumps_model(merged)
    del merged
    backend.store.put_bytes(keys.model(name), blob)
    return len(blob), artifacts.digest(blob)


def finalize(
    backend: Backend,
    watcher: Watcher,
    *,
    failures: list[dict[str, Any]] | None,
    t_start: float | None,
    merge: MergePolicy | None = None,
    early: EarlyStream | None = None,
) -> BuildStatus:
    """Every grove is done: stream them to score (test and OOB), write model.tree when ``merge`` allows
    it, manifest.json, then summary.json (the build has ended once it exists). ``early``: the groves
    the driver streamed while the build ran, which are not read again.

    Peak memory is one grove decoded and a few read ahead, plus the held-out votes and the OOB sums: the
    merged file is spooled grove by grove (only sparse held-out rows keep the groves to merge them).
    """
    merge = merge or MergePolicy()
    name, plan = watcher.name, watcher.plan
    st = _wait_reports(backend, watcher)
    if early is not None:
        early.unchanged(watcher.listing)  # the LIST of that last refresh: a grove changed since taken?
    began = early.peak_reset if early is not None else None  # the finish's peak counts from the early pass
    exact_peak = began if began is not None else memory.reset_peak()
    taken_rows = early.held_out if early is not None else None
    X_te, y_te = taken_rows if taken_rows is not None else _held_out(backend, plan)
    streamed = stream_groves(backend, plan, st, merge, X_te, early=early)
    test_score = forest.score_values(streamed.votes.mean(), y_te, plan.class_arrays) if y_te is not None else None
    oob_score, oob_missing = oob_scores(backend, plan, streamed)
    t1 = time.perf_counter()
    model_bytes, model_sha256 = write_model(backend, name, streamed, merge)
    t_merge = time.perf_counter() - t1 if model_bytes is not None else 0.0
    merge_doc: documents.MergeDoc = {"mode": merge.mode, "limit_mb": merge.limit_mb}
    documents.write_manifest(
        backend.store,
        name,
        documents.manifest(
            build=name,
            task=plan.task,
            model=plan.spec.model,
            estimator=streamed.estimator,
            classes=plan.classes,
            outputs=plan.outputs,
            n_features=plan.n_features,
            features=stream.feature_names(backend, plan),
            trees=streamed.trees,
            groves=streamed.listed,
            tree_bytes=streamed.tree_bytes,
            merged=model_bytes is not None,
            merge=merge_doc,
        ),
    )
    held: dict[str, Any] | None = None
    if plan.sharded is not None and plan.n_test:
        held = sharded.score(backend, plan)  # on the workers, shard by shard, against this manifest
        test_score = held["score"]
    starts = [r.started for r in st.rows if r.started]
    ends = [r.ended for r in st.rows if r.ended]
    worker_peaks = [r.report.max_memory_mb for r in st.rows if r.report is not None]
    # Groves fitted on this very process's threads (a small build): their REPORT peak is this process's.
    here = bool(st.rows) and all(r.record.get("pid") == os.getpid() for r in st.rows)
    wall_s = time.time() - (t_start or (min(starts) if starts else time.time()))
    summary = documents.done_summary(
        test_score=test_score,
        metric="accuracy" if plan.task == "classification" else "r2",
        oob_score=oob_score,
        oob_missing_rows=oob_missing,
        test=held,
        sharded=sharded.shard_summary(plan) if plan.sharded is not None else None,
        trees=streamed.trees,
        groves=len(streamed.listed),
        stream_s=streamed.seconds,
        merge_s=t_merge,
        wall_s=wall_s,
        fit_span_s=(max(ends) - min(starts)) if starts and ends else None,
        billed_ms=st.billed_ms,
        gb_seconds=st.gb_seconds,
        cost_usd=st.cost_usd,
        cost_is_estimate=st.cost_estimate,
        model_kind="merged" if model_bytes is not None else "groves",
        model_bytes=model_bytes,
        model_sha256=model_sha256,
        groves_bytes=sum(g["bytes"] for g in streamed.listed),
        forest_mb=round(streamed.tree_bytes / 1e6, 1),
        merge=merge_doc,
        memory={
            "driver_finish_peak_mb": memory.peak_mb(),
            "driver_peak_is_phase": exact_peak,
            "worker_peak_mb": max(worker_peaks) if worker_peaks else None,
            "fitted_here": here,
            "worker_memory_mb": plan.spec.memory,
        },
        failures=failures or [],
        init_ms=estimate.median_init_ms([r.report.init_ms for r in st.rows if r.report]),
        driven_s=st.elapsed_s,  # the time drivers worked on it, interruptions left out
        finished=time.time(),
        estimate=estimate.compare(backend, name, wall_s, st.cost_usd),
    )
    estimate.keep_groves(backend, plan.spec, name, [r.record for r in st.rows])
    estimate.keep_init(backend, name, summary["init_ms"])
    documents.write_summary(backend.store, name, summary)
    return watcher.refresh()
