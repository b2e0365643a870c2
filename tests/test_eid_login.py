"""Signing clients in with e-ID: the whole code flow against the real test provider (Node),
with Django's test client as the client's browser, and every refusal of issue 13's list
ending on a clear page with no sign-in and a log line without personal data."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from chat import eid
from chat.models import ClientRecord
from tests.oidc import (
    CLIENT_ID,
    LOA3,
    LOW_LEVEL,
    NO_NUMBER,
    PNR_CLAIM,
    TESTA,
    TOLVAN,
    sign_in_at_provider,
)

pytestmark = pytest.mark.django_db

PERSONAL_DATA = ("191212121212", "190001012384", "Tolvan", "Testa", "test-subject-000")


def start(client) -> str:
    response = client.post("/eid/start/")
    assert response.status_code == 302
    return response["Location"]


def come_back(client, url: str):
    parts = urlsplit(url)
    assert parts.path == "/eid/callback/"
    return client.get(f"{parts.path}?{parts.query}")


def sign_in(client, account: str = TOLVAN):
    return come_back(client, sign_in_at_provider(start(client), account=account))


def signed_in_record(client) -> int | None:
    data = client.session.get(eid.SESSION_CLIENT)
    return data["client"] if data else None


def assert_refused(response, reason: str, caplog) -> None:
    assert response.status_code == (200 if reason == "cancelled" else 400)
    assert f'data-reason="{reason}"' in response.content.decode()
    assert eid.SESSION_CLIENT not in response.wsgi_request.session
    lines = [r.getMessage() for r in caplog.records if r.name == "chatcounsel.eid"]
    assert lines
    assert f"reason={reason}" in lines[-1]
    for line in lines:
        for value in PERSONAL_DATA:
            assert value not in line


# --- the flow ------------------------------------------------------------------------------
def test_the_authorization_request_uses_pkce_state_nonce_and_the_required_level(
    client, eid_settings
):
    query = parse_qs(urlsplit(start(client)).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert len(query["state"][0]) >= 32
    assert query["nonce"][0]
    assert query["acr_values"] == [LOA3]
    assert query["response_type"] == ["code"]
    assert (
        PNR_CLAIM.replace("claim/personalIdentityNumber", "scope/naturalPersonNumber")
        in (query["scope"][0])
    )


def test_a_client_signs_in_and_sees_their_page(client, eid_settings):
    client.get("/")
    before = client.session.session_key
    response = sign_in(client)
    assert response.status_code == 302
    assert response["Location"] == "/me/"
    record = ClientRecord.objects.get()
    assert (record.issuer, record.subject) == (eid_settings.issuer, TOLVAN)
    assert record.name == "Tolvan Tolvansson"
    assert signed_in_record(client) == record.pk
    assert client.session.session_key != before
    page = client.get("/me/").content.decode()
    assert "Tolvan Tolvansson" in page
    assert "191212121212" not in page


def test_the_personal_number_is_not_kept_unless_configured(client, eid_settings):
    sign_in(client)
    record = ClientRecord.objects.get()
    assert record.personal_number_hash == ""
    assert record.personal_number_last4 == ""


def test_a_kept_personal_number_is_a_keyed_hash_and_four_digits(client, eid_settings, settings):
    settings.EID_STORE_PERSONAL_NUMBER = "hash"
    settings.EID_PERSONAL_NUMBER_PEPPER = "pepper"
    sign_in(client)
    record = ClientRecord.objects.get()
    assert record.personal_number_last4 == "1212"
    assert len(record.personal_number_hash) == 64
    assert "191212121212" not in str(ClientRecord.objects.values().get())


def test_the_same_person_signing_in_twice_is_one_client_record(client, eid_settings):
    sign_in(client)
    client.post("/eid/sign-out/")
    sign_in(client)
    sign_in(client, TESTA)
    assert ClientRecord.objects.filter(subject=TOLVAN).count() == 1
    assert ClientRecord.objects.count() == 2


def test_a_client_sign_in_is_never_a_staff_sign_in(client, eid_settings, anna):
    client.force_login(anna)
    sign_in(client)
    assert "_auth_user_id" not in client.session
    assert signed_in_record(client) is not None
    response = client.get("/console/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_staff_sign_in_drops_the_clients_part_of_the_session(client, eid_settings, anna):
    sign_in(client)
    client.force_login(anna)
    assert signed_in_record(client) is None


def test_sign_out_clears_the_session(client, eid_settings):
    sign_in(client)
    response = client.post("/eid/sign-out/")
    assert response.status_code == 302
    assert response["Clear-Site-Data"]
    assert signed_in_record(client) is None
    assert "Tolvan" not in client.get("/me/").content.decode()


def test_sign_in_starts_only_by_post(client, eid_settings):
    assert client.get("/eid/start/").status_code == 405


def test_without_configuration_there_is_no_e_id(client, settings):
    settings.EID_OIDC_DISCOVERY_URL = ""
    assert client.post("/eid/start/").status_code == 404
    assert client.get("/eid/callback/?code=x&state=y").status_code == 404
    assert client.get("/me/").status_code == 200


# --- bad input (issue 13, point 7) ----------------------------------------------------------
def test_a_tampered_state_is_refused(client, eid_settings, caplog):
    back = sign_in_at_provider(start(client), account=TOLVAN)
    parts = urlsplit(back)
    query = parse_qs(parts.query)
    query["state"] = ["x" + query["state"][0][1:]]
    response = come_back(client, urlunsplit(parts._replace(query=urlencode(query, doseq=True))))
    assert_refused(response, "state", caplog)


def test_a_callback_used_twice_is_refused(client, eid_settings, caplog):
    back = sign_in_at_provider(start(client), account=TOLVAN)
    assert come_back(client, back).status_code == 302
    client.post("/eid/sign-out/")
    assert_refused(come_back(client, back), "state", caplog)


def test_a_replayed_code_is_refused_by_the_provider(client, eid_settings, caplog):
    first = sign_in_at_provider(start(client), account=TOLVAN)
    assert come_back(client, first).status_code == 302
    client.post("/eid/sign-out/")
    # A fresh sign-in's state with the used code: the provider refuses the code.
    fresh = sign_in_at_provider(start(client), account=TOLVAN)
    code = parse_qs(urlsplit(first).query)["code"]
    parts = urlsplit(fresh)
    query = {**parse_qs(parts.query), "code": code}
    response = come_back(client, urlunsplit(parts._replace(query=urlencode(query, doseq=True))))
    assert_refused(response, "provider", caplog)


def test_a_wrong_nonce_is_refused(client, eid_settings, caplog):
    url = start(client)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    query["nonce"] = ["not-the-nonce-we-kept"]
    back = sign_in_at_provider(
        urlunsplit(parts._replace(query=urlencode(query, doseq=True))), account=TOLVAN
    )
    assert_refused(come_back(client, back), "token", caplog)


def test_an_answer_naming_another_issuer_is_refused(client, eid_settings, caplog):
    back = sign_in_at_provider(start(client), account=TOLVAN)
    parts = urlsplit(back)
    query = {**parse_qs(parts.query), "iss": ["http://127.0.0.1:1/"]}
    response = come_back(client, urlunsplit(parts._replace(query=urlencode(query, doseq=True))))
    assert_refused(response, "issuer", caplog)


def test_a_provider_that_is_not_the_configured_issuer_is_refused(
    client, eid_settings, settings, caplog
):
    settings.EID_OIDC_ISSUER = "https://e-id.example.se"
    assert_refused(client.post("/eid/start/"), "issuer", caplog)


def test_a_cancelled_identification_is_a_calm_page(client, eid_settings, caplog):
    back = sign_in_at_provider(start(client), account=None)
    assert_refused(come_back(client, back), "cancelled", caplog)


def test_a_missing_personal_number_is_refused(client, eid_settings, caplog):
    assert_refused(sign_in(client, NO_NUMBER), "claims", caplog)
    assert not ClientRecord.objects.exists()


def test_a_too_low_level_of_assurance_is_refused(client, eid_settings, caplog):
    assert_refused(sign_in(client, LOW_LEVEL), "loa", caplog)
    assert not ClientRecord.objects.exists()


def test_an_unreachable_provider_is_a_clear_page(client, settings, caplog):
    settings.EID_OIDC_ISSUER = ""
    settings.EID_OIDC_DISCOVERY_URL = "http://127.0.0.1:9/.well-known/openid-configuration"
    settings.EID_OIDC_CLIENT_ID = "x"
    assert_refused(client.post("/eid/start/"), "unavailable", caplog)


def test_the_error_pages_speak_swedish_and_english(client, eid_settings):
    back = sign_in_at_provider(start(client), account=None)
    swedish = come_back(client, back).content.decode()
    assert "Du avbröt identifieringen" in swedish
    client.cookies["django_language"] = "en"
    back = sign_in_at_provider(start(client), account=None)
    assert "You cancelled the identification" in come_back(client, back).content.decode()


# --- ID tokens the provider would never send: forged ones, through the real flow --------------
FORGER = RSAKey.generate_key(2048, parameters={"kid": "forger", "alg": "RS256", "use": "sig"})


@pytest.fixture
def forged(client, eid_settings, monkeypatch):
    """Start a real sign-in, then answer the code exchange with an ID token of the test's
    making, signed by a key the site is told is the provider's."""
    url = start(client)
    state = parse_qs(urlsplit(url).query)["state"][0]
    nonce = client.session[f"_state_eid_{state}"]["data"]["nonce"]
    app = eid.client()
    monkeypatch.setattr(
        app, "fetch_jwk_set", lambda force=False: {"keys": [FORGER.as_dict(private=False)]}
    )

    def answer(claims: dict, *, key=FORGER, raw: str | None = None):
        token = raw or jwt.encode({"alg": "RS256", "kid": "forger"}, claims, key)
        monkeypatch.setattr(
            app,
            "fetch_access_token",
            lambda **_: {"access_token": "a", "token_type": "Bearer", "id_token": token},
        )
        return come_back(client, f"/eid/callback/?code=c&state={state}")

    now = int(time.time())
    good = {
        "iss": eid_settings.issuer,
        "sub": TOLVAN,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": nonce,
        "acr": LOA3,
        PNR_CLAIM: "191212121212",
    }
    return answer, good


def test_a_forged_token_that_is_right_signs_in(forged):
    # The forgery harness itself works: only what each test below breaks is refused.
    answer, good = forged
    assert answer(good).status_code == 302


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"aud": "another-client"}, id="wrong-audience"),
        pytest.param({"exp": int(time.time()) - 3600}, id="expired"),
        pytest.param({"iss": "https://other.example.se"}, id="other-issuer"),
        pytest.param({"nonce": "other"}, id="wrong-nonce"),
    ],
)
def test_a_token_with_a_wrong_claim_is_refused(forged, caplog, change):
    answer, good = forged
    assert_refused(answer({**good, **change}), "token", caplog)


def test_an_unsigned_token_is_refused(forged, caplog):
    answer, good = forged

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    assert_refused(answer(good, raw=f"{part({'alg': 'none'})}.{part(good)}."), "token", caplog)


def test_a_token_signed_by_another_key_is_refused(forged, caplog):
    answer, good = forged
    other = RSAKey.generate_key(2048, parameters={"kid": "forger", "alg": "RS256"})
    assert_refused(answer(good, key=other), "token", caplog)


def test_no_id_token_is_refused(client, eid_settings, monkeypatch, caplog):
    url = start(client)
    state = parse_qs(urlsplit(url).query)["state"][0]
    monkeypatch.setattr(
        eid.client(), "fetch_access_token", lambda **_: {"access_token": "a", "token_type": "x"}
    )
    assert_refused(come_back(client, f"/eid/callback/?code=c&state={state}"), "token", caplog)


def test_the_sign_in_page_lets_its_form_lead_to_the_provider_only(client, eid_settings):
    policy = client.get("/me/")["Content-Security-Policy"]
    form_action = next(p for p in policy.split(";") if "form-action" in p)
    assert form_action.split() == ["form-action", "'self'", eid_settings.issuer]
    assert eid_settings.issuer not in client.get("/return/")["Content-Security-Policy"]
