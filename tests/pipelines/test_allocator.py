"""More malloc arenas (assets/allocator.py): threads beyond glibc's 8 per core get arenas of their
own instead of sharing one, in a fresh process that imports Padu's job as `make run` does, and in
one that does not, for contrast."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Starts more threads than glibc's default arena limit, each allocating (so each is given an
# arena) and staying alive, then prints how many arenas malloc_info lists.
COUNT_ARENAS = """
import ctypes, os, sys, tempfile, threading
if sys.argv[1] == "with_padu":  # the imports of pipelines/run_nightly.py, in its order
    import polars, dagster  # noqa: F401
    from pipelines.instance import dagster_home  # noqa: F401
    from pipelines.definitions import defs  # noqa: F401
threads = 8 * (os.cpu_count() or 1) + 8
allocated, finish, held = threading.Barrier(threads + 1), threading.Event(), []
def work():
    held.append(bytearray(4096))  # above Python's small-object allocator: a malloc
    allocated.wait()
    finish.wait()
workers = [threading.Thread(target=work) for _ in range(threads)]
for worker in workers:
    worker.start()
allocated.wait()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    stream = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    print(threads, open(out.name).read().count("<heap nr="))
finish.set()
"""


def _arenas(mode: str) -> tuple[int, int]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    env["PYTHONPATH"] = str(REPO)
    out = subprocess.run([sys.executable, "-c", COUNT_ARENAS, mode], env=env, cwd=REPO,
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc arenas")
def test_threads_past_glibcs_limit_get_arenas_of_their_own():
    default_limit = 8 * (os.cpu_count() or 1)
    threads, arenas = _arenas("plain")
    assert arenas <= default_limit  # glibc alone: the later threads share
    threads, arenas = _arenas("with_padu")
    assert arenas > threads  # every thread its own arena, and the main thread's
