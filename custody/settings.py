"""Django settings, all from environment variables (see docs/operations.md).

CUSTODY_DEMO=1 marks a demo deployment: demo logins work without a second factor. Everywhere else
every account must pass TOTP.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from custody.core import secret_key

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("CUSTODY_VAR_DIR", BASE_DIR.parent / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(int(default))).lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("CUSTODY_DEBUG", False)
DEMO_MODE = env_bool("CUSTODY_DEMO", False)
# No fixed fallback: outside the demo and the tests the server refuses to start without
# CUSTODY_SECRET_KEY (custody/core/secret_key.py says where each process's key comes from).
try:
    SECRET_KEY, SECRET_KEY_SOURCE = secret_key.resolve(os.environ.get("CUSTODY_SECRET_KEY", ""),
                                                       demo=DEBUG or DEMO_MODE, var_dir=VAR_DIR)
except secret_key.SecretKeyError as exc:
    raise ImproperlyConfigured(str(exc)) from None
ALLOWED_HOSTS = [h for h in os.environ.get("CUSTODY_ALLOWED_HOSTS", "localhost,127.0.0.1,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CUSTODY_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI from the package, pinned by the dependency: no CDN
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "custody.core",
    "custody.accounts",
    "custody.registry",
    "custody.ledger",
    "custody.matching",
    "custody.biometrics",
    "custody.planning",
    "custody.cases",
    "custody.repatriation",
    "custody.camps",
    "custody.coordination",
    "custody.synth",
]

MIDDLEWARE = [
    "custody.core.middleware.RequestIdMiddleware",
    "custody.core.middleware.SecurityHeadersMiddleware",
    "custody.core.middleware.RequestSizeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "custody.accounts.middleware.LoginRequiredMiddleware",
    "custody.accounts.middleware.SessionPolicyMiddleware",
    "custody.core.middleware.ChangeContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "custody.core.middleware.RefusalMiddleware",
]

ROOT_URLCONF = "custody.urls"
WSGI_APPLICATION = "custody.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "custody.core.context.custody_context",
            ],
        },
    }
]

DEFAULT_SQLITE = f"sqlite:///{VAR_DIR / 'custody.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL") or DEFAULT_SQLITE, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers and the single writer proceed together; IMMEDIATE takes the write lock at
    # BEGIN, so two clerks writing at once queue instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("CUSTODY_TEST_SQLITE", "")} if os.environ.get("CUSTODY_TEST_SQLITE") else {}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if env_bool("CUSTODY_FAST_HASHER", False):
    # Tests create hundreds of users; argon2's cost is the point in production, not in a test.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Session policy (issue 2): idle 30 minutes, absolute 12 hours; enforced in SessionPolicyMiddleware.
SESSION_IDLE_SECONDS = int(os.environ.get("CUSTODY_SESSION_IDLE_SECONDS", 30 * 60))
SESSION_ABSOLUTE_SECONDS = int(os.environ.get("CUSTODY_SESSION_ABSOLUTE_SECONDS", 12 * 3600))
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Served over HTTPS (directly, or behind a proxy that sets X-Forwarded-Proto, which gunicorn trusts from
# its forwarded_allow_ips): secure cookies with the __Host- prefix, HTTP redirected, HSTS (issue 14).
TLS = env_bool("CUSTODY_TLS", False)
SESSION_COOKIE_SECURE = TLS or env_bool("CUSTODY_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if SESSION_COOKIE_SECURE:
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
CSRF_COOKIE_HTTPONLY = True  # pages carry the token in the form and in htmx's header; no script reads the cookie
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = TLS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # a load balancer's plain-HTTP probe
SECURE_HSTS_SECONDS = int(os.environ.get("CUSTODY_HSTS_SECONDS", 365 * 24 * 3600)) if TLS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = TLS and env_bool("CUSTODY_HSTS_SUBDOMAINS", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Everything from this origin; no inline script anywhere. Inline style *attributes* stay allowed: the
# templates and the SVG charts size things with them, and an attribute can neither run script nor, with
# img-src and font-src at 'self', load anything from elsewhere. <style> elements are refused.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "style-src-attr 'unsafe-inline'",
    "img-src 'self' data:", "font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'",
    "form-action 'self'", "frame-ancestors 'none'", *(["upgrade-insecure-requests"] if TLS else []),
])
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "camera", "geolocation", "gyroscope", "magnetometer", "microphone", "payment", "usb"))
LOCKOUT_FAILURES = 5
LOCKOUT_SECONDS = 10 * 60
OTP_TOTP_ISSUER = "Custody"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ar", _("Arabic"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # tests and a fresh checkout serve static files without collectstatic
# Every upload is read into memory to be hashed and checked; one file may be 50 MB (cases, ledger files).
MAX_REQUEST_BYTES = int(os.environ.get("CUSTODY_MAX_REQUEST_MB", "110")) * 1_000_000
MEDIA_ROOT = Path(os.environ.get("CUSTODY_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media-not-served/"  # files are served only through views that check access and audit

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "custody.accounts.api_auth.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["custody.core.api_permissions.CustodyPermission"],
    "EXCEPTION_HANDLER": "custody.core.actions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "custody.core.schema.CustodyAutoSchema",
    # A JSON body must be an object: a bare list, number or null is a 400 here, not a 500 in a handler;
    # text no database can store (NUL, lone surrogates) is a 400 naming its field (custody.core.parsers).
    "DEFAULT_PARSER_CLASSES": ["custody.core.parsers.ObjectJSONParser", "custody.core.parsers.GuardedFormParser",
                               "custody.core.parsers.GuardedMultiPartParser"],
    # Capped at API_MAX_PAGE_SIZE; a malformed limit or offset is a 400 naming it (issue 14).
    "DEFAULT_PAGINATION_CLASS": "custody.core.pagination.CappedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [],
}
# Hostile input (issue 14): the API's page cap; roster import limits, checked before a file is parsed
# (custody.registry.importer.Limits); how long an upload not carried through to an import is kept.
API_MAX_PAGE_SIZE = int(os.environ.get("CUSTODY_API_MAX_PAGE_SIZE", 200))
IMPORT_MAX_BYTES = int(os.environ.get("CUSTODY_IMPORT_MAX_BYTES", 50 * 1024 * 1024))
IMPORT_MAX_ROWS = int(os.environ.get("CUSTODY_IMPORT_MAX_ROWS", 250_000))
IMPORT_MAX_COLUMNS = int(os.environ.get("CUSTODY_IMPORT_MAX_COLUMNS", 200))
IMPORT_MAX_CELLS = int(os.environ.get("CUSTODY_IMPORT_MAX_CELLS", 3_000_000))
IMPORT_MAX_XLSX_UNCOMPRESSED = int(os.environ.get("CUSTODY_IMPORT_MAX_XLSX_UNCOMPRESSED", 256 * 1024 * 1024))
UPLOAD_MAX_AGE_HOURS = float(os.environ.get("CUSTODY_UPLOAD_MAX_AGE_HOURS", 24))
SPECTACULAR_SETTINGS = {
    "TITLE": "Custody API",
    "DESCRIPTION": "Every response is restricted by the caller's agency, role, releasability and field rules.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several apps have a "kind" or "source" choice field; name each enum after its component.
    "ENUM_GENERATE_CHOICE_DESCRIPTION": True,
    "ENUM_NAME_OVERRIDES": {name: f"custody.core.schema_enums.{name}" for name in (
        "FacilityKindEnum", "IdentifierKindEnum", "PersonFileKindEnum", "LedgerEventKindEnum", "DiscrepancyKindEnum",
        "CaptureSourceEnum", "ScenarioSourceEnum", "ItemKindEnum", "RedactedCopyKindEnum", "RecipientKindEnum",
        "OutreachKindEnum", "OverrideKindEnum", "StepKindEnum", "MovementKindEnum", "ProtectionFlagKindEnum",
        "IncidentKindEnum",
    )},
}
CSRF_FAILURE_VIEW = "custody.core.views.csrf_failure"  # a forged or replayed form is refused and audited

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CUSTODY_LOG_LEVEL", "WARNING")},
}

# Ledger checkpoints: at least every N events or M minutes (issue 3).
LEDGER_CHECKPOINT_EVENTS = int(os.environ.get("CUSTODY_LEDGER_CHECKPOINT_EVENTS", 1000))
LEDGER_CHECKPOINT_MINUTES = int(os.environ.get("CUSTODY_LEDGER_CHECKPOINT_MINUTES", 10))
# The housekeeping task verifies the whole log when no run is younger than this (0: only on request).
LEDGER_VERIFY_HOURS = int(os.environ.get("CUSTODY_LEDGER_VERIFY_HOURS", 24))
# Fault injection only (crash tests): seconds to pause inside the append transaction, between writing
# the events and their tree nodes, so that a killed server is sure to die at the worst moment. 0 in use.
LEDGER_FAULT_PAUSE_SECONDS = float(os.environ.get("CUSTODY_LEDGER_FAULT_PAUSE_SECONDS", 0))
LEDGER_KEY_FILE = Path(os.environ.get("CUSTODY_LEDGER_KEY_FILE", VAR_DIR / "ledger-signing-key.pem"))
# Outside demo/test mode the key and the witness file must lie outside VAR_DIR and the database's
# directory, the key encrypted with a passphrase given at start (CUSTODY_LEDGER_KEY_PASSPHRASE or this
# file): custody/ledger/signing.py, decisions/0032-witnessed-checkpoints.md.
LEDGER_KEY_PASSPHRASE_FILE = os.environ.get("CUSTODY_LEDGER_KEY_PASSPHRASE_FILE", "")
LEDGER_SIGNER = os.environ.get("CUSTODY_LEDGER_SIGNER", "file")  # 'file'; PKCS#11 is the documented next
LEDGER_WITNESS_FILE = os.environ.get("CUSTODY_LEDGER_WITNESS_FILE", str(VAR_DIR / "ledger-witness.jsonl"))
