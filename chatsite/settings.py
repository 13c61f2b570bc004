"""Kwebbel settings.

Every value that differs between machines comes from the environment, and this is the only module
that reads it (django-environ; a ``.env`` file next to ``manage.py`` is read too, if present).
The README lists the variables. Without any of them the site runs in development mode on SQLite,
the in-memory channel layer and a local ACS emulator.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

# Development is the default so that a fresh clone runs with `make run`; production sets DEBUG=false
# and must then supply SECRET_KEY (checked below) and ALLOWED_HOSTS.
DEBUG = env.bool("DEBUG", default=True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is false, for example "
            "SECRET_KEY=\"$(python -c 'import secrets; print(secrets.token_urlsafe(50))')\"."
        )
    # The "django-insecure-" prefix makes `check --deploy` flag this key should it reach production.
    SECRET_KEY = "django-insecure-kwebbel-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Daphne first: its runserver replaces Django's, so `manage.py runserver` speaks ASGI.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "chatsite",  # the site-wide development commands: runkwebbel, create_demo_users
    "tokens",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions (it reads the chosen language), before CommonMiddleware.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: the user's profile may name their time zone.
    "chat.timezones.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chatsite.urls"
ASGI_APPLICATION = "chatsite.asgi.application"

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
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # BEGIN IMMEDIATE takes the write lock when a transaction starts, which is how SQLite
            # serialises the token refresh that select_for_update() serialises on PostgreSQL.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# Connections are kept between requests and between the live path's database calls (which
# run on a small thread pool, see chat.db): opening one per call costs more than the call.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channels and cache -----------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 gives every connection a 5 s socket timeout, which aborts the channel
                # layer's blocking BZPOPMIN and tears down idle websockets every 5 s
                # (django/channels_redis#422): no timeout on the layer's reads.
                "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
            },
        }
    }
    # Shared by all workers, so the token endpoint's rate limit holds across processes.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "kwebbel",
        }
    }
else:
    # Channels' in-memory layer, sweeping for expired messages once a second (chat.layers).
    CHANNEL_LAYERS = {"default": {"BACKEND": "chat.layers.InProcessChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Azure Communication Services -------------------------------------------------------------

# "endpoint=https://<resource>.communication.azure.com/;accesskey=<base64>". Empty means ACS is
# not configured: `make run` then starts the local emulator and passes its connection string on.
ACS_CONNECTION_STRING = env.str("ACS_CONNECTION_STRING", default="")
# A PEM file of extra trusted CAs for ACS (the emulator's ca.pem); None trusts the system store.
ACS_CA_BUNDLE = env.str("ACS_CA_BUNDLE", default="") or None
# Lifetime asked for each user token (ACS allows 1 to 24 hours); shorter limits what a leaked
# browser token can do, at the cost of one more token issue per user per lifetime.
ACS_TOKEN_LIFETIME = timedelta(minutes=env.int("ACS_TOKEN_LIFETIME_MINUTES", default=60))
# POST /tokens/ requests allowed per signed-in user and window (seconds).
TOKENS_RATE_LIMIT = (env.int("TOKENS_RATE_LIMIT", default=30), 60)

# --- Live relay (chat.relay) ------------------------------------------------------------------

# Seconds between polls of a watched thread (nobody watching: no polls). ACS's per-thread limits
# are kept by the poller's own call budget however low this is set.
RELAY_POLL_INTERVAL = env.float("RELAY_POLL_INTERVAL", default=1.0)
# Between those polls (which ask only for new messages), seconds between re-reads of the newest
# 20 messages, for their edits and deletions; and of the newest 200, which also reconciles the
# members and the topic.
RELAY_EDIT_SCAN_EVERY = env.float("RELAY_EDIT_SCAN_EVERY", default=5.0)
RELAY_DEEP_SCAN_EVERY = env.float("RELAY_DEEP_SCAN_EVERY", default=30.0)
# Events kept per thread for resuming pages; an older cursor makes the page reload the thread.
RELAY_LOG_KEEP = env.int("RELAY_LOG_KEEP", default=5000)

# Chat events pushed by Event Grid to POST /events/acs/ (chat.views.events). With events on, a
# watched thread whose events arrive is read when an event announces a change and otherwise
# reconciled only every RELAY_TRUSTED_POLL_INTERVAL seconds (read receipts, which Event Grid
# does not carry, every RELAY_TRUSTED_RECEIPTS_EVERY); a change that no event announced puts the
# thread back on RELAY_POLL_INTERVAL. Off: the webhook answers 404 and polling is as before.
RELAY_EVENTS = env.bool("RELAY_EVENTS", default=False)
RELAY_TRUSTED_POLL_INTERVAL = env.float("RELAY_TRUSTED_POLL_INTERVAL", default=30.0)
RELAY_TRUSTED_RECEIPTS_EVERY = env.float("RELAY_TRUSTED_RECEIPTS_EVERY", default=15.0)
# The webhook's shared secret(s), comma-separated (several while rotating one): the event
# subscription sends one as ?secret=... in its endpoint URL or as a Kwebbel-Events-Secret header.
ACS_EVENTS_SECRETS = tuple(s for s in env.list("ACS_EVENTS_SECRET", default=[]) if s)
if RELAY_EVENTS and not ACS_EVENTS_SECRETS:
    raise ImproperlyConfigured("RELAY_EVENTS is on: set ACS_EVENTS_SECRET for the webhook.")

# --- Auth -------------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Internationalisation ---------------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("nl", _("Dutch"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (served by WhiteNoise, also under Daphne) -----------------------------------

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Attachments (files and images in messages; served only through Kwebbel's download view,
# which checks access every time, so the folder or container is never public) ---------------

ATTACHMENTS_ROOT = env.path("ATTACHMENTS_ROOT", default=BASE_DIR / "media" / "attachments")
# Azure Blob Storage instead of the folder when a connection string is given.
ATTACHMENTS_AZURE_CONNECTION_STRING = env.str("ATTACHMENTS_AZURE_CONNECTION_STRING", default="")
ATTACHMENTS_AZURE_CONTAINER = env.str("ATTACHMENTS_AZURE_CONTAINER", default="attachments")
ATTACHMENTS_MAX_BYTES = env.int("ATTACHMENTS_MAX_BYTES", default=25 * 1024 * 1024)
ATTACHMENTS_PER_MESSAGE = env.int("ATTACHMENTS_PER_MESSAGE", default=10)
# Uploads not sent in a message within this many hours are deleted (cleanup_attachments, and
# on the fly with each upload).
ATTACHMENTS_UNSENT_HOURS = env.int("ATTACHMENTS_UNSENT_HOURS", default=24)
if ATTACHMENTS_AZURE_CONNECTION_STRING:
    STORAGES["attachments"] = {
        "BACKEND": "storages.backends.azure_storage.AzureStorage",
        "OPTIONS": {
            "connection_string": ATTACHMENTS_AZURE_CONNECTION_STRING,
            "azure_container": ATTACHMENTS_AZURE_CONTAINER,
            "overwrite_files": False,
        },
    }
else:
    STORAGES["attachments"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # No base_url: nothing is served from the folder directly.
        "OPTIONS": {"location": str(ATTACHMENTS_ROOT), "base_url": None},
    }

# In development WhiteNoise serves straight from the app and project static directories.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security ---------------------------------------------------------------------------------

# A strict Content-Security-Policy (django-csp): scripts, styles and everything else only from the
# site itself, no inline script or style, no plugins, no framing; connections to the site itself
# (its websocket included). User content is sanitised anyway; this is the second wall.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Browser features the site never uses are switched off for it and anything it might embed
# (django-permissions-policy).
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
        "xr-spatial-tracking",
    )
}
PERMISSIONS_POLICY["fullscreen"] = ["self"]

# --- Security (production) --------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
# Only behind a proxy that terminates TLS and always sets X-Forwarded-Proto; trusting the header
# without one would let clients claim HTTPS.
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging ----------------------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The SDKs log every request and response header at INFO.
        "azure": {"level": "WARNING"},
        "django.db.backends": {"level": "INFO"},
    },
}
