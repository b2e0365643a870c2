"""A client and a social worker chat from the queue to the end, in two real browsers."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.browser.flows import (
    TIME_TEXT,
    accept_first_waiting,
    assert_log_is_gapless,
    assert_stored_once,
    client_log,
    client_send,
    expect_bodies,
    log_items,
    open_console,
    start_chat,
    stored_conversation,
    worker_log,
    worker_panel,
    worker_send,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

XSS = "Titta här <img src=x onerror=alert(1)> och https://example.org/a tack"


def test_client_and_worker_chat_from_queue_to_end(
    live_server, personas, client_context, worker_context, shot
):
    base = live_server.url
    client = client_context.new_page()
    worker = worker_context.new_page()
    dialogs: list[str] = []
    for page in (client, worker):
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    # The worker is on the console before anyone waits.
    login(worker, base, "anna", personas.password)
    open_console(worker, base)
    expect(worker.locator("#waiting li")).to_have_count(0)
    expect(worker.locator("#waiting-empty")).to_be_visible()
    shot(worker, "console-empty")

    # The client starts in two steps: a unit and a first message.
    client.goto(f"{base}/")
    shot(client, "client-start")
    first = "Hej, jag behöver hjälp med min ansökan om försörjningsstöd."
    start_chat(client, None, first)
    expect(client.locator("#chat-status")).not_to_have_text("")
    expect(client.locator("#composer-body")).to_be_focused()
    shot(client, "client-waiting")

    # The waiting client appears live in the worker's queue, without a reload.
    waiting = worker.locator("#waiting li")
    expect(waiting).to_have_count(1)
    expect(waiting.first.locator(".unit")).to_have_text("Ekonomiskt bistånd")
    expect(worker.locator("#waiting-count")).to_have_text("1")
    expect(worker.locator("#accept-next")).to_be_enabled()
    shot(worker, "console-one-waiting")

    panel = accept_first_waiting(worker)
    expect(worker.locator("#waiting li")).to_have_count(0)
    expect(client.locator("body")).to_have_attribute("data-state", "active")
    expect(client_log(client).locator("li.message--system")).to_have_count(1)
    expect_bodies(worker_log(worker), [first])
    # (Where the cursor lands after Accept: test_accept_puts_the_cursor_in_the_message_box.)

    # Both write; each sees the other's message with who and when.
    reply = "Hej! Jag heter Anna. Berätta gärna mer."
    worker_send(worker, reply)
    expect_bodies(client_log(client), [first, reply])
    answer = "Jag fick avslag och förstår inte varför."
    client_send(client, answer)
    expect_bodies(worker_log(worker), [first, reply, answer])
    expect_bodies(client_log(client), [first, reply, answer])

    for page, log, mine, theirs in (
        (client, client_log(client), "client", "worker"),
        (worker, worker_log(worker), "worker", "client"),
    ):
        items = [i for i in log_items(log) if i["sender"] in ("client", "worker")]
        own_who = {i["who"] for i in items if i["sender"] == mine}
        other_who = {i["who"] for i in items if i["sender"] == theirs}
        assert len(own_who) == 1 and len(other_who) == 1, items
        assert own_who.isdisjoint(other_who), f"{page.url}: own and other look alike: {items}"
        assert all(i["who"].strip() for i in items), items
        for item in items:
            assert TIME_TEXT.fullmatch(item["time"]), item
            assert item["datetime"], item
    # The client never sees the worker's name; the worker sees who wrote.
    assert "Anna" not in {i["who"] for i in log_items(client_log(client))}
    # Anonymous: nothing outlives the tab. No localStorage, only session cookies.
    assert client.evaluate("localStorage.length") == 0
    lasting = [c["name"] for c in client_context.cookies() if c["expires"] != -1]
    assert lasting == [], f"cookies that outlive the browser: {lasting}"
    shot(client, "client-active")
    shot(worker, "console-active")

    # Text stays text; one safe link; nothing runs.
    client_send(client, XSS)
    expected = [first, reply, answer, XSS]
    expect_bodies(worker_log(worker), expected)
    expect_bodies(client_log(client), expected)
    for log in (client_log(client), worker_log(worker)):
        body = log.locator("li.message").last.locator(".body")
        expect(body).to_have_text(XSS)
        expect(body.locator("img")).to_have_count(0)
        links = body.locator("a")
        expect(links).to_have_count(1)
        expect(links).to_have_attribute("href", "https://example.org/a")
        expect(links).to_have_text("https://example.org/a")
        rel = (links.get_attribute("rel") or "").split()
        assert {"noopener", "noreferrer", "nofollow"} <= set(rel), rel
    assert client.evaluate("document.querySelectorAll('#log img').length") == 0
    shot(worker, "console-xss-as-text")

    # The worker ends the chat (the dialog offers follow-up questions; none this time);
    # both see it has ended.
    panel.locator("button.end").click()
    worker.locator("#end-dialog button[type=submit]").click()
    expect(client.locator("body")).to_have_attribute("data-state", "ended")
    expect(client.locator("#new-chat")).to_be_visible()
    expect(client.locator("#composer")).to_be_hidden()
    expect(client.locator("#chat-status")).not_to_have_text("")
    expect(panel.locator(".ended")).to_be_visible()
    expect(panel.locator("form.composer")).to_be_hidden()
    expect(worker.locator("#conversation-tabs li.tab")).to_have_attribute("data-state", "ended")
    stored = stored_conversation()
    assert_stored_once(stored, expected)
    assert_log_is_gapless(client_log(client), stored.last_seq)
    assert_log_is_gapless(worker_log(worker), stored.last_seq)
    shot(client, "client-ended")
    shot(worker, "console-ended")

    # A new chat from the same tab is a new conversation in the worker's queue.
    client.locator("#new-chat").click()
    expect(client.locator("#start")).to_be_visible()
    expect(client.locator("#log li")).to_have_count(0)
    start_chat(client, None, "En ny fråga, om hyran den här gången.")
    expect(worker.locator("#waiting li")).to_have_count(1)
    assert stored_conversation().conversation_id != stored.conversation_id
    shot(client, "client-second-chat-waiting")
    shot(worker, "console-second-chat-waiting")

    # Closing the ended conversation leaves the worker's console tidy.
    panel.locator("button.close").click()
    expect(worker.locator("#conversation-panels .conversation")).to_have_count(0)
    expect(worker.locator("#no-conversation")).to_be_visible()
    expect(worker_panel(worker)).to_have_count(0)

    assert dialogs == []


def test_accept_puts_the_cursor_in_the_message_box(
    live_server, personas, client_context, worker_context
):
    client = client_context.new_page()
    worker = worker_context.new_page()
    login(worker, live_server.url, "anna", personas.password)
    open_console(worker, live_server.url)
    start_chat(client, live_server.url, "Hej, kan någon svara?")
    panel = accept_first_waiting(worker)
    expect(panel.locator("form.composer")).to_be_visible()
    expect(panel.locator("textarea")).to_be_focused(timeout=5_000)
    # Typing straight away writes the answer.
    worker.keyboard.type("Hej, jag är här.")
    expect(panel.locator("textarea")).to_have_value("Hej, jag är här.")
