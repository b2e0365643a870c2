"""Quick exit (/exit/): the page's beacon (POST with the token) ends the conversation and
tells the worker; the navigation (GET) ends the session, asks the browser to clear the
site's data and goes on to a neutral page."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

from chat.models import Conversation, Message
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


def test_the_navigation_goes_to_the_neutral_page_and_clears_the_site(ekonomi):
    browser = Client()
    session = browser.session
    session["something"] = "on this device"
    session.save()
    key = session.session_key

    response = browser.get("/exit/")

    assert response.status_code == 302
    assert response["Location"] == settings.QUICK_EXIT_URL
    clear = response["Clear-Site-Data"]
    assert '"storage"' in clear and '"cookies"' in clear and '"cache"' in clear
    assert response["Cache-Control"] == "no-store"
    assert not Session.objects.filter(session_key=key).exists()
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""


def test_the_navigation_signs_a_staff_member_out_too(anna):
    browser = http_client(anna)
    assert browser.get("/console/").status_code == 200

    browser.get("/exit/")

    assert browser.get("/console/").status_code == 302


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
