"""The partner's pages: the referral form, the receipt, and that a partner reaches nothing
else (tests/test_permissions_matrix.py has the whole table)."""

from __future__ import annotations

import pytest
from django.test import Client

from chat.models import Conversation, Referral
from chat.services.conversations import conversation_accept
from tests.referral_personas import close_today, send

pytest_plugins = ["tests.referral_personas"]
pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # the texts below are the English ones
    client.force_login(user)
    return client


FILLED = {
    "code_word": "on",
    "contact": "call_back",
    "phone": "070-123 45 67",
    "safe_time": "efter 17",
    "children": "yes",
    "language": "arabiska",
    "interpreter": "on",
    "note": "Vill inte att mannen vet.",
}


def test_the_form_names_the_code_word_and_reminds_of_112(pia, pharmacy_place, settings):
    settings.REFERRAL_CODE_WORD = "paraply-7"
    page = signed_in(pia).get("/partner/").content.decode()
    assert "paraply-7" in page and 'href="tel:112"' in page
    assert "Storgatan" in page  # the one place is named, not asked for


def test_sending_shows_the_receipt_and_nothing_of_what_was_said(pia, pharmacy_place, chain):
    client = signed_in(pia)
    response = client.post("/partner/", {**FILLED, "place": pharmacy_place.pk})
    referral = Referral.objects.get()
    assert response["Location"] == f"/partner/referrals/{referral.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "Waiting for a social worker" in page
    assert "070-123" not in page and "Vill inte" not in page and "Våld" not in page


def test_the_receipt_says_when_social_services_received_it(pia, pharmacy_place, chain, cecilia):
    referral = send(pia, pharmacy_place)
    client = signed_in(pia)
    assert client.get(f"/partner/referrals/{referral.pk}/status").json()["received"] is False
    conversation_accept(worker=cecilia)
    status = client.get(f"/partner/referrals/{referral.pk}/status").json()
    assert status["received"] is True
    assert status["text"].startswith("Received by social services at ")
    assert status["text"].endswith(", being handled.")


def test_with_no_unit_open_the_partner_is_told_what_to_do_instead(pia, pharmacy_place, chain):
    for unit in chain:
        close_today(unit)
    client = signed_in(pia)
    response = client.post("/partner/", {**FILLED, "place": pharmacy_place.pk}, follow=True)
    page = response.content.decode()
    assert "no unit is open" in page.lower() and "020-50 50 50" in page and "tel:112" in page
    assert not Conversation.objects.exists()


def test_a_missing_answer_keeps_everything_written(pia, pharmacy_place, chain):
    client = signed_in(pia)
    data = {**FILLED, "place": pharmacy_place.pk, "phone": ""}
    page = client.post("/partner/", data).content.decode()
    assert "Write the number to call." in page and 'aria-invalid="true"' in page
    assert "Vill inte att mannen vet." in page and "efter 17" in page
    assert not Referral.objects.exists()
    no_code_word = {k: v for k, v in data.items() if k != "code_word"}
    no_code_word["phone"] = "070-1"
    page = client.post("/partner/", no_code_word).content.decode()
    assert "Tick this to send" in page
    assert not Referral.objects.exists()


def test_another_partners_receipt_is_not_found(pia, lars, pharmacy_place, chain):
    referral = send(pia, pharmacy_place)
    client = signed_in(lars)
    assert client.get(f"/partner/referrals/{referral.pk}/").status_code == 404
    assert client.get(f"/partner/referrals/{referral.pk}/status").status_code == 404


def test_a_partner_signing_in_lands_on_the_form_and_staff_pages_send_them_back(pia, pharmacy_place):
    pia.set_password("pw-for-the-test")
    pia.save()
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(
        "/accounts/login/", {"username": "pia", "password": "pw-for-the-test"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/partner/"
    for page in ("/console/", "/dashboard/", "/console/inbox/"):
        assert client.get(page)["Location"] == "/partner/"


def test_staff_have_no_referral_form(cecilia, chain):
    assert signed_in(cecilia).get("/partner/").status_code == 403


# --- chat now --------------------------------------------------------------------------------
def test_chat_now_opens_once_with_a_token_the_tab_made_and_leaves_the_session_as_it_was(
    pia, pharmacy_place, chain
):
    import json

    from chat import selectors
    from tests import factories

    referral = send(pia, pharmacy_place, contact=Referral.Contact.CHAT_NOW)
    client = signed_in(pia)
    page = client.get(f"/partner/referrals/{referral.pk}/")
    assert f"/partner/referrals/{referral.pk}/chat/" in page.content.decode()
    session_before = dict(client.session.items())
    chat = client.get(f"/partner/referrals/{referral.pk}/chat/")
    assert "no-store" in chat["Cache-Control"]
    token = factories.new_token()
    url = f"/partner/referrals/{referral.pk}/chat/"
    opened = client.post(url, json.dumps({"token": token}), content_type="application/json")
    assert opened.status_code == 204
    conversation = Conversation.objects.get(pk=referral.conversation_id)
    assert conversation.token_hash == selectors.token_hash(token)
    # Once only: a second tab, or the partner later, gets nothing.
    again = client.post(
        url, json.dumps({"token": factories.new_token()}), content_type="application/json"
    )
    assert again.status_code == 409
    assert "cannot be opened" in client.get(url).content.decode()
    assert dict(client.session.items()) == session_before
    assert list(referral.events.values_list("kind", flat=True))[-1] == "chat_opened"


def test_chat_now_quick_exit_ends_the_chat_and_keeps_the_partner_signed_in(
    pia, pharmacy_place, chain
):
    import json

    from tests import factories

    referral = send(pia, pharmacy_place, contact=Referral.Contact.CHAT_NOW)
    client = signed_in(pia)
    token = factories.new_token()
    url = f"/partner/referrals/{referral.pk}/chat/"
    client.post(url, json.dumps({"token": token}), content_type="application/json")
    response = client.post(url + "exit", {"token": token})
    assert response.status_code == 204 and "Clear-Site-Data" not in response
    conversation = Conversation.objects.get(pk=referral.conversation_id)
    assert not conversation.is_open  # left the queue, with the quick exit
    assert client.get("/partner/").status_code == 200


def test_only_a_chat_now_referral_opens_a_chat(pia, pharmacy_place, chain, lars):
    import json

    from tests import factories

    referral = send(pia, pharmacy_place)  # call back
    url = f"/partner/referrals/{referral.pk}/chat/"
    body = json.dumps({"token": factories.new_token()})
    assert signed_in(pia).post(url, body, content_type="application/json").status_code == 409
    assert signed_in(lars).post(url, body, content_type="application/json").status_code == 404
    assert signed_in(pia).post(url, "{", content_type="application/json").status_code == 400


def test_the_admin_shows_the_audit_trail_and_never_the_number_or_the_note(
    pia, pharmacy_place, chain
):
    admin = factories_admin()
    referral = send(pia, pharmacy_place, note="Mannen väntar utanför.")
    page = signed_in(admin).get(f"/admin/chat/referral/{referral.pk}/change/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "routed to a unit" in text and "Våld i nära relationer" in text
    assert "070-123" not in text and "Mannen väntar" not in text


def factories_admin():
    from accounts.models import User
    from tests import factories

    return factories.make_user("ada", role=User.Role.ADMIN, is_staff=True, is_superuser=True)


def test_chat_now_takes_the_pages_language_and_refuses_one_that_is_not_a_client_language(
    pia, pharmacy_place, chain
):
    import json

    from tests import factories

    referral = send(pia, pharmacy_place, contact=Referral.Contact.CHAT_NOW)
    client = signed_in(pia)
    url = f"/partner/referrals/{referral.pk}/chat/"
    for wrong in ("xx", 5, None):
        body = json.dumps({"token": factories.new_token(), "language": wrong})
        assert client.post(url, body, content_type="application/json").status_code == 400
    body = json.dumps({"token": factories.new_token(), "language": "ar"})
    assert client.post(url, body, content_type="application/json").status_code == 204
    assert Conversation.objects.get(pk=referral.conversation_id).language == "ar"
