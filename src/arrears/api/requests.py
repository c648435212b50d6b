"""Who made an API request: every endpoint that writes records it."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest


def api_user(request: HttpRequest) -> User:
    """The token's user (BearerToken authenticated the request)."""
    user = request.user
    assert isinstance(user, User), "BearerToken authenticated the request"
    return user


def api_actor_label(request: HttpRequest) -> str:
    """The actor label of the activity log: ``api:<username>``."""
    return f"api:{api_user(request).get_username()}"
