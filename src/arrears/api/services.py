"""API tokens: created for a user, looked up by their hash."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from arrears.ledger.services import activity_record

from .models import ApiToken

TOKEN_PREFIX = "arr_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def token_create(*, username: str, name: str = "", actor_label: str = "cli") -> str:
    """Create a token for an existing user and return it (shown only once).

    Raises LookupError when there is no such user.
    """
    user_model = get_user_model()
    try:
        user = user_model.objects.get(username=username)
    except user_model.DoesNotExist:
        raise LookupError(f"no user {username!r}") from None
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, prefix=key[:10], key_hash=_hash(key))
    activity_record(
        actor_label=actor_label,
        verb="api_token.created",
        subject_type="user",
        subject_ref=username,
        why=name or "API access",
    )
    return key


def token_user(key: str) -> AbstractBaseUser | None:
    """The active user a token belongs to, or None for an unknown or revoked token."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # Touch at most once a minute so reads don't become writes.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


@transaction.atomic
def token_revoke(*, key: str, actor_label: str = "cli") -> bool:
    """Revoke a token at once; False when it is unknown or already revoked."""
    token = ApiToken.objects.select_related("user").filter(
        key_hash=_hash(key), revoked_at__isnull=True
    )
    found = token.first()
    if found is None:
        return False
    ApiToken.objects.filter(pk=found.pk).update(revoked_at=timezone.now())
    activity_record(
        actor_label=actor_label,
        verb="api_token.revoked",
        subject_type="user",
        subject_ref=found.user.get_username(),
        why=found.name or found.prefix,
    )
    return True
