"""The shape of the house, checked: no import cycle, a worker that loads no driver, one place for keys
and for records."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"lamforest": REPO / "core" / "lamforest", "lamforest_tui": REPO / "tui" / "lamforest_tui"}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            parts = [pkg, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of ours this module imports, at any depth (function-level imports included)."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_pkg else name.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join([*here, base] if base else here)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {m: _imports(m, p, known) for m, p in mods.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_graph_walk_sees_function_level_imports() -> None:
    graph = _graph()
    # backend/__init__ imports backend.aws inside open_backend only
    assert "lamforest.backend.aws" in graph["lamforest.backend"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


WORKER_SIDE_FORBIDDEN = ("lamforest.driver", "lamforest.cli", "lamforest.backend", "lamforest_tui")


def test_the_worker_side_imports_no_driver_cli_backend_or_tui() -> None:
    graph = _graph()
    seen, todo = set(), ["lamforest.worker", "lamforest.worker.local"]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(graph[m])
    assert not [m for m in seen if m.startswith(WORKER_SIDE_FORBIDDEN)]


CHILD = r"""
import json, sys
from lamforest import keys
from lamforest.events import FitEvent, PredictEvent, SearchEvent
from lamforest.store.local import LocalStore
from lamforest.worker import handler

store = LocalStore(sys.argv[1])
doc = json.loads(sys.argv[2])
out = [
    handler(FitEvent(**doc["fit"]).to_event(), store=store)["groves"][0]["state"],
    handler(PredictEvent(**doc["predict"]).to_event(), store=store)["groves"][0]["state"],
    handler(SearchEvent(**doc["search"]).to_event(), store=store)["groves"][0]["state"],
]
mods = sorted(m for m in sys.modules if m.startswith(("lamforest", "boto", "textual")))
print(json.dumps({"states": out, "modules": mods}))
"""


def test_a_worker_running_each_event_kind_loads_no_driver_module(tmp_path: Path) -> None:
    """A fresh interpreter, as on Lambda: fit, predict and search events, then look at sys.modules."""
    from lamforest import data, driver
    from lamforest.backend import local_backend
    from lamforest.spec import BuildSpec

    with local_backend(tmp_path) as backend:
        plan = driver.create(backend, BuildSpec(name="w", data="iris", trees=4, grove=2, seed=1))
        fit0 = plan.events()[0]
        driver.run(backend, "w", workers=1, sync=True)  # groves to predict with
        X, _ = data.get_test(backend.store, "w")
        rows = data.put_input(backend.store, X)
    doc = {
        "fit": {**fit0.to_event(), "build": "w2"} | {"v": None},
        "predict": {"build": "w", "job": "p1", "input": rows, "grove": 0, "batch": 2},
        "search": {
            "build": "s",
            "trial": 0,
            "seed": 1,
            "trees": 2,
            "data": plan.data_ref,
            "valid": plan.data_ref,
            "model": "rf",
            "task": "classification",
            "params": {"max_depth": 3},
        },
    }
    doc["fit"].pop("v")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), json.dumps(doc)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["states"] == ["done", "done", "done"]
    loaded = out["modules"]
    assert "lamforest.worker.fit" in loaded and "lamforest.worker.votes" in loaded  # the check can see them
    assert not [m for m in loaded if m.startswith((*WORKER_SIDE_FORBIDDEN, "boto", "textual"))], loaded


# -- one place for the store's layout and for records
KEYS_PY = PACKAGES["lamforest"] / "keys.py"
RECORDS_PY = PACKAGES["lamforest"] / "records.py"
KEY_PREFIXES = ("builds/", "data/")
KEY_PARTS = ("/state/", "/groves/", "/predict/", "/trials/", "spec.json", "summary.json", "model.tree", "/CANCEL")
# Every name of the layout keys.py describes: files of a build, of a job and of a data folder (the
# store's data/<sha256>/ and a local sample folder alike), and the folders keys pass through.
LAYOUT_FILES = (
    *("X.npy", "y.npy", "w.npy", "meta.json", "shards.json"),
    *("X.data.npy", "X.indices.npy", "X.indptr.npy", "X.shape.npy"),
    *("claim.json", "spec.json", "test.npz", "CANCEL", "lease.json", "model.tree", "manifest.json", "oob.npy"),
    *("summary.json", "dispatch.json", "lambda.log", "search.json", "leaderboard.json", "tune.json"),
    *("estimate.json", "params.json", "inits.json", "job.json", "result.json", "X_test.npy", "y_test.npy"),
)
LAYOUT_FOLDERS = re.compile(
    r"(^|/)(data|builds|estimate|groves|state|drivers|predict|shards|trials|votes|done|failed)/"
)
RECORD_STATES = ("running", "done", "failed", "cancelled")


def _string_start(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _is_key(text: str, formatted: bool) -> bool:
    """A literal that spells a key or a piece of one.

    A key has no whitespace: a literal without any that names a file of the layout as a path component
    ("X.npy", "{}/job.json") or passes through one of its folders ("votes/{}.npy", "done/", "data/") is
    a key. Prose naming a file for the user (a message, a help text) has whitespace and is let be,
    except for what the lint always caught: a formatted string that starts with a key prefix, or that
    fills in a build key's part.
    """
    if formatted and (text.startswith(KEY_PREFIXES) or ("{}" in text and any(p in text for p in KEY_PARTS))):
        return True
    if not text or any(c.isspace() for c in text):
        return False
    return bool(LAYOUT_FOLDERS.search(text)) or any(part in LAYOUT_FILES for part in text.split("/"))


def _docstrings(tree: ast.AST) -> set[int]:
    return {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and n.body
        and isinstance(n.body[0], ast.Expr)
    }


def _key_offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    skip = _docstrings(tree)
    # the pieces of an f-string are judged as the whole they belong to
    skip |= {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    bad = []
    for node in ast.walk(tree):
        text = None if id(node) in skip else _string_start(node)
        if text is not None and _is_key(text, isinstance(node, ast.JoinedStr)):
            bad.append(f"{path.name}:{node.lineno}: key spelled outside keys.py: {text!r}")
    return bad


def _record_offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            fields = {k.value: v for k, v in zip(node.keys, node.values, strict=True) if isinstance(k, ast.Constant)}
            state = fields.get("state")
            literal_state = isinstance(state, ast.Constant) and state.value in RECORD_STATES
            if literal_state and fields.keys() & {"grove", "trial"}:
                bad.append(f"{path.name}:{node.lineno}: a record built outside records.py")
        if isinstance(node, ast.Call) and any(
            isinstance(a, ast.Call) and isinstance(a.func, ast.Attribute) and a.func.attr in ("state", "job_record")
            for a in node.args
        ):
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if func in ("put_json", "put_bytes"):
                bad.append(f"{path.name}:{node.lineno}: a record written outside records.py")
    return bad


def _offences(path: Path) -> list[str]:
    """Keys spelled outside keys.py, records built or written outside records.py."""
    keys_bad = [] if path == KEYS_PY else _key_offences(path)
    return keys_bad + ([] if path == RECORDS_PY else _record_offences(path))


# one sample per kind of key literal, each a line the lint must catch
KEY_SAMPLES = [
    'k = f"builds/{name}/spec.json"',  # a build key, formatted
    'k = "builds/" + name',  # a key prefix, concatenated
    'k = "data/" + "0" * 64',
    'k = f"data/{sha}"',
    'k = keys.data_file(ref, "X.npy")',  # file names of a data folder
    'k = keys.data_file(ref, "y.npy")',
    'k = keys.data_file(ref, "w.npy")',
    'k = keys.data_file(ref, "meta.json")',
    'k = f"{ref}/X.indptr.npy"',
    'k = folder / "shards.json"',  # a local folder laid out as a data folder
    'k = folder / "X_test.npy"',
    'k = keys.job_file(pre, "job.json")',  # a job's files and folders
    'k = keys.job_file(pre, "result.json")',
    'k = keys.job_file(pre, f"votes/{gid}.npy")',
    'k = keys.job_file(pre, "done/")',
    'k = f"{pre}/failed/{jid}.json"',
    'k = prefix + "/predict/" + job',
    'ok = key.endswith("lambda.log")',  # telling a key by its name is spelling it too
    'k = "manifest.json"',
    'k = "estimate/params.json"',
    'k = f"{build}/CANCEL"',
]
# prose that names a file for the user, and docstrings, are not keys
NOT_KEYS = [
    '"""Reads data/<sha256>/X.npy and meta.json."""',
    'raise BuildError(f"build {name!r} has no manifest.json; run `lamforest finish {name}`")',
    'help = "rows stored once as X.npy"',
    'x = {"votes": 1, "done": 2, "state": "failed"}',
    'y = path.suffix == ".npy"',
]


def test_the_lint_catches_a_formatted_key_and_a_record(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'k = f"builds/{name}/spec.json"\nr = {"grove": 1, "state": "done"}\nput_json(s, keys.state(b, g, "done"), r)\n'
    )
    assert len(_offences(sample)) == 3
    for line in KEY_SAMPLES:
        sample.write_text(line + "\n")
        assert len(_offences(sample)) == 1, line
    sample.write_text("\n".join(NOT_KEYS) + "\n")
    assert _offences(sample) == []


def test_the_owners_are_exempt_only_from_their_own_rule() -> None:
    """keys.py spells keys but builds no record; records.py builds records but spells no key."""
    assert _key_offences(KEYS_PY) and not _record_offences(KEYS_PY) and not _offences(KEYS_PY)
    assert _record_offences(RECORDS_PY) and not _key_offences(RECORDS_PY) and not _offences(RECORDS_PY)


@pytest.mark.parametrize("root", list(PACKAGES.values()), ids=list(PACKAGES))
def test_only_keys_formats_keys_and_only_records_builds_records(root: Path) -> None:
    bad = [o for path in sorted(root.rglob("*.py")) for o in _offences(path)]
    assert bad == []
