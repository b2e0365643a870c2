"""Quick exit (/exit/): the page's beacon (POST with the CSRF token, and the chat's token
if there is a chat) ends the conversation, tells the worker, ends the browser's session (a
case opened with a code too) and asks the browser to clear the site's data. The navigation
(GET) only goes on to a neutral page: any site can link to /exit/, so it changes nothing,
and never signs a social worker out in the middle of a conversation."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

from chat.models import Conversation, Message
from chat.services.cases import case_issue_code
from tests import factories
from tests.security_personas import http_client

pytestmark = pytest.mark.django_db

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def browser_on_the_client_page() -> tuple[Client, str]:
    """A browser that enforces CSRF like a real one, with the token the page gave it."""
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/")
    match = CSRF_INPUT.search(page.content.decode())
    assert match, "the client page carries no CSRF token for the beacon"
    return browser, match.group(1)


def returning_browser(case) -> tuple[Client, str]:
    """A browser that came back with a case code and has its case page open, with the
    CSRF token that page gave it."""
    browser = Client(enforce_csrf_checks=True, REMOTE_ADDR=factories.new_address())
    page = browser.get("/return/")
    code_form = CSRF_INPUT.search(page.content.decode()).group(1)
    opened = browser.post(
        "/return/", {"code": case_issue_code(case=case), "csrfmiddlewaretoken": code_form}
    )
    assert opened.status_code == 302
    case_page = browser.get("/return/case/")
    assert case_page.status_code == 200
    match = CSRF_INPUT.search(case_page.content.decode())
    assert match, "the case page carries no CSRF token for the beacon"
    return browser, match.group(1)


def session_key(browser: Client) -> str:
    return browser.cookies[settings.SESSION_COOKIE_NAME].value


def events(conversation: Conversation) -> list[str]:
    return factories.system_events(conversation)


def test_the_beacon_ends_a_waiting_conversation_with_the_quick_exit_event(ekonomi):
    conversation, token = factories.start_conversation(ekonomi)
    browser, csrf = browser_on_the_client_page()

    response = browser.post("/exit/", {"token": token, "csrfmiddlewaretoken": csrf})

    assert response.status_code == 204
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ABANDONED
    assert conversation.ended_by == Conversation.EndedBy.CLIENT
    assert events(conversation) == [Message.Event.QUICK_EXIT]


def test_the_beacon_ends_an_active_conversation_and_tells_the_worker(
    ekonomi, anna, django_capture_on_commit_callbacks, published
):
    conversation, token = factories.start_conversation(ekonomi)
    factories.accept(anna, conversation)
    browser, csrf = browser_on_the_client_page()

    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/exit/", {"token": token, "csrfmiddlewaretoken": csrf})

    assert response.status_code == 204
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ENDED
    assert events(conversation)[-1] == Message.Event.QUICK_EXIT
    told = [
        event
        for group, event in published
        if group == f"conversation.{conversation.pk}" and event["type"] == "conversation.message"
    ]
    assert told and told[-1]["message"]["event"] == Message.Event.QUICK_EXIT


def test_the_beacon_without_the_csrf_token_is_refused_and_ends_nothing(ekonomi):
    conversation, token = factories.start_conversation(ekonomi)
    browser, _csrf = browser_on_the_client_page()

    response = browser.post("/exit/", {"token": token})

    assert response.status_code == 403
    assert "Clear-Site-Data" not in response
    conversation.refresh_from_db()
    assert conversation.is_open


@pytest.mark.parametrize("token", ["", "x", factories.new_token(), "a" * 5000])
def test_an_unknown_token_is_ignored(ekonomi, token):
    conversation, _token = factories.start_conversation(ekonomi)
    browser, csrf = browser_on_the_client_page()

    response = browser.post("/exit/", {"token": token, "csrfmiddlewaretoken": csrf})

    assert response.status_code == 204
    conversation.refresh_from_db()
    assert conversation.is_open
    assert events(conversation) == []


def test_a_second_beacon_for_an_ended_conversation_changes_nothing(ekonomi):
    conversation, token = factories.start_conversation(ekonomi)
    browser, csrf = browser_on_the_client_page()
    browser.post("/exit/", {"token": token, "csrfmiddlewaretoken": csrf})

    response = browser.post("/exit/", {"token": token, "csrfmiddlewaretoken": csrf})

    assert response.status_code == 204
    assert events(conversation) == [Message.Event.QUICK_EXIT]


def test_the_beacon_ends_the_session_and_asks_the_browser_to_clear_the_site(ekonomi):
    _conversation, token = factories.start_conversation(ekonomi)
    browser, csrf = browser_on_the_client_page()
    session = browser.session
    session["something"] = "on this device"
    session.save()
    key = session.session_key

    response = browser.post("/exit/", {"token": token, "csrfmiddlewaretoken": csrf})

    assert response.status_code == 204
    clear = response["Clear-Site-Data"]
    assert '"storage"' in clear and '"cookies"' in clear and '"cache"' in clear
    assert not Session.objects.filter(session_key=key).exists()
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""


def test_the_beacon_ends_a_case_opened_with_a_code(ekonomi):
    conversation, _token = factories.start_conversation(ekonomi)
    browser, csrf = returning_browser(conversation.case)
    key = session_key(browser)

    # From the case page there is no chat, so the beacon carries no chat token.
    response = browser.post("/exit/", {"csrfmiddlewaretoken": csrf})

    assert response.status_code == 204
    assert not Session.objects.filter(session_key=key).exists()
    again = browser.get("/return/case/")
    assert again.status_code == 302
    assert again["Location"] == "/return/"
    assert "returning" not in browser.get("/").content.decode()


def test_the_navigation_goes_to_the_neutral_page_and_changes_nothing(ekonomi):
    browser = Client()
    session = browser.session
    session["something"] = "on this device"
    session.save()
    key = session.session_key

    response = browser.get("/exit/")

    assert response.status_code == 302
    assert response["Location"] == settings.QUICK_EXIT_URL
    assert response["Cache-Control"] == "no-store"
    assert "Clear-Site-Data" not in response
    assert session_key(browser) == key
    assert Session.objects.get(session_key=key).get_decoded()["something"] == "on this device"


def test_a_link_to_the_exit_never_signs_a_social_worker_out(anna):
    browser = http_client(anna)
    assert browser.get("/console/").status_code == 200
    key = session_key(browser)

    response = browser.get("/exit/")

    assert "Clear-Site-Data" not in response
    assert Session.objects.filter(session_key=key).exists()
    assert browser.get("/console/").status_code == 200


def test_a_link_to_the_exit_leaves_a_returning_clients_case_open(ekonomi):
    conversation, _token = factories.start_conversation(ekonomi)
    browser, _csrf = returning_browser(conversation.case)

    browser.get("/exit/")

    assert browser.get("/return/case/").status_code == 200


def test_the_neutral_page_says_nothing_about_this_service():
    assert settings.QUICK_EXIT_URL.startswith("https://")
    assert "chatcounsel" not in settings.QUICK_EXIT_URL
    assert "exit" not in settings.QUICK_EXIT_URL


def test_the_client_page_has_the_quick_exit_link_first():
    html = Client().get("/").content.decode()

    body = html[html.index("<body") :]
    first_link = re.search(r"<a [^>]*>", body).group(0)
    assert 'id="quick-exit"' in first_link
    assert 'href="/exit/"' in first_link
