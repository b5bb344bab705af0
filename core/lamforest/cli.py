"""``lamforest``: build, watch, cancel, finish, predict and export forests from a shell."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from lamforest import __version__
from lamforest import builds as drv
from lamforest.compute import DispatchError
from lamforest.config import BACKENDS, ConfigError, open_backend
from lamforest.spec import ARCHITECTURES, MODELS, TASKS, BuildSpec, SpecError, parse_params
from lamforest.store.base import StoreError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 3


def _backend_args(p: argparse.ArgumentParser, top: bool = False) -> None:
    # Accepted before the command (`lamforest --backend aws builds`) and after it; the
    # subcommand's copy only overrides when given.
    default = None if top else argparse.SUPPRESS
    p.add_argument(
        "--backend", choices=BACKENDS, default=default, help="where to run (default: $LAMFOREST_BACKEND or local)"
    )
    p.add_argument(
        "--dispatch",
        choices=("sns", "invoke"),
        default=default,
        help="aws: publish to the SNS topic (default) or invoke the function directly",
    )
    p.add_argument("--home", default=default, help="local store folder (default: $LAMFOREST_HOME or the user data dir)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lamforest",
        description="Serverless distributed decision forests: groves fitted in parallel on AWS Lambda "
        "(or local workers), merged into one scikit-learn estimator.",
    )
    parser.add_argument("--version", action="version", version=f"lamforest {__version__}")
    _backend_args(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="fit a forest as groves, merge it, score it")
    b.add_argument("name", help="build name: letters, digits, '_', '-', '.'")
    b.add_argument(
        "--data",
        default="digits",
        help="built-in (digits, iris, wine, breast_cancer, diabetes), synthetic:ROWSxCOLS[:CLASSES], "
        "or a .csv/.parquet/.npz/.npy file (default: digits)",
    )
    b.add_argument("--target", default=None, help="target column of a CSV/Parquet file (column index for .npy)")
    b.add_argument("-t", "--trees", default=100, help="trees in the forest (default: 100)")
    b.add_argument("-g", "--grove", default=10, help="trees per grove, one grove per invocation (default: 10)")
    b.add_argument("--model", choices=MODELS, default="rf", help="rf: random forest, et: extra-trees")
    b.add_argument("--task", choices=TASKS, default="auto")
    b.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any scikit-learn parameter of the estimator, e.g. --param max_depth=12 (repeatable)",
    )
    b.add_argument("--seed", default=0, help="build seed: the split and every grove's seed derive from it")
    b.add_argument("--test-size", default=0.25, help="held-out fraction, in (0, 1) (default: 0.25)")
    b.add_argument("--memory", default=1769, help="Lambda memory in MB, 128-10240 (default: 1769 = 1 vCPU)")
    b.add_argument("--arch", choices=ARCHITECTURES, default="x86_64")
    b.add_argument("--retries", default=2, help="retries of a failed grove (default: 2, as Lambda's async)")
    b.add_argument("--workers", type=int, default=None, help="local worker processes (default: one per core)")
    b.add_argument(
        "--max-cost",
        type=float,
        default=None,
        metavar="USD",
        help="stop dispatching when the projected cost passes this",
    )
    b.add_argument("-p", "--predict", action="store_true", help="after the build, predict the held-out set")
    b.add_argument(
        "-s",
        "--sync",
        action="store_true",
        help="run groves one after another in this process (local) or synchronously (aws)",
    )
    b.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    _backend_args(b)

    s = sub.add_parser("status", help="a build's progress; works while it runs, from another terminal")
    s.add_argument("name")
    s.add_argument("--json", action="store_true")
    s.add_argument("--groves", action="store_true", help="also print the per-grove table")
    _backend_args(s)

    c = sub.add_parser("cancel", help="stop a build: no more groves start, running ones stop within a chunk")
    c.add_argument("name")
    _backend_args(c)

    f = sub.add_parser("finish", help="resume and merge a build whose driver was interrupted")
    f.add_argument("name")
    f.add_argument("--workers", type=int, default=None)
    f.add_argument("--json", action="store_true")
    _backend_args(f)

    pr = sub.add_parser("predict", help="predict with a build's merged forest")
    pr.add_argument("name")
    pr.add_argument("--data", default=None, help="dataset to predict (default: the build's held-out test set)")
    pr.add_argument("--json", action="store_true")
    pr.add_argument(
        "--distributed",
        action="store_true",
        help="one predict event per batch of groves, the rows stored once; the driver sums the votes "
        "(for forests too large for this machine's memory)",
    )
    pr.add_argument("--batch-groves", default=1, metavar="K", help="with --distributed: groves per event (default 1)")
    pr.add_argument("--workers", type=int, default=None, help="with --distributed: local worker processes")
    _backend_args(pr)

    ls = sub.add_parser("builds", help="list builds in the store")
    ls.add_argument("--json", action="store_true")
    _backend_args(ls)

    se = sub.add_parser("search", help="hyperparameter search: one invocation per combination, a leaderboard")
    se.add_argument("name", help="search name (shares the build namespace)")
    se.add_argument("--data", default=None, help="dataset, as for build (default: digits)")
    se.add_argument("--target", default=None)
    se.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="values to try for a scikit-learn parameter (repeatable): every combination",
    )
    se.add_argument(
        "--random",
        default=None,
        metavar="N",
        help="N random combinations of the grid (of a default space without --grid)",
    )
    se.add_argument("-t", "--trees", default=50, help="trees of each trial's forest (default: 50)")
    se.add_argument("-g", "--grove", default=10, help="trees between cancel checks; grove size when promoted")
    se.add_argument("--model", choices=MODELS, default="rf")
    se.add_argument("--task", choices=TASKS, default="auto")
    se.add_argument("--seed", default=0)
    se.add_argument("--test-size", default=0.25, help="held out and never seen by the search (default: 0.25)")
    se.add_argument("--valid-size", default=0.25, help="validation fraction of the train set (default: 0.25)")
    se.add_argument("--workers", type=int, default=None)
    se.add_argument(
        "--promote",
        nargs="?",
        const="",
        default=None,
        metavar="BUILDNAME",
        help="then build the best combination as BUILDNAME (default: NAME-best)",
    )
    se.add_argument("--promote-trees", default=None, help="trees of the promoted build (default: --trees)")
    se.add_argument("--json", action="store_true")
    _backend_args(se)

    tm = sub.add_parser("tune-memory", help="fit one grove at several memory sizes; duration, cost, best choice")
    tm.add_argument("--data", default="digits")
    tm.add_argument("--target", default=None)
    tm.add_argument("-g", "--trees-per-grove", default=10)
    tm.add_argument("--memory", default="512,1024,1769,3008", help="sizes in MB, comma separated (128-10240)")
    tm.add_argument("--runs", default=3, help="runs per size; slow outliers are dropped (default: 3)")
    tm.add_argument("--model", choices=MODELS, default="rf")
    tm.add_argument("--seed", default=0)
    tm.add_argument("--json", action="store_true")
    _backend_args(tm)

    ex = sub.add_parser("export", help="write a build's merged forest to a file any scikit-learn user can load")
    ex.add_argument("name")
    ex.add_argument("path", help="a .skops path writes the safe skops format; anything else, joblib")
    _backend_args(ex)
    return parser


# --------------------------------------------------------------------------- output


def _fmt_usd(v: float | None) -> str:
    if v is None:
        return "-"
    return f"${v:.2e}" if v < 0.0001 else f"${v:.4f}"


def _fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def grove_table(st: drv.BuildStatus) -> Any:
    from rich.table import Table

    t = Table(title=f"groves of {st.name}", show_lines=False, header_style="bold")
    for col in ("grove", "trees", "seed", "state", "try", "duration s", "billed ms", "init ms", "max MB", "cost"):
        t.add_column(col, justify="left" if col == "state" else "right")
    for r in st.rows:
        rep = r.report
        style = {"failed": "red", "cancelled": "yellow", "running": "cyan"}.get(r.state)
        t.add_row(
            str(r.grove),
            str(r.trees),
            str(r.seed),
            r.state,
            str(max(r.attempt, 1)),
            f"{r.duration_s:.2f}" if r.duration_s is not None else "-",
            _fmt_ms(rep.billed_ms if rep else None),
            _fmt_ms(rep.init_ms if rep else None),
            _fmt_ms(rep.max_memory_mb if rep else None),
            _fmt_usd(r.cost_usd),
            style=style,
        )
    return t


def summary_table(st: drv.BuildStatus) -> Any:
    from rich.table import Table

    j = st.to_json()
    t = Table(show_header=False, box=None)
    t.add_column(style="bold")
    t.add_column()
    est = " (estimate: what Lambda would charge)" if st.cost_estimate else ""
    rows = [
        ("build", f"{st.name}  [{st.state}]"),
        ("backend", st.backend),
        (
            "forest",
            f"{st.spec.model} {st.plan.task}, {st.trees_done}/{st.spec.trees} trees in "
            f"{len(st.rows)} groves of {st.spec.grove}",
        ),
        (
            "data",
            f"{st.spec.data}: {st.plan.n_train} train rows, {st.plan.n_test} test rows, {st.plan.n_features} features",
        ),
        ("elapsed", f"{st.elapsed_s:.2f} s"),
        ("billed", f"{st.billed_ms:,.0f} ms, {st.gb_seconds:.3f} GB-s at {st.spec.memory} MB {st.spec.arch}"),
        ("cost", f"{_fmt_usd(st.cost_usd)}{est}"),
    ]
    if j["test_score"] is not None:
        rows.append((f"test {j['metric']}", f"{j['test_score']:.4f}"))
    if j["oob_score"] is not None:
        rows.append(("oob score", f"{j['oob_score']:.4f}"))
    if j["failures"]:
        rows.append(("retried", f"{len(j['failures'])} failed attempt(s)"))
    if st.cancel_reason:
        rows.append(("cancelled", st.cancel_reason))
    if j["error"]:
        rows.append(("error", j["error"]))
    if st.model:
        rows.append(("model", st.model))
    for k, v in rows:
        t.add_row(k, v)
    return t


class ProgressView:
    """A rich progress bar: groves done/running/failed, trees, elapsed, cost so far."""

    def __init__(self, console: Any, total: int, trees: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task("groves", total=total, info="")
        self.trees = trees

    def __enter__(self) -> ProgressView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, st: drv.BuildStatus) -> None:
        info = (
            f"running {st.count('running')}  failed {st.count('failed')}  "
            f"trees {st.trees_done}/{self.trees}  {_fmt_usd(st.cost_usd)}{' est.' if st.cost_estimate else ''}"
            f"  [{st.state}]"
        )
        self.progress.update(self.task, completed=st.count("done"), info=info)


def print_prediction(console: Any, pred: drv.Prediction) -> None:
    from rich.table import Table

    console.print(f"[bold]{pred.source}[/]: {pred.rows} rows")
    if pred.metric is None:
        console.print(f"predictions (first 20): {pred.predictions[:20].tolist()}")
        return
    console.print(f"[bold]{pred.metric}[/] {pred.score:.4f}")
    if pred.confusion is not None and pred.labels is not None and len(pred.labels) <= 20:
        t = Table(title="confusion matrix (rows: true, columns: predicted)")
        t.add_column("")
        for lab in pred.labels:
            t.add_column(str(lab), justify="right")
        for lab, row in zip(pred.labels, pred.confusion, strict=True):
            t.add_row(str(lab), *[str(int(v)) for v in row])
        console.print(t)
    if pred.errors:
        console.print("  ".join(f"{k} {v:.4f}" for k, v in pred.errors.items()))


# --------------------------------------------------------------------------- commands


def _open(args: argparse.Namespace):
    if getattr(args, "dispatch", None):
        os.environ["LAMFOREST_DISPATCH"] = args.dispatch  # read by the AWS backend's config
    return open_backend(args.backend, home=args.home)


def cmd_build(args: argparse.Namespace, console: Any) -> int:
    spec = BuildSpec(
        name=args.name,
        data=args.data,
        target=args.target,
        trees=args.trees,
        grove=args.grove,
        model=args.model,
        task=args.task,
        params=parse_params(args.param),
        seed=args.seed,
        test_size=args.test_size,
        memory=args.memory,
        arch=args.arch,
        retries=args.retries,
        max_cost=args.max_cost,
    )
    checked = drv.validate(spec)  # cheap checks before the backend is even opened
    backend = _open(args)
    try:
        # Start the compute now (local: worker interpreters import scikit-learn, a cold
        # start) so that it overlaps loading, splitting and storing the data.
        backend.make_compute(checked, args.workers, args.sync)
        plan = drv.create(backend, spec)
        if not args.json:
            console.print(
                f"[bold]{plan.spec.name}[/]: {plan.spec.trees} {plan.spec.model} trees ({plan.task}) in "
                f"{plan.spec.n_groves} groves on {backend.describe}; "
                f"train {plan.n_train} x {plan.n_features}, test {plan.n_test}"
            )
        st = _run(backend, args, plan.spec.name, plan.spec.n_groves, plan.spec.trees, console, sync=args.sync)
        pred = drv.predict(backend, st.name) if args.predict and st.state == "done" else None
    finally:
        backend.close()
    return _report(st, args, console, pred)


def _run(
    backend: Any, args: argparse.Namespace, name: str, groves: int, trees: int, console: Any, sync: bool = False
) -> drv.BuildStatus:
    if args.json:
        return drv.run(backend, name, workers=getattr(args, "workers", None), sync=sync)
    with ProgressView(console, groves, trees) as view:
        return drv.run(backend, name, workers=getattr(args, "workers", None), sync=sync, on_progress=view.update)


def _report(st: drv.BuildStatus, args: argparse.Namespace, console: Any, pred: drv.Prediction | None = None) -> int:
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
    backend = _open(args)
    try:
        drv.cancel(backend, args.name)
    finally:
        backend.close()
    console.print(f"cancel requested for [bold]{args.name}[/]: running groves stop at their next chunk of trees")
    return EXIT_OK


def cmd_finish(args: argparse.Namespace, console: Any) -> int:
    backend = _open(args)
    try:
        st = drv.status(backend, args.name)
        if st.state not in ("done", "finishing") and not args.json:
            missing = len(st.rows) - st.count("done")
            console.print(f"[bold]{args.name}[/]: {missing} grove(s) not done; dispatching them again")
        if args.json or st.state in ("done", "finishing"):
            st = drv.finish(backend, args.name, workers=args.workers)
        else:
            with ProgressView(console, len(st.rows), st.spec.trees) as view:
                st = drv.run(backend, args.name, workers=args.workers, on_progress=view.update)
    finally:
        backend.close()
    return _report(st, args, console)


def cmd_predict(args: argparse.Namespace, console: Any) -> int:
    if args.distributed:
        return cmd_predict_distributed(args, console)
    backend = _open(args)
    try:
        pred = drv.predict(backend, args.name, args.data)
    finally:
        backend.close()
    if args.json:
        print(json.dumps(pred.to_json(), default=str))
    else:
        print_prediction(console, pred)
    return EXIT_OK


def cmd_predict_distributed(args: argparse.Namespace, console: Any) -> int:
    from lamforest.predict import predict_distributed

    backend = _open(args)
    try:
        res = predict_distributed(backend, args.name, args.data, batch_groves=args.batch_groves, workers=args.workers)
    finally:
        backend.close()
    if args.json:
        print(json.dumps(res.to_json(), default=str))
        return EXIT_OK
    print_prediction(console, res.prediction)
    est = " est." if res.cost_estimate else ""
    console.print(
        f"distributed: {res.invocations} invocation(s) over {res.trees} trees, {res.wall_s:.2f} s, "
        f"{res.rows_per_s:,.0f} rows/s, {_fmt_usd(res.cost_usd)}{est} (predict id {res.predict_id})"
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
            f"{s.trees_done}/{s.spec.trees}",
            str(s.count("failed")),
            f"{s.elapsed_s:.1f}",
            f"{s.gb_seconds:.2f}",
            _fmt_usd(s.cost_usd) + (" est." if s.cost_estimate else ""),
            f"{j['test_score']:.4f}" if j["test_score"] is not None else "-",
        )
    console.print(t)
    return EXIT_OK


def cmd_export(args: argparse.Namespace, console: Any) -> int:
    from pathlib import Path

    backend = _open(args)
    try:
        if Path(args.path).suffix.lower() == ".skops":  # by suffix: the safe format
            from lamforest import safe

            path = safe.dump(drv.load_model(backend, args.name), args.path)
            how = "lamforest.safe.load (refuses untrusted types)"
        else:
            path = drv.export(backend, args.name, args.path)
            how = "joblib.load (pickle: only from a source you trust)"
    finally:
        backend.close()
    console.print(f"wrote {path} ({path.stat().st_size:,} bytes): load it with {how}")
    return EXIT_OK


def leaderboard_table(lb: Any) -> Any:
    from rich.table import Table

    est = " (est.)" if lb.cost_estimate else ""
    t = Table(title=f"search {lb.name}: {lb.done}/{len(lb.trials)} trials, {_fmt_usd(lb.cost_usd)}{est}")
    for col in ("rank", "trial", *lb.spec.grid, lb.metric or "score", "duration s", "cost", "state"):
        t.add_column(col, justify="left" if col == "state" else "right")
    for rank, tr in enumerate(lb.ranked(), start=1):
        t.add_row(
            str(rank) if tr.score is not None else "-",
            str(tr.trial),
            *[str(tr.params.get(k)) for k in lb.spec.grid],
            f"{tr.score:.4f}" if tr.score is not None else "-",
            f"{tr.duration_s:.2f}" if tr.duration_s is not None else "-",
            _fmt_usd(tr.cost_usd),
            tr.state if not tr.error else f"{tr.state}: {tr.error[:60]}",
        )
    return t


def cmd_search(args: argparse.Namespace, console: Any) -> int:
    from lamforest import search

    backend = _open(args)
    try:
        asked = bool(args.grid) or args.random is not None
        if asked or not search.exists(backend, args.name):
            spec = search.SearchSpec(
                name=args.name,
                data=args.data or "digits",
                target=args.target,
                grid=search.parse_grid(args.grid),
                random=args.random,
                trees=args.trees,
                grove=args.grove,
                model=args.model,
                task=args.task,
                seed=args.seed,
                test_size=args.test_size,
                valid_size=args.valid_size,
            )
            doc = search.create(backend, spec)
            if not args.json:
                console.print(
                    f"[bold]{args.name}[/]: {len(doc['combinations'])} trial(s) of {doc['spec'].trees} "
                    f"trees on {backend.describe}; fit {doc['n_fit']} rows, validate {doc['n_valid']}"
                )
        lb = search.run(backend, args.name, workers=args.workers)
        built = None
        if args.promote is not None:
            target = args.promote or f"{args.name}-best"
            built = search.promote(backend, args.name, target, trees=args.promote_trees, workers=args.workers)
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


def cmd_tune_memory(args: argparse.Namespace, console: Any) -> int:
    from rich.table import Table

    from lamforest.tune import parse_memory, tune_memory

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
            _fmt_usd(r.cost_usd),
            ", ".join(tags),
        )
    console.print(t)
    console.print(f"cheapest: {res.cheapest.memory_mb} MB; fastest: {res.fastest.memory_mb} MB")
    console.print(("[yellow]" if res.simulated else "") + res.note)
    return EXIT_OK


COMMANDS = {
    "build": cmd_build,
    "status": cmd_status,
    "cancel": cmd_cancel,
    "finish": cmd_finish,
    "predict": cmd_predict,
    "builds": cmd_builds,
    "export": cmd_export,
    "search": cmd_search,
    "tune-memory": cmd_tune_memory,
}


def main(argv: Sequence[str] | None = None) -> int:
    from rich.console import Console

    args = build_parser().parse_args(argv)
    # Piped output gets a wide console, so tables are not squeezed to 80 columns.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    err = Console(stderr=True, highlight=False)
    # First Ctrl+C stops watching; the build keeps going and `finish` resumes it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return COMMANDS[args.command](args, console)
    except SpecError as exc:
        err.print(f"[red]error[/] in {exc.field}: {exc.message}")
        return EXIT_USAGE
    except (drv.BuildError, ConfigError, StoreError, DispatchError) as exc:
        err.print(f"[red]error[/]: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        name = getattr(args, "name", "")
        err.print(
            f"\ninterrupted: the build's state is in the store; resume with `lamforest finish {name}` "
            f"or stop it with `lamforest cancel {name}`"
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
