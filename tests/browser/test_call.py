"""A video call between a social worker and a client in two real Chromium contexts, with
fake camera and microphone, on 127.0.0.1: signalled over our own sockets, the browsers
connect to each other and media flow both ways; then an interpreter invited by link joins
the call from a third context and all three connect to each other (a mesh of three
connections); the controls are keyboard operable and axe clean; the client's quick exit
ends the call at once for everyone and tells the worker. One short call, to keep CI
quick."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import login
from tests.browser.flows import (
    accept_first_waiting,
    assert_axe_clean,
    open_console,
    start_chat,
    worker_panel,
)
from tests.browser.test_quick_exit import serve_neutral_page, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NARROW = {"width": 360, "height": 780}
SHOTS = Path(os.environ["CALL_SHOTS_DIR"]) if os.environ.get("CALL_SHOTS_DIR") else None
MEDIA_WINDOW_S = 1.5

# Every RTCPeerConnection the page makes, for the test to read its state and statistics.
WATCH_PEERS = """
(() => {
  const Original = window.RTCPeerConnection;
  window.__peers = [];
  window.RTCPeerConnection = class extends Original {
    constructor(...args) { super(...args); window.__peers.push(this); }
  };
})();
"""

# Per connection: its state and the bytes received so far, per kind.
PER_PEER_JS = """async () => {
  const out = [];
  for (const pc of window.__peers) {
    const row = { state: pc.connectionState, audio: 0, video: 0 };
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp") row[s.kind] += s.bytesReceived || 0;
    });
    out.push(row);
  }
  return out;
}"""

RECEIVED_JS = """async () => {
  const out = { audio: 0, video: 0, state: [] };
  for (const pc of window.__peers) {
    out.state.push(pc.connectionState);
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp") out[s.kind] += s.bytesReceived || 0;
    });
  }
  return out;
}"""


def picture(page: Page, name: str, shot) -> None:
    shot(page, name)
    if SHOTS is not None:  # a copy for review outside test-results/
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_video_call_connects_and_the_quick_exit_ends_it(live_server, personas, new_context, shot):
    from chat.models import Call

    base = live_server.url
    worker_context = new_context(viewport=NARROW, locale="en-US")
    client_context = new_context(viewport=NARROW, is_mobile=True, has_touch=True, locale="en-US")
    serve_neutral_page(client_context)
    for context in (worker_context, client_context):
        context.add_init_script(WATCH_PEERS)
    worker, client = worker_context.new_page(), client_context.new_page()

    login(worker, base, "anna", personas.password)
    open_console(worker, base)
    start_chat(client, base, "Hello, can we talk?")
    panel = accept_first_waiting(worker)

    # The worker offers a video call from the conversation, by keyboard.
    panel.locator(".call-video").focus()
    worker.keyboard.press("Enter")
    worker_call = panel.locator(".call")
    expect(worker_call).to_be_visible()
    expect(panel.locator(".call-video")).to_be_hidden()

    # The client is asked, clearly, and answers by keyboard.
    offer = client.locator("#call-offer")
    expect(offer).to_be_visible()
    expect(client.locator("#call-offer-title")).to_be_focused()
    expect(client.locator("#call-accept-voice")).to_be_visible()
    expect(client.locator("#call-decline")).to_be_visible()
    assert_axe_clean(client, "en")
    picture(client, "client-call-offer-360", shot)
    client.keyboard.press("Tab")
    expect(client.locator("#call-accept-video")).to_be_focused()
    client.keyboard.press("Enter")

    client_call = client.locator("#chat .call")
    expect(client_call).to_have_attribute("data-connection", "connected", timeout=20_000)
    expect(worker_call).to_have_attribute("data-connection", "connected", timeout=20_000)

    # Media flow both ways, from browser to browser.
    before = [page.evaluate(RECEIVED_JS) for page in (worker, client)]
    time.sleep(MEDIA_WINDOW_S)
    after = [page.evaluate(RECEIVED_JS) for page in (worker, client)]
    for b, a in zip(before, after, strict=True):
        assert a["state"] == ["connected"], a
        assert a["video"] > b["video"] and a["audio"] > b["audio"], (b, a)
    assert Call.objects.get().state == Call.State.ACTIVE

    # The client turns the microphone off with the keyboard (focus is on it after answering).
    mic = client_call.locator(".call__mic")
    expect(mic).to_be_focused()
    client.keyboard.press("Space")
    expect(mic).to_have_attribute("aria-pressed", "true")
    assert (
        client.evaluate(
            "document.querySelector('#chat .call__local').srcObject.getAudioTracks()[0].enabled"
        )
        is False
    )
    assert_axe_clean(client, "en")
    assert_axe_clean(worker, "en")
    picture(client, "client-call-360", shot)
    picture(worker, "console-call-360", shot)

    # The worker invites an interpreter by link; the interpreter opens it, sees the call
    # going on and joins it by keyboard.
    panel.locator(".invite").click()
    worker.locator("#invite-link-button").click()
    link = worker.locator("#invite-link")
    expect(link).not_to_have_value("")
    address = link.input_value()
    worker.keyboard.press("Escape")
    interpreter_context = new_context(
        viewport=NARROW, is_mobile=True, has_touch=True, locale="en-US"
    )
    interpreter_context.add_init_script(WATCH_PEERS)
    interpreter = interpreter_context.new_page()
    interpreter.goto(address)
    join = interpreter.locator("#call-join")
    expect(join).to_be_visible()
    expect(interpreter.locator("#call-join-text")).to_contain_text("video call")
    assert_axe_clean(interpreter, "en")
    join.focus()
    interpreter.keyboard.press("Enter")
    interpreter_call = interpreter.locator("#interpret .call")
    for area in (
        interpreter_call,
        worker_call,
        client_call,
    ):
        expect(area).to_have_attribute("data-connection", "connected", timeout=20_000)
    expect(client.locator("#notice")).to_contain_text("An interpreter has joined the call")

    # Three connections, each "connected", each receiving sound and picture.
    pages = (worker, client, interpreter)
    before = [page.evaluate(PER_PEER_JS) for page in pages]
    time.sleep(MEDIA_WINDOW_S)
    after = [page.evaluate(PER_PEER_JS) for page in pages]
    for name, b, a in zip(("worker", "client", "interpreter"), before, after, strict=True):
        live = [row for row in a if row["state"] != "closed"]
        assert [row["state"] for row in live] == ["connected", "connected"], (name, a)
        for old, new in zip(b[-2:], a[-2:], strict=True):
            assert new["audio"] > old["audio"] and new["video"] > old["video"], (name, b, a)
    # The interpreter's camera off by keyboard: focus is on the microphone after joining.
    expect(interpreter_call.locator(".call__mic")).to_be_focused()
    interpreter.keyboard.press("Tab")
    expect(interpreter_call.locator(".call__camera")).to_be_focused()
    interpreter.keyboard.press("Enter")
    expect(interpreter_call.locator(".call__camera")).to_have_attribute("aria-pressed", "true")
    assert_axe_clean(interpreter, "en")
    assert_axe_clean(client, "en")
    picture(interpreter, "interpreter-call-360", shot)
    picture(client, "client-call-with-interpreter-360", shot)
    picture(worker, "console-call-with-interpreter-360", shot)
    history = interpreter.locator("ol.log li[data-event=call_joined] .body")
    expect(history).to_have_text("An interpreter has joined the call.")

    # The quick exit ends the call at once, and the worker is told.
    client.keyboard.press("Escape")
    expect(worker_call).to_be_hidden(timeout=10_000)
    expect(worker.locator("#notice")).to_contain_text("call has ended")
    expect(interpreter_call).to_be_hidden(timeout=10_000)
    expect(interpreter.locator("#status")).to_have_text(
        "The chat has ended. You can close this page."
    )
    expect(interpreter.locator("#call-join")).to_be_hidden()
    for page in (worker, interpreter):
        assert set(page.evaluate("window.__peers.map((pc) => pc.connectionState)")) == {"closed"}
    wait_until(worker, lambda: Call.objects.get().state == Call.State.ENDED, "the call ended")
    call = Call.objects.get()
    assert call.ended_by == "client"
    # Said as the quick exit: the closing page does not end it first as an ordinary close.
    assert call.reason == Call.Reason.QUICK_EXIT
    expect(worker_panel(worker).locator(".call-video")).to_be_hidden()  # the chat has ended
    # The history keeps the call: its medium and length, never its content.
    call_event = worker_panel(worker).locator("ol.log li[data-event=call] .body")
    # (the length is bidi-isolated, as every value put into a sentence: bidi.js)
    expect(call_event).to_have_text(re.compile(r"^Video call, \u2068?(\d+ min )?\d+ s\u2069?\.$"))
    picture(worker, "console-call-ended-by-quick-exit-360", shot)


# A browser whose camera cannot be used (refused or missing): asked for video, it fails.
NO_CAMERA = """
(() => {
  const media = navigator.mediaDevices;
  const original = media.getUserMedia.bind(media);
  media.getUserMedia = (constraints) =>
    constraints && constraints.video
      ? Promise.reject(new DOMException("Permission denied", "NotAllowedError"))
      : original(constraints);
})();
"""


def test_a_call_goes_on_while_the_clients_socket_reconnects(
    live_server, netcut, personas, new_context, shot
):
    """The client's page has no camera: the video call falls back to voice with a clear
    message. Then its socket drops (the network to the server is cut; the browsers' own
    connection is not): the page says it is reconnecting, the call goes on, and once the
    socket is back the call is still the same one. A call that ends while the socket is
    away ends on the page when it is back."""
    from chat.models import Call

    worker_context = new_context(viewport=NARROW, locale="en-US")
    client_context = new_context(viewport=NARROW, is_mobile=True, has_touch=True, locale="en-US")
    client_context.add_init_script(NO_CAMERA)
    for context in (worker_context, client_context):
        context.add_init_script(WATCH_PEERS)
    worker, client = worker_context.new_page(), client_context.new_page()
    login(worker, live_server.url, "anna", personas.password)
    open_console(worker, live_server.url)
    start_chat(client, netcut.url, "Hello, can we talk?")  # the client through the proxy
    panel = accept_first_waiting(worker)

    panel.locator(".call-video").click()
    client.locator("#call-accept-video").click()
    expect(client.locator("#notice")).to_have_text(
        "Your camera could not be used, so the call is voice only."
    )
    client_call = client.locator("#chat .call")
    worker_call = panel.locator(".call")
    expect(client_call).to_have_attribute("data-media", "voice")
    expect(client_call).to_have_attribute("data-connection", "connected", timeout=20_000)
    expect(worker_call).to_have_attribute("data-connection", "connected", timeout=20_000)
    assert Call.objects.get().media == Call.Media.VOICE

    netcut.cut()
    expect(client.locator("#connection")).to_be_visible(timeout=30_000)
    status = client_call.locator(".call__status")
    expect(status).to_have_text(
        "The connection to the chat was lost. The call goes on while it reconnects."
    )
    # (The server cannot tell a cut network from a quiet one at once: for the worker the
    # call simply goes on, as it does between the browsers.)
    expect(worker_call).to_have_attribute("data-connection", "connected")
    before = client.evaluate(RECEIVED_JS)
    time.sleep(MEDIA_WINDOW_S)
    during = client.evaluate(RECEIVED_JS)
    assert during["state"] == ["connected"] and during["audio"] > before["audio"], (before, during)
    assert_axe_clean(client, "en")
    picture(client, "client-call-reconnecting-360", shot)

    netcut.restore()
    expect(client.locator("#connection")).to_be_hidden(timeout=30_000)
    expect(status).to_have_text("Connected.")
    call = Call.objects.get()
    assert call.state == Call.State.ACTIVE

    # The worker hangs up while the client's socket is away again: its `call.ended` is
    # lost, and the history the page gets on reconnecting ends the call there.
    netcut.cut()
    expect(client.locator("#connection")).to_be_visible(timeout=30_000)
    worker_call.locator(".call__end").click()
    expect(worker_call).to_be_hidden(timeout=10_000)
    wait_until(worker, lambda: Call.objects.get().state == Call.State.ENDED, "the call ended")
    expect(client_call).to_be_visible()
    netcut.restore()
    expect(client_call).to_be_hidden(timeout=30_000)
    expect(client.locator("#notice")).to_have_text("The call has ended. You can go on writing.")


def test_a_call_comes_back_when_the_workers_page_reloads(live_server, personas, new_context):
    """The worker's console goes away in a call (the page leaves, as a reload or a lost
    network does): the client's page says the social worker is reconnecting and the call
    stays open. The console comes back in the same tab within the grace: it is told the
    call is still open and offers the client a new connection, which connects, and media
    flow again. Then a reload proper does the same."""
    from chat.models import Call

    worker_context = new_context(viewport=NARROW, locale="en-US")
    client_context = new_context(viewport=NARROW, is_mobile=True, has_touch=True, locale="en-US")
    for context in (worker_context, client_context):
        context.add_init_script(WATCH_PEERS)
    worker, client = worker_context.new_page(), client_context.new_page()
    login(worker, live_server.url, "anna", personas.password)
    open_console(worker, live_server.url)
    start_chat(client, live_server.url, "Hello, can we talk?")
    panel = accept_first_waiting(worker)
    panel.locator(".call-video").click()
    client.locator("#call-accept-video").click()
    client_call = client.locator("#chat .call")
    expect(client_call).to_have_attribute("data-connection", "connected", timeout=20_000)
    call_id = Call.objects.get().pk

    # The console leaves (its socket closes): the client is told, the call stays open.
    worker.goto("about:blank")
    status = client_call.locator(".call__status")
    expect(status).to_have_text(
        "The social worker is reconnecting. The call waits for them.", timeout=10_000
    )
    assert_axe_clean(client, "en")
    assert Call.objects.get().state == Call.State.ACTIVE

    # Back in the same tab: the console connects to the client again, in the same call.
    for back in ("goto", "reload"):
        if back == "goto":
            open_console(worker, live_server.url)
        else:
            worker.reload()
            expect(worker.locator("#connection")).to_be_hidden()
        worker_call = worker_panel(worker).locator(".call")
        expect(worker_call).to_have_attribute("data-connection", "connected", timeout=20_000)
        expect(client_call).to_have_attribute("data-connection", "connected", timeout=20_000)
        expect(status).to_have_text("Connected.")
        before = [page.evaluate(PER_PEER_JS) for page in (worker, client)]
        time.sleep(MEDIA_WINDOW_S)
        after = [page.evaluate(PER_PEER_JS) for page in (worker, client)]
        for name, b, a in zip(("worker", "client"), before, after, strict=True):
            assert a[-1]["state"] == "connected", (name, a)
            assert a[-1]["audio"] > b[-1]["audio"] and a[-1]["video"] > b[-1]["video"], (b, a)
        call = Call.objects.get()
        assert (call.pk, call.state) == (call_id, Call.State.ACTIVE)

    # The worker hangs up from the page that came back.
    worker_panel(worker).locator(".call .call__end").click()
    expect(client_call).to_be_hidden(timeout=10_000)
    wait_until(worker, lambda: Call.objects.get().state == Call.State.ENDED, "the call ended")
    assert Call.objects.get().reason == Call.Reason.HUNG_UP
