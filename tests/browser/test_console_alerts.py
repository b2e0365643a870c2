"""The console's sound: once the worker has touched the page, a client arriving in the
queue of an available worker plays the soft chime, and the alerts switch silences it.
The page's AudioContext is replaced by one that writes down every tone it is asked for."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, MOBILE, login
from tests.browser.flows import open_console, set_available, start_chat

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RECORDING_AUDIO = """
window.__tones = [];
window.AudioContext = class {
  constructor() { this.state = "running"; this.currentTime = 0; this.destination = {}; }
  resume() { return Promise.resolve(); }
  createGain() {
    const ramp = () => {};
    return { gain: { setValueAtTime: ramp, exponentialRampToValueAtTime: ramp },
             connect: (next) => next };
  }
  createOscillator() {
    const tone = { type: "", frequency: { value: 0 }, connect: (next) => next, stop() {} };
    tone.start = () => window.__tones.push([tone.type, tone.frequency.value]);
    return tone;
  }
};
"""
CHIME = [["sine", 659.25], ["sine", 880]]


def tones(page: Page) -> list:
    return page.evaluate("window.__tones")


def test_a_client_arriving_chimes_unless_the_alerts_are_off(live_server, personas, new_context):
    base = live_server.url
    worker = new_context(viewport=DESKTOP, locale="en-GB").new_page()
    worker.add_init_script(RECORDING_AUDIO)
    login(worker, base, "anna", personas.password)
    open_console(worker, base)
    set_available(worker)
    worker.keyboard.press("Shift")  # a page may make sound once the user has done something

    start_chat(new_context(viewport=MOBILE, locale="en-GB").new_page(), base, "Hej.")
    expect(worker.locator("#waiting li")).to_have_count(1)
    worker.wait_for_function("window.__tones.length >= 2")
    assert tones(worker) == CHIME

    worker.locator("#alerts-toggle").uncheck()
    worker.evaluate("window.__tones.length = 0")
    start_chat(new_context(viewport=MOBILE, locale="en-GB").new_page(), base, "Hallå.")
    expect(worker.locator("#waiting li")).to_have_count(2)
    assert tones(worker) == []
