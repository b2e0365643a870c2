"""Settings of the relay (bench/relay/): no database, no sessions, no middleware; only the
channel layer the server uses with Redis (channels_redis's pub/sub layer)."""

import os

SECRET_KEY = "relay-not-secret"  # noqa: S105 - nothing is signed
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
LOGGING_CONFIG = None

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [{"address": os.environ["REDIS_URL"], "socket_connect_timeout": 2}],
            "prefix": os.environ.get("REDIS_PREFIX", "ccbench-relay"),
        },
    }
}
