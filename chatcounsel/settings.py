"""Settings, all from the environment. Nothing set gives the embedded default:
SQLite file, Channels' in-memory layer, DEBUG on. See README.md for every variable."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django.conf.locale as django_locale
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean, not {value!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default="DATABASE_URL" not in os.environ)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "embedded-default-not-secret"  # noqa: S105 - only ever used with DEBUG on

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
# Full origins ("https://chat.example.se") trusted besides the site's own, for form posts
# AND websocket handshakes alike (chatcounsel/origins.py applies Django's CSRF origin rule).
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",  # first: makes `runserver` serve ASGI too
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rules",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "accounts",
    "chat",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Right after SecurityMiddleware, as whitenoise asks: a static file leaves before the
    # page headers below (CSP, request id, permissions), about 450 bytes a file it has no
    # use for; a client's cold load fetches more than a dozen.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "chatcounsel.middleware.request_id",
    "chatcounsel.middleware.privacy_headers",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "chatcounsel.middleware.staff_language",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out logins
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "chatcounsel.urls"
ASGI_APPLICATION = "chatcounsel.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# --- database ---------------------------------------------------------------
# DATABASE_URL=postgres://user@host:5432/name -> PostgreSQL via psycopg 3; unset -> SQLite file.
# On PostgreSQL connections come from Django's psycopg pool (CONN_MAX_AGE stays 0, as the
# pool asks): without it every crossing into sync code under ASGI opened a new connection,
# a fifth of the server's time and most of PostgreSQL's. Channels runs a process's database
# work on one thread, so a few connections per process are plenty.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=0
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock when a transaction starts, so two writers queue
        # up instead of failing with "database is locked" when a reader upgrades.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so the browser tests' server process shares it.
    _db_file = Path(DATABASES["default"]["NAME"])
    DATABASES["default"]["TEST"] = {"NAME": str(_db_file.with_name(f"test_{_db_file.name}"))}
else:
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": env_int("DATABASE_POOL_MIN", 2, minimum=0),
            "max_size": env_int("DATABASE_POOL_MAX", 8, minimum=1),
            "timeout": env_int("DATABASE_POOL_TIMEOUT", 10, minimum=1),
        }
    }
    # An explicit test name keeps a forked test server on the same database (channels#2176).
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}"}
# Set only by the browser tests' fixture, in the server process it starts.
if os.environ.get("CHATCOUNSEL_TEST_DB_NAME"):
    DATABASES["default"]["NAME"] = os.environ["CHATCOUNSEL_TEST_DB_NAME"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache: rate limits shared by every process -----------------------------------------
REDIS_URL_FOR_CACHE = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL_FOR_CACHE,
            "KEY_PREFIX": os.environ.get("REDIS_PREFIX", "cc"),
            # A Redis that hangs (a network partition) must not hold a check for minutes:
            # past these the limits count in the process (chat/ratelimit.py), which opens
            # this cache once per process: one connection pool for every socket.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
        if REDIS_URL_FOR_CACHE
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- channel layer ----------------------------------------------------------
# REDIS_URL -> the pub/sub layer (no per-process capacity to overflow; at-most-once, which the
# seq resync makes harmless), in chat/realtime.py's form that survives Redis being down;
# unset -> in-memory, one process only.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "chat.realtime.RedisLayer",
            "CONFIG": {
                # Connecting is bounded; reads are not (the subscription waits for events).
                "hosts": [{"address": REDIS_URL, "socket_connect_timeout": 2}],
                "prefix": os.environ.get("REDIS_PREFIX", "cc"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- language and time --------------------------------------------------------
LANGUAGE_CODE = "sv"
# Client pages speak all of these (the picker names each in itself, from LANG_INFO); staff
# pages speak STAFF_LANGUAGES and show Swedish to a browser set to any other. Easy Swedish
# (lättläst) has no code of its own: `sv-x-ll` is Swedish with a private-use subtag, valid
# in `lang` (read as Swedish) and in Django (catalogue folder locale/sv_X-ll). docs/translations.md.
LANGUAGES = [
    ("sv", _("Swedish")),
    ("sv-x-ll", _("Easy Swedish")),
    ("en", _("English")),
    ("fi", _("Finnish")),
    ("ar", _("Arabic")),
    ("fa", _("Persian")),
    ("so", _("Somali")),
    ("uk", _("Ukrainian")),
]
CLIENT_LANGUAGES = LANGUAGES
STAFF_LANGUAGES = ["sv", "en"]
EXTRA_LANG_INFO = {
    "sv-x-ll": {
        "bidi": False,
        "code": "sv-x-ll",
        "name": "Easy Swedish",
        "name_local": "Lättläst svenska",
    },
    "so": {"bidi": False, "code": "so", "name": "Somali", "name_local": "Soomaali"},
}
django_locale.LANG_INFO.update(EXTRA_LANG_INFO)
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True
LANGUAGE_COOKIE_AGE = None  # a session cookie: nothing stays on a shared device
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- static files -------------------------------------------------------------
# Production: compressed (gzip, and brotli when installed) copies with hashed names, which
# whitenoise serves with a year's caching; module imports point at the hashed names too.
# DEBUG (the demo): straight from the app folders, gzipped on the way out (compress_static).
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
# Browser libraries installed by `make` (npm ci, package-lock.json), served from their
# dist folders as they were published: nothing copied into the repository.
STATICFILES_DIRS = [
    ("vendor/uplot", BASE_DIR / "node_modules" / "uplot" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "chatcounsel.storage.StaticStorage"
        )
    },
}
if DEBUG:
    MIDDLEWARE.insert(
        MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware"),
        "chatcounsel.middleware.compress_static",
    )

# --- sessions and cookies -------------------------------------------------------
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_SAVE_EVERY_REQUEST = True  # idle expiry: every request moves the end forward
# Staff sessions end after this much inactivity; an open console keeps its session alive.
SESSION_COOKIE_AGE = env_int("STAFF_IDLE_SECONDS", 30 * 60, minimum=60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE = env_bool("SECURE", default=not DEBUG)  # served over TLS behind the proxy
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
if SECURE:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# "no-referrer" makes Chromium send `Origin: null` on form posts, which fails CSRF checks;
# "same-origin" still sends nothing to any other site.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_COOKIE_AGE = None  # a session cookie: nothing outlives the browser on a shared device
CSRF_COOKIE_HTTPONLY = True
# A refused form gets a page in the client's language (frontend/error_views.py).
CSRF_FAILURE_VIEW = "frontend.error_views.csrf_failure"
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
)
# The pages with calls (the client's chat, the console, the interpreter's page) may use the
# camera and the microphone, for this site only and only when the person accepts a call.
CALL_PERMISSIONS_POLICY = (
    "camera=(self), microphone=(self), geolocation=(), payment=(), usb=(), interest-cohort=()"
)

# No inline script anywhere; json_script blocks are data, which CSP does not run.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# --- staff login ------------------------------------------------------------------------
# Two-factor login (TOTP, with backup codes) for every staff role; `make demo` turns it off.
STAFF_TWO_FACTOR = env_bool("STAFF_TWO_FACTOR", True)
OTP_TOTP_ISSUER = "chatcounsel"
# Lock a username out after this many failed logins in a row, for AXES_COOLOFF_TIME.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
# By username only: staff share the municipality's address, and locking the address would
# lock out every colleague. Address floods are the reverse proxy's to limit.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "frontend/locked_out.html"
AXES_VERBOSE = False


# --- chat -----------------------------------------------------------------------
# Longest message body in characters; the websocket frame limit below is set from it.
CHAT_MESSAGE_MAX_LENGTH = env_int("CHAT_MESSAGE_MAX_LENGTH", 4000, minimum=1)
# Seconds between the browser's heartbeats; a socket silent for two of them is reconnected.
CHAT_HEARTBEAT_SECONDS = env_int("CHAT_HEARTBEAT_SECONDS", 15, minimum=1)
# A console silent this long shows its worker offline; a waiting client silent this long has
# left the queue (a reload within it keeps the place).
PRESENCE_GRACE_SECONDS = env_int("PRESENCE_GRACE_SECONDS", 60, minimum=1)
QUEUE_GRACE_SECONDS = env_int("QUEUE_GRACE_SECONDS", 60, minimum=1)
# Heartbeats are noted in memory and written in batches this often (chat/liveness.py): a
# live socket's row is then at most CHAT_HEARTBEAT_SECONDS + this old, well inside both
# grace periods above. 0 (tests only: they flush themselves) starts no flusher.
LIVENESS_FLUSH_SECONDS = env_int("LIVENESS_FLUSH_SECONDS", 5, minimum=1)
# A client given up for silence who comes back this soon gets the same place in the queue.
QUEUE_REJOIN_SECONDS = env_int("QUEUE_REJOIN_SECONDS", 15 * 60, minimum=0)
# Wait estimates need this many finished conversations in the last ESTIMATE_DAYS days.
ESTIMATE_MIN_SAMPLES = env_int("ESTIMATE_MIN_SAMPLES", 5, minimum=1)
ESTIMATE_DAYS = env_int("ESTIMATE_DAYS", 14, minimum=1)
# Until then, a typical conversation is taken to last this many minutes (0: no estimate).
QUEUE_TYPICAL_MINUTES = env_int("QUEUE_TYPICAL_MINUTES", 20, minimum=0)
# Flood limits (chat/ratelimit.py, docs/security.md): frames per socket, messages per
# conversation, and per client address only ceilings that stop floods (one address can be
# a shelter, a school or a mobile operator's shared address). An address with
# RATE_ABUSE_STRIKES strikes (a socket or conversation of its past a limit) within
# RATE_ABUSE_SECONDS gets the STRICT limits meanwhile.
RATE_FRAMES_PER_SECOND = env_int("RATE_FRAMES_PER_SECOND", 5, minimum=1)
RATE_FRAME_BURST = env_int("RATE_FRAME_BURST", 20, minimum=1)
RATE_MESSAGES_PER_MINUTE = env_int("RATE_MESSAGES_PER_MINUTE", 30, minimum=1)
RATE_SOCKETS_PER_MINUTE = env_int("RATE_SOCKETS_PER_MINUTE", 300, minimum=1)
RATE_QUEUE_ENTRIES_PER_HOUR = env_int("RATE_QUEUE_ENTRIES_PER_HOUR", 300, minimum=1)
RATE_ABUSE_STRIKES = env_int("RATE_ABUSE_STRIKES", 5, minimum=1)
RATE_ABUSE_SECONDS = env_int("RATE_ABUSE_SECONDS", 3600, minimum=60)
RATE_STRICT_SOCKETS_PER_MINUTE = env_int("RATE_STRICT_SOCKETS_PER_MINUTE", 30, minimum=1)
RATE_STRICT_QUEUE_ENTRIES_PER_HOUR = env_int("RATE_STRICT_QUEUE_ENTRIES_PER_HOUR", 20, minimum=1)
# Retention in days per kind of data, from the municipality's retention decision. The
# purge (scheduler process) removes what is older; a legal hold keeps it.
RETENTION_DAYS = {
    "anonymous_conversations": env_int("RETENTION_ANONYMOUS_CONVERSATIONS_DAYS", 90, minimum=1),
    "identified_cases": env_int("RETENTION_IDENTIFIED_CASES_DAYS", 730, minimum=1),
    "offline_questions": env_int("RETENTION_OFFLINE_QUESTIONS_DAYS", 180, minimum=1),
    "survey_answers": env_int("RETENTION_SURVEY_ANSWERS_DAYS", 365, minimum=1),
    "access_log": env_int("RETENTION_ACCESS_LOG_DAYS", 1095, minimum=1),
}
# Who runs the timed rules (chat/services/timed.py): `process`, a timer in the server
# process (the embedded default: one process); `scheduler`, the scheduler process (several
# processes sharing Redis); `off` (tests that call the rules themselves).
TIMED_RULES = os.environ.get("TIMED_RULES", "scheduler" if REDIS_URL else "process")
if TIMED_RULES not in {"process", "scheduler", "off"}:
    raise ImproperlyConfigured("TIMED_RULES must be process, scheduler or off")
# Each process announces a unit's queue at most once per this many milliseconds; a burst
# of changes within it costs one announcement (chat/announce.py). 0 announces each change.
QUEUE_ANNOUNCE_MS = env_int("QUEUE_ANNOUNCE_MS", 250, minimum=0)
# Consoles and dashboards get this many of a unit's first waiting conversations, and the
# counts of the rest: their frames stay far below the websocket message limit (64 KiB)
# however long the queue. At most 200 (about 26 KB of conversations per unit).
CONSOLE_QUEUE_ROWS = env_int("CONSOLE_QUEUE_ROWS", 50, minimum=1)
if CONSOLE_QUEUE_ROWS > 200:
    raise ImproperlyConfigured("CONSOLE_QUEUE_ROWS must be at most 200")
# Of those, the first this many carry the client's latest words (a preview of at most 140
# characters, up to about 1 KB escaped): a worker triages the front of the queue, and the
# frame stays small. 0 shows no previews.
CONSOLE_PREVIEW_ROWS = env_int("CONSOLE_PREVIEW_ROWS", 10, minimum=0)
# A handover offer to a named colleague not answered this soon goes back to its sender.
HANDOVER_OFFER_SECONDS = env_int("HANDOVER_OFFER_SECONDS", 120, minimum=10)
# Case codes: a keyed hash (CASE_CODE_PEPPER, else SECRET_KEY); CASE_CODE_TRIES wrong tries
# per code within the lockout period, then that code opens nothing until it has passed. Per
# address the ceiling is CASE_CODE_ADDRESS_TRIES (a shelter's or a school's clients share one
# address, and a 59-bit code is not guessed in a few hundred tries); an address that has
# shown abuse (chat/ratelimit.py) gets CASE_CODE_TRIES instead.
CASE_CODE_PEPPER = os.environ.get("CASE_CODE_PEPPER", "")
CASE_CODE_TRIES = env_int("CASE_CODE_TRIES", 5, minimum=1)
CASE_CODE_ADDRESS_TRIES = env_int("CASE_CODE_ADDRESS_TRIES", 50, minimum=1)
CASE_CODE_LOCKOUT_SECONDS = env_int("CASE_CODE_LOCKOUT_SECONDS", 15 * 60, minimum=60)
# A client's question unanswered this many days is flagged in the follow-up inbox.
FOLLOWUP_REMINDER_DAYS = env_int("FOLLOWUP_REMINDER_DAYS", 2, minimum=1)
# Where quick exit sends the client: a neutral page that says nothing about this service.
QUICK_EXIT_URL = os.environ.get("QUICK_EXIT_URL", "https://www.google.com/")
# Calls (chat/services/calls.py): the STUN and TURN servers the browsers use to reach each
# other, comma-separated URLs (stun:turn.example.org:3478, turn:turn.example.org:3478?...).
# None by default: browsers on one network need none. CALL_TURN_SECRET is coturn's
# static-auth-secret: each call page gets a TURN user name and password valid for
# CALL_TURN_TTL_SECONDS (coturn's use-auth-secret), never the secret itself.
CALL_STUN_URLS = env_list("CALL_STUN_URLS", [])
CALL_TURN_URLS = env_list("CALL_TURN_URLS", [])
CALL_TURN_SECRET = os.environ.get("CALL_TURN_SECRET", "")
CALL_TURN_TTL_SECONDS = env_int("CALL_TURN_TTL_SECONDS", 12 * 3600, minimum=60)
if CALL_TURN_URLS and not CALL_TURN_SECRET:
    raise ImproperlyConfigured(
        "CALL_TURN_URLS needs CALL_TURN_SECRET (coturn's static-auth-secret)"
    )
# A client's socket that drops keeps the call (the browsers' connection does not need it)
# for this long; a client not back by then has left and the call ends (chat/services/
# timed.py). It must outlast a heartbeat and a liveness flush, or a live client would end it.
CALL_RECONNECT_GRACE_SECONDS = env_int("CALL_RECONNECT_GRACE_SECONDS", 45, minimum=1)
if CALL_RECONNECT_GRACE_SECONDS <= CHAT_HEARTBEAT_SECONDS + LIVENESS_FLUSH_SECONDS:
    raise ImproperlyConfigured(
        "CALL_RECONNECT_GRACE_SECONDS must be longer than CHAT_HEARTBEAT_SECONDS"
        " + LIVENESS_FLUSH_SECONDS"
    )
# Largest websocket frame daphne accepts (bytes); pass the same to daphne's
# --websocket-max-message-size (Procfile, Makefile). A message of the longest allowed body
# must fit even when every character is JSON-escaped (6 bytes).
WEBSOCKET_MAX_MESSAGE_BYTES = env_int("WEBSOCKET_MAX_MESSAGE_BYTES", 65536, minimum=1024)
if WEBSOCKET_MAX_MESSAGE_BYTES < CHAT_MESSAGE_MAX_LENGTH * 6 + 1024:
    raise ImproperlyConfigured(
        "WEBSOCKET_MAX_MESSAGE_BYTES must be at least CHAT_MESSAGE_MAX_LENGTH * 6 + 1024"
    )

# --- e-ID: identified clients through OpenID Connect (docs/security.md) ---------------------
# Off unless EID_OIDC_ISSUER is set. The provider's discovery document
# ({issuer}/.well-known/openid-configuration, or EID_OIDC_DISCOVERY_URL) gives every endpoint.
EID_OIDC_ISSUER = os.environ.get("EID_OIDC_ISSUER", "").rstrip("/")
EID_OIDC_DISCOVERY_URL = os.environ.get("EID_OIDC_DISCOVERY_URL", "") or (
    f"{EID_OIDC_ISSUER}/.well-known/openid-configuration" if EID_OIDC_ISSUER else ""
)
EID_OIDC_CLIENT_ID = os.environ.get("EID_OIDC_CLIENT_ID", "")
EID_OIDC_CLIENT_SECRET = os.environ.get("EID_OIDC_CLIENT_SECRET", "")
# client_secret_basic (the default) or client_secret_post, as the provider asks.
EID_OIDC_TOKEN_AUTH_METHOD = os.environ.get("EID_OIDC_TOKEN_AUTH_METHOD", "client_secret_basic")
if EID_OIDC_TOKEN_AUTH_METHOD not in {"client_secret_basic", "client_secret_post"}:
    raise ImproperlyConfigured(
        "EID_OIDC_TOKEN_AUTH_METHOD must be client_secret_basic or client_secret_post"
    )
EID_OIDC_SCOPES = os.environ.get(
    "EID_OIDC_SCOPES", "openid profile https://id.oidc.se/scope/naturalPersonNumber"
)
# The claim that carries the personal identity number: the Sweden Connect profile's by
# default; brokers often use `ssn` or `nin`. Empty: the number is neither asked for nor kept.
EID_PERSONAL_NUMBER_CLAIM = os.environ.get(
    "EID_PERSONAL_NUMBER_CLAIM", "https://id.oidc.se/claim/personalIdentityNumber"
)
# Keep the personal identity number? `no` (the default): it is checked to be there, then
# dropped; `hash`: a keyed hash (EID_PERSONAL_NUMBER_PEPPER, else SECRET_KEY) and its last
# four digits are kept, so staff can find a client by the number and recognise it.
EID_STORE_PERSONAL_NUMBER = os.environ.get("EID_STORE_PERSONAL_NUMBER", "no")
if EID_STORE_PERSONAL_NUMBER not in {"no", "hash"}:
    raise ImproperlyConfigured("EID_STORE_PERSONAL_NUMBER must be no or hash")
EID_PERSONAL_NUMBER_PEPPER = os.environ.get("EID_PERSONAL_NUMBER_PEPPER", "")
# The level of assurance asked for (acr_values) and required in the ID token's `acr`:
# Svensk e-legitimation LoA3 (BankID, Freja+). Space-separated to accept several.
EID_REQUIRED_ACR = (
    os.environ.get("EID_REQUIRED_ACR") or "http://id.elegnamnden.se/loa/1.0/loa3"
).split()
# Seconds to wait for the provider's token and key endpoints.
EID_OIDC_TIMEOUT_SECONDS = env_int("EID_OIDC_TIMEOUT_SECONDS", 10, minimum=1)
# The name on the sign-in button ("BankID or Freja+" for a broker offering both).
EID_PROVIDER_NAME = os.environ.get("EID_PROVIDER_NAME", "")
if EID_OIDC_ISSUER and not DEBUG and not EID_OIDC_ISSUER.startswith("https://"):
    raise ImproperlyConfigured("EID_OIDC_ISSUER must be https:// when DEBUG is off")
if EID_OIDC_ISSUER and not (EID_OIDC_CLIENT_ID and EID_OIDC_CLIENT_SECRET):
    raise ImproperlyConfigured(
        "EID_OIDC_ISSUER needs EID_OIDC_CLIENT_ID and EID_OIDC_CLIENT_SECRET"
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # daphne's access log prints paths only; none of ours carries a secret.
        "django.channels.server": {"level": "WARNING"},
        # While Redis is down channels_redis logs a traceback every second and per socket;
        # chat/realtime.py says it once when the outage starts and once when it ends.
        "channels_redis": {"level": "CRITICAL"},
    },
}

# --- partner referrals ------------------------------------------------------------
# The municipality's code word, as partner staff hear it and the posters print it.
REFERRAL_CODE_WORD = os.environ.get("REFERRAL_CODE_WORD", "mask-19").strip() or "mask-19"
# An urgent referral nobody accepts within this many minutes is escalated: first to the
# unit's supervisors on the dashboard, then one unit along the chain (Unit.referral_order).
REFERRAL_ESCALATE_MINUTES = env_int("REFERRAL_ESCALATE_MINUTES", 3, minimum=1)
# What partner staff are told when no referral unit is open: a helpline open day and night.
REFERRAL_ADVICE_PHONE_NAME = os.environ.get("REFERRAL_ADVICE_PHONE_NAME", "Kvinnofridslinjen")
REFERRAL_ADVICE_PHONE = os.environ.get("REFERRAL_ADVICE_PHONE", "020-50 50 50")
# The public address printed on posters (the client page's), e.g. https://chat.kommun.se;
# empty: the address the poster page was opened at.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")
