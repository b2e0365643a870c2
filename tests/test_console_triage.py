"""Triage in the console: what a waiting client wrote (the previews, each a logged read),
the worker's unread count, and whether the client's page is there.

Selectors and services first (fast), then the console's socket through the real ASGI
application."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import realtime, selectors
from chat.consumers.console import console_ping, previews_shown
from chat.models import AccessLog, Conversation
from chat.services.access import PreviewShown, queue_previews_read
from chat.services.conversations import conversation_mark_read
from chat.services.handover import conversation_hand_over
from chat.services.messages import message_post
from tests import factories
from tests.factories import client_start, next_frame, send_message, settle, waiting_client


def client_writes(conversation: Conversation, body: str) -> None:
    message_post(conversation_id=conversation.pk, author=None, body=body, client_id=uuid.uuid4())


def worker_writes(conversation: Conversation, worker, body: str) -> None:
    message_post(conversation_id=conversation.pk, author=worker, body=body, client_id=uuid.uuid4())


# --- the previews ----------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_preview_is_the_latest_thing_the_waiting_client_wrote(ekonomi):
    conversation, _token = factories.start_conversation(ekonomi, "Hej.")
    client_writes(conversation, "Jag har fått ett brev om vräkning.")

    preview = selectors.queue_previews(conversation_ids=[conversation.pk])[conversation.pk]

    assert preview.text == "Jag har fått ett brev om vräkning."
    assert (preview.seq, preview.client_messages, preview.cut) == (2, 2, False)
    assert preview.handed_from == preview.handed_from_unit == ""


@pytest.mark.django_db
def test_a_long_message_is_cut_on_the_server(ekonomi):
    body = "å" * (selectors.PREVIEW_CHARS + 500)
    conversation, _token = factories.start_conversation(ekonomi, body)

    preview = selectors.queue_previews(conversation_ids=[conversation.pk])[conversation.pk]

    assert preview.text == "å" * selectors.PREVIEW_CHARS
    assert preview.cut is True


@pytest.mark.django_db
def test_the_previews_of_a_whole_queue_head_are_one_statement(ekonomi):
    ids = [factories.start_conversation(ekonomi, f"Fråga {n}")[0].pk for n in range(6)]

    with CaptureQueriesContext(connection) as queries:
        previews = selectors.queue_previews(conversation_ids=ids)

    assert len(queries.captured_queries) == 1
    assert [previews[pk].text for pk in ids] == [f"Fråga {n}" for n in range(6)]


@pytest.mark.django_db
def test_a_conversation_handed_over_without_its_history_shows_nothing_from_before(
    ekonomi, vald, anna
):
    conversation, _token = factories.start_conversation(ekonomi, "Min sambo slår mig.")
    factories.accept(anna, conversation)
    conversation_hand_over(
        conversation=Conversation.objects.get(pk=conversation.pk),
        actor=anna,
        note="Behöver stöd från våld i nära relationer.",
        share_history=False,
        to_unit_id=vald.pk,
    )

    preview = selectors.queue_previews(conversation_ids=[conversation.pk])[conversation.pk]

    assert (preview.seq, preview.text, preview.client_messages) == (0, "", 0)
    assert preview.handed_from == anna.display_name
    assert preview.handed_from_unit == ekonomi.name
    conversation.refresh_from_db()
    row = realtime.waiting_payload(selectors.waiting_rows(unit_id=vald.pk)[0], preview)
    assert row["preview"] is None
    assert row["handed_over"] == {"from": anna.display_name, "from_unit": ekonomi.name}
    assert row["transferred"] is True

    client_writes(conversation, "Är någon där?")
    preview = selectors.queue_previews(conversation_ids=[conversation.pk])[conversation.pk]
    assert (preview.text, preview.client_messages) == ("Är någon där?", 1)


# --- the preview's read in the access log ----------------------------------------------------
@pytest.mark.django_db
def test_previews_shown_are_logged_in_one_statement_with_who_took_part(ekonomi, anna):
    ours, _token = factories.start_conversation(ekonomi)
    factories.accept(anna, ours)
    worker_writes(ours, anna, "Hej!")
    ours.refresh_from_db()
    theirs = [factories.start_conversation(ekonomi)[0] for _ in range(4)]
    shown = [PreviewShown(c.pk, ekonomi.pk, ekonomi.name) for c in [ours, *theirs]]

    with CaptureQueriesContext(connection) as queries:
        queue_previews_read(actor=anna, shown=shown, request_id=uuid.uuid4())

    assert len(queries.captured_queries) == 1
    rows = {
        row.conversation_id: row
        for row in AccessLog.objects.filter(action=AccessLog.Action.READ_PREVIEW)
    }
    assert set(rows) == {ours.pk, *(c.pk for c in theirs)}
    assert rows[ours.pk].took_part is True
    assert all(rows[c.pk].took_part is False for c in theirs)
    assert {(r.actor_id, r.unit_id, r.unit_name) for r in rows.values()} == {
        (anna.pk, ekonomi.pk, ekonomi.name)
    }


def test_a_console_logs_a_preview_once_until_the_client_writes_again():
    waiting = [
        {"id": 1, "unit": 7, "preview": {"seq": 3}},
        {"id": 2, "unit": 7, "preview": None},
        {"id": 3, "unit": 7, "preview": {"seq": 1}},
    ]

    shown = previews_shown(waiting, {7: "Ekonomi"}, {1: 3, 3: 0})

    assert shown == [PreviewShown(3, 7, "Ekonomi")]


# --- unread ----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_unread_counts_the_client_messages_above_what_the_worker_has_seen(ekonomi, anna, bengt):
    conversation, _token = factories.start_conversation(ekonomi, "Hej.")
    factories.accept(anna, conversation)
    client_writes(conversation, "Är du där?")
    client_writes(conversation, "Hallå?")

    mine = selectors.conversation_list_mine(user=anna).get()
    assert mine.unread == 3

    assert conversation_mark_read(conversation=conversation, reader=anna, seq=3) is True
    assert selectors.conversation_list_mine(user=anna).get().unread == 1
    # Someone else's "seen" is not the worker's, a lower seq changes nothing, and no seq
    # past the last one is stored.
    assert conversation_mark_read(conversation=conversation, reader=bengt, seq=4) is False
    assert conversation_mark_read(conversation=conversation, reader=anna, seq=2) is False
    assert conversation_mark_read(conversation=conversation, reader=anna, seq=999) is True
    conversation.refresh_from_db()
    assert conversation.worker_read_seq == conversation.last_seq == 4
    assert selectors.conversation_list_mine(user=anna).get().unread == 0


@pytest.mark.django_db
def test_a_new_worker_starts_with_nothing_read(ekonomi, anna, bengt):
    conversation, _token = factories.start_conversation(ekonomi)
    factories.accept(anna, conversation)
    conversation_mark_read(conversation=conversation, reader=anna, seq=2)
    conversation_hand_over(
        conversation=Conversation.objects.get(pk=conversation.pk),
        actor=anna,
        note="Till Bengt.",
        to_unit_id=ekonomi.pk,
    )
    factories.accept(bengt, Conversation.objects.get(pk=conversation.pk))

    conversation.refresh_from_db()
    assert conversation.worker_read_seq == 0
    assert selectors.conversation_list_mine(user=bengt).get().unread == 1


@pytest.mark.django_db
def test_the_slow_pong_says_when_each_client_was_last_seen(ekonomi, anna):
    conversation, _token = factories.start_conversation(ekonomi)
    factories.accept(anna, conversation)
    conversation.refresh_from_db()

    pong = console_ping(anna)

    assert pong["clients_seen"] == {str(conversation.pk): conversation.client_seen_at.isoformat()}


# --- the console's socket --------------------------------------------------------------------
@database_sync_to_async
def preview_reads(user) -> list[tuple[int, bool]]:
    return list(
        AccessLog.objects.filter(actor=user, action=AccessLog.Action.READ_PREVIEW)
        .order_by("pk")
        .values_list("conversation_id", "took_part")
    )


@pytest.mark.django_db(transaction=True)
async def test_a_console_sees_and_logs_what_a_waiting_client_writes(ws, ekonomi, anna, vald):
    client, conversation_id = await waiting_client(ws, ekonomi, "Hej, jag behöver hjälp.")
    console, snapshot = await ws.console(anna)

    (row,) = snapshot["waiting"]
    assert row["preview"] == {"seq": 1, "text": "Hej, jag behöver hjälp.", "cut": False, "count": 1}
    assert await preview_reads(anna) == [(conversation_id, False)]

    await send_message(client, "Jag har inga pengar till mat.")
    updated = await next_frame(
        console,
        "queue.updated",
        where=lambda f: f["waiting"] and (f["waiting"][0]["preview"] or {}).get("seq") == 2,
    )
    assert updated["waiting"][0]["preview"]["text"] == "Jag har inga pengar till mat."
    assert updated["waiting"][0]["preview"]["count"] == 2
    assert await preview_reads(anna) == [(conversation_id, False)] * 2

    # Another client queueing announces the queue again: the first preview is not new.
    _other, other_id = await waiting_client(ws, ekonomi, "Fråga om bostadsbidrag.")
    await next_frame(console, "queue.updated", where=lambda f: len(f["waiting"]) == 2)
    await settle(console)
    assert await preview_reads(anna) == [(conversation_id, False)] * 2 + [(other_id, False)]


@pytest.mark.django_db(transaction=True)
async def test_no_preview_reaches_a_console_of_another_unit(ws, ekonomi, cecilia, vald):
    console, _snapshot = await ws.console(cecilia)
    client, _conversation_id = await waiting_client(ws, ekonomi, "Hemligt.")
    await send_message(client, "Mer hemligt.")

    frames = await settle(console)

    assert "Hemligt" not in str(frames)
    assert await preview_reads(cecilia) == []


@pytest.mark.django_db(transaction=True)
async def test_seen_lowers_the_unread_count_of_the_next_snapshot(ws, ekonomi, anna):
    console, _snapshot = await ws.console(anna)
    client, conversation_id = await waiting_client(ws, ekonomi)
    await console.send_json_to({"type": "accept", "conversation": conversation_id})
    await next_frame(console, "conversation.assigned", conversation=conversation_id)
    await send_message(client, "Hallå?")
    await next_frame(console, "conversation.message", conversation=conversation_id)

    await console.send_json_to({"type": "seen", "conversation": conversation_id, "seq": 3})
    await next_frame(console, "conversation.seen", conversation=conversation_id, who="worker")
    await send_message(client, "Är du kvar?")
    await next_frame(console, "conversation.message", conversation=conversation_id)
    await ws.disconnect(console)
    _again, snapshot = await ws.console(anna)

    (mine,) = snapshot["conversations"]
    assert (mine["read_seq"], mine["unread"]) == (3, 1)
    assert mine["last_client_message_at"] is not None


@pytest.mark.django_db(transaction=True)
async def test_the_console_hears_when_the_clients_page_comes_and_goes(ws, ekonomi, anna):
    console, _snapshot = await ws.console(anna)
    client = await ws.client()
    sync, token = await client_start(client, ekonomi)
    conversation_id = sync["conversation"]
    await console.send_json_to({"type": "accept", "conversation": conversation_id})
    await next_frame(console, "conversation.assigned", conversation=conversation_id)
    await settle(console)

    await ws.disconnect(client)
    gone = await next_frame(console, "conversation.client", conversation=conversation_id)
    assert gone["online"] is False

    back = await ws.client()
    await back.send_json_to({"type": "resume", "token": token, "after": 0})
    here = await next_frame(console, "conversation.client", conversation=conversation_id)
    assert here["online"] is True
    # Never to the client's own page.
    assert all(f["type"] != "conversation.client" for f in await settle(back))


@pytest.mark.django_db(transaction=True)
async def test_a_preview_that_cannot_be_logged_is_not_shown(ws, ekonomi, anna, monkeypatch):
    from chat.consumers import console as console_module

    console, _snapshot = await ws.console(anna)

    def refuse(**kwargs):
        raise RuntimeError("the access log is not writable")

    monkeypatch.setattr(console_module, "queue_previews_read", refuse)
    _client, conversation_id = await waiting_client(ws, ekonomi, "Ingen får se det här olagrat.")

    updated = await next_frame(console, "queue.updated", where=lambda f: f["waiting"])
    assert updated["waiting"][0]["id"] == conversation_id
    assert updated["waiting"][0]["preview"] is None
    assert await preview_reads(anna) == []


@pytest.mark.django_db(transaction=True)
async def test_only_the_front_of_the_queue_carries_previews(ws, ekonomi, anna, settings):
    settings.CONSOLE_PREVIEW_ROWS = 2
    for n in range(4):
        await database_sync_to_async(factories.start_conversation)(ekonomi, f"Fråga {n}")

    _console, snapshot = await ws.console(anna)

    previews = [row["preview"] and row["preview"]["text"] for row in snapshot["waiting"]]
    assert previews == ["Fråga 0", "Fråga 1", None, None]
    assert len(await preview_reads(anna)) == 2
    rows = await database_sync_to_async(selectors.waiting_rows)(unit_id=ekonomi.pk)
    shown = await database_sync_to_async(selectors.queue_head_previews)(selectors.queue_head(rows))
    assert sorted(p.text for p in shown.values()) == ["Fråga 0", "Fråga 1"]


async def test_the_console_sends_clients_words_as_utf8_not_escapes():
    from chat.consumers.console import ConsoleConsumer

    text = await ConsoleConsumer.encode_json({"text": "أحتاج مساعدة · vräkning"})

    assert text == '{"text": "أحتاج مساعدة · vräkning"}'
