"""The client's end screen, in Swedish and English: when the worker left follow-up questions
the case code is there at once (no click), with a Copy button reached by keyboard and the
way back; without questions, one calm thank-you and a new chat, the extras quiet below.
Screens at 360 px and on a desktop; axe-core on both endings."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, LOCALES, login
from tests.browser.flows import accept_first_waiting, assert_axe_clean, open_console, start_chat
from tests.browser.test_accessibility import tab_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT = 15_000
NARROW = {"width": 360, "height": 740}
CODE = re.compile(r"^[A-Z0-9]{4}(-[A-Z0-9]{4})+$")
QUESTIONS = ["Har du skickat hyreskontraktet till oss?", "När flyttade du in?"]


def _ended(live_server, personas, new_context, lang, questions: list[str]):
    """A client at 360 px whose chat anna accepted and then ended, leaving `questions`."""
    worker = new_context(viewport=DESKTOP, locale=LOCALES[lang]).new_page()
    client = new_context(
        viewport=NARROW,
        is_mobile=True,
        has_touch=True,
        locale=LOCALES[lang],
        permissions=["clipboard-read", "clipboard-write"],
    ).new_page()
    login(worker, live_server.url, "anna", personas.password)
    open_console(worker, live_server.url)
    start_chat(client, live_server.url, "Hej, jag behöver hjälp med min ansökan.")
    panel = accept_first_waiting(worker)
    expect(client.locator("body")).to_have_attribute("data-state", "active", timeout=WAIT)
    # The client is writing when the worker ends: focus moves to the end screen's heading.
    client.locator("#composer-body").focus()

    panel.locator("button.end").click()
    dialog = worker.locator("#end-dialog")
    expect(dialog).to_be_visible(timeout=WAIT)
    for _ in questions:
        worker.locator("#end-add").click()
    rows = worker.locator("#end-rows li.end-row")
    expect(rows).to_have_count(len(questions))
    for index, question in enumerate(questions):
        rows.nth(index).locator("textarea.question").fill(question)
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden(timeout=WAIT)
    expect(client.locator("body")).to_have_attribute("data-state", "ended", timeout=WAIT)
    expect(client.locator("#after-title")).to_be_focused()
    return client


def _shots(client: Page, shot, name: str) -> None:
    # Full-page screens from the top, so the sticky header sits where it is drawn first.
    client.evaluate("window.scrollTo(0, 0)")
    shot(client, f"{name}-360")
    client.set_viewport_size(DESKTOP)
    shot(client, f"{name}-desktop")
    client.set_viewport_size(NARROW)


def _quick_exit_in_reach(client: Page) -> None:
    client.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    expect(client.locator("#quick-exit")).to_be_in_viewport()


def test_with_questions_the_code_is_there_at_once(live_server, personas, new_context, lang, shot):
    client = _ended(live_server, personas, new_context, lang, QUESTIONS)

    # No button to press: the code comes by itself, large, next to the count of questions.
    code_box = client.locator("#case-code")
    expect(code_box).to_be_visible(timeout=WAIT)
    expect(code_box).to_have_text(CODE, timeout=WAIT)
    expect(client.locator("#get-code")).to_be_hidden()
    expect(client.locator("#code-later")).to_be_hidden()
    expect(client.locator("#after-title")).to_contain_text("2")
    if lang == "en":
        expect(client.locator("#after-title")).to_have_text(
            "The social worker has left you 2 questions"
        )
    code = code_box.inner_text().strip()
    # Grouped for reading, without changing what is copied.
    expect(code_box.locator(".case-code__group")).to_have_count(len(code.split("-")))
    # The way back: the return page's address, never the code in it.
    how = client.locator(".code-box__how a")
    expect(how).to_have_attribute("href", "/return/")
    expect(how).to_have_text(re.compile(r"/return/$"))
    # The code box fits a 360 px screen: nothing wider than the page.
    assert client.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]

    # Copy by keyboard alone.
    tab_until(client, "#copy-code")
    client.keyboard.press("Enter")
    expect(client.locator("#copy-done")).not_to_have_text("", timeout=WAIT)
    assert client.evaluate("navigator.clipboard.readText()") == code

    # The code is on screen only: not in the address, not in storage.
    assert code not in client.url
    stored = client.evaluate(
        "JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])"
    )
    assert code not in stored, json.loads(stored)
    # A new chat is still there, but not the main button.
    expect(client.locator("#new-chat")).not_to_have_class(re.compile(r"button--primary"))
    _quick_exit_in_reach(client)
    assert_axe_clean(client, lang)
    _shots(client, shot, f"ended-with-questions-{lang}")

    # A reload does not silently make a new code (that would stop the written one working).
    client.reload()
    expect(client.locator("body")).to_have_attribute("data-state", "ended", timeout=WAIT)
    expect(client.locator("#after-title")).to_contain_text("2")
    expect(client.locator("#get-code")).to_be_visible(timeout=WAIT)
    expect(client.locator("#code-again")).to_be_visible()
    expect(client.locator("#case-code")).to_be_hidden()


def test_without_questions_a_calm_thank_you(live_server, personas, new_context, lang, shot):
    client = _ended(live_server, personas, new_context, lang, [])

    expect(client.locator("#after-title")).not_to_have_text("")
    if lang == "en":
        expect(client.locator("#after-title")).to_have_text("Thank you for contacting us")
    # No code and no code button in the way; one main button: a new chat.
    expect(client.locator("#code-part")).to_be_hidden()
    expect(client.locator("#get-code")).to_be_hidden()
    expect(client.locator("#case-code")).to_be_hidden()
    expect(client.locator("#come-back-part")).to_be_hidden()
    expect(client.locator("#new-chat")).to_be_visible()
    expect(client.locator("#new-chat")).to_have_class(re.compile(r"button--primary"))
    expect(client.locator("#ended .button--primary:visible")).to_have_count(1)
    # The extras are quiet: the survey folded, saving the conversation a text button.
    expect(client.locator("#survey-part")).to_be_visible()
    expect(client.locator("#survey-part")).not_to_have_attribute("open", re.compile(".*"))
    expect(client.locator("#survey-form")).to_be_hidden()
    expect(client.locator("#save-transcript")).to_be_visible()
    # The survey opens by keyboard and still sends.
    tab_until(client, "#survey-title")
    client.keyboard.press("Enter")
    expect(client.locator("#survey-form")).to_be_visible()
    client.locator("#survey-form input[name=helped][value=yes]").check()
    client.locator("#survey-form button[type=submit]").click()
    expect(client.locator("#survey-thanks")).to_be_visible(timeout=WAIT)
    client.locator("#survey-title").click()  # fold it again for the screens
    _quick_exit_in_reach(client)
    assert_axe_clean(client, lang)
    _shots(client, shot, f"ended-thank-you-{lang}")

    # A code for later is still one quiet click away, and then shown at once.
    client.locator("#get-code-later").click()
    expect(client.locator("#case-code")).to_have_text(CODE, timeout=WAIT)
    expect(client.locator("#case-code")).to_be_focused()


def test_a_question_left_while_closed_shows_its_code_at_once(
    live_server, personas, new_context, shot
):
    from accounts.models import ClosedDay
    from chat.selectors.units import local_time

    ClosedDay.objects.create(unit=personas.unit, date=local_time(None).date())
    client = new_context(viewport=NARROW, is_mobile=True, locale="en-GB").new_page()
    client.goto(f"{live_server.url}/")
    client.get_by_role("radio", name=personas.unit.name).check()
    expect(client.locator("#start-submit")).to_have_attribute("data-mode", "question")
    client.locator("#first-message").fill("Hur lång tid tar ett beslut?")
    client.locator("#start-submit").click()

    expect(client.locator("body")).to_have_attribute("data-state", "offline", timeout=WAIT)
    expect(client.locator("#after-title")).to_have_text("Save your case code")
    expect(client.locator("#left-question")).to_be_visible()
    expect(client.locator("#case-code")).to_have_text(CODE, timeout=WAIT)
    expect(client.locator("#get-code")).to_be_hidden()
    # Nothing after a chat that never was: no survey, no transcript, no second code offer.
    for extra in ("#survey-part", "#save-part", "#code-later"):
        expect(client.locator(extra)).to_be_hidden()
    assert_axe_clean(client, "en")
    _shots(client, shot, "question-left-en")


def test_a_returning_client_keeps_the_code_they_came_with(live_server, personas, new_context, shot):
    from chat.models import Case, ClientRecord
    from chat.services.cases import case_code_hash, case_issue_code

    case = Case.objects.create(client=ClientRecord.objects.create(), unit=personas.unit)
    code = case_issue_code(case=case)
    worker = new_context(viewport=DESKTOP, locale="en-GB").new_page()
    client = new_context(viewport=NARROW, is_mobile=True, locale="en-GB").new_page()
    login(worker, live_server.url, "anna", personas.password)
    open_console(worker, live_server.url)
    client.goto(f"{live_server.url}/return/")
    client.locator("#case-code").fill(code)
    client.locator("#case-code").press("Enter")
    expect(client).to_have_url(re.compile(r"/return/case/$"), timeout=WAIT)
    start_chat(client, live_server.url, "Hej igen.")
    panel = accept_first_waiting(worker)
    expect(client.locator("body")).to_have_attribute("data-state", "active", timeout=WAIT)
    panel.locator("button.end").click()
    worker.locator("#end-add").click()
    worker.locator("#end-rows li.end-row textarea.question").fill(QUESTIONS[0])
    worker.locator("#end-dialog button[type=submit]").click()
    expect(client.locator("body")).to_have_attribute("data-state", "ended", timeout=WAIT)

    # The question is announced, but no new code replaces the one the client has.
    expect(client.locator("#after-title")).to_have_text("The social worker has left you 1 question")
    # Straight to the case's questions (the session holds the case), before a new chat.
    expect(client.locator("#come-back-part")).to_be_visible()
    expect(client.locator("#come-back-part a")).to_have_attribute("href", "/return/case/")
    expect(client.locator("#new-chat")).not_to_have_class(re.compile(r"button--primary"))
    expect(client.locator("#code-part")).to_be_hidden()
    # A new code only on request, and the client is told the old one stops working.
    expect(client.locator("#get-code-later")).to_have_text("Get a new case code")
    expect(client.locator("#code-later-hint")).to_contain_text("stop working")
    assert_axe_clean(client, "en")
    _shots(client, shot, "returning-with-question-en")
    client.locator("#come-back-part a").click()
    expect(client).to_have_url(re.compile(r"/return/case/$"), timeout=WAIT)
    expect(client.locator("article.followup--open")).to_have_count(1, timeout=WAIT)
    # The code they came with still opens the case.
    case.refresh_from_db()
    assert case.code_hash == case_code_hash(code)
