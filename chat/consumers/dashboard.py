"""The supervisor's dashboard: their units' queues, numbers and staffing, live."""

from __future__ import annotations

from channels.db import database_sync_to_async

from accounts.models import Presence, User
from chat import realtime, selectors
from chat.consumers.base import Frame, StaffConsumer
from chat.models import Conversation
from chat.parsing import frame_choice, frame_id, frame_int
from chat.selectors.risk import risk_alert_list
from chat.services.conversations import conversation_move, conversation_set_priority
from chat.services.presence import (
    CAPACITY_MAX,
    CAPACITY_MIN,
    presence_set_capacity,
    presence_set_status,
)


# --- one crossing into sync code per dashboard action ----------------------------------
def dashboard_units(user: User) -> list[int]:
    return list(selectors.unit_list_supervised(user=user).values_list("pk", flat=True))


dashboard_unit_ids = database_sync_to_async(dashboard_units)


@database_sync_to_async
def dashboard_snapshot(user: User) -> Frame:
    units = selectors.unit_list_supervised(user=user)
    return {
        "type": "dashboard.snapshot",
        "units": [selectors.unit_stats(unit=unit) for unit in units],
        "risk_alerts": risk_alert_list(unit_ids=[unit.pk for unit in units]),
    }


def dashboard_set_priority(user: User, frame: Frame) -> None:
    conversation_set_priority(
        conversation_id=frame_id(frame.get("conversation"), name="conversation"),
        priority=frame_choice(frame.get("priority"), Conversation.Priority, name="priority"),
        actor=user,
    )


def dashboard_move(user: User, frame: Frame) -> None:
    conversation_move(
        conversation_id=frame_id(frame.get("conversation"), name="conversation"),
        unit_id=frame_id(frame.get("unit"), name="unit"),
        actor=user,
    )


def dashboard_set_capacity(user: User, frame: Frame) -> None:
    worker = selectors.worker_get_for_supervisor(
        actor=user, worker_id=frame_id(frame.get("worker"), name="worker")
    )
    capacity = frame_int(
        frame.get("capacity"), minimum=CAPACITY_MIN, maximum=CAPACITY_MAX, name="capacity"
    )
    presence_set_capacity(worker=worker, capacity=capacity, actor=user)


def dashboard_set_presence(user: User, frame: Frame) -> None:
    worker = selectors.worker_get_for_supervisor(
        actor=user, worker_id=frame_id(frame.get("worker"), name="worker")
    )
    status = frame_choice(frame.get("presence"), Presence.Status, name="presence")
    presence_set_status(worker=worker, status=status, actor=user)


class DashboardConsumer(StaffConsumer):
    """A supervisor's live view of their units: queues, numbers and staffing."""

    frame_types = frozenset({"set_priority", "move", "set_capacity", "set_presence", "ping"})
    relayed = frozenset({"dashboard.unit", "risk.flagged", "risk.lowered", "referral.escalated"})

    permission = "chat.view_dashboard"

    opening = staticmethod(dashboard_units)

    async def staff_connected(self, opened: list[int] | None = None) -> None:
        for unit_id in opened if opened is not None else await dashboard_unit_ids(self.user):
            await self.join(realtime.unit_supervisors_group(unit_id))
        await self.send_json(await dashboard_snapshot(self.user))

    async def on_set_priority(self, frame: Frame) -> None:
        await self.act(dashboard_set_priority, frame)

    async def on_move(self, frame: Frame) -> None:
        await self.act(dashboard_move, frame)

    async def on_set_capacity(self, frame: Frame) -> None:
        await self.act(dashboard_set_capacity, frame)

    async def on_set_presence(self, frame: Frame) -> None:
        await self.act(dashboard_set_presence, frame)
