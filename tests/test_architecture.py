"""The shape of the house, checked: no import cycle, a worker that loads no driver, one place for keys
and for records."""

from __future__ import annotations

import ast
import json
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
KEY_PREFIXES = ("builds/", "data/")
KEY_PARTS = ("/state/", "/groves/", "/predict/", "/trials/", "spec.json", "summary.json", "model.tree", "/CANCEL")
OWNERS = {"keys.py", "records.py"}
RECORD_STATES = ("running", "done", "failed", "cancelled")


def _string_start(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and n.body
        and isinstance(n.body[0], ast.Expr)
    }
    bad = []
    for node in ast.walk(tree):
        if id(node) in docstrings:
            continue
        if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            text = _string_start(node) or ""
            formatted = isinstance(node, ast.JoinedStr)
            if (formatted and text.startswith(KEY_PREFIXES)) or (
                formatted and any(p in text for p in KEY_PARTS) and "{}" in text
            ):
                bad.append(f"{path.name}:{node.lineno}: key formatted outside keys.py: {text!r}")
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


def test_the_lint_catches_a_formatted_key_and_a_record(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'k = f"builds/{name}/spec.json"\nr = {"grove": 1, "state": "done"}\nput_json(s, keys.state(b, g, "done"), r)\n'
    )
    assert len(_offences(sample)) == 3


@pytest.mark.parametrize("root", list(PACKAGES.values()), ids=list(PACKAGES))
def test_only_keys_formats_keys_and_only_records_builds_records(root: Path) -> None:
    bad = [o for path in sorted(root.rglob("*.py")) if path.name not in OWNERS for o in _offences(path)]
    assert bad == []
