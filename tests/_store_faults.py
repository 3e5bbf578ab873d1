"""Making a real SQLite store fail: the database file turned read-only under a running process.

As root, ``chmod`` stops nothing, so the file (and its write-ahead log) is made immutable with
``chattr +i``; SQLite's writes then fail for real ("disk I/O error" on the open connections,
"attempt to write a readonly database" on new ones). Never the ``-shm`` file: SQLite maps it
into memory, and an immutable mapping kills the process with SIGBUS.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Iterator

import pytest


def _fail_or_skip(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"cannot make a store read-only under CI=true: {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def read_only(db: Path) -> Iterator[None]:
    """Inside the block, ``db`` (and its WAL) cannot be written by this or any process."""
    files = [str(p) for p in (db, db.with_name(db.name + "-wal")) if p.exists()]
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            _fail_or_skip("chattr is not installed (apt-get install e2fsprogs)")
        done = subprocess.run(["chattr", "+i", *files], capture_output=True, text=True)
        if done.returncode != 0:
            _fail_or_skip(f"chattr +i is not supported here: {done.stderr.strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", *files], check=True)
    else:
        modes = {f: os.stat(f).st_mode for f in files}
        for f in files:
            os.chmod(f, stat.S_IRUSR | stat.S_IRGRP)
        try:
            yield
        finally:
            for f, mode in modes.items():
                os.chmod(f, mode)
