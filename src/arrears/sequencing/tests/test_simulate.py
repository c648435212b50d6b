"""arrears simulate: the policy replayed over the ledger's history keeps
every guardrail, on a small ledger and on the real IBM AR history, and
leaves the live data untouched."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import holidays
import pytest
from django.core.management import CommandError, call_command

from arrears.domain.policy import TOUCH_KINDS, Guardrails, Kind
from arrears.ledger.importers import ImportSummary
from arrears.ledger.models import Activity, Customer
from arrears.ledger.selectors import invoices_as_of
from arrears.ledger.tests.ar_history import SOURCE, history_imported
from arrears.sequencing.models import Action
from arrears.sequencing.selectors import ACTION_FIELDS
from arrears.sequencing.services import run_daily

from .conftest import AS_OF

Importer = Callable[[str, str], ImportSummary]

GUARDRAILS = Guardrails()  # the shipped default policy keeps the defaults
TOUCHES = {k.value for k in TOUCH_KINDS}
EXEMPT = {s.value for s in GUARDRAILS.exempt_stages}

# More history for the small ledger of conftest.py: I2 is paid on
# 2025-02-20, I4's customer is paused, I5 is credited in full on 2025-04-01;
# C1 also has a later invoice, I6, partly paid.
MORE_INVOICES = """invoice_ref,customer_ref,issue_date,due_date,amount,currency
I6,C1,2025-02-14,2025-03-16,400.00,USD
I7,C4,2025-01-02,2025-01-16,60.00,USD
"""
PAYMENTS = """payment_ref,customer_ref,received_on,amount,currency,invoice_ref
P1,C1,2025-02-20,250.00,USD,I2
P2,C1,2025-04-10,100.00,USD,I6
"""
CREDIT_NOTES = """credit_note_ref,customer_ref,issue_date,amount,currency,invoice_ref
CN1,C4,2025-04-01,75.00,USD,I5
"""


def simulate(*args: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Run ``arrears simulate ARGS --json --out FILE``: the summary and the rows."""
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "actions.csv"
        out = io.StringIO()
        call_command("simulate", *args, "--json", "--out", str(csv_path), stdout=out)
        with csv_path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            assert tuple(reader.fieldnames or ()) == ACTION_FIELDS
            rows = list(reader)
    return json.loads(out.getvalue()), rows


def assert_guardrails_hold(rows: list[dict[str, str]]) -> None:
    """Every invariant of the policy on simulated actions (DESIGN.md, issue 4)."""
    assert rows, "the simulation planned nothing: the invariants would hold vacuously"
    countries = dict(Customer.objects.values_list("ref", "country"))
    calendars: dict[str, Any] = {}
    by_day: dict[date, set[str]] = defaultdict(set)
    for row in rows:
        by_day[date.fromisoformat(row["planned_for"])].update(row["invoice_refs"].split(";"))
    issued: dict[str, date] = {}
    open_on: dict[tuple[str, date], Decimal] = {}
    for day, day_refs in by_day.items():
        as_of = invoices_as_of(day).filter(ref__in=day_refs)
        for ref, issue, amount in as_of.values_list(  # type: ignore[misc]
            "ref", "issue_date", "open_as_of"
        ):
            issued[ref] = issue
            open_on[ref, day] = amount

    touches_by_customer: dict[str, list[date]] = defaultdict(list)
    touches_by_invoice: dict[str, list[date]] = defaultdict(list)
    keys: set[tuple[str, str, str]] = set()
    for row in sorted(rows, key=lambda r: (r["planned_for"], int(r["id"]))):
        day = date.fromisoformat(row["planned_for"])
        refs = row["invoice_refs"].split(";")
        country = countries[row["customer_ref"]]
        where = f"{row['customer_ref']} {row['step']} on {day} for {refs}"
        assert row["status"] == "simulated"
        # At most one action per customer per step per day.
        key = (row["customer_ref"], row["step"], row["planned_for"])
        assert key not in keys, where
        keys.add(key)
        # No contact on weekends or public holidays of the customer's country.
        calendar = calendars.setdefault(country, holidays.country_holidays(country))
        assert day.weekday() < 5, f"weekend: {where}"
        assert day not in calendar, f"holiday {calendar.get(day)}: {where}"
        for ref in refs:
            # Never an action on an invoice paid as of that day (nor one not yet issued).
            assert open_on.get((ref, day), Decimal(0)) > 0, f"paid or not issued: {where}"
        if row["kind"] in TOUCHES and row["stage"] not in EXEMPT:
            for ref in refs:
                earliest = issued[ref] + timedelta(days=GUARDRAILS.earliest_outreach_days)
                assert day >= earliest, f"before the earliest outreach: {where}"
        if row["stage"] == "escalate":
            for ref in refs:
                before = [d for d in touches_by_invoice[ref] if d < day]
                assert len(before) >= GUARDRAILS.min_touches_before_escalation, (
                    f"escalation after {len(before)} touches: {where}"
                )
        if row["kind"] in TOUCHES:
            touches_by_customer[row["customer_ref"]].append(day)
            if row["stage"] not in EXEMPT:
                for ref in refs:
                    touches_by_invoice[ref].append(day)
    # The frequency cap: at most 2 touches per customer in any 7 days.
    cap, days = GUARDRAILS.frequency_cap_touches, GUARDRAILS.frequency_cap_days
    for ref, dates in touches_by_customer.items():
        dates.sort()
        for i in range(len(dates) - cap):
            assert (dates[i + cap] - dates[i]).days >= days, f"{ref} capped: {dates[i : i + 3]}"


# --- a small ledger ----------------------------------------------------------


@pytest.fixture
def history(ledger: None, importer: Importer) -> None:
    importer("invoices", MORE_INVOICES)
    importer("payments", PAYMENTS)
    importer("credit-notes", CREDIT_NOTES)


@pytest.mark.django_db
def test_a_simulation_keeps_every_guardrail_and_stores_nothing(history: None) -> None:
    run_daily(as_of=AS_OF)  # live actions exist; the simulation neither reads nor changes them
    stored = list(Action.objects.order_by("id").values())
    activities = Activity.objects.count()

    summary, rows = simulate("--from", "2025-01-01", "--to", "2025-06-30")

    assert list(Action.objects.order_by("id").values()) == stored
    assert Activity.objects.count() == activities
    assert_guardrails_hold(rows)
    assert [int(r["id"]) for r in rows] == list(range(1, len(rows) + 1))
    assert summary["actions"] == len(rows)
    assert sum(summary["by_kind"].values()) == sum(summary["by_step"].values()) == len(rows)
    # Paid on 2025-02-20: nothing after; credited on 2025-04-01: nothing after.
    assert all(r["planned_for"] < "2025-02-20" for r in rows if "I2" in r["invoice_refs"])
    assert all(r["planned_for"] < "2025-04-01" for r in rows if "I5" in r["invoice_refs"])
    # The paused customer gets nothing, the white-glove one only calls.
    assert not [r for r in rows if r["customer_ref"] == "C3"]
    assert {r["kind"] for r in rows if r["customer_ref"] == "C2"} == {Kind.CALL.value}
    # C1's old invoices go all the way to escalation, after four touches.
    assert {"I1"} <= {
        ref for r in rows if r["stage"] == "escalate" for ref in r["invoice_refs"].split(";")
    }
    assert summary["invoices_reaching_escalation"] >= 1


@pytest.mark.django_db
def test_the_summary_has_exactly_the_contract_keys(history: None) -> None:
    summary, rows = simulate("--from", "2025-03-10", "--to", "2025-03-16")
    assert list(summary) == [
        "from", "to", "days", "customers", "invoices", "actions", "by_kind", "by_step",
        "touches_per_invoice", "paid_before_first_touch_share",
        "invoices_reaching_escalation", "seconds",
    ]  # fmt: skip
    assert (summary["from"], summary["to"], summary["days"]) == ("2025-03-10", "2025-03-16", 7)
    # C1 (I1, I6), C2 (I3), C3 (I4) and C4 (I5, I7) have open invoices that week.
    assert (summary["customers"], summary["invoices"]) == (4, 6)
    assert summary["actions"] == len(rows) > 0


@pytest.mark.django_db
def test_earlier_simulated_days_are_history_so_a_day_never_repeats_a_step(
    history: None,
) -> None:
    _, week = simulate("--from", "2025-03-10", "--to", "2025-03-16")
    _, day = simulate("--from", "2025-03-10", "--to", "2025-03-10")
    first = [r for r in week if r["planned_for"] == "2025-03-10"]
    assert [(r["customer_ref"], r["step"]) for r in first] == [
        (r["customer_ref"], r["step"]) for r in day
    ]
    steps = [(r["customer_ref"], r["invoice_refs"], r["step"]) for r in week]
    assert len(steps) == len(set(steps)), "a step fired twice for the same invoices"


@pytest.mark.django_db
def test_simulate_rejects_from_after_to_with_exit_2() -> None:
    with pytest.raises(CommandError) as raised:
        call_command("simulate", "--from", "2025-03-02", "--to", "2025-03-01")
    assert raised.value.returncode == 2
    assert "after" in str(raised.value)


@pytest.mark.parametrize("args", [["--from", "2025-13-01", "--to", "2025-03-01"], ["--from", "x"]])
def test_simulate_rejects_bad_dates_with_exit_2(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "arrears.cli", "simulate", *args], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert args[1] in proc.stderr


# --- the real history ------------------------------------------------------------


@pytest.fixture(scope="module")
def ibm_history(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """The IBM AR history imported once for the module, rolled back afterwards."""
    with django_db_blocker.unblock(), history_imported(tmp_path_factory.mktemp("ar-history")):
        yield


@pytest.mark.skipif(not SOURCE.is_file(), reason=f"IBM AR history not found at {SOURCE}")
@pytest.mark.django_db
def test_a_simulation_over_the_real_history_keeps_every_guardrail(ibm_history: None) -> None:
    stored = Action.objects.count()
    summary, rows = simulate("--from", "2013-01-01", "--to", "2013-04-30")
    assert Action.objects.count() == stored == 0
    assert_guardrails_hold(rows)
    assert summary["actions"] == len(rows)
    assert summary["customers"] > 90 and summary["invoices"] > 400
    assert 0 < summary["paid_before_first_touch_share"] < 1


@pytest.mark.django_db
def test_a_candidate_policy_is_replayed_for_everyone(history: None, tmp_path: Path) -> None:
    # A candidate that only ever calls, one day after due, for every customer.
    candidate = tmp_path / "calls.yaml"
    candidate.write_text(
        "name: calls\n"
        "steps:\n"
        "  - {id: call, stage: inquire, kind: call, script: inquiry-call,"
        " trigger: {from: due, days: 1}}\n"
    )
    summary, rows = simulate(
        "--from", "2025-01-01", "--to", "2025-06-30", "--policy", str(candidate)
    )
    assert rows and {r["step"] for r in rows} == {"call"}
    # The paused customer is still left alone: the candidate changes the steps, not the facts.
    assert not [r for r in rows if r["customer_ref"] == "C3"]
    assert summary["by_kind"] == {"call": len(rows)}


@pytest.mark.django_db
def test_a_bad_candidate_policy_is_refused_with_its_line(tmp_path: Path) -> None:
    candidate = tmp_path / "bad.yaml"
    candidate.write_text("name: bad\nsteps:\n  - {id: x, stage: nowhere}\n")
    with pytest.raises(CommandError) as raised:
        call_command(
            "simulate", "--from", "2025-01-01", "--to", "2025-01-31", "--policy", str(candidate)
        )
    assert raised.value.returncode == 2 and f"{candidate}:3:" in str(raised.value)
