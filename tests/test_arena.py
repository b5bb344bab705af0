"""The command's process keeps glibc's malloc to one arena (``memory.one_arena``), so the arrays a
finish's read-ahead thread frees are reused by the next grove instead of holding a second heap."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# Threads each keeping small blocks (from their own arena unless capped), then glibc's own account
# of its heaps: one "<heap nr=...>" element per arena.
SCRIPT = """
import ctypes, sys, threading
import numpy as np
import lamforest.cli as cli
if sys.argv[1] == "console":
    cli.main = lambda: 0  # the process's set-up only, no command
    assert cli.console() == 0
barrier = threading.Barrier(4)
def work():
    keep = [np.ones(1000) for _ in range(200)]
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc = ctypes.CDLL(None)
libc.fdopen.restype = ctypes.c_void_p
out = libc.fdopen(1, b"w")
libc.malloc_info(0, ctypes.c_void_p(out))
libc.fflush(ctypes.c_void_p(out))
"""


def heaps(how: str) -> int:
    done = subprocess.run([sys.executable, "-c", SCRIPT, how], capture_output=True, text=True, check=True)
    return done.stdout.count("<heap nr=")


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc")
def test_the_commands_process_keeps_one_malloc_arena_and_a_session_keeps_its_own() -> None:
    assert heaps("console") == 1
    assert heaps("session") > 1  # a Python session that imports lamforest keeps its allocator as it is
