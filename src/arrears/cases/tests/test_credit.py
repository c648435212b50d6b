"""Credit hold and order release: who may place and lift a hold, the rules
that propose one, what order systems see, and the signed webhook, received
by a real local HTTP server that checks the signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from django.utils import timezone

from arrears.cases.approval_models import (
    Approval,
    CreditHold,
    OrderRelease,
    WebhookDelivery,
    WebhookStatus,
)
from arrears.cases.approvals import ApprovalForbidden, approval_decide
from arrears.cases.credit import (
    CreditRejected,
    credit_hold_place,
    credit_hold_propose,
    credit_hold_release,
    credit_rules_review,
    credit_status,
    order_release_record,
)
from arrears.cases.models import Promise, PromiseStatus
from arrears.cases.tasks import cases_pass
from arrears.cases.webhooks import webhooks_deliver
from arrears.comms.models import Task, TaskKind, TaskStatus
from arrears.ledger.models import Activity, Customer, Payment
from arrears.ledger.services import documents_post
from arrears.web.worker_loop import WorkerLoop

from .conftest import People

pytestmark = pytest.mark.django_db

SECRET = "a webhook secret of some length"


@dataclass
class Receiver:
    """A local HTTP server standing in for an order system: it checks each
    POST's signature and answers with the next queued status (200 when
    none is queued)."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    answers: list[int] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, self.headers.get("X-Arrears-Signature", "")):
                state.bad_signatures += 1
                self.send_response(401)
            else:
                status = state.answers.pop(0) if state.answers else 200
                if status == 200:
                    state.received.append(
                        {
                            "event": self.headers["X-Arrears-Event"],
                            "delivery": self.headers["X-Arrears-Delivery"],
                            "body": json.loads(body),
                        }
                    )
                self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/credit"
    with override_settings(ARREARS_WEBHOOK_URL=state.url, ARREARS_WEBHOOK_SECRET=SECRET):
        yield state
    server.shutdown()
    server.server_close()


# --- who may hold ---------------------------------------------------------------


def test_a_manager_places_a_hold_and_order_systems_see_it(debtor: Customer, people: People) -> None:
    before = credit_status(customer=debtor)
    assert not before.held
    credit_hold_place(customer=debtor, reason="90 days past due", by=people.manager)
    status = credit_status(customer=debtor)
    assert status.held
    assert status.reason == "90 days past due"
    assert status.since is not None
    assert status.open == {"EUR": Decimal("22300")}
    assert status.overdue == {"EUR": Decimal("22300")}
    assert status.credit_limit == Decimal("15000")
    assert status.available == Decimal("-7300")
    entry = Activity.objects.get(verb="credit hold placed")
    assert (entry.actor, entry.why) == (people.manager, "90 days past due")


def test_a_collector_cannot_place_or_lift_a_hold(debtor: Customer, people: People) -> None:
    with pytest.raises(ApprovalForbidden):
        credit_hold_place(customer=debtor, reason="late", by=people.collector)
    credit_hold_place(customer=debtor, reason="late", by=people.manager)
    with pytest.raises(ApprovalForbidden):
        credit_hold_release(customer=debtor, reason="paid", by=people.collector)
    assert credit_status(customer=debtor).held


def test_a_customer_is_held_once_and_released_once(debtor: Customer, people: People) -> None:
    credit_hold_place(customer=debtor, reason="late", by=people.manager)
    with pytest.raises(CreditRejected, match="already on credit hold"):
        credit_hold_place(customer=debtor, reason="again", by=people.other_manager)
    hold = credit_hold_release(customer=debtor, reason="paid in part", by=people.manager)
    assert hold.released_by == people.manager
    assert not credit_status(customer=debtor).held
    with pytest.raises(CreditRejected, match="not on credit hold"):
        credit_hold_release(customer=debtor, reason="again", by=people.manager)


def test_a_policy_proposal_becomes_a_hold_once_another_manager_approves(
    debtor: Customer, people: People
) -> None:
    task = Task.objects.create(
        kind=TaskKind.CREDIT_HOLD,
        customer=debtor,
        title="Credit hold",
        reason="25 days past due",
        due_at=timezone.now(),
        created_at=timezone.now(),
    )
    approval = credit_hold_propose(
        customer=debtor, reason="policy: 25 days past due", by=people.manager, task=task
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert approval.required_role == "manager"
    with pytest.raises(ApprovalForbidden, match="four eyes"):
        approval_decide(approval=approval, approve=True, by=people.manager, note="")
    with pytest.raises(ApprovalForbidden):
        approval_decide(approval=approval, approve=True, by=people.collector, note="")
    assert not credit_status(customer=debtor).held
    approval_decide(approval=approval, approve=True, by=people.other_manager, note="agreed")
    hold = CreditHold.objects.get(customer=debtor)
    assert (hold.rule, hold.approval, hold.placed_by) == (
        "approved",
        approval,
        people.other_manager,
    )


def test_a_rejected_proposal_places_no_hold(debtor: Customer, people: People) -> None:
    approval = credit_hold_propose(customer=debtor, reason="late", by=people.collector)
    approval_decide(approval=approval, approve=False, by=people.manager, note="good customer")
    assert not CreditHold.objects.exists()


def test_the_rules_propose_holds_for_late_over_limit_and_broken_promises(
    debtor: Customer, people: People
) -> None:
    today = timezone.localdate()
    fine = Customer.objects.create(ref="C-FINE", name="Fine", country="GB", currency="EUR")
    broken = Customer.objects.create(ref="C-BROKE", name="Broke", country="GB", currency="EUR")
    Promise.objects.create(
        customer=broken,
        promised_on=today - timedelta(days=10),
        status=PromiseStatus.BROKEN,
        source="call",
        created_at=timezone.now() - timedelta(days=20),
        created_by_label="t",
        resolved_at=timezone.now() - timedelta(days=5),
    )
    assert credit_rules_review(as_of=today) == {"proposed": 2, "waiting": 0}
    reasons = dict(Approval.objects.values_list("customer__ref", "reason"))
    assert set(reasons) == {"C-LATE", "C-BROKE"}
    assert "120 days past due" in reasons["C-LATE"]
    assert "over the credit limit of 15000.00" in reasons["C-LATE"]
    assert "promise to pay was broken" in reasons["C-BROKE"]
    assert fine.ref not in reasons
    # A second review proposes nothing new.
    assert credit_rules_review(as_of=today) == {"proposed": 0, "waiting": 2}


# --- order release ---------------------------------------------------------------


def _partial_payment(customer: Customer) -> Payment:
    payment = Payment(
        ref="PAY-PART",
        customer=customer,
        received_on=timezone.localdate(),
        amount=Decimal("1000"),
        currency="EUR",
    )
    documents_post([payment])
    return payment


def test_an_order_is_released_for_a_partial_payment_with_its_approver(
    debtor: Customer, people: People
) -> None:
    credit_hold_place(customer=debtor, reason="late", by=people.manager)
    payment = _partial_payment(debtor)
    release = order_release_record(
        customer=debtor,
        order_ref="SO-77",
        amount=Decimal("450"),
        currency="EUR",
        payment_ref="PAY-PART",
        approver=people.other_manager,
    )
    assert (release.payment, release.approver) == (payment, people.other_manager)
    assert credit_status(customer=debtor).held  # the hold stays for other orders
    entry = Activity.objects.get(verb="order released")
    assert entry.actor == people.other_manager
    assert "against payment PAY-PART" in entry.why


def test_order_releases_need_a_hold_a_manager_and_the_customers_payment(
    debtor: Customer, people: People
) -> None:
    def release(approver: User, payment_ref: str = "") -> OrderRelease:
        return order_release_record(
            customer=debtor,
            order_ref="SO-1",
            amount=Decimal("10"),
            currency="EUR",
            payment_ref=payment_ref,
            approver=approver,
        )

    with pytest.raises(CreditRejected, match="not on credit hold"):
        release(people.manager)
    credit_hold_place(customer=debtor, reason="late", by=people.manager)
    with pytest.raises(ApprovalForbidden):
        release(people.collector)
    with pytest.raises(CreditRejected, match="no payment"):
        release(people.manager, payment_ref="NOPE")
    release(people.manager)
    with pytest.raises(CreditRejected, match="already released"):
        release(people.manager)
    assert OrderRelease.objects.count() == 1


# --- the webhook -------------------------------------------------------------------


def test_without_a_webhook_url_no_event_is_written(debtor: Customer, people: People) -> None:
    credit_hold_place(customer=debtor, reason="late", by=people.manager)
    assert not WebhookDelivery.objects.exists()


def test_hold_changes_reach_the_webhook_signed(
    debtor: Customer, people: People, receiver: Receiver
) -> None:
    credit_hold_place(customer=debtor, reason="late", by=people.manager)
    credit_hold_release(customer=debtor, reason="paid", by=people.manager)
    # Written with the hold, sent by the worker: nothing has left yet.
    assert receiver.received == []
    summary = webhooks_deliver(worker="w1", now=timezone.now())
    assert summary.sent == 2
    assert receiver.bad_signatures == 0
    placed, released = receiver.received
    assert placed["event"] == "credit_hold.placed"
    assert placed["body"]["customer_ref"] == "C-LATE"
    assert placed["body"]["credit_status"]["held"] is True
    assert placed["body"]["credit_status"]["reason"] == "late"
    assert placed["body"]["credit_status"]["available_credit"] == "-7300.00"
    assert released["event"] == "credit_hold.released"
    assert released["body"]["credit_status"]["held"] is False
    assert placed["delivery"] == str(placed["body"]["id"])
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {WebhookStatus.SENT}


def test_a_failed_webhook_is_retried_later_and_never_lost(
    debtor: Customer, people: People, receiver: Receiver
) -> None:
    receiver.answers = [503]
    credit_hold_place(customer=debtor, reason="late", by=people.manager)
    now = timezone.now()
    assert webhooks_deliver(worker="w1", now=now).retried == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 503")
    assert delivery.next_attempt_at == now + timedelta(minutes=1)
    # Not due yet: nothing is sent.
    assert webhooks_deliver(worker="w1", now=now + timedelta(seconds=30)).sent == 0
    assert webhooks_deliver(worker="w1", now=now + timedelta(minutes=1)).sent == 1
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)


def test_a_webhook_that_never_answers_gives_up_visibly(
    debtor: Customer, people: People, receiver: Receiver
) -> None:
    receiver.answers = [500] * 10
    credit_hold_place(customer=debtor, reason="late", by=people.manager)
    now = timezone.now()
    for _ in range(7):
        now += timedelta(days=1)
        webhooks_deliver(worker="w1", now=now)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 7, "HTTP 500")


def test_a_signature_under_another_secret_is_refused_by_the_receiver(
    debtor: Customer, people: People, receiver: Receiver
) -> None:
    credit_hold_place(customer=debtor, reason="late", by=people.manager)
    with override_settings(ARREARS_WEBHOOK_SECRET="not the receivers secret"):
        assert webhooks_deliver(worker="w1", now=timezone.now()).retried == 1
    assert receiver.bad_signatures == 1
    assert receiver.received == []


def test_the_worker_pass_delivers_order_release_events(
    debtor: Customer, people: People, receiver: Receiver
) -> None:
    credit_hold_place(customer=debtor, reason="late", by=people.manager)
    _partial_payment(debtor)
    order_release_record(
        customer=debtor,
        order_ref="SO-9",
        amount=Decimal("99"),
        currency="EUR",
        payment_ref="PAY-PART",
        approver=people.manager,
    )
    assert cases_pass(worker="w1", now=timezone.now())["webhooks_sent"] == 2
    release = receiver.received[1]
    assert release["event"] == "order.released"
    assert release["body"]["order_ref"] == "SO-9"
    assert release["body"]["payment_ref"] == "PAY-PART"


@pytest.mark.django_db(transaction=True)
def test_the_arrears_worker_loop_sends_webhooks(
    debtor: Customer, people: People, receiver: Receiver
) -> None:
    credit_hold_place(customer=debtor, reason="late", by=people.manager)
    result = WorkerLoop(queues=["*"], schedule=False).run_pass()
    assert result.errors == []
    assert [r["event"] for r in receiver.received] == ["credit_hold.placed"]
    assert WebhookDelivery.objects.get().status == WebhookStatus.SENT
