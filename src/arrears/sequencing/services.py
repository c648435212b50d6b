"""Writes for the collection policy. Each runs in one transaction and
records what it did in the activity log."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from arrears.domain.policy import Policy
from arrears.domain.policy_file import PolicyInvalid, Problem, policy_parse
from arrears.domain.policy_lint import policy_lint
from arrears.ledger.models import Customer
from arrears.ledger.services import activity_record

from .models import CustomerPolicy, PolicyVersion, Segment


@dataclass(frozen=True)
class PolicyChecked:
    policy: Policy
    warnings: list[Problem]


def policy_check(*, text: str, name: str) -> PolicyChecked:
    """Parse and lint a policy file. Raises ``PolicyInvalid`` with every
    error (schema and linter); returns the policy and the linter's warnings."""
    policy = policy_parse(text, name=name)
    found = policy_lint(policy)
    errors = [p for p in found if p.severity == "error"]
    if errors:
        raise PolicyInvalid(errors)
    return PolicyChecked(policy, [p for p in found if p.severity != "error"])


@dataclass(frozen=True)
class PolicyApplied:
    version: PolicyVersion
    changed: bool
    warnings: list[Problem]


@transaction.atomic
def policy_apply(*, path: Path | str, actor_label: str) -> PolicyApplied:
    """Validate the file at ``path`` and make it the active policy.

    The same text as the active version changes nothing (``changed`` False,
    no activity entry). Text seen before under the same name re-activates
    that version; new text is stored as the next version number. Raises
    ``PolicyInvalid`` (nothing stored) when the file has errors and
    ``OSError`` when it cannot be read.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    checked = policy_check(text=text, name=path.stem)
    name = checked.policy.name
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    # Lock the active row so two concurrent applies serialise.
    active = PolicyVersion.objects.select_for_update().filter(is_active=True).first()
    if active is not None and active.name == name and active.sha256 == sha:
        return PolicyApplied(active, False, checked.warnings)
    same = PolicyVersion.objects.filter(name=name, sha256=sha).order_by("-version").first()
    if active is not None:
        PolicyVersion.objects.filter(pk=active.pk).update(is_active=False)
    now = timezone.now()
    if same is not None:
        PolicyVersion.objects.filter(pk=same.pk).update(
            is_active=True, applied_at=now, applied_by=actor_label
        )
        same.refresh_from_db()
        version, verb = same, "policy reactivated"
    else:
        last = PolicyVersion.objects.filter(name=name).aggregate(n=Max("version"))["n"] or 0
        version = PolicyVersion.objects.create(
            name=name,
            version=last + 1,
            yaml_text=text,
            sha256=sha,
            applied_at=now,
            applied_by=actor_label,
            is_active=True,
        )
        verb = "policy applied"
    activity_record(
        actor_label=actor_label,
        verb=verb,
        subject_type="policy",
        subject_ref=f"{version.name} v{version.version}",
        why=f"from {path.name}"
        + (f", replacing {active.name} v{active.version}" if active is not None else ""),
        data={
            "name": version.name,
            "version": version.version,
            "sha256": sha,
            "previous": None if active is None else f"{active.name} v{active.version}",
        },
    )
    return PolicyApplied(version, True, checked.warnings)


@transaction.atomic
def customer_policy_set(
    *,
    customer: Customer,
    actor_label: str,
    policy_name: str = "",
    segment: str = "",
    segment_reason: str = "",
) -> CustomerPolicy:
    """Set a customer's policy override (a policy name, "" for the active
    one) and manual segment ("" to compute it; a reason is required)."""
    if segment and segment not in Segment.values:
        raise ValueError(f"unknown segment {segment!r}")
    if segment and not segment_reason.strip():
        raise ValueError("a segment set by hand needs a reason")
    if policy_name and not PolicyVersion.objects.filter(name=policy_name).exists():
        raise ValueError(f"no policy named {policy_name!r} was ever applied")
    settings, _ = CustomerPolicy.objects.update_or_create(
        customer=customer,
        defaults={
            "policy_name": policy_name,
            "segment": segment,
            "segment_reason": segment_reason.strip() if segment else "",
            "updated_by": actor_label,
        },
    )
    activity_record(
        actor_label=actor_label,
        verb="policy settings changed",
        subject_type="customer",
        subject_ref=customer.ref,
        customer=customer,
        why=segment_reason if segment else "",
        data={"policy_name": policy_name, "segment": segment},
    )
    return settings
