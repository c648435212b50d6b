"""A/B splits: a share of the customers runs a variant policy, chosen by a
stable hash of their ref."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from arrears.ledger.models import Activity, Customer
from arrears.sequencing.selectors import (
    DEFAULT_POLICY_PATH,
    PolicyBook,
    policy_for_customer,
    split_bucket,
)
from arrears.sequencing.services import (
    customer_policy_set,
    policy_apply,
    policy_split_start,
    policy_split_stop,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def policies(tmp_path: Path) -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    variant = tmp_path / "brisk.yaml"
    variant.write_text(text.replace("name: default", "name: brisk"))
    default = tmp_path / "default.yaml"
    default.write_text(text)
    policy_apply(path=variant, actor_label="t")
    policy_apply(path=default, actor_label="t")


def test_the_bucket_is_stable_and_spread() -> None:
    assert split_bucket("C-1") == split_bucket("C-1")
    buckets = [split_bucket(f"C-{n}") for n in range(2000)]
    assert all(0 <= b < 100 for b in buckets)
    in_half = sum(b < 50 for b in buckets)
    # A fair hash puts about half below 50 (binomial sd ~22 for 2000).
    assert 900 < in_half < 1100


def test_the_share_of_customers_runs_the_variant(policies: None) -> None:
    policy_split_start(variant_name="brisk", share_percent=30, actor_label="manager")
    book = PolicyBook()
    refs = [f"C-{n}" for n in range(300)]
    variant = {r for r in refs if book.for_customer(r).name == "brisk"}
    assert variant == {r for r in refs if split_bucket(r) < 30}
    assert 60 < len(variant) < 120
    entry = Activity.objects.get(verb="policy split started")
    assert entry.data == {"variant": "brisk", "share_percent": 30}


def test_a_customer_with_its_own_policy_is_not_split(policies: None) -> None:
    policy_split_start(variant_name="brisk", share_percent=99, actor_label="m")
    ref = next(f"C-{n}" for n in range(100) if split_bucket(f"C-{n}") < 99)
    customer = Customer.objects.create(ref=ref, name="x", country="DE")
    assert policy_for_customer(customer).name == "brisk"
    customer_policy_set(customer=customer, actor_label="m", policy_name="default")
    assert policy_for_customer(customer).name == "default"


def test_stopping_the_split_puts_everyone_back(policies: None) -> None:
    policy_split_start(variant_name="brisk", share_percent=50, actor_label="m")
    assert policy_split_stop(actor_label="m")
    assert not policy_split_stop(actor_label="m")
    book = PolicyBook()
    assert {book.for_customer(f"C-{n}").name for n in range(50)} == {"default"}


@pytest.mark.parametrize(
    ("name", "share", "problem"),
    [
        ("brisk", 0, "between 1 and 99"),
        ("nosuch", 50, "no policy named"),
        ("default", 50, "active"),
    ],
)
def test_a_split_is_checked(policies: None, name: str, share: int, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        policy_split_start(variant_name=name, share_percent=share, actor_label="m")


def test_command_starts_and_stops_a_split(policies: None) -> None:
    out = StringIO()
    call_command("policy", "split", "brisk", "--share", "25", stdout=out)
    assert "25% of the customers now run brisk" in out.getvalue()
    call_command("policy", "split", "--stop", stdout=out)
    assert "split stopped" in out.getvalue()
    with pytest.raises(CommandError) as error:
        call_command("policy", "split", "nosuch", "--share", "25")
    assert error.value.returncode == 2
