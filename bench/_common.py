"""Helpers shared by the benchmark scripts: databases and child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARREARS = [sys.executable, "-m", "arrears.cli"]
PG_SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")


def database_env(db: str, name: str) -> dict[str, str]:
    """Environment for a fresh, empty benchmark database of the given kind."""
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    if db == "sqlite":
        env["ARREARS_VAR_DIR"] = tempfile.mkdtemp(prefix=f"arrears-{name}-")
        return env
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    env["DATABASE_URL"] = f"{PG_SERVER}/{name}"
    return env


@dataclass
class Child:
    seconds: float
    peak_rss_mb: float
    stdout: str


def run_child(args: list[str], env: dict[str, str]) -> Child:
    """Run a command, returning its wall time and its own peak RSS (MiB)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=err, text=True, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.stderr.write(err.read()[-5000:])
            raise SystemExit(f"{' '.join(args)} failed with exit code {proc.returncode}")
        # Linux reports ru_maxrss in KiB.
        return Child(seconds, usage.ru_maxrss / 1024, out.read())
