"""Writes for the staff web app."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from arrears.ledger.services import activity_record

DEMO_USERNAME = "demo"


@transaction.atomic
def demo_user_reset(*, username: str = DEMO_USERNAME, actor_label: str = "arrears demo") -> str:
    """Create or reset the demo login (staff and superuser, so /admin/ works).

    Returns the new password; a fresh random one each time, since it is
    printed and the demo may be reachable by others on the machine.
    """
    password = secrets.token_urlsafe(12)
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username)
    user.is_staff = True
    user.is_superuser = True
    user.is_active = True
    user.set_password(password)
    user.save()
    activity_record(
        actor_label=actor_label,
        verb="user.created" if created else "user.password_reset",
        subject_type="user",
        subject_ref=username,
        why="demo login",
    )
    return password
