"""Approvals: four eyes and the amount matrix, enforced in the service and
the database, every decision in the activity log."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.test import Client, override_settings

from arrears.cases.approval_models import Approval, ApprovalStatus
from arrears.cases.approvals import (
    ApprovalForbidden,
    ApprovalRejected,
    approval_decide,
    approval_request,
    approvals_waiting_for,
    may_decide,
    required_role,
)
from arrears.ledger.models import Activity, Customer
from arrears.settings import approval_limits

from .conftest import People

pytestmark = pytest.mark.django_db


def _request(customer: Customer, people: People, amount: str, kind: str = "waiver") -> Approval:
    return approval_request(
        kind=kind,
        customer=customer,
        amount=Decimal(amount),
        currency="EUR",
        subject=f"charge:{amount}",
        requested_by=people.collector,
        reason="goodwill after a late delivery",
    )


def test_the_default_matrix_sends_each_amount_to_the_lowest_role_allowed() -> None:
    assert required_role(kind="write_off", amount=Decimal("500")) == "collector"
    assert required_role(kind="write_off", amount=Decimal("500.01")) == "manager"
    assert required_role(kind="write_off", amount=Decimal("10000")) == "manager"
    assert required_role(kind="write_off", amount=Decimal("10000.01")) == "finance"


def test_holds_releases_and_placements_need_a_manager_whatever_the_amount() -> None:
    for kind in ("credit_hold", "order_release", "agency_placement"):
        assert required_role(kind=kind, amount=Decimal("1")) == "manager"
    # A hold protects money: its size does not call for finance; a placement
    # costs a fee on it, so the matrix applies above a manager.
    assert required_role(kind="credit_hold", amount=Decimal("50000")) == "manager"
    assert required_role(kind="agency_placement", amount=Decimal("50000")) == "finance"


@override_settings(ARREARS_APPROVAL_LIMITS=approval_limits("collector:100,manager:"))
def test_the_matrix_follows_the_setting() -> None:
    assert required_role(kind="write_off", amount=Decimal("150")) == "manager"
    assert required_role(kind="write_off", amount=Decimal("1000000")) == "manager"


@override_settings(ARREARS_APPROVAL_LIMITS=approval_limits("collector:100,manager:1000"))
def test_an_amount_above_every_limit_cannot_be_requested(debtor: Customer, people: People) -> None:
    with pytest.raises(ApprovalRejected, match="no role may approve"):
        _request(debtor, people, "5000")


@pytest.mark.parametrize(
    "raw",
    ["collector", "collector:abc", "collector:-5", "manager:1000,collector:500", "a:,b:5", "A:1"],
)
def test_a_bad_matrix_setting_fails_loudly(raw: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="ARREARS_APPROVAL_LIMITS"):
        approval_limits(raw)


def test_the_requester_never_decides_their_own_request(debtor: Customer, people: People) -> None:
    approval = _request(debtor, people, "100")
    assert not may_decide(people.collector, approval)
    with pytest.raises(ApprovalForbidden, match="four eyes"):
        approval_decide(approval=approval, approve=True, by=people.collector, note="")
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


def test_the_database_refuses_a_decision_by_the_requester(debtor: Customer, people: People) -> None:
    approval = _request(debtor, people, "100")
    with pytest.raises(IntegrityError), transaction.atomic():
        Approval.objects.filter(pk=approval.pk).update(decided_by=people.collector)


def test_another_collector_approves_within_their_limit(debtor: Customer, people: People) -> None:
    approval = _request(debtor, people, "400")
    decided = approval_decide(
        approval=approval, approve=True, by=people.other_collector, note="fair"
    )
    assert decided.status == ApprovalStatus.APPROVED
    assert decided.decided_by == people.other_collector
    entry = Activity.objects.get(verb="approval approved", subject_ref=str(approval.pk))
    assert entry.actor == people.other_collector
    assert entry.why == "fair"
    assert entry.data["requested_by"] == "colin"


def test_a_collector_cannot_approve_above_their_limit(debtor: Customer, people: People) -> None:
    approval = _request(debtor, people, "2000")
    with pytest.raises(ApprovalForbidden, match="needs a manager"):
        approval_decide(approval=approval, approve=True, by=people.other_collector, note="")
    assert approval_decide(approval=approval, approve=True, by=people.manager, note="ok").status


def test_above_a_managers_limit_only_finance_decides(debtor: Customer, people: People) -> None:
    approval = _request(debtor, people, "25000")
    with pytest.raises(ApprovalForbidden, match="needs a finance"):
        approval_decide(approval=approval, approve=True, by=people.manager, note="")
    decided = approval_decide(approval=approval, approve=True, by=people.finance, note="")
    assert decided.status == ApprovalStatus.APPROVED


def test_someone_outside_the_matrix_decides_nothing(debtor: Customer, people: People) -> None:
    approval = _request(debtor, people, "1")
    with pytest.raises(ApprovalForbidden):
        approval_decide(approval=approval, approve=True, by=people.outsider, note="")


def test_rejecting_needs_a_reason_and_is_logged(debtor: Customer, people: People) -> None:
    approval = _request(debtor, people, "300")
    with pytest.raises(ApprovalRejected, match="say why"):
        approval_decide(approval=approval, approve=False, by=people.manager, note=" ")
    approval_decide(approval=approval, approve=False, by=people.manager, note="no grounds")
    entry = Activity.objects.get(verb="approval rejected")
    assert (entry.actor, entry.why) == (people.manager, "no grounds")


def test_a_decided_request_cannot_be_decided_again(debtor: Customer, people: People) -> None:
    approval = _request(debtor, people, "300")
    approval_decide(approval=approval, approve=True, by=people.manager, note="")
    with pytest.raises(ApprovalRejected, match="already approved"):
        approval_decide(approval=approval, approve=False, by=people.other_manager, note="no")


def test_one_request_waits_per_subject(debtor: Customer, people: People) -> None:
    _request(debtor, people, "300")
    with pytest.raises(ApprovalRejected, match="already waiting"):
        _request(debtor, people, "300")


def test_the_queue_shows_what_each_person_may_decide(debtor: Customer, people: People) -> None:
    small = _request(debtor, people, "300")
    large = _request(debtor, people, "3000")
    huge = _request(debtor, people, "30000")
    assert approvals_waiting_for(people.collector) == []  # all their own
    assert approvals_waiting_for(people.other_collector) == [small]
    assert approvals_waiting_for(people.manager) == [small, large]
    assert approvals_waiting_for(people.finance) == [small, large, huge]
    assert approvals_waiting_for(people.outsider) == []


# --- the approvals page ---------------------------------------------------------


def _signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def test_the_approvals_page_shows_a_manager_what_waits_for_them(
    debtor: Customer, people: People
) -> None:
    small = _request(debtor, people, "300")
    huge = _request(debtor, people, "30000")
    page = _signed_in(people.manager).get("/cases/approvals/")
    assert page.status_code == 200
    assert f'id="approval-{small.pk}"' in page.content.decode()
    assert f'id="approval-{huge.pk}"' not in page.content.decode()  # finance's
    assert Client().get("/cases/approvals/").status_code == 302  # sign in first


def test_a_manager_approves_and_rejects_on_the_page(debtor: Customer, people: People) -> None:
    first = _request(debtor, people, "300")
    second = _request(debtor, people, "301")
    manager = _signed_in(people.manager)
    response = manager.post(
        f"/cases/approvals/{first.pk}/decision", {"decision": "approve", "note": "fine"}
    )
    assert response.status_code == 302
    manager.post(f"/cases/approvals/{second.pk}/decision", {"decision": "reject", "note": ""})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.decision_note) == (ApprovalStatus.APPROVED, "fine")
    assert second.status == ApprovalStatus.PENDING  # a rejection needs a note
    manager.post(f"/cases/approvals/{second.pk}/decision", {"decision": "reject", "note": "no"})
    second.refresh_from_db()
    assert second.status == ApprovalStatus.REJECTED


def test_the_requester_gets_403_deciding_on_the_page(debtor: Customer, people: People) -> None:
    approval = _request(debtor, people, "100")
    page = _signed_in(people.collector).post(
        f"/cases/approvals/{approval.pk}/decision", {"decision": "approve"}
    )
    assert page.status_code == 403
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
