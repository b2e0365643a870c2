"""chatcounsel/settings.py reads everything from the environment. Each case runs in a fresh
interpreter with an environment of its own, so nothing from this test run leaks in."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Prints the settings the tests look at, or the error that loading them raised.
PROBE = """
import json
from django.conf import settings
try:
    settings.DEBUG
except Exception as error:
    print(json.dumps({"error": type(error).__name__, "message": str(error)}))
else:
    db = settings.DATABASES["default"]
    print(json.dumps({
        "DEBUG": settings.DEBUG,
        "ENGINE": db["ENGINE"],
        "NAME": str(db["NAME"]),
        "HOST": db.get("HOST", ""),
        "CONN_MAX_AGE": db.get("CONN_MAX_AGE"),
        "POOL": db.get("OPTIONS", {}).get("pool"),
        "LAYER": settings.CHANNEL_LAYERS["default"]["BACKEND"],
        "LAYER_CONFIG": settings.CHANNEL_LAYERS["default"].get("CONFIG", {}),
        "CHAT_MESSAGE_MAX_LENGTH": settings.CHAT_MESSAGE_MAX_LENGTH,
        "CALL_RECONNECT_GRACE_SECONDS": settings.CALL_RECONNECT_GRACE_SECONDS,
        "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    }))
"""


def load_settings(**env: str) -> dict:
    """The settings a process started with exactly this environment would get."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "DJANGO_SETTINGS_MODULE": "chatcounsel.settings",
        "PYTHONPATH": str(PROJECT_ROOT),
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_it_refuses_to_run_without_a_secret_key_when_debug_is_off():
    loaded = load_settings(DEBUG="false")

    assert loaded["error"] == "ImproperlyConfigured"
    assert "SECRET_KEY" in loaded["message"]


def test_it_turns_debug_off_by_default_once_a_database_url_is_set():
    loaded = load_settings(DATABASE_URL="postgres://app@db.example:5432/chat")

    assert loaded["error"] == "ImproperlyConfigured"
    assert "SECRET_KEY" in loaded["message"]


def test_it_runs_the_embedded_default_when_nothing_is_set():
    loaded = load_settings()

    assert loaded["DEBUG"] is True
    assert loaded["ENGINE"] == "django.db.backends.sqlite3"
    assert loaded["LAYER"] == "channels.layers.InMemoryChannelLayer"
    assert loaded["CHAT_MESSAGE_MAX_LENGTH"] == 4000


def test_it_selects_the_redis_pub_sub_layer_for_a_redis_url():
    loaded = load_settings(DEBUG="true", REDIS_URL="redis://redis.example:6379/2")

    # channels_redis's pub/sub layer, in the form that survives Redis being down.
    assert loaded["LAYER"] == "chat.realtime.RedisLayer"
    from channels_redis.pubsub import RedisPubSubChannelLayer

    from chat.realtime import RedisLayer

    assert issubclass(RedisLayer, RedisPubSubChannelLayer)
    assert loaded["LAYER_CONFIG"]["hosts"] == [
        {"address": "redis://redis.example:6379/2", "socket_connect_timeout": 2}
    ]


def test_it_selects_postgresql_with_conn_max_age_0_for_a_postgres_url():
    loaded = load_settings(
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="chat.example",
        DATABASE_URL="postgres://app:secret@db.example:5432/chat",
    )

    assert loaded["DEBUG"] is False
    assert loaded["ENGINE"] == "django.db.backends.postgresql"
    assert (loaded["HOST"], loaded["NAME"]) == ("db.example", "chat")
    assert loaded["CONN_MAX_AGE"] == 0
    assert loaded["ALLOWED_HOSTS"] == ["chat.example"]
    # Connections come from Django's psycopg pool, sized per process.
    assert loaded["POOL"] == {"min_size": 2, "max_size": 8, "timeout": 10}


def test_it_sizes_the_connection_pool_from_the_environment():
    loaded = load_settings(
        SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://app@db.example:5432/chat",
        DATABASE_POOL_MIN="1",
        DATABASE_POOL_MAX="20",
    )

    assert loaded["POOL"] == {"min_size": 1, "max_size": 20, "timeout": 10}


@pytest.mark.parametrize("value", ["lots", "4000.5", "4 000", "0", "-1"])
def test_it_refuses_a_message_length_that_is_not_a_positive_integer(value):
    loaded = load_settings(DEBUG="true", CHAT_MESSAGE_MAX_LENGTH=value)

    assert loaded["error"] == "ImproperlyConfigured"
    assert "CHAT_MESSAGE_MAX_LENGTH" in loaded["message"]


def test_it_reads_the_message_length_from_the_environment():
    assert (
        load_settings(DEBUG="true", CHAT_MESSAGE_MAX_LENGTH="500")["CHAT_MESSAGE_MAX_LENGTH"] == 500
    )


def test_it_refuses_a_debug_value_that_is_not_a_boolean():
    loaded = load_settings(DEBUG="maybe")

    assert loaded["error"] == "ImproperlyConfigured"
    assert "DEBUG" in loaded["message"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"EID_OIDC_ISSUER": "https://e-id.example.se"},
            "EID_OIDC_CLIENT_ID and EID_OIDC_CLIENT_SECRET",
        ),
        (
            {
                "DEBUG": "false",
                "SECRET_KEY": "k",
                "EID_OIDC_ISSUER": "http://e-id.example.se",
                "EID_OIDC_CLIENT_ID": "a",
                "EID_OIDC_CLIENT_SECRET": "b",
            },
            "https://",
        ),
        ({"EID_STORE_PERSONAL_NUMBER": "plain"}, "EID_STORE_PERSONAL_NUMBER"),
        ({"EID_OIDC_TOKEN_AUTH_METHOD": "none"}, "EID_OIDC_TOKEN_AUTH_METHOD"),
    ],
)
def test_it_refuses_an_e_id_configuration_that_cannot_work(env, message):
    loaded = load_settings(**env)

    assert loaded["error"] == "ImproperlyConfigured"
    assert message in loaded["message"]


def test_it_refuses_a_call_grace_a_live_client_could_outlast():
    """A live client's last sign of life is up to a heartbeat and a flush old: a shorter
    grace would end its call."""
    loaded = load_settings(
        DEBUG="true",
        CALL_RECONNECT_GRACE_SECONDS="20",
        CHAT_HEARTBEAT_SECONDS="15",
        LIVENESS_FLUSH_SECONDS="5",
    )

    assert loaded["error"] == "ImproperlyConfigured"
    assert "CALL_RECONNECT_GRACE_SECONDS" in loaded["message"]
    assert (
        load_settings(DEBUG="true", CALL_RECONNECT_GRACE_SECONDS="21")[
            "CALL_RECONNECT_GRACE_SECONDS"
        ]
        == 21
    )
