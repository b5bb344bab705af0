"""``lamforest``: build, watch, cancel, finish, predict and export forests from a shell.

Arguments are defined in ``cliargs``, terminal output in ``render``.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from rich.markup import escape

from lamforest import driver as drv
from lamforest.backend import ConfigError, DispatchError, open_backend
from lamforest.cli.args import build_parser, spec_from_flags
from lamforest.cli.render import (
    ProgressView,
    fmt_usd,
    grove_table,
    leaderboard_table,
    print_prediction,
    summary_table,
)
from lamforest.driver import estimate
from lamforest.estimate.sample import cached_sample
from lamforest.shards import is_sharded
from lamforest.spec import SpecError, check_workers, parse_grid, real, whole
from lamforest.spec_input import checked, make_spec
from lamforest.store.base import StoreError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 3


# --------------------------------------------------------------------------- commands


def _open(args: argparse.Namespace):
    if getattr(args, "dispatch", None):
        os.environ["LAMFOREST_DISPATCH"] = args.dispatch  # read by the AWS backend's config
    return open_backend(args.backend, home=args.home)


def cmd_build(args: argparse.Namespace, console: Any) -> int:
    spec = spec_from_flags(args, args.name, check=False)  # cheap checks before the backend is even opened
    check_workers(args.workers)
    merge = drv.MergePolicy.parse(args.merge, args.merge_limit)
    backend = _open(args)
    try:
        if drv.workers_needed(backend, spec, args.workers, args.sync):
            # Workers' cold starts (their imports) overlap this process's own: scikit-learn's, the data's.
            backend.make_compute(spec, args.workers, args.sync)
        spec = checked(spec)  # the parameters, by scikit-learn: before anything is written
        # A budget is checked against the estimate before anything is written or dispatched.
        if spec.max_cost is not None and not args.json and cached_sample(spec, estimate.cache_dir()) is None:
            console.print("checking --max-cost: fitting a sample grove here to estimate the build ...")
        budgeted = estimate.check_budget(backend, spec, workers=args.workers)
        threads: int | None = None

        def split(n_train: int, n_features: int) -> None:
            nonlocal threads
            # Work smaller than starting workers is fitted on threads here; else the compute starts now
            # (local: worker interpreters import scikit-learn, a cold start), overlapping the data's storing.
            threads = None if args.sync else drv.in_process_threads(backend, spec, n_train, n_features, args.workers)
            if threads is None:
                backend.make_compute(spec, args.workers, args.sync)

        try:
            plan = drv.create(backend, spec, workers=args.workers, on_split=split)
        except KeyboardInterrupt:
            # Before its plan a build has nothing to resume: the create gave its name back.
            print(f"\ninterrupted while creating {spec.name}: nothing was kept; run the build again", file=sys.stderr)
            return 130
        if budgeted is not None:
            estimate.record(backend, plan.spec.name, budgeted.for_backend)
        else:  # from a cached sample (`lamforest estimate` leaves one), else none
            estimate.record_planned(backend, plan.spec, workers=args.workers)
        if not args.json:
            console.print(
                f"[bold]{plan.spec.name}[/]: {plan.spec.trees} {plan.spec.model} trees ({plan.task}) in "
                f"{plan.spec.n_groves} groves on {backend.describe}; "
                f"train {plan.n_train} x {plan.n_features}, test {plan.n_test}"
            )
            if threads is not None:
                console.print(
                    f"fitting here on {threads} thread{'s' if threads > 1 else ''}: less work than starting "
                    "workers; not held to --memory (--workers N starts them)"
                )
        # --sync: one grove after another in this process, whatever --workers says.
        workers = threads if threads is not None else (1 if args.sync else args.workers)
        st = _run(
            backend,
            args,
            plan.spec.name,
            plan.spec.n_groves,
            plan.spec.trees,
            console,
            sync=args.sync or threads is not None,
            merge=merge,
            workers=workers,
        )
        # A sharded build's held-out rows stay in the shards: the workers scored them (the summary's score).
        pred = drv.predict(backend, st.name) if args.predict and st.state == "done" and not plan.sharded else None
    finally:
        backend.close()
    return _report(st, args, console, pred)


def _run(
    backend: Any,
    args: argparse.Namespace,
    name: str,
    groves: int,
    trees: int,
    console: Any,
    sync: bool = False,
    merge: drv.MergePolicy | None = None,
    workers: int | None = None,
) -> drv.BuildStatus:
    workers = workers if workers is not None else getattr(args, "workers", None)
    if args.json:
        return drv.run(backend, name, workers=workers, sync=sync, merge=merge)
    with ProgressView(console, groves, trees) as view:
        return drv.run(backend, name, workers=workers, sync=sync, on_progress=view.update, merge=merge)


def _report(st: drv.BuildStatus, args: argparse.Namespace, console: Any, pred: drv.Prediction | None = None) -> int:
    from lamforest.records import distinct_warnings

    # What the groves' fits warned about, once each, however many groves said it.
    for category, message in distinct_warnings([r.record for r in st.rows]):
        print(f"warning: {category.rpartition('.')[2]}: {message}", file=sys.stderr)
    if args.json:
        out = st.to_json()
        if pred is not None:
            out["prediction"] = pred.to_json()
        print(json.dumps(out, default=str))
    else:
        console.print(grove_table(st))
        console.print(summary_table(st))
        if pred is not None:
            print_prediction(console, pred)
    return {"done": EXIT_OK, "cancelled": EXIT_CANCELLED}.get(st.state, EXIT_FAILED)


def cmd_estimate(args: argparse.Namespace, console: Any) -> int:
    from lamforest.cli import estimate as estimate_cmd

    backend = _open(args)
    try:
        return estimate_cmd.run(args, backend, console)
    finally:
        backend.close()


def cmd_status(args: argparse.Namespace, console: Any) -> int:
    backend = _open(args)
    try:
        st = drv.status(backend, args.name)
    finally:
        backend.close()
    if args.json:
        print(json.dumps(st.to_json(), default=str))
    else:
        if args.groves:
            console.print(grove_table(st))
        console.print(summary_table(st))
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace, console: Any) -> int:
    """Exit 0 when a cancel was requested (or already was); a build that has already ended is
    left as it is and the command exits 1 saying so (``drv.cancel`` raises)."""
    backend = _open(args)
    try:
        drv.cancel(backend, args.name)
    finally:
        backend.close()
    console.print(f"cancel requested for [bold]{args.name}[/]: running groves stop at their next chunk of trees")
    return EXIT_OK


def cmd_finish(args: argparse.Namespace, console: Any) -> int:
    # No --merge: finish keeps what the build was (a grove set stays one), else auto.
    merge = (
        None if args.merge is None and args.merge_limit is None else drv.MergePolicy.parse(args.merge, args.merge_limit)
    )
    backend = _open(args)
    try:
        st = drv.status(backend, args.name)
        if args.json or st.state in ("done", "finishing", "failed", "cancelled"):
            # A failed or cancelled build cannot be finished: drv.finish says why and what to do.
            st = drv.finish(backend, args.name, workers=args.workers, merge=merge)
        else:
            missing = len(st.rows) - st.count("done")
            plan = st.plan
            # The groves left of a small build are fitted here, as its build would have fitted them.
            threads = (
                drv.in_process_threads(backend, plan.spec, plan.n_train, plan.n_features, args.workers)
                if missing and plan.sharded is None
                else None
            )
            todo = f"{missing} grove(s) not done; dispatching them again" if missing else "every grove done; merging"
            if threads is not None:
                todo = f"{missing} grove(s) not done; fitting them here on {threads} thread{'s' if threads > 1 else ''}"
            view = ProgressView(console, len(st.rows), st.spec.trees)

            def started() -> None:  # said once this driver holds the build, never before a refusal
                console.print(f"[bold]{args.name}[/]: {todo}")
                view.__enter__()

            try:
                st = drv.run(
                    backend,
                    args.name,
                    workers=threads or args.workers,
                    sync=threads is not None,
                    on_progress=view.update,
                    merge=merge,
                    on_start=started,
                )
            finally:
                view.__exit__()
    finally:
        backend.close()
    return _report(st, args, console)


def cmd_grow(args: argparse.Namespace, console: Any) -> int:
    from lamforest.driver.grow import grow

    merge = drv.MergePolicy.parse(args.merge, args.merge_limit)
    backend = _open(args)
    try:
        spec = drv.load_plan(backend, args.name).spec
        before = spec.trees
        groves = spec.n_groves + -(-max(args.trees - before, 0) // spec.grove)  # old groves and new ones
        if args.json or args.trees <= before:  # refused, or nothing to grow: said in one line
            st = grow(backend, args.name, args.trees, workers=args.workers, merge=merge, say=console.print)
        else:
            console.print(f"[bold]{args.name}[/]: growing {before} -> {args.trees} trees; the {before} are kept")
            with ProgressView(console, groves, args.trees) as view:
                st = grow(
                    backend,
                    args.name,
                    args.trees,
                    workers=args.workers,
                    merge=merge,
                    on_progress=view.update,
                    say=console.print,
                )
    finally:
        backend.close()
    return _report(st, args, console)


def _is_path(source: str) -> bool:
    """A --data value that names a local file or folder (not a built-in dataset, s3:// or a glob)."""
    from pathlib import PurePath

    if source.startswith("s3://") or ":" in source.split("/")[0] or any(c in source for c in "*?["):
        return False
    return "/" in source or bool(PurePath(source).suffix)


def cmd_predict(args: argparse.Namespace, console: Any) -> int:
    if args.data is not None and _is_path(args.data):
        from pathlib import Path

        from lamforest.tables import must_exist

        must_exist(Path(args.data).expanduser())  # before the output is checked: the input is the mistake
    if args.batch_groves is not None and not args.distributed:
        raise SpecError("batch_groves", "groves per event apply to --distributed predict only; add --distributed")
    if args.data is not None and is_sharded(args.data):
        return _predict_shards(args, console)
    if args.out is not None and args.out != "-":
        from lamforest.output import check_target

        check_target(args.out, args.force)  # before any rows are read or groves fetched
    backend = _open(args)
    try:
        if args.distributed:
            from lamforest.driver.distributed import predict_distributed

            res = predict_distributed(
                backend, args.name, args.data, batch_groves=args.batch_groves or 1, workers=args.workers
            )
            pred = res.prediction
        else:
            res, pred = None, drv.predict(backend, args.name, args.data)
        # Rows without the target have nothing to score: their predictions are the answer.
        out = args.out if args.out is not None else ("-" if pred.metric is None else None)
        if out is not None:
            drv.save(pred, out, args.force)
    finally:
        backend.close()
    # With --out -, stdout holds the predictions: what happened goes to stderr.
    stream = sys.stderr if out == "-" else sys.stdout
    if args.json:
        print(json.dumps(res.to_json() if res is not None else pred.to_json(), default=str), file=stream)
        return EXIT_OK
    if out == "-":
        from rich.console import Console

        console = Console(stderr=True, highlight=False)
    print_prediction(console, pred)
    if res is not None:
        est = " est." if res.cost_estimate else ""
        console.print(
            f"distributed: {res.invocations} invocation(s) over {res.trees} trees, {res.wall_s:.2f} s, "
            f"{res.rows_per_s:,.0f} rows/s, {fmt_usd(res.cost_usd)}{est} (predict id {res.predict_id}); "
            f"workers' peak memory {res.worker_peak_mb:,.0f} MB"
        )
    return EXIT_OK


def _predict_shards(args: argparse.Namespace, console: Any) -> int:
    """Sharded rows: the workers write one output per input shard into --out; the driver sums scores."""
    if not args.out:
        raise SpecError("out", "sharded data needs --out: a folder or s3:// prefix for one output per shard")
    backend = _open(args)
    try:
        res = drv.predict_to(backend, args.name, args.data, args.out, workers=args.workers)
    finally:
        backend.close()
    if args.json:
        print(json.dumps(res.to_json(), default=str))
        return EXIT_OK
    score = res.score
    scored = ""
    if score and score.get("score") is not None:
        scored = f"; score {score['score']:.4f} on {score['n']:,} labelled rows"
        if score.get("unseen"):
            scored += f" ({score['unseen']:,} with labels the model never saw, counted wrong)"
    console.print(
        f"{res.shards} shard(s), {res.rows:,} rows -> {res.out}: {len(res.written)} written, "
        f"{len(res.skipped)} already there{scored}; {res.wall_s:.1f} s, driver peak "
        f"{res.driver_peak_mb or '?'} MB, workers' peak {res.worker_peak_mb:,.0f} MB, {fmt_usd(res.cost_usd)}"
    )
    return EXIT_OK


def cmd_shard(args: argparse.Namespace, console: Any) -> int:
    from lamforest.reshard import write_shards

    res = write_shards(args.source, args.out, rows_per_shard=args.rows_per_shard, force=args.force)
    if args.json:
        print(json.dumps(res, default=str))
    else:
        console.print(
            f"{res['rows']:,} rows -> {res['shards']} shard(s) of at most {res['rows_per_shard']:,} rows in "
            f"{res['out']} ({res['bytes'] / 1e6:,.1f} MB); build with --data {res['out']}"
        )
    return EXIT_OK


def cmd_builds(args: argparse.Namespace, console: Any) -> int:
    from rich.table import Table

    backend = _open(args)
    try:
        all_ = drv.list_builds(backend)
    finally:
        backend.close()
    if args.json:
        print(json.dumps([s.to_json() for s in all_], default=str))
        return EXIT_OK
    t = Table(title=f"builds in {backend.describe}")
    for col in ("name", "state", "trees", "groves failed", "elapsed s", "GB-s", "cost", "test score"):
        t.add_column(col)
    for s in all_:
        j = s.to_json()
        t.add_row(
            s.name,
            s.state,
            f"{s.trees_done}/{s.spec.trees}" if s.state != "broken" else "-",
            str(s.count("failed")),
            f"{s.elapsed_s:.1f}",
            f"{s.gb_seconds:.2f}",
            fmt_usd(s.cost_usd) + (" est." if s.cost_estimate else ""),
            f"{j['test_score']:.4f}" if j["test_score"] is not None else "-",
        )
    console.print(t)
    for s in all_:
        if s.state == "broken":
            console.print(f"[yellow]{s.name}[/]: {escape(s.error or '')}")
        elif s.state == "interrupted":
            console.print(f"[yellow]{s.name}[/]: {escape(s.hint or '')}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace, console: Any) -> int:

    from lamforest.driver.results import export_format, export_target

    target = export_target(args.path, args.force)  # before the backend is opened or the model read
    # The outermost folder the export creates, said after: a typo in a folder name shows up there.
    missing = [p for p in target.parents if not p.exists()]
    backend = _open(args)
    try:
        path = drv.export(backend, args.name, args.path, force=args.force)
        how = {
            "skops": "lamforest.safe.load (refuses untrusted types)",
            "pickle": "pickle.load (only from a source you trust)",
        }.get(export_format(path), "joblib.load (pickle: only from a source you trust)")
    finally:
        backend.close()
    size = f" ({path.stat().st_size:,} bytes)" if path.is_file() else ""
    console.print(f"wrote {path}{size}: load it with {how}")
    if missing:
        console.print(f"created the folder {missing[-1]}, which did not exist")
    return EXIT_OK


def cmd_search(args: argparse.Namespace, console: Any) -> int:
    from lamforest.driver import search

    backend = _open(args)
    try:
        asked = bool(args.grid) or args.random is not None
        target, promote_trees = None, None
        if args.promote is not None:  # refused before the search is created or run, not after its trials
            target = args.promote or f"{args.name}-best"
            promote_trees = _check_promotion(backend, args, target)
        if asked or not search.exists(backend, args.name):
            trees = whole("trees", args.trees)
            base = make_spec(  # -g is trees between cancel checks here: at most a trial's trees
                args.name,
                data=args.data or "digits",
                target=args.target,
                trees=trees,
                grove=min(whole("grove", args.grove), trees),
                model=args.model,
                task=args.task,
                seed=whole("seed", args.seed),
                test_size=real("test_size", args.test_size, "a number in [0, 1)"),
            )
            spec = search.SearchSpec(
                base,
                parse_grid(args.grid),
                random=None if args.random is None else whole("random", args.random),
                valid_size=real("valid_size", args.valid_size, "a number in (0, 1)"),
            )
            doc = search.create(backend, spec)
            if not args.json:  # doc["spec"] is the stored (plain) form; the typed spec is at hand
                console.print(
                    f"[bold]{args.name}[/]: {len(doc['combinations'])} trial(s) of {spec.base.trees} "
                    f"trees on {backend.describe}; fit {doc['n_fit']} rows, validate {doc['n_valid']}"
                )
        lb = search.run(backend, args.name, workers=args.workers)
        built = None
        if target is not None:
            built = search.promote(backend, args.name, target, trees=promote_trees, workers=args.workers)
    finally:
        backend.close()
    if args.json:
        out = lb.to_json()
        if built is not None:
            out["promoted_build"] = built.to_json()
        print(json.dumps(out, default=str))
    else:
        console.print(leaderboard_table(lb))
        if lb.best:
            console.print(f"best: {lb.best.params} ({lb.metric} {lb.best.score:.4f} on validation)")
        if built is not None:
            console.print(summary_table(built))
    if built is not None and built.state != "done":
        return EXIT_FAILED
    return EXIT_OK if lb.best is not None else EXIT_FAILED


def _check_promotion(backend: Any, args: argparse.Namespace, target: str) -> int | None:
    """The promoted build's name and trees, checked as its create will check them, each error naming its
    flag (``promote``, ``promote_trees``); nothing is written. Returns the promoted build's trees."""
    from lamforest.driver import search
    from lamforest.driver.plan import name_taken
    from lamforest.spec import MAX_TREES, as_int, validate_name

    validate_name(args.name)  # the search's own name first: the default target is derived from it
    try:
        validate_name(target)
    except SpecError as exc:
        raise SpecError("promote", exc.message) from None
    if target == args.name:
        raise SpecError("promote", f"{target!r} is the search's own name; builds and searches share names")
    taken = name_taken(backend, target)
    if taken is not None:
        raise SpecError("promote", taken.message)
    if args.promote_trees is None:
        return None
    trees = as_int("promote_trees", args.promote_trees, 1, MAX_TREES)
    # The promoted build keeps the search's grove size, which may not exceed its trees.
    if search.exists(backend, args.name) and not (args.grid or args.random is not None):
        grove = search.load(backend, args.name)["spec"].base.grove
    else:
        grove = min(whole("grove", args.grove), whole("trees", args.trees))
    if grove > trees:
        raise SpecError("promote_trees", f"{trees} is fewer than the grove size {grove} (-g); raise it or lower -g")
    return trees


def cmd_tune_memory(args: argparse.Namespace, console: Any) -> int:
    from rich.table import Table

    from lamforest.driver.tune import parse_memory, tune_memory

    parse_memory(args.memory)  # before the backend is opened
    backend = _open(args)
    try:
        res = tune_memory(
            backend,
            data=args.data,
            target=args.target,
            trees_per_grove=args.trees_per_grove,
            memory=args.memory,
            runs=args.runs,
            model=args.model,
            seed=args.seed,
        )
    finally:
        backend.close()
    if args.json:
        print(json.dumps(res.to_json(), default=str))
        return EXIT_OK
    sim = " [SIMULATED]" if res.simulated else ""
    t = Table(title=f"tune-memory{sim}: one grove of {res.trees_per_grove} trees, {res.runs} run(s) per size")
    for col in ("memory MB", "vCPUs", "n_jobs", "runs kept", "mean ms", "billed ms", "cost / grove", ""):
        t.add_column(col, justify="right")
    for r in res.rows:
        tags = [x for x, row in (("cheapest", res.cheapest), ("fastest", res.fastest)) if row is r]
        t.add_row(
            str(r.memory_mb),
            str(r.vcpus),
            str(r.n_jobs),
            f"{len(r.kept_ms)}/{len(r.durations_ms)}",
            f"{r.mean_ms:,.1f}",
            f"{r.billed_ms:,.0f}",
            fmt_usd(r.cost_usd),
            ", ".join(tags),
        )
    console.print(t)
    console.print(f"cheapest: {res.cheapest.memory_mb} MB; fastest: {res.fastest.memory_mb} MB")
    console.print(("[yellow]" if res.simulated else "") + res.note)
    return EXIT_OK


COMMANDS = {
    "build": cmd_build,
    "estimate": cmd_estimate,
    "status": cmd_status,
    "grow": cmd_grow,
    "cancel": cmd_cancel,
    "finish": cmd_finish,
    "predict": cmd_predict,
    "builds": cmd_builds,
    "export": cmd_export,
    "shard": cmd_shard,
    "search": cmd_search,
    "tune-memory": cmd_tune_memory,
}


# OSError numbers that mean "the path you gave cannot be used" (bad input, exit 2); any
# other OSError is a failure of the machine (a full disk, I/O), exit 1.
PATH_ERRNOS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted",
    errno.EROFS: "read-only file system",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "already exists",
    errno.ENOENT: "no such file or folder",
    errno.ENAMETOOLONG: "name too long",
}
FAILURE_HINTS = {
    errno.ENOSPC: "the disk is full; free some space and try again",
    errno.EDQUOT: "the disk quota is exceeded; free some space and try again",
}


def os_error_line(exc: OSError) -> tuple[str, int]:
    """One line for an OSError, naming the path, and its exit code."""
    where = exc.filename
    if isinstance(where, str) and os.path.basename(where).startswith(".") and where.endswith(".tmp"):
        where = os.path.dirname(where)  # an atomic write's temp file: name the folder written to
    place = f": {where}" if where else ""
    if exc.errno in FAILURE_HINTS:
        return f"{exc.strerror or exc}{place}: {FAILURE_HINTS[exc.errno]}", EXIT_FAILED
    if exc.errno in PATH_ERRNOS:
        what = exc.strerror or PATH_ERRNOS[exc.errno]
        return f"{what}{place}: check the path, or pick another with --home or the command's PATH", EXIT_USAGE
    return f"{exc.strerror or exc}{place}", EXIT_FAILED


def debug_wanted(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get("LAMFOREST_DEBUG", "") not in ("", "0")


def _exit_on(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Every error a user can reach ends in one line on stderr naming what to
    fix, exit 2 for bad input and 1 for a failure; ``--debug`` or ``LAMFOREST_DEBUG=1`` adds
    the traceback."""
    from rich.console import Console

    args = build_parser().parse_args(argv)
    debug = debug_wanted(args)
    # Piped output gets a wide console, so tables are not squeezed to 80 columns.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    err = Console(stderr=True, highlight=False, soft_wrap=True)  # an error stays one line, however long

    def fail(line: str, code: int) -> int:
        if debug:
            traceback.print_exc()
        err.print(f"[red]error[/]{line}", markup=True)
        return code

    # First Ctrl+C stops watching; the build keeps going and `finish` resumes it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # A terminal closed or a `kill`: unwind, so a driver releases its lease and the build shows
    # interrupted at once to watchers on any machine (not after the lease's timeout).
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on)
    try:
        workers = check_workers(getattr(args, "workers", None))
        if workers is not None and getattr(args, "backend", None) in (None, "local"):
            from lamforest.backend.local import pool_size

            if pool_size(workers) < workers:
                err.print(f"note: --workers {workers} capped at {pool_size(workers)}, this machine's cores")
        return COMMANDS[args.command](args, console)
    except SpecError as exc:
        return fail(f" in {exc.field}: {escape(exc.message)}", EXIT_USAGE)
    except (drv.BuildError, ConfigError, StoreError, DispatchError) as exc:
        return fail(f": {escape(str(exc))}", EXIT_FAILED)
    except OSError as exc:
        line, code = os_error_line(exc)
        return fail(f": {escape(line)}", code)
    except KeyboardInterrupt:
        name = getattr(args, "name", "")
        err.print(
            f"\ninterrupted: the build's state is in the store; resume with `lamforest finish {name}` "
            f"or stop it with `lamforest cancel {name}`"
        )
        return 130
    except Exception as exc:  # a bug or an unforeseen fault: still one line, the traceback on demand
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        hint = "" if debug else " (run with --debug for the traceback)"
        return fail(f": {escape(type(exc).__name__)}: {escape(first[:300])}{hint}", EXIT_FAILED)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
