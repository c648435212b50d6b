"""Reads for the collection policy."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from arrears.domain.policy import Policy
from arrears.domain.policy_file import policy_parse
from arrears.domain.segments import Segment, SegmentOverride
from arrears.ledger.models import Customer

from .models import CustomerPolicy, PolicyVersion

DEFAULT_POLICY_PATH = Path(__file__).parent / "policies" / "default.yaml"


@lru_cache(maxsize=32)
def _parsed(text: str, name: str, version: int) -> Policy:
    return replace(policy_parse(text, name=name), version=version)


def policy_default() -> Policy:
    """The shipped default policy (version 0: never applied)."""
    return _parsed(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"), "default", 0)


def policy_active() -> Policy:
    """The active policy, or the shipped default when none was ever applied."""
    row = PolicyVersion.objects.filter(is_active=True).only("name", "version", "yaml_text").first()
    if row is None:
        return policy_default()
    return _parsed(row.yaml_text, row.name, row.version)


def policy_for_customer(customer: Customer) -> Policy:
    """The customer's override policy (its newest version), else the active one."""
    settings = CustomerPolicy.objects.filter(customer=customer).first()
    if settings is None or not settings.policy_name:
        return policy_active()
    row = PolicyVersion.objects.filter(name=settings.policy_name).order_by("-version").first()
    if row is None:
        return policy_active()
    return _parsed(row.yaml_text, row.name, row.version)


def segment_override_for(customer: Customer) -> SegmentOverride | None:
    """The segment set by hand for the customer; None when it is computed."""
    settings = CustomerPolicy.objects.filter(customer=customer).first()
    if settings is None or not settings.segment:
        return None
    return SegmentOverride(Segment(settings.segment), settings.segment_reason)
