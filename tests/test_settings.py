"""Settings come from the environment and refuse unsafe production values."""

import os
import subprocess
import sys

import pytest


def _load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ARREARS_")}
    environment.pop("DATABASE_URL", None)
    environment.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import arrears.settings as s; print(s.DATABASES['default']['ENGINE'])",
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_the_demo_secret_key(tmp_path):
    result = _load_settings(ARREARS_PRODUCTION="1", ARREARS_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "ARREARS_SECRET_KEY" in result.stderr


def test_production_refuses_debug(tmp_path):
    result = _load_settings(
        ARREARS_PRODUCTION="1",
        ARREARS_DEBUG="1",
        ARREARS_SECRET_KEY="x" * 50,
        ARREARS_VAR_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "ARREARS_DEBUG" in result.stderr


def test_production_starts_with_a_real_key_and_postgres(tmp_path):
    result = _load_settings(
        ARREARS_PRODUCTION="1",
        ARREARS_SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://u:p@db.example:5432/ar",
        ARREARS_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.postgresql"


def test_default_database_is_an_sqlite_file_under_the_var_dir(tmp_path):
    result = _load_settings(ARREARS_VAR_DIR=str(tmp_path / "var"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"
    assert (tmp_path / "var").is_dir()


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_bad_boolean_fails_loudly(tmp_path, value):
    result = _load_settings(ARREARS_DEBUG=value, ARREARS_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert f"ARREARS_DEBUG={value!r} is not a boolean" in result.stderr
