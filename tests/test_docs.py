"""The docs are checked against the code that defines what they describe.

- every flag of every ``lamforest`` command (walked from the parser the CLI builds) is in
  docs/cli.md, in the command's own section or, for the options every command shares, in
  "Global options";
- every key bound in the TUI (each class's ``BINDINGS``, Textual's standard) is in docs/tui.md;
- README.md stays a front door of at most 200 lines;
- every relative link in README.md and docs/*.md reaches a file that exists (and, for a link
  into a Markdown page, a heading of that page);
- the README's Python example runs as written;
- every ``python -m bench NAME`` the docs give runs a bench that exists.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
MAX_README_LINES = 200
GLOBAL = "Global options"


def _sections(text: str) -> dict[str, str]:
    """A Markdown page's level-2 sections by heading (each with its subsections)."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def _mentions(text: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string of a parser, but argparse's own -h/--help."""
    return [opt for a in parser._actions if not isinstance(a, argparse._HelpAction) for opt in a.option_strings]


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("the lamforest parser has no subcommands")


def test_every_cli_flag_is_in_docs_cli() -> None:
    from lamforest.cli.args import build_parser

    parser = build_parser()
    sections = _sections((DOCS / "cli.md").read_text(encoding="utf-8"))
    assert GLOBAL in sections, f"docs/cli.md has no '## {GLOBAL}' section"
    top = set(_flags(parser))
    missing = [f"lamforest {flag} (in '{GLOBAL}')" for flag in sorted(top) if not _mentions(sections[GLOBAL], flag)]
    commands = _commands(parser)
    assert len(commands) >= 10, sorted(commands)  # the walk found the commands, not an empty dict
    for name, sub in sorted(commands.items()):
        heading = f"`lamforest {name}`"
        if heading not in sections:
            missing.append(f"a '## {heading}' section")
            continue
        for flag in _flags(sub):
            shared = flag in top and _mentions(sections[GLOBAL], flag)
            if not shared and not _mentions(sections[heading], flag):
                missing.append(f"lamforest {name} {flag}")
    assert not missing, "docs/cli.md does not document: " + "; ".join(missing)


def _tui_classes() -> list[type]:
    import lamforest_tui

    classes: dict[str, type] = {}
    for info in pkgutil.walk_packages(lamforest_tui.__path__, "lamforest_tui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__.startswith("lamforest_tui") and "BINDINGS" in vars(cls):
                classes[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return list(classes.values())


def _keys(cls: type) -> list[str]:
    from textual.binding import Binding

    keys: list[str] = []
    for item in vars(cls)["BINDINGS"]:
        key = item.key if isinstance(item, Binding) else item[0]  # Textual takes Binding or a tuple
        keys += [k.strip() for k in key.split(",") if k.strip()]
    return keys


def test_every_tui_key_is_in_docs_tui() -> None:
    from textual.keys import format_key

    text = (DOCS / "tui.md").read_text(encoding="utf-8")
    classes = _tui_classes()
    assert len(classes) >= 5, [c.__name__ for c in classes]
    missing = sorted(
        {
            f"{key} ({cls.__name__})"
            for cls in classes
            for key in _keys(cls)
            if f"`{key}`" not in text and f"`{format_key(key)}`" not in text
        }
    )
    assert not missing, "docs/tui.md names no key (in backticks) for: " + ", ".join(missing)


def test_readme_is_a_front_door() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines, more than {MAX_README_LINES}: move reference into docs/"
    )


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


PAGES = [README, *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...: not a file of the repository
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target} (no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest})")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading '#{anchor}' in {dest.relative_to(ROOT)})")
    assert not broken, f"{page.relative_to(ROOT)} links to what does not exist: " + "; ".join(broken)


def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Python block, as written, fits a forest that scores as a forest should."""
    from lamforest.backend.shared import close_shared

    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.M | re.S)
    assert blocks, "README.md has no ```python block"
    monkeypatch.setenv("LAMFOREST_HOME", str(tmp_path / "home"))
    scope: dict[str, object] = {}
    try:
        exec(compile(blocks[0], "README.md", "exec"), scope)  # the project's own README, run as a reader would
    finally:
        close_shared()
    model: Any = scope["model"]
    assert model.score(scope["X_test"], scope["y_test"]) > 0.9
    assert len(model.estimators_) == 100


def test_benchmark_commands_name_benches_that_exist() -> None:
    """Each ``python -m bench NAME`` in the docs runs a module of bench/ (``bench/bench_NAME.py``)."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)
    names = set(re.findall(r"python -m bench ([a-z_]+)", text))
    assert "core" in names, sorted(names)
    missing = sorted(n for n in names if not (ROOT / "bench" / f"bench_{n}.py").exists())
    assert not missing, "the docs name benches bench/ does not have: " + ", ".join(missing)
