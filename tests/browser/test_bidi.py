"""Direction of user text: a right-to-left override (U+202E) typed into a message or a name
reorders nothing around it, on the client page, on the consoles and in the printable
transcript.

Checked with real layout: the text that follows user text in the same line (a time, the rest
of a sentence, the message after the author's name) keeps its left-to-right order on screen,
measured character by character; and message bodies are isolated boxes (`unicode-bidi`).
"""

from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import Locator, expect

from tests.browser.conftest import DESKTOP, MOBILE, colleague, login
from tests.browser.flows import (
    accept_first_waiting,
    client_log,
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

WAIT = 15_000
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
SPOOF = f"Faktura {RLO}gnp.exe 500 kr"  # shows as "Faktura rk 005 exe.png" by itself
REPLY = "Betala senast 12:05 idag"
CONTROLS = {"\u202a", "\u202b", "\u202c", "\u202d", RLO, "\u2066", "\u2067", "\u2068", "\u2069"}

# Every character of an element's text, with where it is drawn.
GLYPHS_JS = """(el) => {
    const range = document.createRange();
    const out = [];
    const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
        for (let i = 0; i < node.data.length; i += 1) {
            range.setStart(node, i);
            range.setEnd(node, i + 1);
            const box = range.getBoundingClientRect();
            out.push([node.data[i], box.left, box.top, box.height]);
        }
    }
    return out;
}"""


def assert_drawn_in_order(element: Locator, text: str) -> None:
    """`text`, found in the element's text (white space aside), is drawn left to right: each
    character stands to the right of the one before it, or starts a new line below it."""
    glyphs = [g for g in element.evaluate(GLYPHS_JS) if g[0] not in CONTROLS]
    glyphs = [g for g in glyphs if not g[0].isspace()]  # white space may collapse
    chars, wanted = "".join(g[0] for g in glyphs), "".join(text.split())
    start = chars.find(wanted)
    assert start >= 0, (text, chars)
    drawn = glyphs[start : start + len(wanted)]
    for before, after in itertools.pairwise(drawn):
        new_line = after[2] > before[2] + before[3] / 2
        assert new_line or after[1] > before[1], (
            f"{after[0]!r} is drawn left of {before[0]!r} in {chars!r}: "
            f"the text after user text is reordered"
        )


def assert_isolated(element: Locator) -> None:
    assert element.evaluate("(el) => getComputedStyle(el).unicodeBidi") in ("isolate", "plaintext")


@pytest.fixture
def bengt(personas):
    """A second worker in anna's unit whose first name carries an override."""
    return colleague(personas, "bengt", f"{RLO}tgneB", "Berg")  # shows as "Bengt"


def test_an_override_in_user_text_reorders_nothing_around_it(
    live_server, personas, bengt, new_context, shot
):
    personas.anna.last_name = f"{RLO}nossrednA"  # shows as "Andersson"
    personas.anna.save()
    base = live_server.url
    client = new_context(viewport=MOBILE, is_mobile=True, has_touch=True, locale="en-GB").new_page()
    anna = new_context(viewport=DESKTOP, locale="en-GB").new_page()
    ben = new_context(viewport=DESKTOP, locale="en-GB").new_page()
    for page, username in ((anna, "anna"), (ben, "bengt")):
        login(page, base, username, personas.password)
        open_console(page, base)
        set_available(page)

    # The client writes the spoof; anna accepts and answers.
    start_chat(client, base, SPOOF)
    panel = accept_first_waiting(anna)
    worker_send(anna, REPLY)
    expect_bodies(client_log(client), [SPOOF, REPLY], timeout=WAIT)
    expect_bodies(worker_log(anna), [SPOOF, REPLY], timeout=WAIT)

    # Both pages: the body is an isolated box, and its meta line reads in order.
    for log in (client_log(client), worker_log(anna)):
        item = log.locator("li.message--client").first
        assert_isolated(item.locator(".body"))
        meta = item.locator(".message__meta").first
        assert_drawn_in_order(meta, meta.evaluate("(el) => el.textContent").strip())
        assert_drawn_in_order(log.locator("li.message--worker .body").first, REPLY)

    # Anna offers the chat to bengt: the status line names him, then gives a time.
    panel.locator("button.hand-over").click()
    dialog = anna.locator("#handover-dialog")
    expect(dialog).to_be_visible(timeout=WAIT)
    anna.locator("#handover-worker").select_option(f"{bengt.pk}:{personas.unit.pk}")
    anna.locator("#handover-note").fill(SPOOF)
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden(timeout=WAIT)
    status = panel.locator(".handover-status")
    expect(status).to_contain_text("Waiting for an answer until", timeout=WAIT)
    assert_drawn_in_order(status, "Waiting for an answer until")
    shot(anna, "console-offer-sent")

    # Bengt's offer names anna, then her unit; he accepts and shows his first name.
    offer = ben.locator("#offer-list li.offer")
    expect(offer).to_have_count(1, timeout=WAIT)
    assert_drawn_in_order(offer.locator(".offer__from"), f"({personas.unit.name})")
    assert_isolated(offer.locator(".offer__note"))
    shot(ben, "console-offer-received")
    offer.locator(".show-name").check()
    offer.locator("button.accept").click()
    expect(worker_panel(ben)).to_have_count(1, timeout=WAIT)

    # Anna's console: "<bengt> has taken over."
    expect(status).to_contain_text("has taken over", timeout=WAIT)
    assert_drawn_in_order(status, "has taken over.")
    shot(anna, "console-taken-over")

    # The client page: "<Bengt>, a social worker, has taken over the chat."
    joined = client_log(client).locator('li.message--system[data-event="handover_joined"] .body')
    expect(joined).to_contain_text("a social worker, has taken over", timeout=WAIT)
    assert_drawn_in_order(joined, ", a social worker, has taken over the chat.")
    shot(client, "client-page")

    # The printable transcript: anna's name, then her message; the client's row isolated.
    stored = stored_conversation()
    transcript = ben.context.new_page()
    response = transcript.goto(f"{base}/console/conversations/{stored.conversation_id}/transcript/")
    assert response is not None and response.ok, response
    rows = transcript.locator(".transcript__rows > li:not(.transcript__system)")
    expect(rows).to_have_count(2)
    assert_isolated(rows.nth(0).locator(".transcript__text"))
    assert_drawn_in_order(rows.nth(1), f":{REPLY}")
    assert_drawn_in_order(transcript.locator(".transcript ul li").first, "(accepted).")
    shot(transcript, "transcript")
