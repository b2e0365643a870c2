"""On PostgreSQL every crossing into sync code takes a connection from the process's pool
and gives it back: a run of crossings reuses a few backends instead of opening one each
(which cost a fifth of the server's time and most of PostgreSQL's)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


async def test_crossings_into_sync_code_reuse_pooled_connections():
    pids = [await backend_pid() for _ in range(30)]

    # Without the pool each crossing closes its connection and the next opens a new one.
    assert len(set(pids)) <= settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"]
    assert len(set(pids)) < len(pids)
