"""The fast tier is what tests/conftest.py says it is, and nothing silently leaves it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import FAST_MODULES

TESTS = Path(__file__).parent


def test_every_fast_module_exists() -> None:
    missing = sorted(m for m in FAST_MODULES if not (TESTS / f"{m}.py").is_file())
    assert not missing, f"tests/conftest.py FAST_MODULES names modules that do not exist: {missing}"


def test_the_fast_tier_collects_every_fast_module_and_nothing_else() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "fast", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=TESTS.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    ids = [line for line in out.stdout.splitlines() if "::" in line]
    modules = {Path(i.split("::", 1)[0]).stem for i in ids}
    assert modules == set(FAST_MODULES)
