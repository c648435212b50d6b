"""Roles of the staff web app: admin, manager and collector, as Django groups.

Collectors work their own worklist and may read every customer; managers
(and admins, and superusers) also approve, reassign other people's work and
change how a customer is collected. Checks live here so that selectors,
services and views ask the same question.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

ADMIN = "admin"
MANAGER = "manager"
COLLECTOR = "collector"
ROLES = (ADMIN, MANAGER, COLLECTOR)
MANAGER_ROLES = frozenset({ADMIN, MANAGER})

# Cached on the user object for the request: one query for many checks.
_CACHE = "_arrears_roles"

View = TypeVar("View", bound=Callable[..., HttpResponse])


def signed_in_user(request: HttpRequest) -> User:
    """The signed-in user of a view behind ``login_required``."""
    user = request.user
    assert isinstance(user, User), "the view is behind login_required"
    return user


def roles_ensure() -> list[Group]:
    """Create the role groups that do not exist yet (idempotent); returns all three."""
    return [Group.objects.get_or_create(name=name)[0] for name in ROLES]


def roles_of(user: AbstractBaseUser | AnonymousUser | None) -> frozenset[str]:
    """The role groups ``user`` belongs to (empty for anonymous or no user)."""
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, _CACHE, None)
    if cached is None:
        cached = frozenset(
            Group.objects.filter(user__pk=user.pk, name__in=ROLES).values_list("name", flat=True)
        )
        setattr(user, _CACHE, cached)
    return cached


def is_manager(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """True for superusers and members of the manager or admin group."""
    if user is None or not user.is_authenticated:
        return False
    if getattr(user, "is_superuser", False):
        return True
    return bool(roles_of(user) & MANAGER_ROLES)


def manager_check(user: AbstractBaseUser | AnonymousUser | None, what: str) -> None:
    """Raise PermissionDenied (HTTP 403) unless ``user`` is a manager."""
    if not is_manager(user):
        raise PermissionDenied(f"only a manager may {what}")


def manager_required(view: View) -> View:
    """Sign-in required; then 403 for anyone who is not a manager."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        manager_check(request.user, "do this")
        return view(request, *args, **kwargs)

    return login_required(wrapped)  # type: ignore[return-value]
