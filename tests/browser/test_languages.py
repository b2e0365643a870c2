"""The client pages in every client language: the picker (each language named in itself,
kept for the browser session only), `lang` and `dir` on the page, the worker told which
language the client chose, and right-to-left layout in Arabic and Persian."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, MOBILE, login
from tests.browser.flows import accept_first_waiting, open_console, start_chat

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def choose_language(page: Page, code: str) -> None:
    """As a client does: open the picker, choose the language by its own name."""
    page.locator("#language-picker summary").click()
    page.locator(f"#language-picker button[value='{code}']").click()
    expect(page.locator("html")).to_have_attribute("lang", code)


def test_a_client_picks_arabic_and_the_worker_sees_it(live_server, personas, new_context, shot):
    worker = new_context(viewport=DESKTOP, locale="sv-SE").new_page()
    login(worker, live_server.url, "anna", personas.password)
    open_console(worker, live_server.url)

    context = new_context(viewport=MOBILE, is_mobile=True, locale="sv-SE")
    client = context.new_page()
    client.goto(f"{live_server.url}/")
    names = client.locator("#language-picker button")
    expect(names).to_have_text(
        ["Svenska", "Lättläst svenska", "English", "Suomi", "العربيّة", "فارسی", "Soomaali",
         "Українська"]
    )  # fmt: skip
    expect(client.locator("#language-picker button[value='ar']")).to_have_attribute("dir", "rtl")
    choose_language(client, "ar")
    expect(client.locator("html")).to_have_attribute("dir", "rtl")
    # The choice lasts for the browser session only: no cookie with an expiry.
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["django_language"]["value"] == "ar"
    assert all(c["expires"] == -1 for c in cookies.values()), cookies

    start_chat(client, None, "مرحبا، أحتاج إلى مساعدة.")
    row = worker.locator("#waiting li").first
    expect(row.locator(".client-language")).to_have_text("Språk: Arabiska")
    panel = accept_first_waiting(worker)
    expect(panel.locator(".client-language")).to_have_text("Språk: Arabiska")
    shot(worker, "worker-sees-arabic")

    # Ending with a question, the worker can give its quick answers in Arabic too.
    panel.locator("button.end").click()
    worker.locator("#end-add").click()
    row = worker.locator("#end-rows li.end-row")
    row.locator("textarea.question").fill("Har du fått hjälp?")
    row.locator("textarea.choices").fill("Ja\nNej")
    translated = row.locator("textarea.translated-choices")
    # Inside the sentence the name is in lower case, as Swedish writes it ("in Arabic"
    # until the Swedish catalogue has the phrase; tests/test_language_names.py).
    expect(row.get_by_label(re.compile("på arabiska|in Arabic"))).to_be_visible()
    expect(row.locator(".translated-label")).not_to_contain_text("Arabiska")
    expect(translated).to_have_attribute("lang", "ar")
    translated.fill("نعم")
    worker.locator("#end-dialog button[type=submit]").click()
    expect(translated).to_have_attribute("aria-invalid", "true")  # one of two: refused
    translated.fill("نعم\nلا")
    shot(worker, "end-with-arabic-quick-answers")
    worker.locator("#end-dialog button[type=submit]").click()
    expect(worker.locator("#end-dialog")).to_be_hidden()
    expect(client.locator("body")).to_have_attribute("data-state", "ended")
    from chat.models import FollowUp

    assert FollowUp.objects.get().translated_choices == {"ar": ["نعم", "لا"]}


def test_a_swedish_client_gives_the_worker_no_language_label(live_server, personas, new_context):
    worker = new_context(viewport=DESKTOP, locale="sv-SE").new_page()
    login(worker, live_server.url, "anna", personas.password)
    open_console(worker, live_server.url)
    client = new_context(viewport=MOBILE, is_mobile=True, locale="sv-SE").new_page()
    start_chat(client, live_server.url, "Hej")
    expect(worker.locator("#waiting li .client-language")).to_be_hidden()


def test_staff_pages_stay_in_swedish_for_a_browser_in_arabic(live_server, personas, new_context):
    page = new_context(viewport=DESKTOP, locale="ar").new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")


def _box(page: Page, selector: str) -> dict:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box


@pytest.mark.parametrize(
    ("viewport", "size"), [(DESKTOP, "desktop"), ({"width": 360, "height": 740}, "360")]
)
def test_the_arabic_client_page_is_mirrored(
    live_server, personas, new_context, shot, viewport, size
):
    context = new_context(viewport=viewport, locale="sv-SE", reduced_motion="reduce")
    page = context.new_page()
    page.goto(f"{live_server.url}/")
    choose_language(page, "ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    shot(page, f"client-start-ar-{size}")
    # Quick exit at the start of the row's reading order's end: the left in Arabic.
    header = _box(page, ".site-header__inner")
    quick_exit = _box(page, "#quick-exit")
    assert quick_exit["x"] < header["x"] + header["width"] / 2
    # The unit's radio on the right of its name.
    radio = _box(page, "#start-form input[name=unit]")
    name = _box(page, "#start-form .unit-choice__name")
    assert radio["x"] > name["x"]

    start_chat(page, None, "مرحبا")
    composer = _box(page, "#composer textarea")
    send = _box(page, "#composer button[type=submit]")
    assert send["x"] + send["width"] <= composer["x"] + 1, "the send button is left of the box"
    # The client's own message on the left (the end of a right-to-left line).
    mine = _box(page, "#log li.message--mine")
    log = _box(page, "#log")
    assert mine["x"] < log["x"] + log["width"] / 2
    assert mine["x"] + mine["width"] < log["x"] + log["width"] - 1
    shot(page, f"client-chat-ar-{size}")


@pytest.mark.parametrize("lang", ["fi", "sv-x-ll", "fa", "so", "uk"])
def test_the_client_page_reads_in_each_language(live_server, personas, new_context, shot, lang):
    page = new_context(viewport=MOBILE, is_mobile=True, locale="sv-SE").new_page()
    page.goto(f"{live_server.url}/")
    choose_language(page, lang)
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang == "fa" else "ltr")
    # The page's own words came from the catalogue, not the Swedish.
    expect(page.locator("#quick-exit")).not_to_contain_text(
        "Lämna snabbt" if lang != "sv-x-ll" else "Quick exit"
    )
    shot(page, f"client-start-{lang}-mobile")
