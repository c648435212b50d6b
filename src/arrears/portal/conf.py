"""The portal's settings: read from Django's settings when a deployment sets
them there, else from the environment (12-factor), with safe defaults.

``ARREARS_PORTAL_LINK_DAYS`` (30): how long a magic link opens the portal.
``ARREARS_PORTAL_SESSION_HOURS`` (8): how long a portal session lasts.
``ARREARS_PORTAL_UPLOAD_MAX_MB`` (10): the largest attachment accepted.
``ARREARS_ONBOARDING_WINDOW_DAYS`` (30): a customer whose ``customer_since``
is this recent is new and enters the onboarding sequence.
``ARREARS_ONBOARDING_REMIND_DAYS`` (7): at most one reminder this often.
``ARREARS_ONBOARDING_TASK_DAYS`` (21): still incomplete this long after the
welcome: a staff task.
"""

from __future__ import annotations

from django.conf import settings

from arrears.settings import envint

DEFAULTS = {
    "ARREARS_PORTAL_LINK_DAYS": 30,
    "ARREARS_PORTAL_SESSION_HOURS": 8,
    "ARREARS_PORTAL_UPLOAD_MAX_MB": 10,
    "ARREARS_ONBOARDING_WINDOW_DAYS": 30,
    "ARREARS_ONBOARDING_REMIND_DAYS": 7,
    "ARREARS_ONBOARDING_TASK_DAYS": 21,
}


def setting(name: str) -> int:
    """A positive whole number; ImproperlyConfigured (from envint) for a bad
    environment value, ValueError for zero or less."""
    value = getattr(settings, name, None)
    if value is None:
        value = envint(name, DEFAULTS[name])
    value = int(value)
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")
    return value
