"""Arrears settings, read from the environment (12-factor).

Defaults run the embedded demo on an SQLite file under ./var/. Production
(``ARREARS_PRODUCTION=1``) refuses the demo secret key and DEBUG.
"""

import os
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("ARREARS_VAR_DIR", Path.cwd() / "var"))

DEMO_SECRET_KEY = "arrears-demo-secret-key-do-not-use-in-production"


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PRODUCTION = envbool("ARREARS_PRODUCTION", False)
DEBUG = envbool("ARREARS_DEBUG", False)
SECRET_KEY = os.environ.get("ARREARS_SECRET_KEY", DEMO_SECRET_KEY)
if PRODUCTION and SECRET_KEY == DEMO_SECRET_KEY:
    raise ImproperlyConfigured(
        "ARREARS_PRODUCTION is set: set ARREARS_SECRET_KEY to a secret value"
    )
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("ARREARS_PRODUCTION is set: ARREARS_DEBUG must be off")
if PRODUCTION and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("ARREARS_SECRET_KEY must be at least 32 characters in production")

ALLOWED_HOSTS = envlist("ARREARS_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("ARREARS_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "django_htmx",
    "arrears.ledger",
    "arrears.sequencing",
    "arrears.comms",
    "arrears.cases",
    "arrears.api",
    "arrears.web",
    "arrears.reports",
    "arrears.portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "arrears.urls"
WSGI_APPLICATION = "arrears.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database() -> dict[str, object]:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{VAR_DIR / 'arrears.sqlite3'}"
    config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=60))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the worker and the web server share the file; IMMEDIATE
        # takes the write lock up front so concurrent writers wait, not fail.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
        config["CONN_MAX_AGE"] = 0
        # Tests start real `arrears worker` processes, which cannot see an
        # in-memory database: the test database is a file too.
        config["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Only for `arrears collectstatic` behind a web server of your own; WhiteNoise
# serves from the packages (finders) when it is not set.
STATIC_ROOT = os.environ.get("ARREARS_STATIC_ROOT") or None
MEDIA_ROOT = VAR_DIR / "media"
# Serve the admin's and our static files from the packages themselves, so
# `arrears serve` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# Real SMTP when a mail server is configured (always in production); the
# embedded demo writes its e-mails as files under var/mail instead, so it
# never reaches anyone's inbox by accident.
EMAIL_BACKEND = os.environ.get("ARREARS_EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION or os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 30)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
ARREARS_SMS_URL = os.environ.get("ARREARS_SMS_URL", "")
# The weekly key-figures e-mail to managers: the day (0 = Monday), the local
# time, extra addresses, and the address its links point to.
ARREARS_DIGEST_DAY = envint("ARREARS_DIGEST_DAY", 0)
ARREARS_DIGEST_AT = os.environ.get("ARREARS_DIGEST_AT", "07:00")
ARREARS_DIGEST_TO = envlist("ARREARS_DIGEST_TO", "")
ARREARS_SITE_URL = os.environ.get("ARREARS_SITE_URL", "").rstrip("/")
if not 0 <= ARREARS_DIGEST_DAY <= 6:
    raise ImproperlyConfigured("ARREARS_DIGEST_DAY must be 0 (Monday) to 6 (Sunday)")
ARREARS_SMS_TOKEN = os.environ.get("ARREARS_SMS_TOKEN", "")
ARREARS_SMS_SENDER = os.environ.get("ARREARS_SMS_SENDER", "")
# The provider's webhook (replies, receipts) must send this bearer token;
# unset, the webhook refuses everything.
ARREARS_SMS_INBOUND_TOKEN = os.environ.get("ARREARS_SMS_INBOUND_TOKEN", "")
ARREARS_SMS_TIMEOUT = envint("ARREARS_SMS_TIMEOUT", 10)
# Longer texts are refused before sending: each segment is billed as a text.
ARREARS_SMS_MAX_SEGMENTS = envint("ARREARS_SMS_MAX_SEGMENTS", 3)
if ARREARS_SMS_TIMEOUT < 1 or ARREARS_SMS_MAX_SEGMENTS < 1:
    raise ImproperlyConfigured("ARREARS_SMS_TIMEOUT and ARREARS_SMS_MAX_SEGMENTS must be >= 1")
# How long a worker may hold a message it is sending before it is presumed dead.
ARREARS_OUTBOX_LEASE_SECONDS = envint("ARREARS_OUTBOX_LEASE_SECONDS", 600)
# `arrears worker` starts the daily run once a day at this time (HH:MM, in
# TIME_ZONE), inline or as this many partition tasks.
ARREARS_RUN_AT = os.environ.get("ARREARS_RUN_AT", "06:00").strip()
if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", ARREARS_RUN_AT):
    raise ImproperlyConfigured(f"ARREARS_RUN_AT={ARREARS_RUN_AT!r} is not a time (use HH:MM)")
ARREARS_RUN_PARTITIONS = envint("ARREARS_RUN_PARTITIONS", 1)
# Processes of an inline daily run on PostgreSQL; 0: one per CPU.
ARREARS_RUN_JOBS = envint("ARREARS_RUN_JOBS", 0)


def approval_limits(raw: str) -> tuple[tuple[str, Decimal | None], ...]:
    """``role:limit,…`` from the lowest role to the highest; an empty limit
    (only the last) means no limit. Raises ImproperlyConfigured."""
    name = "ARREARS_APPROVAL_LIMITS"
    limits: list[tuple[str, Decimal | None]] = []
    for part in (p.strip() for p in raw.split(",")):
        role, sep, limit = part.partition(":")
        role, limit = role.strip(), limit.strip()
        if not sep or not re.fullmatch(r"[a-z_]+", role) or role in dict(limits):
            raise ImproperlyConfigured(f"{name}: {part!r} is not role:limit (e.g. manager:10000)")
        if not limit:
            limits.append((role, None))
            continue
        try:
            amount = Decimal(limit)
        except InvalidOperation:
            raise ImproperlyConfigured(f"{name}: {limit!r} is not an amount") from None
        if not amount.is_finite() or amount < 0:
            raise ImproperlyConfigured(f"{name}: {limit!r} is not an amount")
        if limits and (limits[-1][1] is None or limits[-1][1] >= amount):
            raise ImproperlyConfigured(f"{name}: limits must rise from role to role ({part!r})")
        limits.append((role, amount))
    return tuple(limits)


# Who may approve write-offs, waivers and placements, by amount (in the
# amount's own currency): each role up to its limit, the last without one.
ARREARS_APPROVAL_LIMITS = approval_limits(
    os.environ.get("ARREARS_APPROVAL_LIMITS", "") or "collector:500,manager:10000,finance:"
)
# Order systems hear of credit holds through this webhook: JSON POSTs signed
# with HMAC-SHA256 of the body under the secret (X-Arrears-Signature).
# Days a dispute may stay open before its owner gets an escalation task.
ARREARS_DISPUTE_SLA_DAYS = envint("ARREARS_DISPUTE_SLA_DAYS", 10)
# Payment plans: days an instalment may be missed before the plan breaks,
# and the length (months) past which a workout goes to legal review.
ARREARS_PLAN_BREAK_AFTER_DAYS = envint("ARREARS_PLAN_BREAK_AFTER_DAYS", 14)
ARREARS_PLAN_LEGAL_REVIEW_MONTHS = envint("ARREARS_PLAN_LEGAL_REVIEW_MONTHS", 12)
# Reference interest rates for statutory late-payment interest (a YAML file);
# empty: the table shipped in arrears/cases/data/reference_rates.yaml.
ARREARS_REFERENCE_RATES = os.environ.get("ARREARS_REFERENCE_RATES", "")
ARREARS_WEBHOOK_URL = os.environ.get("ARREARS_WEBHOOK_URL", "").strip()
ARREARS_WEBHOOK_SECRET = os.environ.get("ARREARS_WEBHOOK_SECRET", "")
if ARREARS_WEBHOOK_URL and not re.match(r"https?://", ARREARS_WEBHOOK_URL):
    raise ImproperlyConfigured("ARREARS_WEBHOOK_URL must be an http:// or https:// address")
if ARREARS_WEBHOOK_URL and len(ARREARS_WEBHOOK_SECRET) < 16:
    raise ImproperlyConfigured("ARREARS_WEBHOOK_URL needs ARREARS_WEBHOOK_SECRET (16+ characters)")

SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("ARREARS_LOG_LEVEL", "WARNING")},
}
