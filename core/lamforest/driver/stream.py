"""A forest is its groves: read them in order with bounded memory; the manifest that lists them.

``groves`` yields a build's groves one at a time, in grove order, while a few
threads fetch the next ones' files (S3 GETs overlap the caller's work). At
most ``prefetch`` compressed files are in flight and one grove is decoded, so
a caller that drops each grove after use holds about one grove, whatever the
size of the forest.

The manifest (``builds/<name>/manifest.json``), written by ``finish``, says
what the forest is made of: task, classes, feature names, the groves with
their tree counts and content hashes, the estimated in-memory size of the
merged forest, and whether a merged file was written.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from lamforest import artifacts, documents, forest, keys
from lamforest.backend.base import Backend
from lamforest.driver.plan import BrokenBuildError, BuildError, Plan, load_plan, read_summary
from lamforest.grove import Grove
from lamforest.store.base import get_json, location

PREFETCH = forest.STREAM_PREFETCH
PREFETCH_MB = forest.STREAM_PREFETCH_MB


def threads() -> int:
    """Threads for tree predictions: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Loaded:
    """One grove as read from the store: which, its file's size and hash, and the grove."""

    index: int
    nbytes: int
    sha256: str
    grove: Grove


class GroveMismatch(BuildError):
    """Grove files differ from what their done records say; ``gids`` can be fitted again."""

    def __init__(self, message: str, gids: list[str]) -> None:
        super().__init__(message)
        self.gids = gids


def _fetch(
    backend: Backend, name: str, index: int, expect: str | None, record: dict[str, Any] | None = None
) -> tuple[int, bytes, str]:
    gid = keys.grove_id(index)
    try:
        blob = backend.store.get_bytes(keys.grove(name, gid))
    except KeyError:
        raise GroveMismatch(
            artifacts.grove_error(name, gid, "its file is missing", backend.store, file_there=False), [gid]
        ) from None
    if record is not None and (why := artifacts.mismatch(blob, record)):
        raise GroveMismatch(artifacts.grove_error(name, gid, why, backend.store), [gid])
    digest = hashlib.sha256(blob).hexdigest()
    if expect is not None and digest != expect:
        raise BuildError(
            artifacts.grove_error(
                name,
                gid,
                f"it changed since the build finished (hash {digest[:12]}, manifest {expect[:12]}); "
                "its predictions would not be the forest's",
                backend.store,
            )
        )
    return index, blob, digest


def groves(
    backend: Backend,
    name: str,
    indices: Sequence[int],
    hashes: Sequence[str | None] | None = None,
    prefetch: int = PREFETCH,
    records: Sequence[dict[str, Any] | None] | None = None,
    raw: bool = False,
    sizes: Sequence[Any] | None = None,
    budget_mb: float = PREFETCH_MB,
) -> Iterator[Loaded]:
    """The groves ``indices`` of build ``name``, in that order, at most ``prefetch`` read ahead and,
    when their files' ``sizes`` are known (done records, the manifest), at most ``budget_mb`` of them
    (but always the next one): large groves are read one or two ahead, small ones ``prefetch``.

    With ``hashes``, each grove's file must have the given sha256; with ``records``, it must be what
    its done record says the worker wrote (else ``GroveMismatch``). Threads
    only fetch (and hash) the compressed files; each grove is decoded in the
    caller's thread when its turn comes. Decoding in several threads made
    the allocator keep one heap per thread, and the process's memory crept up
    with the number of groves (measured: +18% from 100 to 1,000 trees).
    ``raw``: groves whose trees are arrays (``treefile.RawTree``), for voting only.
    """
    expect = list(hashes) if hashes is not None else [None] * len(indices)
    recs = list(records) if records is not None else [None] * len(indices)
    # Only a size read ahead: one that is not a count (an older or damaged record) counts as none.
    nbytes = [n if isinstance(n, int) and n > 0 else 0 for n in sizes] if sizes is not None else [0] * len(indices)
    with ThreadPoolExecutor(max_workers=max(1, prefetch)) as pool:
        pending: deque[tuple[Future[tuple[int, bytes, str]], int]] = deque()
        todo = deque(zip(indices, expect, recs, nbytes, strict=True))
        ahead = 0  # bytes of the files in flight

        def fill() -> None:
            nonlocal ahead
            while todo and len(pending) < prefetch and (not pending or ahead + todo[0][3] <= budget_mb * 1e6):
                index, digest, rec, n = todo.popleft()
                pending.append((pool.submit(_fetch, backend, name, index, digest, rec), n))
                ahead += n

        try:
            fill()
            while pending:
                future, n = pending.popleft()
                index, blob, digest = future.result()
                del future  # it holds the file too: not while the grove votes
                ahead -= n
                fill()
                try:
                    loaded = Loaded(index, len(blob), digest, artifacts.loads_grove(blob, raw=raw))
                except artifacts.TreeFileError as exc:
                    raise BuildError(
                        artifacts.grove_error(name, keys.grove_id(index), str(exc), backend.store)
                    ) from None
                del blob
                yield loaded
                # No name here may hold the grove just yielded: it would stay alive while the next one
                # is decoded, two groves at once (measured: +60 MB for 10 fully grown trees).
                del loaded
        finally:
            for f, _ in pending:
                f.cancel()


def feature_names(backend: Backend, plan: Plan) -> list[str]:
    """The names of the train set's columns, in order: a sharded build's from its plan, else ``meta.json``
    of the stored train set."""
    if plan.sharded is not None and plan.feature_names:
        return list(plan.feature_names)
    try:
        meta = get_json(backend.store, keys.data_file(plan.data_ref, keys.DATA_META))
    except KeyError:
        meta = {}
    names = meta.get("features")
    return [str(n) for n in names] if names else [f"x{i}" for i in range(plan.n_features)]


def load_manifest(backend: Backend, name: str) -> documents.Manifest | None:
    """The build's manifest, checked against its plan (see ``manifest_and_bytes``), or None."""
    found = manifest_and_bytes(backend, name)
    return None if found is None else found[0]


def manifest_and_bytes(backend: Backend, name: str) -> tuple[documents.Manifest, bytes] | None:
    """The build's manifest and its bytes, checked against its plan before it is believed (None when there is none).

    The plan says how many groves of how many trees, the classes and the features: a manifest that
    drops or adds a grove, changes a tree count or the classes, or cannot be read is refused in one
    line naming the file and the way out (``finish`` writes it again from the groves).
    """
    key = keys.manifest(name)
    try:
        blob = backend.store.get_bytes(key)
    except KeyError:
        return None
    where = location(backend.store, key)
    way_out = f"delete {where} and run `lamforest finish {name}` to write it again from the groves"
    try:
        manifest = documents.parse_manifest(blob)  # its shape; then whether it is the plan's forest
        plan = load_plan(backend, name)
        why = _manifest_mismatch(manifest, plan)
        changed = _spec_changed(backend, name, plan, manifest) if why else None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        why, changed = f"cannot be read ({type(exc).__name__}: {str(exc)[:120]})", None
    if changed:
        spec_at = location(backend.store, keys.spec(name))
        raise BrokenBuildError(
            f"{spec_at} {changed}: it was changed; restore it, or remove the build's folder to forget it"
        )
    if why:
        raise BuildError(f"{where} {why}; {way_out}")
    return manifest, blob


def _spec_changed(backend: Backend, name: str, plan: Plan, manifest: Any) -> str | None:
    """When the manifest and the plan disagree, whether the plan is the one that changed: the manifest's
    tree count agrees with the summary written at the same finish, or its classes with the first grove's
    (checked against the manifest's sha256). Then deleting the manifest and finishing would build on a
    forged spec, so the spec is named instead."""
    if not isinstance(manifest, dict):
        return None
    trees = manifest.get("trees")
    summary = read_summary(backend, name)
    if isinstance(summary, dict) and summary.get("trees") == trees and trees != plan.spec.trees:
        return f"says {plan.spec.trees} trees, the finished build (its summary and manifest) {trees}"
    groves = manifest.get("groves")
    if manifest.get("classes") == plan.classes or not isinstance(groves, list) or not groves:
        return None
    try:
        blob = backend.store.get_bytes(keys.grove(name, keys.grove_id(0)))
        if artifacts.mismatch(blob, {"sha256": str(groves[0]["sha256"])}):
            return None
        classes = artifacts.loads_grove(blob).estimator.classes_
    except (KeyError, TypeError, ValueError, AttributeError, artifacts.TreeFileError):
        return None
    if forest.same_classes(classes, manifest_classes(manifest)):
        return f"says classes {plan.classes}, the groves and manifest.json {manifest.get('classes')}"
    return None


def _manifest_mismatch(manifest: Any, plan: Plan) -> str | None:
    """Why ``manifest`` is not the manifest of ``plan``'s forest, or None."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("groves"), list):
        return "is not a manifest (no list of groves)"
    spec = plan.spec
    sizes = spec.grove_sizes()
    listed = [(int(g["grove"]), int(g["trees"]), str(g["sha256"])) for g in manifest["groves"]]
    if [g for g, _, _ in listed] != list(range(len(sizes))):
        return f"lists groves {[g for g, _, _ in listed][:8]}, the plan has groves 0 to {len(sizes) - 1}"
    for (g, trees, _), want in zip(listed, sizes, strict=True):
        if trees != want:
            return f"says grove {g} has {trees} trees, the plan gives it {want}"
    if int(manifest.get("trees", -1)) != spec.trees:
        return f"counts {manifest.get('trees')} trees, the plan {spec.trees}"
    if int(manifest.get("outputs", 1)) != plan.outputs:
        return f"has {manifest.get('outputs', 1)} outputs, the plan {plan.outputs}"
    if manifest.get("classes") != plan.classes:
        return f"has classes {manifest.get('classes')}, the plan {plan.classes}"
    if int(manifest.get("n_features", -1)) != plan.n_features:
        return f"has {manifest.get('n_features')} features, the plan {plan.n_features}"
    return None


def manifest_classes(manifest: Mapping[str, Any]) -> Any:
    """The classes in the order of the probability columns (the estimators' ``classes_``): an array, one
    array per output (multi-output), or None."""
    classes = manifest.get("classes")
    if classes is None:
        return None
    if int(manifest.get("outputs", 1)) > 1:
        return [np.asarray(c) for c in classes]
    return np.asarray(classes)
