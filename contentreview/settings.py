"""Settings for contentreview, read from the environment.

Development works with no environment at all (SQLite file, a local Redis started by ./run, console
email). Production differs only by environment values: DEBUG=0, SECRET_KEY, DATABASE_URL, REDIS_URL,
ALLOWED_HOSTS and the email settings.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

# Lets classes be written ModelAdmin[Article], ModelForm[Reference]… at run time, as the type checker reads them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# Off unless turned on: a forgotten variable must not serve technical pages or the development key.
# `./run`, `./run test` and `./run bench` turn it on explicitly (contentreview/launcher.py).
DEBUG = env_bool("DEBUG", False)

# A development key only while DEBUG is on. A process declared production (DEBUG=0) refuses to start
# without one; with DEBUG merely unset the key stays empty, so tooling that never signs anything
# (makemigrations) still runs, while Django refuses every use of the key and the web entry points
# (wsgi.py, asgi.py) refuse to start.
_DEV_SECRET_KEY = "django-insecure-development-only-never-use-in-production-0123456789"  # noqa: S105 - development only, refused when DEBUG is off
SECRET_KEY = env_str("SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else "")
SECRET_KEY_MISSING = "SECRET_KEY must be set in the environment when DEBUG is off"  # noqa: S105 - a message
if not SECRET_KEY and env_str("DEBUG"):
    raise ImproperlyConfigured(SECRET_KEY_MISSING)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "reversion",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "articles",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Stored public pages for anonymous readers, served before sessions, CSRF and auth (articles/page_cache.py).
    "articles.page_cache.PublicPageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a sign-in refused during a pause into the "paused" page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "contentreview.urls"
WSGI_APPLICATION = "contentreview.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "articles.context_processors.role_flags",
            ],
        },
    },
]

# --- Data stores -------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for a writer instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {"timeout": env_int("DB_TIMEOUT_SECONDS", 5), "transaction_mode": "IMMEDIATE"}
    # Persistent too: a new SQLite connection re-reads the schema and re-registers Django's SQL functions
    # on every request. Safe: a connection belongs to one thread (gunicorn sync workers, Celery's fixup
    # closes it around tasks and after fork), holds no lock between transactions, and sees other
    # processes' commits at its next query.

elif DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    _prepared_after = env_str("DB_PREPARE_THRESHOLD", "5")
    # A database that does not answer, or a row lock held too long, gives an error page in seconds
    # rather than a worker stuck until the proxy gives up.
    DATABASES["default"]["OPTIONS"] = {
        "connect_timeout": env_int("DB_TIMEOUT_SECONDS", 5),
        "options": f"-c lock_timeout={env_int('DB_LOCK_TIMEOUT_MS', 5000)}",
        # The reader's compiled queries (articles/compiled.py) are prepared once run this many times on a
        # connection; Django's other queries never are. Empty turns it off, e.g. behind a connection pooler
        # in transaction mode, which cannot keep a prepared statement.
        "prepare_threshold": int(_prepared_after) if _prepared_after else None,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

# Short socket timeouts: an unreachable Redis must slow a page by a moment, not hang it (the page cache
# renders normally when the cache fails).
_REDIS_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
CACHES: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "contentreview.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "contentreview",
        "TIMEOUT": 300,
        "OPTIONS": _REDIS_OPTIONS,
    },
    # Whole public pages for anonymous readers (articles/page_cache.py); may be a Redis of its own.
    "pages": {
        "BACKEND": "contentreview.cache.RedisCache",
        "LOCATION": env_str("PAGE_CACHE_URL", REDIS_URL),
        "KEY_PREFIX": "contentreview-pages",
        "OPTIONS": _REDIS_OPTIONS,
    },
}
PAGE_CACHE_ALIAS = "pages"
PAGE_CACHE_ENABLED = env_bool("PAGE_CACHE_ENABLED", True)
# Stored pages are invalidated by generation, not by time; the expiry only returns memory.
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 24 * 3600)
# Anything that changes how pages render without changing templates, app code or static files.
PAGE_CACHE_RELEASE = env_str("PAGE_CACHE_RELEASE", "")
# Article pages render their approved text once per process and only their changing parts on each request
# (articles/framed.py); off, every request renders the whole template. The output is the same either way.
FRAMED_PAGES = env_bool("FRAMED_PAGES", True)
# Browsers and CDNs: a short freshness, then revalidation (ETag/Last-Modified, usually a 304).
PUBLIC_PAGE_MAX_AGE = env_int("PUBLIC_PAGE_MAX_AGE", 60)
PUBLIC_PAGE_STALE_SECONDS = env_int("PUBLIC_PAGE_STALE_SECONDS", 60)

# --- Auth ---------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# --- Sign-in abuse (django-axes; the site's two callables are in articles/sign_in.py) ----------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses before a password is even checked
    "django.contrib.auth.backends.ModelBackend",
]
# After this many wrong passwords in a row, counted per account and, separately, per address (site
# login and admin alike), signing in is paused for the cool-off; a success clears the count.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "articles.sign_in.client_ip"
AXES_LOCKOUT_CALLABLE = "articles.sign_in.lockout_response"
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24  # a reset link works for one day (and once)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "desk:home"
LOGOUT_REDIRECT_URL = "articles:index"

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves compressed files with hashed names (collectstatic writes them and the manifest), which
# WhiteNoise sends with far-future "immutable" headers. Development and tests use the plain storage, so
# they need no collectstatic run.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Email --------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "contentreview <editorial@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Some mail is sent while a person waits for the page (a reply to a reader): a mail server that takes
# the connection but never answers must not hold the request (Django's default is to wait for ever).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT_SECONDS", 10)

# --- Security -----------------------------------------------------------------------------------
# Secure by default whenever DEBUG is off; each can still be turned off explicitly (e.g. behind a
# proxy that terminates TLS and already redirects).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# django-csp 4: scripts and styles only from our own origin, so no inline script can run (JSON-LD is a
# data block, not a script, and is not affected). The Django admin loads only files too.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 600)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 540)
# A task is acknowledged after it ran, so a worker that dies mid-task leaves it for another worker.
CELERY_TASK_ACKS_LATE = True
# A pool process killed mid-task (out of memory, SIGKILL) puts its task back on the queue at once.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis hands an unacknowledged task to another worker after this many seconds, so it must outlast the
# longest task (the hard time limit) or a slow task would run twice at once.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600)
if CELERY_VISIBILITY_TIMEOUT <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_VISIBILITY_TIMEOUT must be longer than CELERY_TASK_TIME_LIMIT")
# Short timeouts and one quick publish retry: with the broker down a page still answers within a few
# seconds, and what it could not queue is owed and re-queued by beat (articles/jobs.py).
CELERY_BROKER_CONNECTION_TIMEOUT = env_int("BROKER_TIMEOUT_SECONDS", 2)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    "socket_timeout": CELERY_BROKER_CONNECTION_TIMEOUT + 3,
    "max_retries": 1,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = CELERY_BROKER_CONNECTION_TIMEOUT
CELERY_REDIS_SOCKET_TIMEOUT = CELERY_BROKER_CONNECTION_TIMEOUT + 3
CELERY_TIMEZONE = TIME_ZONE
# The one place for periodic jobs (beat reads it; workers on any machine run them).
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "review-reminders-daily": {
        "task": "articles.tasks.send_review_reminders",
        "schedule": crontab(hour=6, minute=0),
    },
    "requeue-owed-work-every-2-minutes": {
        "task": "articles.tasks.requeue_owed_work",
        "schedule": crontab(minute="*/2"),
    },
    "erase-reader-emails-daily": {
        "task": "articles.tasks.erase_expired_reader_emails",
        "schedule": crontab(hour=3, minute=30),
    },
    "citation-sweep-daily": {
        "task": "articles.tasks.sweep_citations",
        "schedule": crontab(hour=env_int("CITATION_SWEEP_HOUR", 3), minute=env_int("CITATION_SWEEP_MINUTE", 30)),
    },
    "heartbeat-every-5-minutes": {
        "task": "articles.tasks.heartbeat",
        "schedule": crontab(minute="*/5"),
    },
}

# --- Editorial rules ----------------------------------------------------------------------------
REVIEW_SLA_DAYS = env_int("REVIEW_SLA_DAYS", 7)
APPROVALS_REQUIRED = env_int("APPROVALS_REQUIRED", 1)
REVIEW_INTERVAL_DAYS = env_int("REVIEW_INTERVAL_DAYS", 365)
PUBLISH_PENDING = env_bool("PUBLISH_PENDING", False)
PATIENT_MAX_GRADE = env_int("PATIENT_MAX_GRADE", 8)
# "smog" (the default: validated for health texts) or "flesch_kincaid"; checked on the adjusted grade.
PATIENT_GRADE_MEASURE = env_str("PATIENT_GRADE_MEASURE", "smog")
if PATIENT_GRADE_MEASURE not in {"smog", "flesch_kincaid"}:
    raise ImproperlyConfigured("PATIENT_GRADE_MEASURE must be 'smog' or 'flesch_kincaid'")
# Reader questions and problem reports (articles/feedback.py): at most FEEDBACK_RATE_LIMIT sent from one
# address per FEEDBACK_RATE_WINDOW_SECONDS (counted in Redis), and a reader's email address is kept only
# FEEDBACK_EMAIL_RETENTION_DAYS after receipt (the daily beat job erases it).
FEEDBACK_RATE_LIMIT = env_int("FEEDBACK_RATE_LIMIT", 5)
FEEDBACK_RATE_WINDOW_SECONDS = env_int("FEEDBACK_RATE_WINDOW_SECONDS", 3600)
FEEDBACK_EMAIL_RETENTION_DAYS = env_int("FEEDBACK_EMAIL_RETENTION_DAYS", 90)
# A reply email the mail server did not take is tried again by beat's owed-work sweep after this many
# seconds, doubling with each failed try up to FEEDBACK_REPLY_RETRY_MAX_SECONDS, until it goes out.
FEEDBACK_REPLY_RETRY_SECONDS = env_int("FEEDBACK_REPLY_RETRY_SECONDS", 60)
FEEDBACK_REPLY_RETRY_MAX_SECONDS = env_int("FEEDBACK_REPLY_RETRY_MAX_SECONDS", 3600)
# Drug and disease names masked before measuring; empty means the list shipped in articles/.
READABILITY_MASKED_TERMS_FILE = env_str("READABILITY_MASKED_TERMS_FILE", "")

# --- Outside services (tests point these at a loopback server speaking the same formats) --------
CROSSREF_API_URL = env_str("CROSSREF_API_URL", "https://api.crossref.org")
EUTILS_API_URL = env_str("EUTILS_API_URL", "https://eutils.ncbi.nlm.nih.gov/entrez/eutils")
# Crossref's "polite pool" wants a contact address; NCBI allows 10 requests/s with a key, 3 without.
CROSSREF_MAILTO = env_str("CROSSREF_MAILTO", "")
NCBI_API_KEY = env_str("NCBI_API_KEY", "")
OUTSIDE_HTTP_TIMEOUT_SECONDS = env_int("OUTSIDE_HTTP_TIMEOUT_SECONDS", 10)
# A failed lookup attempt waits this long times 1, 2, 4 before the next; a lookup pending this long
# without being done (its job was never queued, or lost) is queued again by the owed-work sweep.
METADATA_RETRY_SECONDS = env_int("METADATA_RETRY_SECONDS", 60)
LOOKUP_OWED_AFTER_SECONDS = env_int("LOOKUP_OWED_AFTER_SECONDS", 300)

# --- The citation watch (articles/watch.py) ------------------------------------------------------
# A reference is re-checked once its last check is older than this; the daily sweep also takes a share
# of the not-yet-due ones (oldest first) so the checks spread evenly over the days.
CHECK_INTERVAL_DAYS = env_int("CHECK_INTERVAL_DAYS", 7)
# The checkers the watch runs, in order (each a class with `name`, `batch_size`, `check(batch)`).
CITATION_CHECKERS = env_list(
    "CITATION_CHECKERS",
    [
        "articles.citations.crossref.CrossrefChecker",
        "articles.citations.pubmed.PubMedChecker",
        "articles.citations.links.LinkChecker",
        "articles.citations.age.AgeChecker",
    ],
)
# Submitting an article checks its references at once (off only in tests that do not exercise the watch).
CITATION_CHECK_ON_SUBMIT = env_bool("CITATION_CHECK_ON_SUBMIT", True)

# --- Citation checkers (articles/citations/: crossref, pubmed, links, age) ---------------------
# Crossref's published limits (per client, across all our workers: kept in Redis): the polite pool (a
# mailto) allows 10 single-record and 3 list requests a second, the public pool 5 and 1.
CROSSREF_RATE_PER_SECOND = env_int("CROSSREF_RATE_PER_SECOND", 10 if CROSSREF_MAILTO else 5)
CROSSREF_LIST_RATE_PER_SECOND = env_int("CROSSREF_LIST_RATE_PER_SECOND", 3 if CROSSREF_MAILTO else 1)
# DOIs per filtered request (`filter=doi:…,doi:…` and `filter=updates:…`): keeps the URL a sane length.
CROSSREF_DOIS_PER_REQUEST = env_int("CROSSREF_DOIS_PER_REQUEST", 50)
# NCBI asks for a tool name and a contact address on every E-utilities request.
NCBI_TOOL = env_str("NCBI_TOOL", "contentreview")
NCBI_EMAIL = env_str("NCBI_EMAIL", CROSSREF_MAILTO)
# A link is dead after this many failed checks on distinct days (404/410, no such host, refused).
LINK_DEAD_AFTER = env_int("LINK_DEAD_AFTER", 3)
LINK_CHECK_TIMEOUT_SECONDS = env_int("LINK_CHECK_TIMEOUT_SECONDS", 10)  # per request
LINK_CHECK_MAX_SECONDS = env_int("LINK_CHECK_MAX_SECONDS", 60)  # one URL, redirects and retries included
LINK_CHECK_MAX_REDIRECTS = env_int("LINK_CHECK_MAX_REDIRECTS", 5)
LINK_CHECK_MAX_BYTES = env_int("LINK_CHECK_MAX_BYTES", 65536)  # of a GET body read; the rest is never fetched
LINK_CHECK_RETRIES = env_int("LINK_CHECK_RETRIES", 2)  # timeouts, 5xx, 429 and refused connections
LINK_CHECK_PARALLEL = env_int("LINK_CHECK_PARALLEL", 8)  # URLs checked at once by one worker
LINK_CHECK_PER_HOST = env_int("LINK_CHECK_PER_HOST", 2)  # of those, at most this many on one host
# A name that always resolves: when it does not either, a "no such host" means we are offline, not that
# the link's site is gone. Empty turns the test off.
LINK_CHECK_DNS_CANARY = env_str("LINK_CHECK_DNS_CANARY", "example.org")
# The link checker fetches addresses people typed, so it refuses loopback, private, link-local, multicast
# and cloud-metadata addresses. Tests serve pages on 127.0.0.1 and turn this on; production never can.
LINK_CHECK_ALLOW_LOOPBACK = env_bool("LINK_CHECK_ALLOW_LOOPBACK", False)
if LINK_CHECK_ALLOW_LOOPBACK and not DEBUG:
    raise ImproperlyConfigured("LINK_CHECK_ALLOW_LOOPBACK is for tests only and cannot be on when DEBUG is off")
# Sources older than this many years are shown as aging (guidelines go out of date fastest).
GUIDELINE_MAX_AGE_YEARS = env_int("GUIDELINE_MAX_AGE_YEARS", 5)
REVIEW_MAX_AGE_YEARS = env_int("REVIEW_MAX_AGE_YEARS", 5)  # systematic reviews and meta-analyses
SOURCE_MAX_AGE_YEARS = env_int("SOURCE_MAX_AGE_YEARS", 10)

# --- Syndication API (articles/api/) -------------------------------------------------------------
# Read-only and public: no sessions or CSRF involved. Partners send "Authorization: Api-Key <key>"
# (keys made in the admin) for the higher rate; anyone may read at the anonymous rate, per address.
API_ANON_RATE = env_str("API_ANON_RATE", "60/minute")
API_KEY_RATE = env_str("API_KEY_RATE", "1200/minute")
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 20)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["articles.api.access.ValidApiKeyIfPresent"],
    "DEFAULT_THROTTLE_CLASSES": ["articles.api.access.PartnerKeyThrottle", "articles.api.access.AnonymousThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    # Behind the TLS proxy the client address is the last X-Forwarded-For hop it added; otherwise
    # REMOTE_ADDR alone (a client-sent X-Forwarded-For must not buy a fresh throttle bucket).
    "NUM_PROXIES": 1 if env_bool("BEHIND_TLS_PROXY", False) else 0,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "contentreview syndication API",
    "DESCRIPTION": (
        "Approved medical articles with their review record and the standing of their sources. Read-only; "
        "only what readers can see. Poll `articles/?modified_since=` for changes."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"one_line_403": {"()": "contentreview.log_filters.OneLineForbidden"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}, "django.request": {"filters": ["one_line_403"]}},
}
