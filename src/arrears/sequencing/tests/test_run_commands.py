"""arrears run, actions and explain: the command-line contracts."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from arrears.sequencing.models import Action

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def arrears(*args: str) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except CommandError as exc:
        return Outcome(exc.returncode, out.getvalue(), str(exc))
    return Outcome(0, out.getvalue(), err.getvalue())


def test_run_json_has_exactly_the_contract_keys(ledger: None) -> None:
    result = arrears("run", "--as-of", "2025-03-12", "--json")
    assert result.code == 0
    doc = json.loads(result.stdout)
    assert list(doc) == [
        "as_of",
        "customers_evaluated",
        "actions_created",
        "by_kind",
        "already_planned",
        "seconds",
    ]
    assert doc["as_of"] == "2025-03-12"
    assert (doc["customers_evaluated"], doc["actions_created"], doc["already_planned"]) == (4, 2, 0)
    assert doc["by_kind"]["email"] == 1 and doc["by_kind"]["call"] == 1
    assert sum(doc["by_kind"].values()) == 2
    assert isinstance(doc["seconds"], float)
    again = json.loads(arrears("run", "--as-of", "2025-03-12", "--json").stdout)
    assert (again["actions_created"], again["already_planned"]) == (0, 2)


def test_run_dry_run_and_partition(ledger: None) -> None:
    dry = json.loads(arrears("run", "--as-of", "2025-03-12", "--dry-run", "--json").stdout)
    assert dry["actions_created"] == 2 and not Action.objects.exists()
    part = arrears("run", "--as-of", "2025-03-12", "--partition", "0/2")
    assert part.code == 0 and "customers evaluated" in part.stdout


@pytest.mark.parametrize("args", [["--as-of", "12/03/2025"], ["--partition", "2/2"]])
def test_run_rejects_bad_input_with_exit_2(args: list[str]) -> None:
    # Arguments are checked before the database is opened.
    proc = subprocess.run(
        [sys.executable, "-m", "arrears.cli", "run", *args], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert args[1] in proc.stderr


def test_run_enqueue_queues_one_task_per_partition(ledger: None) -> None:
    from django_tasks_db.models import DBTaskResult

    doc = json.loads(arrears("run", "--as-of", "2025-03-12", "--enqueue", "3", "--json").stdout)
    assert (doc["enqueued"], len(doc["task_ids"])) == (3, 3)
    assert DBTaskResult.objects.count() == 3
    assert not Action.objects.exists()


def test_actions_json_and_csv(ledger: None) -> None:
    arrears("run", "--as-of", "2025-03-12")
    rows = json.loads(arrears("actions", "--as-of", "2025-03-12", "--format", "json").stdout)
    assert [list(r) for r in rows] == [
        ["id", "customer_ref", "invoice_refs", "kind", "stage", "step", "planned_for",
         "status", "reason"]
    ] * 2  # fmt: skip
    first = rows[0]
    assert (first["customer_ref"], first["invoice_refs"], first["kind"], first["stage"]) == (
        "C1",
        ["I1", "I2"],
        "email",
        "inquire",
    )
    assert (first["step"], first["planned_for"], first["status"]) == (
        "inquiry",
        "2025-03-12",
        "planned",
    )
    assert first["reason"].startswith("inquiry (inquire, email): 2 invoice(s)")
    only_c2 = json.loads(arrears("actions", "--customer", "C2", "--format", "json").stdout)
    assert [r["customer_ref"] for r in only_c2] == ["C2"]
    assert json.loads(arrears("actions", "--as-of", "2025-03-13", "--format", "json").stdout) == []
    text = arrears("actions", "--format", "csv").stdout
    table = list(csv.DictReader(io.StringIO(text)))
    assert list(table[0]) == list(first)
    assert table[0]["invoice_refs"] == "I1;I2"
    assert table[0]["id"] == str(first["id"])
    assert "2 action(s)" in arrears("actions").stdout


def test_explain_names_why_an_invoice_waits_and_when_it_is_next(ledger: None) -> None:
    arrears("run", "--as-of", "2025-03-12")
    doc: dict[str, Any] = json.loads(
        arrears("explain", "C4", "--as-of", "2025-03-12", "--json").stdout
    )
    assert doc["policy"] == {"name": "default", "version": 0}
    assert doc["segment"] == "new"
    assert doc["segment_reason"].startswith("new: 0 invoice(s) paid")
    (inv,) = doc["invoices"]
    assert inv["invoice_ref"] == "I5"
    assert inv["outcome"] == "too_early"
    assert inv["reason"] == ("too early: confirm-delivery is due on 2025-03-15 (issue+5 days)")
    # The 15th is a Saturday: the call is planned for Monday.
    assert (inv["next_step"], inv["next_date"]) == ("confirm-delivery", "2025-03-17")
    assert doc["planned_actions"] == []
    text = arrears("explain", "C4", "--as-of", "2025-03-12").stdout
    assert "too early: confirm-delivery is due on 2025-03-15" in text
    assert "next: confirm-delivery on 2025-03-17" in text


def test_explain_after_the_run_shows_the_fired_step_and_the_planned_action(ledger: None) -> None:
    arrears("run", "--as-of", "2025-03-12")
    doc = json.loads(arrears("explain", "C1", "--as-of", "2025-03-12", "--json").stdout)
    assert [i["outcome"] for i in doc["invoices"]] == ["already_today", "already_today"]
    assert doc["invoices"][0]["reason"] == "already acted on today (inquiry)"
    assert [a["step"] for a in doc["planned_actions"]] == ["inquiry"]


def test_explain_an_unknown_customer_exits_2(ledger: None) -> None:
    result = arrears("explain", "NOPE")
    assert result.code == 2
    assert "unknown customer 'NOPE'" in result.stderr
