"""Generated form posts and query strings for the HTTP pages that take input: never a
server error (the test client re-raises one, and no status is 500)."""

from __future__ import annotations

import string
import uuid
from urllib.parse import quote_from_bytes

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.services.cases import followup_ask, followup_client_ask
from tests import factories
from tests.case_personas import ended_meeting, returning_browser
from tests.security_personas import http_client, verify_session

pytestmark = pytest.mark.django_db

FORMS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Values a form field may get: any text (no lone surrogates: a browser cannot send them as
# UTF-8), odd and long strings, numbers and dates in and out of range.
field_text = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "",
            "\x00",
            "\u202e",
            "0",
            "-1",
            "999999999999999999999999999999",
            # Numbers that int() or str.isdigit() take and chat/parsing.py does not.
            "²",
            "١٢",
            "１２",
            "+1",
            " 1",
            "1 ",
            "1.0",
            "1e9",
            "NaN",
            "2026-02-30",
            "0001-01-01",
            "9999-12-31",
            "1970-01-01T00:00:00",
            "'; DROP TABLE chat_accesslog; --",
            "<script>",
            "../../",
            "https://evil.example/",
            "//evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
        ]
    ),
    st.integers(min_value=0, max_value=5000).map(lambda n: "7" * n),
    st.integers().map(str),
    st.dates().map(str),
)


def form(*fields: str):
    """Form data: the page's own fields (any may be missing), maybe a repeat, maybe extras."""
    values = st.one_of(field_text, st.lists(field_text, min_size=2, max_size=3))
    return st.builds(
        lambda known, extra: {**extra, **known},
        st.fixed_dictionaries({}, optional=dict.fromkeys(fields, values)),
        st.dictionaries(
            st.text(alphabet=string.ascii_letters + "_[]", max_size=8), values, max_size=2
        ),
    )


def assert_no_server_error(response) -> None:
    assert response.status_code < 500, response.status_code


@FORMS
@given(data=form("username", "password", "next", "csrfmiddlewaretoken"))
def test_the_login_form_never_fails(anna, data):
    assert_no_server_error(Client().post("/accounts/login/", data))


@pytest.mark.postgres
def test_a_very_long_username_is_a_form_error_not_a_server_error(anna):
    response = Client().post("/accounts/login/", {"username": "7" * 256, "password": "x"})

    assert response.status_code == 200
    assert response.context["form"].errors


@FORMS
@given(data=form("code", "next"))
def test_the_second_step_never_fails(anna, data):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.get_or_create(user=anna, name="app", defaults={"confirmed": True})
    browser = Client()
    browser.force_login(anna)

    assert_no_server_error(browser.post("/accounts/two-factor/", data))


@FORMS
@given(data=form("code", "next"))
def test_enrolment_never_fails(bengt, data):
    browser = Client()
    browser.force_login(bengt)
    verify_session(browser, bengt)

    assert_no_server_error(browser.post("/accounts/two-factor/setup/", data))


@FORMS
@given(data=form("token", "csrfmiddlewaretoken"))
def test_the_quick_exit_beacon_never_fails(ekonomi, data):
    response = Client().post("/exit/", data)

    assert response.status_code == 204


@pytest.fixture
def supervisor_browser(ekonomi, sara, anna):
    conversation, _ = factories.start_conversation(ekonomi)
    factories.accept(anna, conversation)
    from chat.services.access import conversation_read_messages

    conversation_read_messages(
        actor=sara, conversation_id=conversation.pk, after=0, request_id=uuid.uuid4()
    )
    return http_client(sara)


query_values = st.one_of(field_text, st.binary(max_size=30))


def _quote(value: str | bytes) -> str:
    raw = value if isinstance(value, bytes) else value.encode("utf-8")
    return quote_from_bytes(raw)


query_strings = st.lists(
    st.tuples(
        st.sampled_from(["actor", "conversation", "since", "until", "page", "x", ""]),
        query_values,
    ),
    max_size=6,
).map(lambda pairs: "&".join(f"{key}={_quote(value)}" for key, value in pairs))


@FORMS
@given(query=query_strings)
@pytest.mark.parametrize("path", ["/dashboard/access-log/", "/dashboard/access-log.csv"])
def test_the_access_log_review_never_fails(supervisor_browser, path, query):
    response = supervisor_browser.get(path, QUERY_STRING=query)

    # A filter that is not one (a date, a staff member, an id) is a 400, never ignored.
    assert response.status_code in (200, 400)
    if path.endswith("/"):
        assert (response.status_code == 400) == bool(response.context["form"].errors)


@FORMS
@given(query=query_strings)
def test_the_pages_ignore_any_query_string(supervisor_browser, query):
    for path in ("/", "/console/", "/dashboard/", "/console/replies/"):
        assert supervisor_browser.get(path, QUERY_STRING=query).status_code == 200
    assert Client().get("/exit/", QUERY_STRING=query).status_code == 302


@FORMS
@given(data=form("code", "csrfmiddlewaretoken"))
def test_the_case_code_form_never_fails(ekonomi, data):
    from tests.security_personas import clear_local_cache

    clear_local_cache()  # the per-address tries would answer everything alike after five

    assert Client().post("/return/", data).status_code == 400


@FORMS
@given(data=form("token", "csrfmiddlewaretoken"))
def test_the_client_transcript_never_fails(ekonomi, data):
    assert Client().post("/transcript/", data).status_code == 404


@FORMS
@given(data=form("delete", "scope", "language", "title", "body"))
def test_the_canned_replies_form_never_fails(sara, data):
    assert_no_server_error(http_client(sara).post("/console/replies/", data))


@pytest.fixture
def case_with_questions(ekonomi, anna):
    """An ended meeting's case with a question to the client and one from them."""
    conversation, _token = ended_meeting(ekonomi, anna)
    followup_ask(case=conversation.case, actor=anna, body="Fick du pengarna?", choices=["Ja"])
    followup_client_ask(case=conversation.case, body="När kommer beslutet?")
    return conversation.case


def case_form(*fields: str):
    return st.builds(
        lambda data, action: {**data, "action": action},
        form(*fields),
        st.sampled_from(["answer", "ask"]),
    )


@FORMS
@given(data=case_form("followup", "answer", "choice", "body"))
def test_the_returning_clients_case_form_never_fails(case_with_questions, data):
    assert_no_server_error(returning_browser(case_with_questions).post("/return/case/", data))


@FORMS
@given(data=case_form("followup", "answer", "choices", "body"))
def test_the_staff_case_form_never_fails(case_with_questions, anna, data):
    response = http_client(anna).post(f"/console/cases/{case_with_questions.pk}/", data)

    assert_no_server_error(response)
