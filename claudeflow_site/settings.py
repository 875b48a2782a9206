"""Django settings, read from environment variables with the names the spec uses.

Two shapes (ARCHITECTURE.md): embedded (no DATABASE_URL/REDIS_URL: SQLite, StubBroker with
worker threads in the web process, in-memory channel layer) and production (Postgres + Redis).
Every value is validated here; a bad one raises ConfigError naming the variable.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url

from claudeflow_site.config import (
    ConfigError,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_range,
    env_rate,
    env_raw,
    env_str,
    load_dotenv_file,
    sqs_broker_options,
)
from core.version import VERSION

BASE_DIR = Path(__file__).resolve().parent.parent
# A source checkout (manage.py beside the packages) keeps .env, var/, templates/ and static/ in it. An
# installed wheel (`claudeflow-server`) has its templates and static files in claudeflow_site/assets
# and uses the working directory for .env, var/ and staticfiles/.
SOURCE_CHECKOUT = (BASE_DIR / "manage.py").is_file()
PROJECT_DIR = BASE_DIR if SOURCE_CHECKOUT else Path.cwd()
ASSETS_DIR = BASE_DIR if SOURCE_CHECKOUT else Path(__file__).resolve().parent / "assets"
DOTENV_FILE = load_dotenv_file(PROJECT_DIR / ".env")
VAR_DIR = Path(env_str("CLAUDEFLOW_VAR_DIR", str(PROJECT_DIR / "var")))

# --- core Django -------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ConfigError("SECRET_KEY is required when DEBUG=false")
    SECRET_KEY = "dev-insecure-" + secrets.token_urlsafe(32)  # development only: sessions reset on restart
# A short secret can be brute-forced offline from one signed cookie or token (then tokens are forged).
MIN_SECRET_LENGTH = 32
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
ENVIRONMENT = env_str("ENVIRONMENT", "development" if DEBUG else "production")

PORT = env_int("PORT", 8000, min=1, max=65535)
HOST = env_str("HOST", "127.0.0.1")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files served from here, not a CDN
    "django_filters",  # the API lists' FilterSets (core.filters)
    "channels",
    "axes",  # login lockouts (access.lockout)
    "claudeflow_site",  # only for its migrations, which created the API key table (see access)
    "access",
    "ops",  # before django_dramatiq: its rundramatiq command wraps theirs
    "django_dramatiq",
    "events",
    "swarms",
    "agents",
    "workspaces",
    "tasks",
    "webhooks",
    "engine",
    "ui",
    "fakeclaude",  # only for its `fakeclaude` management command
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "access.network.TrustedProxyMiddleware",  # REMOTE_ADDR = the client, X-Forwarded-For only from TRUSTED_PROXIES
    "ops.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.SecurityHeadersMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a locked-out /login or /admin/login/ into the lockout page
    "core.middleware.ApiErrorMiddleware",
]

ROOT_URLCONF = "claudeflow_site.urls"
ASGI_APPLICATION = "claudeflow_site.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [ASSETS_DIR / "templates"],
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

# --- database --------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
if not env_raw("DATABASE_URL"):  # the embedded shape's SQLite file: var/ may not exist yet
    VAR_DIR.mkdir(parents=True, exist_ok=True)
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_health_checks=True)}
except ValueError as exc:
    raise ConfigError(f"DATABASE_URL is not a valid database URL ({exc})") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE: every transaction takes the write lock up front, so two writers queue instead
    # of failing with "database is locked" half way; WAL lets readers go on meanwhile.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif env_bool("DB_POOL", False):
    # psycopg's pool, one per process, shared by its threads (Django requires CONN_MAX_AGE=0 with it)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env_int("DB_POOL_MAX_SIZE", 40, min=2),
        "timeout": 10,
    }
else:
    # persistent connections, checked before reuse (conn_health_checks above)
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, min=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DB_SERVER_SIDE_BINDING", True
):
    # parameters bound by PostgreSQL, and statements a connection runs often prepared once (psycopg's
    # prepare_threshold): less CPU per statement in the workers and the server. Off behind a
    # PgBouncer in transaction mode older than 1.21, which cannot keep prepared statements.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

# --- Redis: cache (rate limits), channel layer, broker -------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ConfigError(f"REDIS_URL must start with redis://, rediss:// or unix://; got {REDIS_URL!r}")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # an unreachable Redis must fail a rate-limit check fast (it then fails open), not hang it
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": env_int("WS_CHANNEL_CAPACITY", 1000, min=10)},
        }
    }
else:
    # Embedded shape: one process, so a process-local cache and channel layer are shared by all.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "claudeflow"}
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "core.layers.ThreadSafeInMemoryChannelLayer"}}
# Django's RedisCache is shared across processes but not on django-ratelimit's list (W001);
# LocMem is only used in the single-process embedded shape (E003).
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"] + ([] if REDIS_URL else ["django_ratelimit.E003"])

# The job queue: Redis (REDIS_URL) by default; BROKER_URL=sqs://... puts it on Amazon SQS instead
# (workers beside a Lambda API function; options below, after TASK_TIMEOUT_MINUTES).
BROKER_URL = env_str("BROKER_URL")
if BROKER_URL and not BROKER_URL.startswith("sqs://"):
    raise ConfigError(
        f"BROKER_URL must start with sqs:// (leave it unset for REDIS_URL's Redis); got {BROKER_URL!r}"
    )
EMBEDDED_WORKERS = env_bool("EMBEDDED_WORKERS", not (REDIS_URL or BROKER_URL))
DRAMATIQ_BROKER = {
    "BROKER": "dramatiq.brokers.redis.RedisBroker" if REDIS_URL else "dramatiq.brokers.stub.StubBroker",
    "OPTIONS": {"url": REDIS_URL} if REDIS_URL else {},
    "MIDDLEWARE": [
        "dramatiq.middleware.AgeLimit",
        "dramatiq.middleware.TimeLimit",
        "dramatiq.middleware.Callbacks",
        "dramatiq.middleware.Retries",
        "django_dramatiq.middleware.DbConnectionsMiddleware",
        "engine.middleware.Housekeeping",
    ],
}
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]
DRAMATIQ_TASKS_DATABASE = "default"

# --- auth ---------------------------------------------------------------------------------
AUTH_ENABLED = env_bool("AUTH_ENABLED", True)
API_KEYS = env_list("API_KEYS")
JWT_SECRET = env_str("JWT_SECRET") or SECRET_KEY
if not DEBUG:
    for _name, _secret in (("SECRET_KEY", SECRET_KEY), ("JWT_SECRET", JWT_SECRET)):
        if len(_secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"{_name} must be at least {MIN_SECRET_LENGTH} characters when DEBUG=false (got {len(_secret)}); "
                "make one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
            )
LOCAL_USERNAME = "local"  # the user anonymous requests act as when AUTH_ENABLED=false
SERVICE_USERNAME = "api-service"  # the account keys from API_KEYS act as
LOGIN_URL = "ui:login"
LOGIN_REDIRECT_URL = "ui:dashboard"
LOGOUT_REDIRECT_URL = "ui:login"

AUTHENTICATION_BACKENDS = [
    "access.lockout.LockoutBackend",  # refuses a locked-out account+address before the password check
    "django.contrib.auth.backends.ModelBackend",
]
# login lockouts (django-axes, on the shared cache): per account + client address
AXES_HANDLER = "access.lockout.FailOpenCacheHandler"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, min=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, min=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "access.network.client_ip"  # honours TRUSTED_PROXIES
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "access.auth.ApiKeyAuthentication",
        "access.auth.JwtAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "access.auth.LocalUserAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "access.auth.Authenticated",
        "access.auth.KeyPermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["access.ratelimits.GeneralRateLimit"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.StrictJSONParser"],
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",  # drf-spectacular's, documenting core.lists.ListApi
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 60, min=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7, min=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "SIGNING_KEY": JWT_SECRET,
    "UPDATE_LAST_LOGIN": True,
    # tokens carry a hash of the password hash: a password change (or reset) ends them all
    "CHECK_REVOKE_TOKEN": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Claude-Flow server API",
    "DESCRIPTION": "Plan an objective with Claude, run a swarm of agents, follow it live.",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # summaries, operationIds, tags, 415/503 and examples: claudeflow_site/openapi.py
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "claudeflow_site.openapi.polish",
    ],
    # the swarm's status appears in two components (the list's Swarm, the detail's SwarmWithPlan)
    "ENUM_NAME_OVERRIDES": {"SwarmStatusEnum": "swarms.models.SWARM_STATUSES"},
    # LocalUserAuthentication (AUTH_ENABLED=false) is a development mode, not a scheme to document
    "AUTHENTICATION_WHITELIST": [
        "access.auth.ApiKeyAuthentication",
        "access.auth.JwtAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}

# A JSON request body larger than this is refused (413) before it is parsed.
MAX_JSON_BYTES = env_int("MAX_JSON_BYTES", 65_536, min=1024)

# --- rate limits -----------------------------------------------------------------------------
RATE_LIMIT_WINDOW = env_int("RATE_LIMIT_WINDOW", 900_000, min=1000)  # milliseconds
RATE_LIMIT_MAX = env_int("RATE_LIMIT_MAX", 100, min=1)
SWARM_CREATE_RATE = env_rate("SWARM_CREATE_RATE", "10/h")
RATELIMIT_USE_CACHE = "default"
RATELIMIT_FAIL_OPEN = True  # a cache that answers nothing lets requests through (access.ratelimits)

# --- client address ---------------------------------------------------------------------------
# X-Forwarded-For is believed only from these proxies (access.network); default: from nobody
TRUSTED_PROXY_NETWORKS = env_networks("TRUSTED_PROXIES")

# --- CORS and security headers ----------------------------------------------------------------
CORS_ORIGINS = env_list("CORS_ORIGINS", ["*"])
CORS_ALLOW_ALL_ORIGINS = CORS_ORIGINS == ["*"]
CORS_ALLOWED_ORIGINS = [] if CORS_ALLOW_ALL_ORIGINS else CORS_ORIGINS
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "x-api-key", "x-request-id"]
for _origin in CORS_ALLOWED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise ConfigError(f"CORS_ORIGINS entries must start with http:// or https://; got {_origin!r}")

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SECURE_SSL = env_bool("SECURE_SSL", not DEBUG)  # behind TLS: secure cookies, HSTS, redirect
if SECURE_SSL:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, min=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^api/ready$", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- static files ----------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [ASSETS_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(PROJECT_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- WebSocket ------------------------------------------------------------------------------
WS_ENABLED = env_bool("WS_ENABLED", True)
WS_HEARTBEAT = env_int("WS_HEARTBEAT", 30_000, min=1000)  # milliseconds
WS_MAX_CONNECTIONS_PER_USER = env_int("WS_MAX_CONNECTIONS_PER_USER", 20, min=1)  # across web processes
WS_MAX_SUBSCRIPTIONS = env_int("WS_MAX_SUBSCRIPTIONS", 50, min=1)  # swarms per socket
WS_MESSAGE_RATE = env_rate("WS_MESSAGE_RATE", "60/10s")  # client messages per socket; twice that closes it
WS_REPLAY_MAX = env_int("WS_REPLAY_MAX", 500, min=1)  # events replayed per subscribe; then page
WS_AUTH_RECHECK = env_float("WS_AUTH_RECHECK", 2, min=0.1, max=60)  # seconds between credential checks
WS_PRESENCE_TTL = env_int("WS_PRESENCE_TTL", 30, min=2)  # seconds a crashed web process stays counted

# --- engine limits (coordinator + execution bridge) -----------------------------------------
MAX_SWARMS = env_int(
    "MAX_SWARMS", 50, min=1
)  # active swarms (planning/ready/executing/paused), deployment-wide
MAX_SWARMS_PER_USER = env_int("MAX_SWARMS_PER_USER", 10, min=1)  # active swarms per owner
READY_SWARM_TTL = env_int("READY_SWARM_TTL", 86_400, min=0)  # seconds a swarm may sit in `ready`; 0 = forever
# seconds a plan or task output may wait for approval before the swarm fails (approval_timeout);
# unset or 0 = no limit
APPROVAL_TIMEOUT = env_int("APPROVAL_TIMEOUT", 0, min=0) or None
MAX_AGENTS_PER_SWARM = env_int("CLAUDE_FLOW_MAX_AGENTS", 20, min=1, max=100)
MAX_TASKS_PER_SWARM = env_int("MAX_TASKS_PER_SWARM", 100, min=1)  # created and planned, all statuses
WORKSPACE_MAX_FILE_BYTES = env_int(
    "WORKSPACE_MAX_FILE_BYTES", 262_144, min=1, max=16_777_216
)  # UTF-8, per version
WORKSPACE_MAX_FILES = env_int("WORKSPACE_MAX_FILES", 500, min=1, max=100_000)  # distinct paths per swarm
MAX_CONCURRENT_TASKS = env_int("MAX_CONCURRENT_TASKS", 10, min=1)
MAX_CONCURRENT_TASKS_PER_USER = env_int(
    "MAX_CONCURRENT_TASKS_PER_USER", max(1, MAX_CONCURRENT_TASKS // 2), min=1
)
TASK_TIMEOUT_MINUTES = env_float("TASK_TIMEOUT_MINUTES", 10, min=0.01)
if BROKER_URL:
    # a received message stays hidden from other workers for longer than its actor may run
    # (run_task: the task timeout + 5 minutes; plan_swarm: 30 minutes), plus a minute
    DRAMATIQ_BROKER["BROKER"] = "core.sqs.SQSBroker"
    DRAMATIQ_BROKER["OPTIONS"] = sqs_broker_options(
        "BROKER_URL", BROKER_URL, default_visibility=int(max(30, TASK_TIMEOUT_MINUTES + 5) * 60) + 60
    )
TASK_MAX_TURNS = env_int("TASK_MAX_TURNS", 12, min=1, max=200)  # Claude calls in one task's tool loop
DEFAULT_SWARM_TIMEOUT_MS = env_int("CLAUDE_FLOW_TIMEOUT", 300_000, min=30_000, max=3_600_000)
MEMORY_THRESHOLD = env_int("MEMORY_THRESHOLD", 1_073_741_824)  # bytes of this process's RSS
if MEMORY_THRESHOLD < 100 * 1024 * 1024:
    raise ConfigError("MEMORY_THRESHOLD too low (minimum 100MB = 104857600)")
CPU_THRESHOLD = env_float("CPU_THRESHOLD", 0.8, min=0.01, max=1.0)  # of one CPU (or a smaller cgroup quota)
RESOURCE_MONITORING = env_bool("RESOURCE_MONITORING", True)
RESOURCE_GUARD_SAMPLES = env_int("RESOURCE_GUARD_SAMPLES", 3, min=1, max=100)  # readings in a row to flip
RESOURCE_ALERT_INTERVAL = env_float("RESOURCE_ALERT_INTERVAL", 60, min=0)  # seconds between alerts
ENABLE_METRICS = env_bool("ENABLE_METRICS", True)
# when set, /metrics and the worker exporter need "Authorization: Bearer <token>"; when not, /metrics
# answers only requests from this machine and the exporter listens on 127.0.0.1
METRICS_TOKEN = env_str("METRICS_TOKEN")
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 9191, min=0, max=65535)  # 0 = off
WORKER_METRICS_HOST = env_str("WORKER_METRICS_HOST", "127.0.0.1")
if (
    ENABLE_METRICS
    and WORKER_METRICS_PORT
    and WORKER_METRICS_HOST not in ("127.0.0.1", "::1", "localhost")
    and not METRICS_TOKEN
):
    raise ConfigError(
        f"WORKER_METRICS_HOST={WORKER_METRICS_HOST} would serve the worker's metrics beyond this machine "
        "without a token: set METRICS_TOKEN too, or leave WORKER_METRICS_HOST at 127.0.0.1"
    )
MAX_RETRIES = env_int("MAX_RETRIES", 3, min=0, max=10)
RETRY_DELAY_MS = env_int("RETRY_DELAY", 1000, min=0)
MAX_RETRY_DELAY_MS = env_int("MAX_RETRY_DELAY", 30_000, min=0)
TASK_LEASE_SECONDS = env_float("TASK_LEASE_SECONDS", 30, min=1)
HOUSEKEEPING_INTERVAL_SECONDS = env_float("HOUSEKEEPING_INTERVAL", 5, min=0.1)
WORKER_GRACE_SECONDS = env_float("WORKER_GRACE_SECONDS", 30, min=0)
WORKER_POLL_MS = env_int("WORKER_POLL_MS", 100, min=10, max=10_000)
EMBEDDED_WORKER_THREADS = env_int("EMBEDDED_WORKER_THREADS", MAX_CONCURRENT_TASKS + 4, min=2)
DEFAULT_BUDGET = {
    "maxTokens": env_int("BUDGET_MAX_TOKENS", 0, min=0) or None,
    "maxCostUsd": env_float("BUDGET_MAX_COST_USD", 0, min=0) or None,
}

# --- Claude -----------------------------------------------------------------------------------
ANTHROPIC_API_KEY = env_str("ANTHROPIC_API_KEY")
ANTHROPIC_BASE_URL = env_str("ANTHROPIC_BASE_URL")
FAKE_CLAUDE = env_str("FAKE_CLAUDE", "auto", choices=("auto", "on", "off"))
# the embedded fake Claude's delay before each answer, ms: `N` or a random `LOW-HIGH` (bin/run: 1000-3000)
FAKE_CLAUDE_LATENCY_MS = env_range("FAKE_CLAUDE_LATENCY_MS", (300, 300), max=600_000)
CLAUDE_MODEL = env_str("CLAUDE_MODEL", "claude-sonnet-5-5")
CLAUDE_MODELS = {
    "planner": env_str("CLAUDE_PLANNER_MODEL", CLAUDE_MODEL),
    "agent": env_str("CLAUDE_AGENT_MODEL", CLAUDE_MODEL),
    "reviewer": env_str("CLAUDE_REVIEWER_MODEL", CLAUDE_MODEL),
}
CLAUDE_TIMEOUT_MS = env_int("CLAUDE_TIMEOUT", 120_000, min=1000)  # the spec's asyncTimeout
CLAUDE_MAX_TOKENS = env_int("CLAUDE_MAX_TOKENS", 4096, min=64)
CONTEXT_CHAR_BUDGET = env_int("CONTEXT_CHAR_BUDGET", 24_000, min=1000)  # dependency outputs per task
STORE_PROMPTS = env_bool("STORE_PROMPTS", True)  # keep each call's request and response (the prompt trace)
TRACE_MAX_BYTES = env_int("TRACE_MAX_BYTES", 1_048_576, min=1024)  # per call, each of request and response
TRACE_RETENTION_DAYS = env_int("TRACE_RETENTION_DAYS", 0, min=0)  # clear older traces (0: keep them)
PROMPT_CACHING = env_bool("PROMPT_CACHING", True)  # mark the stable prompt prefix with cache_control
try:
    CLAUDE_PRICES = json.loads(env_raw("CLAUDE_PRICES") or "{}")  # {"model": [in $/MTok, out $/MTok]}
except json.JSONDecodeError:
    raise ConfigError('CLAUDE_PRICES must be JSON like {"claude-sonnet-5-5": [3, 15]}') from None
if not ANTHROPIC_API_KEY and not ANTHROPIC_BASE_URL and FAKE_CLAUDE == "off":
    raise ConfigError("ANTHROPIC_API_KEY is required (or set ANTHROPIC_BASE_URL, or FAKE_CLAUDE=auto)")

# --- webhooks and plugins ----------------------------------------------------------------------
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6, min=1, max=20)  # per delivery, first one included
WEBHOOK_TIMEOUT = env_float("WEBHOOK_TIMEOUT", 5, min=0.1, max=60)  # seconds per attempt (connect + answer)
WEBHOOK_RETRY_DELAY_MS = env_int("WEBHOOK_RETRY_DELAY", 5000, min=0)  # before the 2nd attempt; x4 each time
WEBHOOK_MAX_RETRY_DELAY_MS = env_int("WEBHOOK_MAX_RETRY_DELAY", 3_600_000, min=0)
WEBHOOK_DISABLE_AFTER = env_int("WEBHOOK_DISABLE_AFTER", 10, min=0)  # failed deliveries in a row; 0 = never
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)  # development and tests
WEBHOOK_MAX_PER_USER = env_int("WEBHOOK_MAX_PER_USER", 20, min=1)
WEBHOOK_SECRET_GRACE = env_int("WEBHOOK_SECRET_GRACE", 86_400, min=0)  # s the old secret still signs
WEBHOOK_CACHE_SECONDS = env_float("WEBHOOK_CACHE_SECONDS", 2, min=0)  # how soon other processes see changes
PLUGINS = env_list("PLUGINS")  # pkg.module:obj, besides the `claudeflow.plugins` entry points

# --- logging --------------------------------------------------------------------------------
_LEVELS = {"debug": "DEBUG", "info": "INFO", "warn": "WARNING", "warning": "WARNING", "error": "ERROR"}
LOG_LEVEL = _LEVELS[
    env_str("LOG_LEVEL", env_str("CLAUDE_FLOW_LOG_LEVEL", "info"), choices=tuple(_LEVELS)).lower()
]
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json", choices=("json", "text"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.logging.ContextFilter"}},
    "formatters": {
        "json": {"()": "core.logging.JsonFormatter"},
        "text": {"()": "core.logging.TextFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "daphne": {"level": "WARNING" if LOG_LEVEL != "DEBUG" else "DEBUG"},
        "httpx2": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
