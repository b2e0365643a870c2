"""Canned replies (chat/services/replies.py, selectors.canned_reply_list and the page
/console/replies/): personal ones are their owner's only; a unit's are managed by that
unit's supervisors only."""

import pytest
from django.urls import reverse

from chat import selectors
from chat.errors import InvalidInput, NotAllowed, NotFound
from chat.models import CannedReply
from chat.services.replies import canned_reply_delete, canned_reply_save
from tests.security_personas import http_client

# vera, memory_layer and the other queue fixtures, by name.
pytest_plugins = ["tests.queue_personas"]

pytestmark = pytest.mark.django_db

URL = "/console/replies/"


def save(actor, title="Hälsning", body="Hej! Vad kan jag hjälpa dig med?", **fields):
    fields.setdefault("language", "sv")
    return canned_reply_save(actor=actor, title=title, body=body, **fields)


@pytest.fixture
def annas(anna):
    return save(anna, title="Annas egen", body="Jag heter Anna.")


@pytest.fixture
def units(sara, ekonomi):
    return save(
        sara, title="Enhetens", body="Ekonomiskt bistånd söker du i e-tjänsten.", unit=ekonomi
    )


@pytest.fixture
def valds(vera, vald):
    return save(vera, title="Valds", body="Ring 112 om du är i fara.", unit=vald)


def titles(user):
    return [r.title for r in selectors.canned_reply_list(user=user)]


# --- personal replies -------------------------------------------------------------------------
def test_it_keeps_a_personal_reply_its_owners(annas, anna, bengt, sara):
    assert (annas.owner, annas.unit) == (anna, None)
    assert titles(anna) == ["Annas egen"]
    assert titles(bengt) == []
    assert titles(sara) == []


def test_it_lets_the_owner_change_and_delete_a_personal_reply(annas, anna):
    changed = save(anna, title="Ny titel", body="Ny text", language="en", reply=annas)

    assert changed.pk == annas.pk
    annas.refresh_from_db()
    assert (annas.title, annas.body, annas.language) == ("Ny titel", "Ny text", "en")
    canned_reply_delete(actor=anna, reply=annas)
    assert not CannedReply.objects.exists()


@pytest.mark.parametrize("persona", ["bengt", "sara", "cecilia"])
def test_it_hides_a_personal_reply_from_everyone_else(annas, persona, request):
    other = request.getfixturevalue(persona)

    with pytest.raises(NotFound):
        save(other, title="Kapad", reply=annas)
    with pytest.raises(NotFound):
        canned_reply_delete(actor=other, reply=annas)

    annas.refresh_from_db()
    assert annas.title == "Annas egen"


def test_it_gives_staff_without_a_console_no_replies(pelle):
    with pytest.raises(NotAllowed):
        save(pelle)
    assert not CannedReply.objects.exists()


@pytest.mark.parametrize(
    ("title", "body", "language"),
    [
        ("", "text", "sv"),
        ("   ", "text", "sv"),
        ("x" * 81, "text", "sv"),
        ("titel", "", "sv"),
        ("titel", "x" * 4001, "sv"),
        ("titel", "a\x00b", "sv"),
        ("a\x00b", "text", "sv"),
    ],
)
def test_it_refuses_a_reply_without_a_proper_title_text_or_language(anna, title, body, language):
    with pytest.raises(InvalidInput):
        save(anna, title=title, body=body, language=language)
    assert not CannedReply.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"language": "de"}, "language"),
        ({"language": ""}, "language"),
        ({"title": None}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 81}, "title"),
        ({"body": "x" * 4001}, "body"),
        ({"body": "a\x00b"}, "body"),
    ],
    ids=repr,
)
def test_the_page_refuses_a_reply_without_a_proper_title_text_or_language(anna, fields, field):
    """Refused where the form is read: the service takes text and a CannedReply.Language."""
    form = {"scope": "mine", "language": "sv", "title": "titel", "body": "text", **fields}

    response = http_client(anna).post(URL, {k: v for k, v in form.items() if v is not None})

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not CannedReply.objects.exists()


def test_it_trims_title_and_text(anna):
    reply = save(anna, title="  Hej  ", body="  Välkommen!  ")

    assert (reply.title, reply.body) == ("Hej", "Välkommen!")


# --- unit replies -----------------------------------------------------------------------------
def test_it_shows_a_units_replies_to_all_its_staff_and_no_one_else(
    units, ekonomi, anna, bengt, cecilia
):
    assert (units.unit, units.owner) == (ekonomi, None)
    assert titles(anna) == ["Enhetens"]
    assert titles(bengt) == ["Enhetens"]
    assert titles(cecilia) == []


def test_it_lists_own_and_unit_replies_together_by_title(annas, units, valds, anna, vera):
    assert titles(anna) == ["Annas egen", "Enhetens"]
    assert titles(vera) == ["Valds"]


def test_it_lets_the_units_supervisor_change_and_delete_its_replies(units, sara):
    save(sara, title="Ändrad", body="Ny text", reply=units)
    units.refresh_from_db()
    assert units.title == "Ändrad"

    canned_reply_delete(actor=sara, reply=units)

    assert not CannedReply.objects.exists()


@pytest.mark.parametrize("persona", ["anna", "bengt"])
def test_it_refuses_a_worker_managing_the_units_replies(units, ekonomi, persona, request):
    worker = request.getfixturevalue(persona)

    with pytest.raises(NotAllowed):
        save(worker, title="Ny enhetsreplik", unit=ekonomi)
    with pytest.raises(NotAllowed):
        save(worker, title="Ändrad", reply=units)
    with pytest.raises(NotAllowed):
        canned_reply_delete(actor=worker, reply=units)

    assert list(CannedReply.objects.values_list("title", flat=True)) == ["Enhetens"]


def test_it_refuses_another_units_supervisor(units, ekonomi, vera):
    with pytest.raises(NotAllowed):
        save(vera, title="Från Våld", unit=ekonomi)
    with pytest.raises(NotAllowed):
        save(vera, title="Ändrad", reply=units)
    with pytest.raises(NotAllowed):
        canned_reply_delete(actor=vera, reply=units)

    assert list(CannedReply.objects.values_list("title", flat=True)) == ["Enhetens"]


def test_it_keeps_a_personal_reply_personal_when_saved_with_a_unit(annas, anna, ekonomi):
    save(anna, title="Fortfarande min", reply=annas, unit=ekonomi)

    annas.refresh_from_db()
    assert (annas.owner, annas.unit, annas.title) == (anna, None, "Fortfarande min")


# --- the page ---------------------------------------------------------------------------------
def test_it_sends_an_anonymous_visitor_to_log_in_and_refuses_partner_staff(db, pelle):
    response = http_client(None).get(URL)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]

    assert http_client(pelle).get(URL).status_code == 403


def test_it_lists_the_workers_own_and_their_units_replies_on_the_page(
    annas, units, valds, anna, bengt
):
    save(bengt, title="Bengts egen", body="Bengts hemliga text.")

    response = http_client(anna).get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Annas egen" in page
    assert "Enhetens" in page
    assert "Bengts egen" not in page
    assert "Valds" not in page
    editable = {entry["reply"].title: entry["editable"] for entry in response.context["replies"]}
    assert editable == {"Annas egen": True, "Enhetens": False}


def test_it_offers_a_worker_only_personal_replies_and_a_supervisor_their_units(anna, sara, ekonomi):
    worker_choices = http_client(anna).get(URL).context["form"].fields["scope"].choices
    supervisor_choices = http_client(sara).get(URL).context["form"].fields["scope"].choices

    assert [value for value, _label in worker_choices] == ["mine"]
    assert [value for value, _label in supervisor_choices] == ["mine", str(ekonomi.pk)]


def test_it_creates_a_personal_reply_from_the_page(anna):
    response = http_client(anna).post(
        URL, {"scope": "mine", "language": "sv", "title": "Från sidan", "body": "Hej där."}
    )

    assert response.status_code == 302
    reply = CannedReply.objects.get()
    assert (reply.owner, reply.unit, reply.title, reply.body) == (
        anna,
        None,
        "Från sidan",
        "Hej där.",
    )


def test_it_creates_a_unit_reply_for_the_supervisor_from_the_page(sara, ekonomi):
    response = http_client(sara).post(
        URL,
        {"scope": str(ekonomi.pk), "language": "en", "title": "Unit", "body": "Apply online."},
    )

    assert response.status_code == 302
    reply = CannedReply.objects.get()
    assert (reply.owner, reply.unit, reply.language) == (None, ekonomi, "en")


def test_it_refuses_a_unit_reply_from_a_worker_on_the_page(anna, ekonomi):
    response = http_client(anna).post(
        URL, {"scope": str(ekonomi.pk), "language": "sv", "title": "Smyg", "body": "Nej."}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["scope"]
    assert not CannedReply.objects.exists()


def test_it_refuses_another_units_reply_from_a_supervisor_on_the_page(sara, vald):
    response = http_client(sara).post(
        URL, {"scope": str(vald.pk), "language": "sv", "title": "Smyg", "body": "Nej."}
    )

    assert response.status_code == 200
    assert not CannedReply.objects.exists()


def test_it_deletes_the_workers_own_reply_from_the_page(annas, anna):
    response = http_client(anna).post(URL, {"delete": str(annas.pk)})

    assert response.status_code == 302
    assert not CannedReply.objects.exists()


def test_it_lets_the_supervisor_delete_a_unit_reply_from_the_page(units, sara):
    assert http_client(sara).post(URL, {"delete": str(units.pk)}).status_code == 302
    assert not CannedReply.objects.exists()


def test_it_leaves_a_colleagues_personal_reply_alone_on_the_page(annas, bengt):
    response = http_client(bengt).post(URL, {"delete": str(annas.pk)})

    assert response.status_code == 302
    assert CannedReply.objects.get() == annas


def test_it_leaves_the_units_reply_alone_when_a_worker_posts_its_delete(units, anna):
    client = http_client(anna, raise_request_exception=False)

    client.post(URL, {"delete": str(units.pk)})

    assert CannedReply.objects.get() == units


def test_it_refuses_a_workers_delete_of_a_unit_reply_without_a_server_error(units, anna):
    client = http_client(anna, raise_request_exception=False)

    response = client.post(URL, {"delete": str(units.pk)})

    assert response.status_code in (302, 403, 404)


def test_it_answers_a_malformed_delete_without_a_server_error(annas, anna):
    client = http_client(anna, raise_request_exception=False)

    response = client.post(URL, {"delete": "not-a-number"})

    assert response.status_code in (302, 400, 404)
    assert CannedReply.objects.get() == annas
