"""Commands that only read the store import only what they use: not scikit-learn, pandas or pyarrow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lamforest.cli import main as cli_main  # the command line entry: main(argv) -> exit code

HEAVY = ("sklearn", "pandas", "pyarrow", "scipy")
PROBE = f"""
import json, sys
from lamforest.cli import main
code = main(sys.argv[1:])
print(json.dumps({{"code": code, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["status", "lc"], ["builds"], ["cancel", "lc"]])
def test_reading_commands_load_no_heavy_library(
    home: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["build", "lc", "--data", "iris", "-t", "2", "-g", "1", "--json"]) == 0
    capsys.readouterr()
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=False)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, 1)  # cancel of a finished build is a failure, said in one line
    assert report["loaded"] == []
