"""Django settings, all read from the environment; the README's table documents each variable.

Unset, Collab runs embedded: SQLite under var/, the in-memory channel layer, one process.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from collab.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# Embedded mode's files (SQLite database, generated secret key); tests point it elsewhere.
VAR_DIR = Path(env_str("COLLAB_VAR_DIR") or BASE_DIR / "var")

DEBUG = env_bool("DEBUG")
EMBEDDED = not env_str("DATABASE_URL")
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not (DEBUG or EMBEDDED):
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    # Embedded mode: a per-checkout key kept under var/, so sessions survive restarts.
    import os
    import secrets

    VAR_DIR.mkdir(exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    try:  # created readable by its owner alone, never world-readable for a moment
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key_file.chmod(0o600)  # a key written by an older version with the umask's mode
    else:
        with os.fdopen(fd, "w") as key_out:
            key_out.write(secrets.token_urlsafe(50))
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
if "*" in ALLOWED_HOSTS and not DEBUG:
    # Any Host header would be trusted: in password-reset links, and as the origin a browser page
    # may open sockets from (documents/server/origins.py).
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS=* is refused when DEBUG is off: list the host names this server answers "
        "to (e.g. ALLOWED_HOSTS=collab.example.com)"
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served locally (no CDN)
    "axes",  # sign-in throttling (COLLAB_LOGIN_*)
    "documents",
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
    "axes.middleware.AxesMiddleware",  # last: it answers a locked-out sign-in with 429
]

ROOT_URLCONF = "collab.urls"
ASGI_APPLICATION = "collab.asgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'collab.sqlite3'}")
    )
}
# Postgres: one pool of connections per process, shared by HTTP requests and the database
# threads (collab/db_pool.py says why and how it recovers from a database restart).
COLLAB_DB_POOL_SIZE = env_int("COLLAB_DB_POOL_SIZE", 20)
COLLAB_DB_POOL_TIMEOUT = float(env_str("COLLAB_DB_POOL_TIMEOUT", "10"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    from collab.db_pool import application_name, pool_options

    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "pool": pool_options(COLLAB_DB_POOL_SIZE, COLLAB_DB_POOL_TIMEOUT),
        # pg_stat_activity tells each process's connections apart (host and pid)
        "application_name": application_name(),
    }
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # the pool checks a connection it lends
else:
    # SQLite: a connection is a file handle, so each thread keeps its own for a while.
    DATABASES["default"]["CONN_MAX_AGE"] = 60
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # A file, not Django's shared in-memory test database: server processes and threads share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-collab.sqlite3")}
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": env_str(
                "COLLAB_CHANNEL_LAYER", "channels_redis.pubsub.RedisPubSubChannelLayer"
            ),
            "CONFIG": {
                "hosts": [REDIS_URL],
                # Processes share groups only within one prefix (one deployment per Redis).
                "prefix": env_str("COLLAB_CHANNEL_PREFIX", "collab"),
                # RedisChannelLayer drops messages past capacity; anti-entropy heals, but rarely.
                "capacity": 10_000,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
if env_bool("COLLAB_FAST_PASSWORD_HASHING"):  # the test suite only: never in production
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# The container image collects static files at build time into COLLAB_STATIC_ROOT (/app/static).
STATIC_ROOT = Path(env_str("COLLAB_STATIC_ROOT") or BASE_DIR / "var" / "static")
STATICFILES_DIRS = [d for d in [BASE_DIR / "frontend" / "dist"] if d.exists()]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Vite's hashed bundles never change under the same name: browsers may cache them for good.
WHITENOISE_IMMUTABLE_FILE_TEST = r"^.*assets/.+-[A-Za-z0-9_-]{8}\.(js|css)$"

# --- Security (docs/self-hosting.md: production settings; `check --deploy` is clean with them) ---
# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto and X-Forwarded-Host. Only set this
# when the proxy overwrites those headers (a client could otherwise claim https).
COLLAB_BEHIND_PROXY = env_bool("COLLAB_BEHIND_PROXY")
if COLLAB_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
# Secure cookies unless developing or embedded on http://127.0.0.1 (README: COLLAB_SECURE_COOKIES).
SESSION_COOKIE_SECURE = env_bool("COLLAB_SECURE_COOKIES", default=not (DEBUG or EMBEDDED))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("COLLAB_SSL_REDIRECT")
# Probes speak plain HTTP to the process itself (container healthchecks, load balancers).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("COLLAB_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool(
    "COLLAB_HSTS_INCLUDE_SUBDOMAINS", default=SECURE_HSTS_SECONDS > 0
)
SECURE_HSTS_PRELOAD = env_bool("COLLAB_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS > 0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "documents.token_auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "documents.api.permissions.OnlyItsDocument",  # document tokens and JWTs
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "documents.api.errors.json_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "documents.api.throttles.SignedInThrottle",
        "documents.api.throttles.AnonymousThrottle",
    ],
    # The client address is REMOTE_ADDR, which daphne already took from X-Forwarded-For when
    # COLLAB_BEHIND_PROXY is set; DRF must not read that header itself (a client could forge it).
    "NUM_PROXIES": 0,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Collab API",
    "DESCRIPTION": "Documents, members, state and updates of Collab's collaborative documents.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two choice sets share the field name "role": name each one (else check --deploy warns).
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "documents.models.Role",
        "ScopedRoleEnum": "documents.models.ScopedRole",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "documents.api.schema.add_error_responses",
    ],
}

# --- Logging: COLLAB_LOG_FORMAT=json (the container's default) writes one JSON object per line to
# stdout for log collectors (collab/logging.py); `plain` writes readable lines to stderr.
COLLAB_LOG_FORMAT = env_str("COLLAB_LOG_FORMAT", "plain").strip().lower()
if COLLAB_LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured("COLLAB_LOG_FORMAT must be 'plain' or 'json'")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "collab.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": COLLAB_LOG_FORMAT,
            "stream": "ext://sys.stdout" if COLLAB_LOG_FORMAT == "json" else "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # lockouts only, not a banner at every start
    },
}

# --- Collab's own knobs (README: configuration table) -------------------------------------
COLLAB_MAX_MESSAGE_BYTES = env_int("COLLAB_MAX_MESSAGE_BYTES", 16 * 1024 * 1024)
COLLAB_FLUSH_INTERVAL_MS = env_int("COLLAB_FLUSH_INTERVAL_MS", 100)
COLLAB_COMPACT_AFTER_UPDATES = env_int("COLLAB_COMPACT_AFTER_UPDATES", 500)
# Threads for database work off the event loop (they borrow connections from the pool).
COLLAB_DB_THREADS = env_int("COLLAB_DB_THREADS", 16)
# A stored update still waiting for its dependencies after this long is logged (docs/durability.md).
COLLAB_WAITING_WARN_SECONDS = env_int("COLLAB_WAITING_WARN_SECONDS", 60)
COLLAB_ROOM_IDLE_SECONDS = env_int("COLLAB_ROOM_IDLE_SECONDS", 30)
COLLAB_PENDING_BYTES_LIMIT = env_int("COLLAB_PENDING_BYTES_LIMIT", 256 * 1024 * 1024)
COLLAB_SEND_QUEUE_LIMIT = env_int("COLLAB_SEND_QUEUE_LIMIT", 10_000)
COLLAB_SEND_BUFFER_LIMIT = env_int("COLLAB_SEND_BUFFER_LIMIT", 32 * 1024 * 1024)
# The ASGI server `manage.py serve` runs (documents.server.adapters): daphne, as SPEC.md says;
# uvicorn is the documented alternative (docs/self-hosting.md#asgi-servers).
COLLAB_SERVER = env_str("COLLAB_SERVER", "daphne")
# Merge what a busy room accepts within a few milliseconds into one relayed update
# (documents.sync.room); off relays every update alone (docs/benchmarks.md measures both).
COLLAB_COALESCE = env_bool("COLLAB_COALESCE", default=True)
COLLAB_ANTI_ENTROPY_SECONDS = env_int("COLLAB_ANTI_ENTROPY_SECONDS", 5)
COLLAB_CONNECTIONS_PER_MINUTE = env_int("COLLAB_CONNECTIONS_PER_MINUTE", 600)
COLLAB_MAX_DOCUMENT_BYTES = env_int("COLLAB_MAX_DOCUMENT_BYTES", 64 * 1024 * 1024)
COLLAB_MAX_AWARENESS_BYTES = env_int("COLLAB_MAX_AWARENESS_BYTES", 64 * 1024)
COLLAB_AWARENESS_PER_SECOND = env_int("COLLAB_AWARENESS_PER_SECOND", 30)
COLLAB_MAX_AWARENESS_IDS = env_int("COLLAB_MAX_AWARENESS_IDS", 8)
# Sync step 1 requests answered per connection per second (a client sends one per connection).
COLLAB_SYNC_REQUESTS_PER_SECOND = env_int("COLLAB_SYNC_REQUESTS_PER_SECOND", 2)
# Automatic versions: minutes after the first unversioned edit; 0 turns them off.
COLLAB_AUTO_VERSION_MINUTES = float(env_str("COLLAB_AUTO_VERSION_MINUTES", "10"))
# What the database keeps (documents.retention; docs/self-hosting.md): each process deletes what
# is past these every COLLAB_RETENTION_INTERVAL_SECONDS (0: never by itself, `manage.py
# apply_retention` does it once).
COLLAB_RETENTION_INTERVAL_SECONDS = env_int("COLLAB_RETENTION_INTERVAL_SECONDS", 3600)
COLLAB_COMPACT_LOG_AFTER_MINUTES = env_int("COLLAB_COMPACT_LOG_AFTER_MINUTES", 60)
COLLAB_SIGNIN_LOG_DAYS = env_int("COLLAB_SIGNIN_LOG_DAYS", 30)  # 0: no sign-in log is kept
COLLAB_SESSION_DAYS = env_int("COLLAB_SESSION_DAYS", 14)
SESSION_COOKIE_AGE = COLLAB_SESSION_DAYS * 24 * 3600
# The HS256 key an embedding product signs its document-scoped JWTs with (docs/embedding.md);
# unset: JWTs are refused. RFC 7518 (3.2) requires a key at least as long as the hash, 32 bytes.
COLLAB_JWT_SECRET = env_str("COLLAB_JWT_SECRET")
if COLLAB_JWT_SECRET and len(COLLAB_JWT_SECRET.encode()) < 32:
    raise ImproperlyConfigured(
        "COLLAB_JWT_SECRET must be at least 32 bytes (HS256 needs a key as long as its hash); "
        "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )

# --- Quotas and throttles (docs/security.md); 0 or empty turns one off ----------------------
COLLAB_MAX_DOCUMENTS_PER_USER = env_int("COLLAB_MAX_DOCUMENTS_PER_USER", 1000)
COLLAB_MAX_VERSIONS_PER_DOCUMENT = env_int("COLLAB_MAX_VERSIONS_PER_DOCUMENT", 200)
COLLAB_MAX_STORED_BYTES_PER_USER = env_int("COLLAB_MAX_STORED_BYTES_PER_USER", 1024**3)
COLLAB_API_THROTTLE_USER = env_str("COLLAB_API_THROTTLE_USER", "1200/min")
COLLAB_API_THROTTLE_ANON = env_str("COLLAB_API_THROTTLE_ANON", "120/min")
# API throttle counts: shared by every process through Redis when there is one.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("COLLAB_CHANNEL_PREFIX", "collab"),
        }
    }

# Sign-in throttling (django-axes): after COLLAB_LOGIN_FAILURE_LIMIT failed sign-ins for one
# username from one address, that pair is refused (429) for COLLAB_LOGIN_COOLOFF_MINUTES. Attempts
# are kept in the database (shared by every process; the admin lists them under "Axes").
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("COLLAB_LOGIN_THROTTLE", default=True)
AXES_FAILURE_LIMIT = env_int("COLLAB_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("COLLAB_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "documents.signin.client_address"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# Successful sign-ins (axes' access log, in the admin) are kept COLLAB_SIGNIN_LOG_DAYS; 0: none.
AXES_DISABLE_ACCESS_LOG = COLLAB_SIGNIN_LOG_DAYS == 0
