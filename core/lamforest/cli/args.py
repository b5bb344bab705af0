"""The ``lamforest`` command line: its arguments (the commands live in ``cli``)."""

from __future__ import annotations

import argparse
import re
from typing import NoReturn

from lamforest import __version__
from lamforest.backend import BACKENDS
from lamforest.spec import (
    ARCHITECTURES,
    MODELS,
    TASKS,
    BuildSpec,
    SpecError,
    check_rows_per_grove,
    parse_params,
    real,
    whole,
)
from lamforest.spec_input import make_spec


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
    p.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="on an error, print the traceback too (or set LAMFOREST_DEBUG=1)",
    )


def _merge_args(p: argparse.ArgumentParser, default: str | None = "auto") -> None:
    p.add_argument(
        "--merge",
        choices=("auto", "always", "never"),
        default=default,
        help="write the single scikit-learn file: auto (below --merge-limit), always, or never; "
        "without it the forest is its groves and predict streams them (default: "
        + (default or "what the build was: a grove set stays one, else auto")
        + ")",
    )
    p.add_argument(
        "--merge-limit",
        default=None,
        metavar="MB",
        help="with --merge auto: the largest merged forest, in MB of memory, that gets its file (default: 1024)",
    )


def _spec_args(b: argparse.ArgumentParser) -> None:
    """What a build asks for: the flags `build` and `estimate` share."""
    b.add_argument(
        "--data",
        default="digits",
        help="built-in (digits, iris, wine, breast_cancer, diabetes), synthetic:ROWSxCOLS[:CLASSES], "
        "a .csv/.parquet/.npz/.npy file, or sharded Parquet: a folder, a glob, s3://BUCKET/PREFIX/, or a "
        ".parquet file of several row groups (read by the workers; default: digits)",
    )
    b.add_argument(
        "--target",
        default=None,
        help="target column of a CSV/Parquet file (column index for .npy); a,b: several, one output each",
    )
    b.add_argument(
        "--weight",
        default=None,
        metavar="COL",
        help="column of per-row sample weights in the data file (column index for .npy, array name for .npz); "
        "every grove fits with them",
    )
    b.add_argument("-t", "--trees", default=100, help="trees in the forest (default: 100)")
    b.add_argument(
        "-g", "--grove", default=None, help="trees per grove, one grove per invocation (default: 10, at most --trees)"
    )
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
    b.add_argument(
        "--test-size",
        default=0.25,
        help="held-out fraction, in [0, 1); 0 trains on every row, in file order (default: 0.25)",
    )
    b.add_argument("--memory", default=1769, help="Lambda memory in MB, 128-10240 (default: 1769 = 1 vCPU)")
    b.add_argument("--arch", choices=ARCHITECTURES, default="x86_64")
    b.add_argument(
        "--rows-per-grove",
        default=None,
        metavar="N",
        help="sharded data: train rows each grove samples (whole shards), N rows or a fraction in (0, 1] of the "
        "train rows (default: the most that fit --memory)",
    )


DEFAULT_GROVE = 10


def spec_from_flags(args: argparse.Namespace, name: str, check: bool = True) -> BuildSpec:
    """The spec the flags of ``_spec_args`` ask for (and ``build``'s own), validated once: every
    command that takes them goes through here. The flags' text becomes typed values naming the flag.
    ``check=False`` leaves the scikit-learn parameters to ``spec_input.checked``."""
    max_cost = getattr(args, "max_cost", None)
    for flag in ("target", "weight", "rows_per_grove"):
        if getattr(args, flag, None) == "":  # typed as --weight '': a mistake, not a way to say none
            raise SpecError(flag, "an empty value; leave the flag out for none")
    trees = whole("trees", args.trees)
    return make_spec(
        name,
        data=args.data,
        target=args.target,
        weight=args.weight,
        trees=trees,
        # Not given: groves of 10, or one grove of every tree of a smaller forest (-t 4).
        grove=whole("grove", args.grove) if args.grove is not None else max(1, min(DEFAULT_GROVE, trees)),
        model=args.model,
        task=args.task,
        params=parse_params(args.param),
        seed=whole("seed", args.seed),
        test_size=real("test_size", args.test_size, "a number in [0, 1)"),
        memory=whole("memory", args.memory),
        arch=args.arch,
        retries=whole("retries", getattr(args, "retries", 2)),
        max_cost=None if max_cost is None else real("max_cost", max_cost, "a number of USD"),
        rows_per_grove=check_rows_per_grove(args.rows_per_grove),
        check=check,
    )


class Parser(argparse.ArgumentParser):
    """argparse, but a flag's value of the wrong kind (``--workers nan``) is one line naming the
    flag, as every other bad value is, not the usage text; other usage errors keep the usage."""

    def error(self, message: str) -> NoReturn:
        match = re.fullmatch(r"argument ([^:]+): (invalid .*)", message)
        if match is None:
            super().error(message)
        flag = match.group(1).split("/")[-1]
        self.exit(2, f"error in {flag.lstrip('-').replace('-', '_')}: {match.group(2)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="lamforest",
        description="Serverless distributed decision forests: groves fitted in parallel on AWS Lambda "
        "(or local workers), merged into one scikit-learn estimator.",
    )
    parser.add_argument("--version", action="version", version=f"lamforest {__version__}")
    _backend_args(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="fit a forest as groves, merge it, score it")
    b.add_argument("name", help="build name: letters, digits, '_', '-', '.'")
    _spec_args(b)
    b.add_argument("--retries", default=2, help="retries of a failed grove (default: 2, as Lambda's async)")
    b.add_argument("--workers", type=int, default=None, help="local worker processes (default: one per core)")
    b.add_argument(
        "--max-cost",
        type=float,
        default=None,
        metavar="USD",
        help="refuse the build when its estimate is above this, and stop dispatching when the cost so far "
        "projects past it",
    )
    b.add_argument("-p", "--predict", action="store_true", help="after the build, predict the held-out set")
    b.add_argument(
        "-s",
        "--sync",
        action="store_true",
        help="run groves one after another in this process (local) or synchronously (aws)",
    )
    b.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    _merge_args(b)
    _backend_args(b)

    e = sub.add_parser(
        "estimate",
        help="project a build's wall time and cost on Lambda (and this backend) from a sample fitted here",
    )
    e.add_argument(
        "name",
        nargs="?",
        default=None,
        metavar="NAME-OR-SPEC",
        help="a build in the store (its spec), a spec .json file, or a new name for the flags' spec",
    )
    _spec_args(e)
    e.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="Lambda concurrency limit (default: the function's reserved concurrency, else 1,000)",
    )
    e.add_argument("--workers", type=int, default=None, help="local worker processes (default: one per core)")
    e.add_argument("--ec2-vcpus", type=int, default=8, help="vCPUs of the EC2 instance to compare with (default: 8)")
    e.add_argument(
        "--ec2-price",
        type=float,
        default=0.357,
        metavar="USD_PER_HOUR",
        help="its on-demand price per hour (default: 0.357, c7i.2xlarge Linux us-east-1)",
    )
    e.add_argument("--ec2-memory", type=float, default=None, metavar="GB", help="its memory, to warn when short")
    e.add_argument("--refresh", action="store_true", help="measure the sample again instead of the cached one")
    e.add_argument("--params", action="store_true", help="list every model parameter, its value and its source")
    e.add_argument(
        "--calibrate",
        action="store_true",
        help="fit the model's parameters to the finished builds in the store and keep them for later estimates",
    )
    e.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    _backend_args(e)

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
    _merge_args(f, default=None)
    _backend_args(f)

    gr = sub.add_parser("grow", help="add trees to a finished build; the trees it has are kept, not refitted")
    gr.add_argument("name")
    gr.add_argument("-t", "--trees", type=int, required=True, help="the forest's new number of trees (more than now)")
    gr.add_argument("--workers", type=int, default=None)
    gr.add_argument("--json", action="store_true")
    _merge_args(gr)
    _backend_args(gr)

    pr = sub.add_parser("predict", help="predict new rows (or score labelled ones) with a finished build")
    pr.add_argument("name")
    pr.add_argument(
        "--data",
        default=None,
        help="rows to predict: a .csv/.parquet/.npy/.npz file with the training columns, with or without "
        "the target, or sharded Parquet (a folder, a glob, s3://...) with --out a folder or s3:// prefix: "
        "the workers write one output per input shard (default: the build's held-out test set)",
    )
    pr.add_argument(
        "--out",
        default=None,
        metavar="PRED",
        help="write one row per input row: the prediction and, for a classifier, one probability column per "
        "class (.csv, .parquet or .npy; - for CSV on stdout). Default for rows without the target: stdout",
    )
    pr.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    pr.add_argument("--json", action="store_true")
    pr.add_argument(
        "--distributed",
        action="store_true",
        help="one predict event per batch of groves, the rows stored once; the driver sums the votes "
        "(for forests too large for this machine's memory)",
    )
    pr.add_argument(
        "--batch-groves", default=None, metavar="K", help="with --distributed: groves per event (default 1)"
    )
    pr.add_argument("--workers", type=int, default=None, help="with --distributed: local worker processes")
    _backend_args(pr)

    sh = sub.add_parser(
        "shard", help="split one big CSV or Parquet file into Parquet shards (streamed, bounded memory)"
    )
    sh.add_argument("source", help="a .csv or .parquet file")
    sh.add_argument("--out", required=True, help="a folder, or s3://BUCKET/PREFIX/, for part-NNNNN.parquet files")
    sh.add_argument("--rows-per-shard", default=250_000, help="rows in each shard, at most (default: 250,000)")
    sh.add_argument("--force", action="store_true", help="write into an --out that already holds Parquet files")
    sh.add_argument("--json", action="store_true")

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
    ex.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="overwrite PATH if it exists; merge a forest above its merge limit (holds it all in memory)",
    )
    _backend_args(ex)
    return parser
