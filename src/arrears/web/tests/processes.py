"""Real ``arrears`` processes against the test database, for tests that need
more than one process (workers racing, a worker killed mid-send).

The test must use ``@pytest.mark.django_db(transaction=True)``: the rows it
writes are committed, so the processes see them. On SQLite the test
database is a file (settings.py), so the processes can open it too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

ARREARS = [sys.executable, "-m", "arrears.cli"]


def database_url() -> str:
    """The URL of the database this test is using (the test database)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    host = s["HOST"] or "localhost"
    port = f":{s['PORT']}" if s["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{s['NAME']}"


def process_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a process on the test database: no mail server
    or SMS provider unless ``extra`` names one."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ARREARS_", "EMAIL_")) and k != "DATABASE_URL"
    }
    env.update(DATABASE_URL=database_url(), ARREARS_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def arrears_start(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start ``arrears ARGS`` without waiting; stdout and stderr are piped."""
    return subprocess.Popen(
        [*ARREARS, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def arrears_run(*args: str, env: dict[str, str], timeout: float = 120) -> str:
    """Run ``arrears ARGS`` to the end; returns its stdout, raises with its
    stderr when it fails."""
    done = subprocess.run(
        [*ARREARS, *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"arrears {' '.join(args)}: {done.stderr}"
    return done.stdout
