"""Approvals: one request-and-decide workflow for everything that needs a
second person — credit holds, order releases, agency placements, write-offs
and fee waivers.

Rules, enforced here (and the first also by a database constraint):

- **Four eyes**: the requester never decides their own request.
- **The amount matrix** (``ARREARS_APPROVAL_LIMITS``, e.g.
  ``collector:500,manager:10000,finance:``): the decider must hold a role
  whose limit covers the amount (in the amount's own currency). Higher roles
  may decide whatever lower ones may.
- Placements need at least a manager whatever the amount (the matrix
  above that: the agency's fee is a cost). Credit holds and order releases
  need a manager, and only that: they protect money rather than give it
  up, so the amount does not move them up the matrix.

What an approval does is up to its kind: a handler registered with
``approval_handler`` runs inside the deciding transaction (a write-off posts
its credit note, a placement becomes ready to hand over…). Handlers for the
kinds of this app live in ``credit``, ``escalation`` and ``writeoff``; other
modules (fee waivers) register theirs the same way and are imported here on
first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, User
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from arrears.domain.money import is_currency
from arrears.ledger.models import Customer
from arrears.ledger.services import activity_record

from .approval_models import Approval, ApprovalKind, ApprovalStatus

MANAGER = "manager"
# Kinds a manager (or a role above) must decide whatever the amount ...
MANAGER_AT_LEAST = frozenset(
    {ApprovalKind.CREDIT_HOLD, ApprovalKind.ORDER_RELEASE, ApprovalKind.AGENCY_PLACEMENT}
)
# ... and those the amount never moves further up the matrix.
MANAGER_WHATEVER_THE_AMOUNT = frozenset({ApprovalKind.CREDIT_HOLD, ApprovalKind.ORDER_RELEASE})
# The web app's admin group decides as a manager does.
ROLE_ALIASES = {"admin": MANAGER}

Handler = Callable[[Approval, "User | None"], None]
_HANDLERS: dict[str, Handler] = {}
_HANDLER_MODULES = (
    "arrears.cases.credit",
    "arrears.cases.escalation",
    "arrears.cases.writeoff",
    "arrears.cases.charges",
)


class ApprovalRejected(ValueError):
    """A request or decision that cannot be made; the message says why."""


class ApprovalForbidden(PermissionError):
    """The user may not decide this request (four eyes, or the matrix)."""


def approval_handler(kind: str) -> Callable[[Handler], Handler]:
    """Register what approving (or rejecting) a request of ``kind`` does.
    The handler gets the decided approval (status set) and the decider."""

    def register(handler: Handler) -> Handler:
        _HANDLERS[kind] = handler
        return handler

    return register


def _handler(kind: str) -> Handler | None:
    if kind not in _HANDLERS:
        for name in _HANDLER_MODULES:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as error:
                if error.name != name:
                    raise
    return _HANDLERS.get(kind)


# --- the matrix ---------------------------------------------------------------


def approval_limits() -> tuple[tuple[str, Decimal | None], ...]:
    """The matrix, lowest role first (``None``: no limit)."""
    return tuple(settings.ARREARS_APPROVAL_LIMITS)


def _rank(role: str) -> int:
    names = [name for name, _ in approval_limits()]
    return names.index(role) if role in names else -1


def required_role(*, kind: str, amount: Decimal) -> str:
    """The lowest role of the matrix that may approve ``amount`` of ``kind``.
    Raises ApprovalRejected when no role's limit covers it."""
    if kind in MANAGER_WHATEVER_THE_AMOUNT:
        return MANAGER
    floor = _rank(MANAGER) if kind in MANAGER_AT_LEAST else 0
    for index, (role, limit) in enumerate(approval_limits()):
        if index >= floor and (limit is None or amount <= limit):
            return role
    raise ApprovalRejected(f"no role may approve {amount} (see ARREARS_APPROVAL_LIMITS)")


def approver_rank(user: AbstractBaseUser | AnonymousUser | None) -> int:
    """The highest rank of the matrix ``user`` holds (-1: none). Superusers
    rank highest; members of "admin" rank as managers."""
    if user is None or not user.is_authenticated:
        return -1
    if getattr(user, "is_superuser", False):
        return len(approval_limits()) - 1
    names = Group.objects.filter(user__pk=user.pk).values_list("name", flat=True)
    return max((_rank(ROLE_ALIASES.get(n, n)) for n in names), default=-1)


def may_decide(user: AbstractBaseUser | AnonymousUser | None, approval: Approval) -> bool:
    """Whether ``user`` may decide ``approval`` (pending or not)."""
    if user is None or not user.is_authenticated:
        return False
    if approval.requested_by_id is not None and approval.requested_by_id == user.pk:
        return False
    return approver_rank(user) >= _rank(approval.required_role)


def _label(user: User | None, label: str) -> str:
    return label or (user.get_username() if user is not None else "system")


# --- requesting and deciding --------------------------------------------------


def _subject(subject: models.Model | str) -> tuple[str, str]:
    if isinstance(subject, models.Model):
        return subject._meta.model_name or "object", str(subject.pk)
    kind, _, ref = subject.partition(":")
    if not kind or not ref:
        raise ApprovalRejected(f"subject {subject!r} is not a model instance or 'type:ref'")
    return kind, ref


@transaction.atomic
def approval_request(
    *,
    kind: str,
    customer: Customer,
    amount: Decimal,
    currency: str,
    subject: models.Model | str,
    requested_by: User | None,
    reason: str,
    requested_by_label: str = "",
) -> Approval:
    """Ask for approval of ``subject`` (a model instance, or ``"type:ref"``).
    ``requested_by`` None: the policy or a rule asked (anyone with the role
    may decide). Raises ApprovalRejected for an unknown kind, a bad amount,
    no reason, or a request already waiting for the same subject."""
    if kind not in ApprovalKind.values:
        raise ApprovalRejected(f"{kind!r} is not an approval kind ({', '.join(ApprovalKind)})")
    if amount < 0:
        raise ApprovalRejected("the amount must not be negative")
    if not is_currency(currency):
        raise ApprovalRejected(f"{currency!r} is not an ISO 4217 currency")
    if not reason.strip():
        raise ApprovalRejected("say why approval is needed")
    subject_type, subject_ref = _subject(subject)
    label = _label(requested_by, requested_by_label)
    role = required_role(kind=kind, amount=amount)
    try:
        with transaction.atomic():
            approval = Approval.objects.create(
                kind=kind,
                customer=customer,
                amount=amount,
                currency=currency,
                subject_type=subject_type,
                subject_ref=subject_ref,
                reason=reason.strip(),
                required_role=role,
                requested_by=requested_by,
                requested_by_label=label,
                requested_at=timezone.now(),
            )
    except IntegrityError:
        raise ApprovalRejected(
            f"a {ApprovalKind(kind).label.lower()} request for {subject_type} {subject_ref} "
            "is already waiting"
        ) from None
    activity_record(
        actor_label=label,
        actor=requested_by,
        verb="approval requested",
        subject_type="approval",
        subject_ref=str(approval.pk),
        customer=customer,
        why=reason.strip(),
        data={
            "kind": kind,
            "amount": str(amount),
            "currency": currency,
            "subject": f"{subject_type}:{subject_ref}",
            "required_role": role,
        },
    )
    return approval


@transaction.atomic
def approval_decide(
    *, approval: Approval, approve: bool, by: User, note: str, by_label: str = ""
) -> Approval:
    """Approve or reject a waiting request, and do what it asked (the
    kind's handler) in the same transaction. A note is required when
    rejecting. Raises ApprovalForbidden for the requester or a role the
    matrix does not allow, ApprovalRejected when it is not waiting."""
    locked = Approval.objects.select_for_update().select_related("customer").get(pk=approval.pk)
    if locked.status != ApprovalStatus.PENDING:
        raise ApprovalRejected(f"approval {locked.pk} is already {locked.status}")
    if locked.requested_by_id is not None and locked.requested_by_id == by.pk:
        raise ApprovalForbidden("four eyes: a request is never decided by the one who made it")
    if not may_decide(by, locked):
        raise ApprovalForbidden(
            f"{locked.amount} {locked.currency} of {ApprovalKind(locked.kind).label.lower()} "
            f"needs a {locked.required_role} or above to decide"
        )
    if not approve and not note.strip():
        raise ApprovalRejected("say why the request is rejected")
    label = _label(by, by_label)
    locked.status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
    locked.decided_by = by
    locked.decided_by_label = label
    locked.decided_at = timezone.now()
    locked.decision_note = note.strip()
    locked.save(
        update_fields=["status", "decided_by", "decided_by_label", "decided_at", "decision_note"]
    )
    activity_record(
        actor_label=label,
        actor=by,
        verb=f"approval {locked.status}",
        subject_type="approval",
        subject_ref=str(locked.pk),
        customer=locked.customer,
        why=note.strip() or "approved",
        data={
            "kind": locked.kind,
            "amount": str(locked.amount),
            "currency": locked.currency,
            "subject": f"{locked.subject_type}:{locked.subject_ref}",
            "requested_by": locked.requested_by_label,
        },
    )
    handler = _handler(locked.kind)
    if handler is not None:
        handler(locked, by)
    return locked


@transaction.atomic
def approval_cancel(
    *, approval: Approval, by: User | None, reason: str, by_label: str = ""
) -> None:
    """Withdraw a waiting request (its subject went away: paid, recalled…).
    Does nothing when it is no longer waiting."""
    label = _label(by, by_label)
    if Approval.objects.filter(pk=approval.pk, status=ApprovalStatus.PENDING).update(
        status=ApprovalStatus.CANCELLED,
        decided_at=timezone.now(),
        decided_by_label=label,
        decision_note=reason,
    ):
        activity_record(
            actor_label=label,
            actor=by,
            verb="approval cancelled",
            subject_type="approval",
            subject_ref=str(approval.pk),
            customer=approval.customer,
            why=reason,
        )


# --- reads --------------------------------------------------------------------


def approvals_waiting_for(user: AbstractBaseUser | AnonymousUser | None) -> list[Approval]:
    """Waiting requests ``user`` may decide, oldest first (none for a user
    outside the matrix). Requests they made are left out."""
    rank = approver_rank(user)
    if rank < 0 or user is None:
        return []
    roles = [name for name, _ in approval_limits()][: rank + 1]
    return list(
        Approval.objects.filter(status=ApprovalStatus.PENDING, required_role__in=roles)
        .exclude(requested_by_id=user.pk)
        .select_related("customer")
        .order_by("requested_at", "id")
    )


def approval_subject(approval: Approval) -> Any:
    """The model instance an approval is about, or None when it is gone."""
    from django.apps import apps

    for model in apps.get_app_config("cases").get_models():
        if model._meta.model_name == approval.subject_type:
            return model._default_manager.filter(pk=approval.subject_ref).first()
    return None
