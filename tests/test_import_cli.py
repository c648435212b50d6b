"""`arrears import` as a user runs it: a separate process, its exit code,
stdout and stderr (DESIGN.md §4), on a fresh SQLite database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ARREARS = Path(sys.executable).with_name("arrears")


def _arrears(var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARREARS_", "DJANGO_"))}
    env.pop("DATABASE_URL", None)
    env["ARREARS_VAR_DIR"] = str(var_dir)
    return subprocess.run(
        [str(ARREARS), *args],
        env=env,
        cwd=var_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with customer C1, in a directory of its own."""
    path = tmp_path_factory.mktemp("cli")
    result = _arrears(path, "migrate", "-v", "0")
    assert result.returncode == 0, result.stderr
    (path / "c1.csv").write_text("customer_ref,name,country\nC1,Acme,US\n", encoding="utf-8")
    result = _arrears(path, "import", "customers", str(path / "c1.csv"))
    assert result.returncode == 0, result.stderr
    return path


@pytest.mark.skipif(not ARREARS.exists(), reason=f"no arrears entry point at {ARREARS}")
def test_import_exits_0_and_prints_one_json_document(var_dir: Path) -> None:
    path = var_dir / "customers.csv"
    path.write_text("customer_ref,name,country\nC2,Beispiel,DE\nC3,Exemple,FR\n", encoding="utf-8")
    result = _arrears(var_dir, "import", "customers", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "ok": True,
        "kind": "customers",
        "rows": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
    }


@pytest.mark.skipif(not ARREARS.exists(), reason=f"no arrears entry point at {ARREARS}")
def test_import_exits_2_naming_file_line_field_and_reason(var_dir: Path) -> None:
    path = var_dir / "invoices.csv"
    path.write_text(
        "invoice_ref,customer_ref,issue_date,due_date,amount,currency\n"
        "I1,C1,2024-01-01,2024-01-31,10.00,USD\n"
        "I2,C1,2024-01-01,2023-12-31,10.00,USD\n"
        "I3,C9,2024-01-01,2024-01-31,1.5,JPY\n",
        encoding="utf-8",
    )
    result = _arrears(var_dir, "import", "invoices", str(path), "--json")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False
    lines = result.stderr.splitlines()
    assert f"{path}:3: due_date: 2023-12-31 is before the issue date 2024-01-01" in lines
    assert f"{path}:4: amount: 1.5 has more than 0 decimals, the most JPY allows" in lines
    assert f"{path}:4: customer_ref: no customer 'C9' (import customers first)" in lines
    assert len(document["errors"]) == 3
