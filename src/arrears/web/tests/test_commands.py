"""The demo, serve and worker commands."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django_tasks import TaskResultStatus, task
from pytest_django import Settings

from arrears.ledger.demo import DEMO_ACTOR
from arrears.ledger.models import Customer, ImportRun, Invoice
from arrears.web.management.commands.demo import demo_database_file

from .conftest import Loader


@pytest.fixture
def var_dir(settings: Settings, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


def run(*args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


@pytest.mark.django_db
def test_demo_loads_the_demo_and_ends_with_the_login(var_dir: Path) -> None:
    output = run("demo", "--no-serve", "--customers", "12", "--port", "8123")

    last = output.splitlines()[-3:]
    assert last[0] == "URL: http://127.0.0.1:8123/"
    assert last[1] == "Username: demo"
    assert last[2].startswith("Password: ")
    password = last[2].removeprefix("Password: ")
    user = authenticate(username="demo", password=password)
    assert isinstance(user, User) and user.is_staff and user.is_superuser
    assert Customer.objects.count() == 12
    assert Invoice.objects.exists()
    assert ImportRun.objects.filter(actor_label=DEMO_ACTOR).count() == 4
    assert sorted(p.name for p in (var_dir / "demo").iterdir()) == [
        "credit-notes.csv",
        "customers.csv",
        "invoices.csv",
        "payments.csv",
    ]


@pytest.mark.django_db
def test_demo_run_twice_keeps_the_data_and_gives_a_new_password(var_dir: Path) -> None:
    first = run("demo", "--no-serve", "--customers", "5").splitlines()[-1]
    invoices = Invoice.objects.count()

    output = run("demo", "--no-serve", "--customers", "5")

    assert "already loaded" in output
    assert Invoice.objects.count() == invoices
    assert output.splitlines()[-1] != first
    password = output.splitlines()[-1].removeprefix("Password: ")
    assert authenticate(username="demo", password=password) is not None


def test_demo_refuses_a_database_holding_other_data(var_dir: Path, load: Loader) -> None:
    load("customers", [{"customer_ref": "REAL-1", "name": "A real customer", "country": "US"}])

    with pytest.raises(CommandError, match="not the demo's"):
        run("demo", "--no-serve")

    assert list(Customer.objects.values_list("ref", flat=True)) == ["REAL-1"]


def test_demo_refuses_to_run_in_production(settings: Settings) -> None:
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="ARREARS_PRODUCTION") as exc:
        run("demo", "--no-serve")
    assert exc.value.returncode == 2


def test_only_the_default_sqlite_file_under_var_counts_as_the_demo_database(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.VAR_DIR = tmp_path
    db = dict(connections["default"].settings_dict)
    monkeypatch.setattr(connections["default"], "settings_dict", db)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    db.update(ENGINE="django.db.backends.sqlite3", NAME=str(tmp_path / "arrears.sqlite3"))
    assert demo_database_file() == tmp_path / "arrears.sqlite3"

    db["NAME"] = str(tmp_path / "other.sqlite3")
    assert demo_database_file() is None

    db["NAME"] = str(tmp_path / "arrears.sqlite3")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'arrears.sqlite3'}")
    assert demo_database_file() is None, "a DATABASE_URL database is never dropped"


@pytest.mark.django_db
def test_serve_reports_a_port_that_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=f"cannot listen on 127.0.0.1:{port}"):
            run("serve", "--port", str(port))


def test_demo_checks_the_port_before_setting_up(var_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=f"cannot listen on 127.0.0.1:{port}"):
            run("demo", "--port", str(port))
    assert not (var_dir / "demo").exists()


def test_serve_refuses_a_port_out_of_range() -> None:
    with pytest.raises(CommandError, match="--port"):
        run("serve", "--port", "70000")


@task()
def add(a: int, b: int) -> int:
    return a + b


# The worker closes connections that are inside a transaction (as a real
# process would find them), so these tests run outside the test transaction.
@pytest.mark.django_db(transaction=True)
def test_worker_once_exits_on_an_empty_queue() -> None:
    run("worker", "--once")  # returns instead of waiting for work


@pytest.mark.django_db(transaction=True)
def test_worker_once_processes_queued_tasks_then_exits() -> None:
    results = [add.enqueue(2, 3), add.enqueue(4, 5)]

    run("worker", "--once")

    for result in results:
        result.refresh()
        assert result.status == TaskResultStatus.SUCCESSFUL
    assert [r.return_value for r in results] == [5, 9]


def test_arrears_worker_once_exits_0_on_an_empty_queue(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["ARREARS_VAR_DIR"] = str(tmp_path)
    arrears = [sys.executable, "-m", "arrears.cli"]
    subprocess.run([*arrears, "migrate", "-v", "0"], env=env, check=True, timeout=120)

    done = subprocess.run(
        [*arrears, "worker", "--once"], env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
