from __future__ import annotations

from django.db import transaction

from accounts.models import Unit
from chat import realtime, selectors


def queue_announce(*, unit_id: int) -> None:
    """Publish the unit's waiting list to its staff once the current transaction commits."""

    def send() -> None:
        unit = Unit.objects.get(pk=unit_id)
        waiting = selectors.conversation_list_waiting(unit_ids=[unit_id])
        realtime.publish(realtime.unit_staff_group(unit_id), realtime.queue_event(unit, waiting))

    transaction.on_commit(send)
