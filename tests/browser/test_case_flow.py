"""The case flow: a chat ends with follow-up questions, the client is shown a case code, comes
back on another device, answers and asks; the worker's follow-up inbox shows it live."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, MOBILE, login
from tests.browser.flows import (
    accept_first_waiting,
    expect_bodies,
    open_console,
    start_chat,
    worker_log,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The machine is loaded: generous waits, never sleeps.
WAIT = 15_000

FIRST = "Hello, I need help with my application for income support."
QUESTION_CHOICE = "Did you send the rent contract to us?"
QUESTION_WORDS = "When did you move into the flat?"
ANSWER_WORDS = "On the first of March this year."
CLIENT_QUESTION = "How long does the decision usually take?"


def test_case_code_brings_the_client_back_to_answer_and_ask(
    live_server, personas, new_context, shot
):
    from chat.models import FollowUp

    base = live_server.url
    client_context = new_context(viewport=MOBILE, is_mobile=True, has_touch=True, locale="en-GB")
    worker_context = new_context(viewport=DESKTOP, locale="en-GB")
    client = client_context.new_page()
    worker = worker_context.new_page()

    # Anna on the console; the client starts a chat and she accepts it.
    login(worker, base, "anna", personas.password)
    open_console(worker, base)
    start_chat(client, base, FIRST)
    panel = accept_first_waiting(worker)
    expect(client.locator("body")).to_have_attribute("data-state", "active", timeout=WAIT)
    expect_bodies(worker_log(worker), [FIRST], timeout=WAIT)

    # Anna ends the chat with two follow-up questions, one with quick answers.
    panel.locator("button.end").click()
    dialog = worker.locator("#end-dialog")
    expect(dialog).to_be_visible(timeout=WAIT)
    expect(worker.locator("#end-followups")).to_be_visible(timeout=WAIT)
    worker.locator("#end-add").click()
    worker.locator("#end-add").click()
    rows = worker.locator("#end-rows li.end-row")
    expect(rows).to_have_count(2)
    rows.nth(0).locator("textarea.question").fill(QUESTION_CHOICE)
    rows.nth(0).locator("textarea.choices").fill("Yes\nNo")
    rows.nth(1).locator("textarea.question").fill(QUESTION_WORDS)
    shot(worker, "end-dialog-with-questions")
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden(timeout=WAIT)
    expect(worker.locator("#end-error")).to_have_text("")
    expect(panel.locator(".ended")).to_be_visible(timeout=WAIT)
    expect(client.locator("body")).to_have_attribute("data-state", "ended", timeout=WAIT)

    # The questions were left for the client: the case code is there without a click.
    expect(client.locator("#after-title")).to_contain_text("2", timeout=WAIT)
    code_box = client.locator("#case-code")
    expect(code_box).to_be_visible(timeout=WAIT)
    expect(code_box).to_have_text(re.compile(r"\S{4}"), timeout=WAIT)
    expect(client.locator("#get-code")).to_be_hidden()
    code = code_box.inner_text().strip()
    assert code, "no case code shown"
    shot(client, "client-case-code")

    # Anna opens her follow-up inbox before the client answers anything.
    inbox = worker_context.new_page()
    inbox.goto(f"{base}/console/inbox/")
    expect(inbox.locator("h1")).to_be_visible(timeout=WAIT)
    expect(inbox.locator("#connection")).to_be_hidden(timeout=WAIT)
    items = inbox.locator("#inbox li.inbox__item")
    expect(items).to_have_count(0)
    shot(inbox, "inbox-before")

    # A fresh browser, no cookies from the chat: the client comes back with the code.
    returning_context = new_context(viewport=MOBILE, is_mobile=True, has_touch=True, locale="en-GB")
    back = returning_context.new_page()
    back.goto(f"{base}/return/")
    back.locator("#case-code").fill(code)
    shot(back, "return-code-form")
    back.locator("#case-code").press("Enter")
    expect(back).to_have_url(re.compile(r"/return/case/$"), timeout=WAIT)
    open_questions = back.locator("article.followup--open")
    expect(open_questions).to_have_count(2, timeout=WAIT)
    expect(open_questions.locator(".followup__question")).to_have_text(
        [QUESTION_CHOICE, QUESTION_WORDS]
    )
    shot(back, "return-case-questions")

    # The first by a quick answer.
    first = open_questions.filter(has_text=QUESTION_CHOICE)
    expect(first.get_by_role("radio")).to_have_count(2)
    first.get_by_role("radio", name="Yes").check()
    first.locator("button[type=submit]").click()
    answered = back.locator("article.followup:not(.followup--open)")
    expect(answered.filter(has_text=QUESTION_CHOICE).locator(".followup__answer")).to_contain_text(
        "Yes", timeout=WAIT
    )

    # Live in the inbox: the answer, without a reload.
    expect(items).to_have_count(1, timeout=WAIT)
    choice_item = items.filter(has_text=QUESTION_CHOICE)
    expect(choice_item.locator(".inbox__answer")).to_have_text("Yes", timeout=WAIT)

    # The second in words.
    second = back.locator("article.followup--open").filter(has_text=QUESTION_WORDS)
    expect(second.get_by_role("radio")).to_have_count(0)
    second.locator("textarea").fill(ANSWER_WORDS)
    second.locator("button[type=submit]").click()
    expect(back.locator("article.followup--open")).to_have_count(0, timeout=WAIT)
    expect(answered.filter(has_text=QUESTION_WORDS).locator(".followup__answer")).to_contain_text(
        ANSWER_WORDS, timeout=WAIT
    )

    # And a question of its own.
    back.locator("#new-question").fill(CLIENT_QUESTION)
    back.locator("form:has(#new-question) button[type=submit]").click()
    mine = back.locator("section[aria-labelledby=mine-title] article.followup")
    expect(mine).to_have_count(1, timeout=WAIT)
    expect(mine.locator(".followup__question")).to_have_text(CLIENT_QUESTION)
    shot(back, "return-case-answered-and-asked")

    # The inbox, still the same page load, shows both answers and the client's question.
    expect(items).to_have_count(3, timeout=WAIT)
    expect(items.filter(has_text=QUESTION_WORDS).locator(".inbox__answer")).to_have_text(
        ANSWER_WORDS, timeout=WAIT
    )
    asked = items.filter(has_text=CLIENT_QUESTION)
    expect(asked).to_have_count(1, timeout=WAIT)
    expect(asked.locator(".inbox__body")).to_have_text(CLIENT_QUESTION)
    expect(asked.locator(".inbox__answer")).to_have_text("")
    expect(inbox.locator("#inbox .inbox__item--new")).to_have_count(3)
    shot(inbox, "inbox-live")

    # The database agrees.
    to_client = list(FollowUp.objects.filter(kind=FollowUp.Kind.TO_CLIENT).order_by("pk"))
    assert [(f.body, f.choices) for f in to_client] == [
        (QUESTION_CHOICE, ["Yes", "No"]),
        (QUESTION_WORDS, []),
    ]
    assert [f.answer for f in to_client] == ["Yes", ANSWER_WORDS]
    assert all(f.is_answered for f in to_client)
    from_client = list(FollowUp.objects.filter(kind=FollowUp.Kind.FROM_CLIENT))
    assert [f.body for f in from_client] == [CLIENT_QUESTION]
    assert not from_client[0].is_answered
    assert {f.case_id for f in to_client + from_client} == {to_client[0].case_id}
