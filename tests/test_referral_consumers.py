"""Referral alerts on the sockets: the console of the unit's staff hears `referral.received`
(and no one else's does); the unit's supervisors hear `referral.escalated` on the dashboard."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chat.services.timed import timed_sweep
from tests.factories import settle
from tests.queue_personas import next_frame
from tests.referral_personas import make_due, send

pytest_plugins = ["tests.queue_personas", "tests.referral_personas"]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_cache", "memory_layer"),
]


async def test_the_units_consoles_are_alerted_and_no_other_unit_hears_of_it(
    staff_ws, pia, pharmacy_place, chain, cecilia, anna
):
    console, _ = await staff_ws.console(cecilia)
    stranger, _ = await staff_ws.console(anna)
    referral = await database_sync_to_async(send)(pia, pharmacy_place)
    alert = await next_frame(console, "referral.received")
    assert alert["conversation"] == referral.conversation_id
    assert alert["referral"]["place"] == "Storgatan"
    assert alert["referral"]["contact"] == "call_back"
    assert "phone" not in alert["referral"] and "note" not in alert["referral"]
    queue = await next_frame(console, "queue.updated")
    assert queue["waiting"][0]["id"] == referral.conversation_id
    assert queue["waiting"][0]["priority"] == 1
    assert "referral.received" not in {frame["type"] for frame in await settle(stranger)}


async def test_an_unaccepted_referral_reaches_the_supervisors_dashboard(
    staff_ws, pia, pharmacy_place, chain, vera
):
    dashboard, _ = await staff_ws.dashboard(vera)
    referral = await database_sync_to_async(send)(pia, pharmacy_place)
    await database_sync_to_async(make_due)(referral)
    await database_sync_to_async(timed_sweep)()
    escalated = await next_frame(dashboard, "referral.escalated")
    assert escalated["conversation"] == referral.conversation_id
    assert escalated["unit_name"] == "Våld i nära relationer" and escalated["step"] == 1


async def test_the_consoles_queue_shows_the_language_chat_now_opened_in(
    staff_ws, pia, pharmacy_place, chain, cecilia
):
    from chat.models import Referral
    from chat.services.referrals import referral_open_chat
    from tests.factories import new_token

    console, _ = await staff_ws.console(cecilia)
    referral = await database_sync_to_async(send)(
        pia, pharmacy_place, contact=Referral.Contact.CHAT_NOW
    )

    async def waiting_row() -> dict:
        while True:  # earlier announcements (the console's own arrival) may come first
            queue = await next_frame(console, "queue.updated")
            if queue["waiting"]:
                return queue["waiting"][0]

    # Announced by the send: the partner's device has not opened the chat yet.
    assert (await waiting_row())["language"] == ""
    await database_sync_to_async(referral_open_chat)(
        partner=pia, referral_id=referral.pk, token=new_token(), language="ar"
    )
    opened = await waiting_row()
    assert opened["id"] == referral.conversation_id and opened["language"] == "ar"


async def test_a_worker_who_accepted_before_the_chat_opened_is_told_its_language(
    staff_ws, pia, pharmacy_place, chain, cecilia
):
    from chat.models import Referral
    from chat.services.referrals import referral_open_chat
    from tests.factories import new_token

    console, _ = await staff_ws.console(cecilia)
    referral = await database_sync_to_async(send)(
        pia, pharmacy_place, contact=Referral.Contact.CHAT_NOW
    )
    await console.send_json_to({"type": "accept", "conversation": referral.conversation_id})
    assigned = await next_frame(console, "conversation.assigned")
    assert assigned["detail"]["language"] == ""
    await database_sync_to_async(referral_open_chat)(
        partner=pia, referral_id=referral.pk, token=new_token(), language="fa"
    )
    told = await next_frame(console, "conversation.language")
    assert told == {
        "type": "conversation.language",
        "conversation": referral.conversation_id,
        "language": "fa",
    }
