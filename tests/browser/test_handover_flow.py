"""A worker hands a live chat over to a colleague in the same unit, in three real browsers:
the receiver reads the note first and the whole history, the client is told neutrally,
and nothing is lost or doubled on the way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, MOBILE, colleague, login
from tests.browser.flows import (
    accept_first_waiting,
    client_log,
    client_send,
    expect_bodies,
    open_console,
    set_available,
    start_chat,
    stored_conversation,
    worker_log,
    worker_panel,
    worker_send,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT = 15_000  # the machine is loaded
NOTE = "Needs help with rent; prefers short answers"

# Every rendered message of the client's log, in DOM order, with its event.
CLIENT_ITEMS_JS = """(log) => Array.from(log.querySelectorAll(':scope > li.message')).map(li => ({
    seq: li.dataset.seq ? Number(li.dataset.seq) : null,
    sender: li.dataset.sender || null,
    event: li.dataset.event || '',
    pending: li.classList.contains('message--pending'),
    body: li.querySelector('.body').textContent,
}))"""


@pytest.fixture
def bengt(personas):
    """A second worker in anna's unit."""
    return colleague(personas, "bengt", "Bengt", "Berg")


def test_handover_to_a_colleague_in_the_same_unit(live_server, personas, bengt, new_context, shot):
    from chat.models import Message

    base = live_server.url
    client = new_context(viewport=MOBILE, is_mobile=True, has_touch=True, locale="en-GB").new_page()
    anna = new_context(viewport=DESKTOP, locale="en-GB").new_page()
    ben = new_context(viewport=DESKTOP, locale="en-GB").new_page()
    dialogs: list[str] = []
    for page in (client, anna, ben):
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    # Both workers are on their consoles, available.
    for page, username in ((anna, "anna"), (ben, "bengt")):
        login(page, base, username, personas.password)
        open_console(page, base)
        set_available(page)

    # The client starts; anna accepts; they write one message each.
    first = "Hello, I need help with my application."
    start_chat(client, base, first)
    expect(anna.locator("#waiting li")).to_have_count(1, timeout=WAIT)
    # The client waits for the unit, so bengt sees them too; anna takes them.
    expect(ben.locator("#waiting li")).to_have_count(1, timeout=WAIT)
    panel_a = accept_first_waiting(anna)
    expect(client.locator("body")).to_have_attribute("data-state", "active", timeout=WAIT)
    expect(ben.locator("#waiting li")).to_have_count(0, timeout=WAIT)
    reply = "Hi, I am Anna. Tell me more."
    worker_send(anna, reply)
    expect_bodies(client_log(client), [first, reply], timeout=WAIT)
    answer = "My rent is due on Friday and I cannot pay it."
    client_send(client, answer)
    history = [first, reply, answer]
    expect_bodies(worker_log(anna), history, timeout=WAIT)
    expect_bodies(client_log(client), history, timeout=WAIT)
    shot(anna, "anna-before-handover")

    # Anna hands over to bengt with a note; same unit, so no history choice.
    panel_a.locator("button.hand-over").click()
    dialog = anna.locator("#handover-dialog")
    expect(dialog).to_be_visible(timeout=WAIT)
    anna.locator("#handover-worker").select_option(f"{bengt.pk}:{personas.unit.pk}")
    expect(anna.locator("#handover-history")).to_be_hidden()
    expect(anna.locator("#handover-same-unit")).to_be_visible()
    anna.locator("#handover-note").fill(NOTE)
    shot(anna, "anna-handover-dialog")
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden(timeout=WAIT)
    expect(panel_a.locator(".handover-status")).to_contain_text("Bengt", timeout=WAIT)

    # The client is told neutrally that they are being connected.
    started = client_log(client).locator('li.message--system[data-event="handover_started"]')
    expect(started).to_have_count(1, timeout=WAIT)
    expect(started.locator(".body")).to_contain_text("You are being connected to a colleague")
    shot(client, "client-being-connected")

    # Bengt gets the offer with the note, and accepts without showing his name.
    offer = ben.locator("#offer-list li.offer")
    expect(ben.locator("#offers")).to_be_visible(timeout=WAIT)
    expect(offer).to_have_count(1, timeout=WAIT)
    expect(offer.locator(".offer__note")).to_have_text(NOTE)
    expect(offer.locator(".show-name")).not_to_be_checked()
    shot(ben, "bengt-offer")
    offer.locator("button.accept").click()
    expect(ben.locator("#offers")).to_be_hidden(timeout=WAIT)

    # Bengt's panel: the note first, then the whole history.
    panel_b = worker_panel(ben)
    expect(panel_b).to_have_count(1, timeout=WAIT)
    trail = panel_b.locator(".trail")
    expect(trail).to_be_visible(timeout=WAIT)
    expect(trail.locator(".trail__latest .trail__note")).to_have_text(NOTE)
    expect_bodies(worker_log(ben), history, timeout=WAIT)
    note_first = trail.evaluate(
        """(trail) => {
            const first = trail.closest('.conversation').querySelector('ol.log li.message');
            return Boolean(trail.compareDocumentPosition(first)
                & Node.DOCUMENT_POSITION_FOLLOWING);
        }"""
    )
    assert note_first, "the handover note is not above the history"
    # On screen too: the note sits above the (scrollable) log.
    note_box = trail.bounding_box()
    log_box = worker_log(ben).bounding_box()
    assert note_box and log_box, (note_box, log_box)
    assert note_box["y"] + note_box["height"] <= log_box["y"], (note_box, log_box)
    expect(panel_b.locator("form.composer")).to_be_visible(timeout=WAIT)
    shot(ben, "bengt-note-first")

    # The client is told another social worker took over (no name: none was shown).
    joined = client_log(client).locator('li.message--system[data-event="handover_joined"]')
    expect(joined).to_have_count(1, timeout=WAIT)
    expect(joined.locator(".body")).to_have_text("Another social worker has taken over the chat.")
    assert NOTE not in client.locator("body").inner_text(), "the client sees the staff note"

    # Anna's panel: no longer hers, no composer.
    expect(panel_a.locator(".gone")).not_to_have_text("", timeout=WAIT)
    expect(panel_a.locator("form.composer")).to_be_hidden(timeout=WAIT)
    expect(panel_a.locator("button.hand-over")).to_be_hidden()
    expect(anna.locator("#conversation-tabs li.tab")).to_have_attribute(
        "data-state", "gone", timeout=WAIT
    )
    shot(anna, "anna-no-longer-hers")

    # The client and bengt talk on.
    after = "Thank you. What should I do first?"
    client_send(client, after)
    expect_bodies(worker_log(ben), [*history, after], timeout=WAIT)
    answer_b = "Apply for emergency help today."
    worker_send(ben, answer_b)
    everything = [*history, after, answer_b]
    expect_bodies(client_log(client), everything, timeout=WAIT)
    expect_bodies(worker_log(ben), everything, timeout=WAIT)
    shot(client, "client-after-handover")
    shot(ben, "bengt-after-handover")

    # Nothing lost or doubled: the client's log is the database's messages, each once.
    stored = stored_conversation()
    rows = list(Message.objects.filter(conversation_id=stored.conversation_id).order_by("seq"))
    assert [m.seq for m in rows] == list(range(1, stored.last_seq + 1)), rows
    expect(client_log(client).locator("li.message")).to_have_count(len(rows), timeout=WAIT)
    items = client_log(client).evaluate(CLIENT_ITEMS_JS)
    assert not [i for i in items if i["pending"]], items
    shown = [
        (i["seq"], i["sender"], i["event"] if i["sender"] == "system" else i["body"]) for i in items
    ]
    expected = [
        (m.seq, m.sender, m.event if m.sender == Message.Sender.SYSTEM else m.body) for m in rows
    ]
    assert shown == expected
    assert [body for _, sender, body in expected if sender != "system"] == everything
    assert [m.sender for m in rows if m.sender != Message.Sender.SYSTEM] == [
        "client",
        "worker",
        "client",
        "client",
        "worker",
    ]
    assert [m.author_id for m in rows if m.sender == Message.Sender.WORKER] == [
        personas.anna.pk,
        bengt.pk,
    ]
    client_ids = [m.client_id for m in rows if m.client_id]
    assert len(client_ids) == len(set(client_ids)) == len(everything), rows

    assert dialogs == []
