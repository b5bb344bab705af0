"""Grow a finished forest: add trees to a build without refitting the ones it has.

A tree's seed depends on the forest's seed and its index only (``grove.fit``), so the new groves
are trees ``n .. N-1`` of the same scikit-learn forest, and the grown build is bit for bit the
build of ``N`` trees made at once (with the same grove sizes). The plan is rewritten with the old
groves' sizes followed by the new ones (``BuildSpec.sizes``); the documents ``finish`` writes from
every grove (summary, manifest, merged model, OOB) are dropped, then ``run`` dispatches only the
groves that are not done (the new ones) and ``finish`` scores, merges and computes OOB over all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import NoReturn

from lamforest import keys
from lamforest.backend.base import Backend
from lamforest.driver import stream
from lamforest.driver.finish import MergePolicy
from lamforest.driver.lease import acquire
from lamforest.driver.plan import BuildError, load_plan
from lamforest.driver.run import Progress, run
from lamforest.driver.watch import BuildStatus, Watcher
from lamforest.spec import MAX_TREES, BuildSpec, SpecError, as_int
from lamforest.store.base import put_json

# What finish writes from all the groves; stale once the forest has more.
_FROM_ALL_GROVES = (keys.summary, keys.manifest, keys.model, keys.oob)


def grow(
    backend: Backend,
    name: str,
    trees: int,
    *,
    workers: int | None = None,
    merge: MergePolicy | None = None,
    on_progress: Progress | None = None,
    say: Callable[[str], None] | None = None,
) -> BuildStatus:
    """Grow finished build ``name`` to ``trees`` trees; return its status once finished.

    ``SpecError("trees")`` for fewer trees than it has (a forest does not shrink); the same
    number is a no-op, said through ``say``. A build that has not finished is refused: its
    trees are not yet all there to grow from.
    """
    if isinstance(trees, bool) or not isinstance(trees, int):
        raise SpecError("trees", f"must be a whole number, got {trees!r}")
    # Before the build is taken (a driver claim is a write): a bad number changes nothing.
    trees = as_int("trees", trees, 1, MAX_TREES)
    if trees < (has := load_plan(backend, name).spec.trees):
        _shrinks(name, has, trees)
    with acquire(backend.store, name):
        plan = load_plan(backend, name)
        spec = plan.spec
        st = Watcher(backend, name, plan).refresh()
        if st.state != "done":
            raise BuildError(
                f"build {name!r} is {st.state}: only a finished forest grows "
                f"(`lamforest finish {name}` first, or build anew)"
            )
        if trees < spec.trees:
            _shrinks(name, spec.trees, trees)
        # The finished forest must be the plan's before anything of it is removed: a damaged manifest, or a
        # spec changed since (its trees or classes), is said with its way out and the build kept as it is.
        stream.load_manifest(backend, name)
        if trees == spec.trees:
            if say:
                say(f"build {name!r} has {trees} trees already: nothing to grow")
            return st
        more = BuildSpec(name=name, trees=trees - spec.trees, grove=min(spec.grove, trees - spec.trees))
        grown = replace(spec, trees=trees, sizes=spec.grove_sizes() + more.grove_sizes()).validated()
        # Stale documents first: stopped between the two, the build is its old forest to finish again.
        for key in _FROM_ALL_GROVES:
            backend.store.delete(key(name))
        put_json(backend.store, keys.spec(name), replace(plan, spec=grown).to_dict())
        return run(backend, name, workers=workers, merge=merge, on_progress=on_progress)


def _shrinks(name: str, has: int, trees: int) -> NoReturn:
    raise SpecError(
        "trees",
        f"build {name!r} has {has} trees and a forest does not shrink; "
        f"build anew with -t {trees} (the same seed gives its first {trees} trees)",
    )
