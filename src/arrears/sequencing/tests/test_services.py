"""Customer policy settings and the selectors that read them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from arrears.domain.segments import Segment
from arrears.ledger.models import Activity, Customer
from arrears.sequencing.selectors import (
    DEFAULT_POLICY_PATH,
    policy_for_customer,
    segment_override_for,
)
from arrears.sequencing.services import customer_policy_set, policy_apply

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer() -> Customer:
    return Customer.objects.create(ref="C1", name="Acme", country="DE",
                                   customer_since=date(2020, 1, 1))  # fmt: skip


def test_a_manual_segment_needs_a_reason_and_is_logged(customer: Customer) -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        customer_policy_set(customer=customer, actor_label="t", segment="risky")
    customer_policy_set(customer=customer, actor_label="alice", segment="risky",
                        segment_reason="two bounced cheques")  # fmt: skip
    override = segment_override_for(customer)
    assert override is not None
    assert (override.segment, override.reason) == (Segment.RISKY, "two bounced cheques")
    entry = Activity.objects.get(verb="policy settings changed")
    assert (entry.customer, entry.actor_label) == (customer, "alice")


def test_a_customer_can_run_another_policy(customer: Customer, tmp_path: Path) -> None:
    gentle = tmp_path / "gentle.yaml"
    gentle.write_text(
        DEFAULT_POLICY_PATH.read_text(encoding="utf-8").replace("name: default", "name: gentle")
    )
    default = tmp_path / "default.yaml"
    default.write_text(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    policy_apply(path=gentle, actor_label="t")
    policy_apply(path=default, actor_label="t")
    assert policy_for_customer(customer).name == "default"
    with pytest.raises(ValueError, match="no policy named"):
        customer_policy_set(customer=customer, actor_label="t", policy_name="harsh")
    customer_policy_set(customer=customer, actor_label="t", policy_name="gentle")
    assert policy_for_customer(customer).label == "gentle v1"
