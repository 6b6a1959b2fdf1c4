"""One settings module, configured from the environment.

Every default works for `make demo`; production sets DATABASE_URL, REDIS_URL,
SECRET_KEY and friends. The small helpers below fail loudly on bad values.
"""

from __future__ import annotations

import os
import re
import tempfile
from decimal import Decimal, InvalidOperation
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envstr(name: str, default: str) -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def envchoice(name: str, default: str, choices: set[str]) -> str:
    raw = envstr(name, default)
    if raw not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {sorted(choices)}, got {raw!r}")
    return raw


def envrate(name: str, default: str) -> str:
    """A django-ratelimit rate, "count/period" (period s, m, h or d, optionally with a count: 10/5m)."""
    raw = envstr(name, default)
    if not re.fullmatch(r"\d+/\d*[smhd]", raw):
        raise ImproperlyConfigured(f"{name} must look like 10/m or 3/5m (count/period), got {raw!r}")
    return raw


def envmap(name: str, default: dict[str, str]) -> dict[str, str]:
    """`key=value,key=value` → dict, e.g. DEFAULT_MODELS=text-to-image=livepeer-ai/tiny-sd15."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return dict(default)
    result: dict[str, str] = {}
    for item in raw.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key or not value:
            raise ImproperlyConfigured(f"{name} must look like key=value,key=value; got {raw!r}")
        result[key.strip()] = value.strip()
    return result


def envdecimal(name: str) -> Decimal | None:
    """A positive decimal such as 3012.45, or None when unset; never a float."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a decimal number such as 3012.45, got {raw!r}") from None
    if not value.is_finite() or value <= 0:
        raise ImproperlyConfigured(f"{name} must be a positive decimal number, got {raw!r}")
    return value


DEBUG = envbool("DEBUG", False)
# Sessions, password-reset links and signed media links all rest on this key, so a
# production process never falls back to one anybody could read: it refuses to start.
# `make demo` makes a random one once and keeps it in var/secret_key.
SECRET_KEY = envstr("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set and DEBUG is false: set SECRET_KEY to a long random string "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), or DEBUG=true for local development."
        )
    SECRET_KEY = "django-insecure-livepeer-ai-debug-only"
ALLOWED_HOSTS = envstr("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [
    o for o in envstr("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000").split(",") if o
]
# HTTPS=true: the site is reached only over TLS, through a front server (nginx, a load
# balancer) that terminates it and sets X-Forwarded-Proto, the header trusted here: that
# server must overwrite any X-Forwarded-Proto a client sends. Cookies go over TLS only,
# browsers are told to stay on https (HSTS), and plain http is redirected.
HTTPS = envbool("HTTPS", False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envint("HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("HSTS_PRELOAD", True)

# Everything the demo writes (SQLite, media, tiny models, pid files) lives here.
VAR_DIR = Path(envstr("LIVEPEER_VAR_DIR", str(BASE_DIR / "var")))
MODELS_DIR = Path(envstr("LIVEPEER_MODELS_DIR", str(VAR_DIR / "models")))

# No "daphne" app: it only swaps `runserver` for daphne's (the web process is daphne itself), and
# loading it imports Twisted into every process, runners and commands included (0.4 s each).
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "django_ratelimit",
    "template_partials",
    "livepeer_ai.registry",
    "livepeer_ai.pipelines",
    "livepeer_ai.runner",
    "livepeer_ai.orchestrator",
    "livepeer_ai.gateway",
    "livepeer_ai.payments",
    "studio",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outermost but one: reshapes the error responses of everything inside it under /api/ as JSON.
    "livepeer_ai.gateway.api_errors.json_errors",
    # A database that refuses a connection (max_connections reached, a restart) is a 503, not a 500.
    "livepeer_ai.db_unavailable.DatabaseUnavailable",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "livepeer_ai.urls"
ASGI_APPLICATION = "livepeer_ai.asgi.application"
WSGI_APPLICATION = None

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
                "studio.notifications.nav_context",
            ],
        },
    },
]

# A form refused by CSRF protection gets the site's 403 page, not Django's plain one.
CSRF_FAILURE_VIEW = "studio.error_pages.csrf_failure"

DATABASES = {
    "default": dj_database_url.parse(envstr("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), conn_max_age=0)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo's web and worker processes share one SQLite file: WAL lets readers
    # run beside the writer, and the timeout waits out short write locks.
    # IMMEDIATE: a transaction takes the write lock when it begins, so one that reads
    # and then writes waits its turn instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
    # Tests drive jobs from several threads at once; SQLite's default in-memory
    # test database locks whole tables instead of waiting, a file does not.
    # One file per test process, so two runs on one machine never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"livepeer-ai-test-{os.getpid()}.sqlite3")
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "studio-index"
LOGOUT_REDIRECT_URL = "studio-index"
# Password-reset mail goes to the console in the demo; production names an SMTP backend.
EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT_S", 10)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "livepeer-ai studio <noreply@localhost>")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
# Stored files leave only through a view that checks who asks (studio/media.py), which
# hands the file to the front server when one serves it: "nginx" (X-Accel-Redirect to the
# internal location MEDIA_ACCEL_PREFIX, an alias of MEDIA_ROOT) or "sendfile" (X-Sendfile:
# Apache, lighttpd). Empty: Django streams it itself.
MEDIA_HANDOVER = envchoice("MEDIA_HANDOVER", "", {"", "nginx", "sendfile"})
MEDIA_ACCEL_PREFIX = envstr("MEDIA_ACCEL_PREFIX", "/protected-media/")
# How long a media link the API signed stays good (the job's status answer signs fresh ones).
MEDIA_LINK_MAX_AGE_S = envint("MEDIA_LINK_MAX_AGE_S", 86_400)
WHITENOISE_USE_FINDERS = True

# Redis carries the Celery broker, the Channels layer and the engines' wake-ups.
# Without REDIS_URL nothing crosses processes: jobs still run once `run_engine`
# is up (it finds them within its one-second tick), but their progress and a
# cancel reach other processes only through the rows. The demo always sets it.
REDIS_URL = envstr("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 defaults socket_timeout to 5 s, the same as channels_redis'
            # blocking-pop timeout, so idle consumers die with 1011 unless it is None
            # (django/channels_redis#422; docs/architecture.md, "Traps in the stack").
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}]},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
# Rate limits count in the cache, so every web process must share it: Redis when
# there is one; one process's memory otherwise (runserver, tests).
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# django-ratelimit knows only django-redis by name (W001); Django's own RedisCache
# increments atomically too. Without Redis there is a single process (E003: not shared).
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"] + ([] if REDIS_URL else ["django_ratelimit.E003"])
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# The network: orchestrator service URIs (off-chain discovery; on-chain comes
# with payments), how stale their /info may be, and the gateway's limits.
ORCHESTRATOR_URLS = [
    u for u in envstr("ORCHESTRATOR_URLS", "http://127.0.0.1:8935,http://127.0.0.1:8936").split(",") if u
]
ORCHESTRATOR_INFO_TTL_S = envint("ORCHESTRATOR_INFO_TTL_S", 5)
# Max price in wei per MAX_PRICE_PIXELS_PER_UNIT pixels (0 = no cap), like -maxPricePerUnit.
MAX_PRICE_PER_UNIT = envint("MAX_PRICE_PER_UNIT", 0)
MAX_PRICE_PIXELS_PER_UNIT = envint("MAX_PRICE_PIXELS_PER_UNIT", 1)
# A job waits in the gateway queue at most this long before the fallback provider
# (any server speaking the runner API) takes it, or it fails with the reason.
QUEUE_MAX_WAIT_S = envint("QUEUE_MAX_WAIT_S", 600)
# Stages one API key may run on a capability at once (0: no cap; keys share free slots in turns anyway).
API_KEY_MAX_RUNNING = envint("API_KEY_MAX_RUNNING", 0)
# A capability no known node offers fails at once, unless this many seconds are given for one to appear.
QUEUE_WAIT_FOR_NODES_S = envint("QUEUE_WAIT_FOR_NODES_S", 0)
FALLBACK_PROVIDER_URL = envstr("FALLBACK_PROVIDER_URL", "")
# The chain payments and receipts belong to; receipts name it in their EIP-712
# domain, and the gateway refuses receipts made for another (31337: anvil's).
CHAIN_ID = envint("CHAIN_ID", 31337)
# Payments on chain. Empty WEB3_PROVIDER_URI = off-chain mode (go-livepeer's
# -network offchain): nodes serve without tickets and discovery is ORCHESTRATOR_URLS.
WEB3_PROVIDER_URI = envstr("WEB3_PROVIDER_URI", "")
# Contract addresses: written by `manage.py deploy_contracts`, or given directly.
CHAIN_ADDRESSES_FILE = envstr("CHAIN_ADDRESSES_FILE", str(VAR_DIR / "chain.json"))
TICKET_BROKER_ADDRESS = envstr("TICKET_BROKER_ADDRESS", "")
ORCHESTRATOR_REGISTRY_ADDRESS = envstr("ORCHESTRATOR_REGISTRY_ADDRESS", "")
# ETH/USD, for amounts in dollars: a Chainlink-style feed (AggregatorV3Interface) at
# ETH_USD_FEED_ADDRESS, or the one `deploy_contracts` wrote to CHAIN_ADDRESSES_FILE; an
# answer older than ETH_USD_FEED_MAX_AGE_S (Chainlink's ETH/USD heartbeat: 1 h) is no
# price. With no feed, ETH_USD_PRICE (USD per ETH) is shown as "configured, not live";
# with neither, amounts are in ETH alone. A read is reused for ETH_USD_CACHE_S.
ETH_USD_FEED_ADDRESS = envstr("ETH_USD_FEED_ADDRESS", "")
ETH_USD_FEED_MAX_AGE_S = envint("ETH_USD_FEED_MAX_AGE_S", 3600)
ETH_USD_PRICE = envdecimal("ETH_USD_PRICE")
ETH_USD_CACHE_S = envint("ETH_USD_CACHE_S", 60)
# The gateway's Ethereum account (the ticket sender): a keystore file and its
# password's env variable, or a raw key in GATEWAY_PRIVATE_KEY.
GATEWAY_KEYSTORE = envstr("GATEWAY_KEYSTORE", "")
GATEWAY_KEYSTORE_PASSWORD_ENV = envstr("GATEWAY_KEYSTORE_PASSWORD_ENV", "")
GATEWAY_PRIVATE_KEY_ENV = "GATEWAY_PRIVATE_KEY"
# The sender's limits on what orchestrators ask (go-livepeer's -maxTicketEV, -maxTotalEV).
MAX_TICKET_EV = envint("MAX_TICKET_EV", 3_000_000_000_000)
MAX_TOTAL_EV = envint("MAX_TOTAL_EV", 20_000_000_000_000)
# Retries of a failing stage on other nodes: bounded in count and in total time.
STAGE_MAX_ATTEMPTS = envint("STAGE_MAX_ATTEMPTS", 5)
STAGE_RETRY_WINDOW_S = envint("STAGE_RETRY_WINDOW_S", 900)
# The job engine (`manage.py run_engine`): stages one process streams at once; its
# heartbeat, and how long a silent one keeps its stages before the others re-queue them.
ENGINE_MAX_STAGES = envint("ENGINE_MAX_STAGES", 500)
ENGINE_HEARTBEAT_S = float(envint("ENGINE_HEARTBEAT_MS", 2000)) / 1000
ENGINE_LEASE_S = float(envint("ENGINE_LEASE_MS", 10000)) / 1000
# A job's row takes its progress at most this often (every step still reaches the page).
PROGRESS_WRITE_S = float(envint("PROGRESS_WRITE_MS", 250)) / 1000
# A synchronous API call waits this long for its job, then answers 202 with its id.
API_SYNC_TIMEOUT_S = envint("API_SYNC_TIMEOUT_S", 600)
# Webhooks for API callers (gateway/webhooks.py): a URL that resolves to a private, loopback or
# link-local address is refused unless allowed (tests, a demo on one machine). Each event is tried
# at most WEBHOOK_MAX_ATTEMPTS times, WEBHOOK_TIMEOUT_S each, waiting WEBHOOK_RETRY_BASE_MS × 4^(n-1)
# after the n-th failure; progress is sent at most every WEBHOOK_PROGRESS_MS. Each engine sends up to
# WEBHOOK_CONCURRENCY at once, off the jobs' path.
WEBHOOK_ALLOW_PRIVATE = envbool("WEBHOOK_ALLOW_PRIVATE", False)
WEBHOOK_MAX_ATTEMPTS = envint("WEBHOOK_MAX_ATTEMPTS", 6)
WEBHOOK_TIMEOUT_S = envint("WEBHOOK_TIMEOUT_S", 10)
WEBHOOK_RETRY_BASE_MS = envint("WEBHOOK_RETRY_BASE_MS", 5000)
WEBHOOK_PROGRESS_MS = envint("WEBHOOK_PROGRESS_MS", 1000)
WEBHOOK_CONCURRENCY = envint("WEBHOOK_CONCURRENCY", 32)
# The operator dashboard fetches every node's /info and stake this often, and pushes the result.
# Runner logs (/runners, an operator route) only from nodes on this machine or listed here,
# "service_uri=token,…": each node gets its own token, never another's.
ORCHESTRATOR_ADMIN_TOKENS = envmap("ORCHESTRATOR_ADMIN_TOKENS", {})
DASHBOARD_REFRESH_S = envint("DASHBOARD_REFRESH_S", 5)
CELERY_BEAT_SCHEDULE = {
    "close-rounds": {"task": "studio.tasks.close_rounds", "schedule": 60.0},
    "refresh-network": {
        "task": "dashboard.tasks.refresh_network",
        "schedule": float(DASHBOARD_REFRESH_S),
        # A refresh not started before the next one is due is skipped, not queued up.
        "options": {"expires": float(DASHBOARD_REFRESH_S)},
    },
}
# The studio's limits per member (or per IP for visitors): django-ratelimit rates, "count/period".
STUDIO_CREATE_RATE = envrate("STUDIO_CREATE_RATE", "6/m")
STUDIO_VOTE_RATE = envrate("STUDIO_VOTE_RATE", "30/m")
STUDIO_REPORT_RATE = envrate("STUDIO_REPORT_RATE", "10/h")
# "Improve my prompt" (an llm job each): per member.
STUDIO_IMPROVE_PROMPT_RATE = envrate("STUDIO_IMPROVE_PROMPT_RATE", "10/m")
# Password guessing: sign-ins (the studio's and the admin's) and password changes, per client IP
# and per account name; password-reset mails, per IP and per address. Every try counts, a right one too.
LOGIN_RATE = envrate("LOGIN_RATE", "10/5m")
PASSWORD_RESET_RATE = envrate("PASSWORD_RESET_RATE", "5/h")
RUNNER_TIMEOUT_S = envint("RUNNER_TIMEOUT_S", 600)
# GET /metrics (gateway and orchestrator nodes) asks for `Authorization: Bearer <token>` when set;
# without it the gateway's is open only under DEBUG, and a node's only on its own machine.
METRICS_TOKEN = envstr("METRICS_TOKEN", "")
# Model used by each stage of the studio workflow when the request names none.
DEFAULT_MODELS = envmap(
    "DEFAULT_MODELS",
    {
        "text-to-image": "livepeer-ai/tiny-sdxl-turbo",
        "image-to-image": "livepeer-ai/tiny-sdxl-turbo",
        "image-to-video": "livepeer-ai/tiny-svd-xt",
        "upscale": "livepeer-ai/tiny-sd-x4-upscaler",
        "frame-interpolation": "opencv/dis-flow",
        "image-to-text": "livepeer-ai/tiny-blip-captioning",
        "audio-to-text": "livepeer-ai/tiny-whisper",
        "llm": "livepeer-ai/tiny-llama-instruct",
        "text-to-speech": "livepeer-ai/tiny-vits",
        "segment-anything-2": "livepeer-ai/tiny-sam2-hiera",
    },
)

# Periodic polls stay out of INFO (livepeer_ai/quiet_logs.py): runners' and nodes' access
# lines for successful health checks and /info fetches, httpx's line per request, and
# Celery's three lines per beat task. Errors and failed requests are still logged.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"quiet_polls": {"()": "livepeer_ai.quiet_logs.QuietPolls"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        "uvicorn.access": {"filters": ["quiet_polls"]},
        "httpx": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
    },
}
