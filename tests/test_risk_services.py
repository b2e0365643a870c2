"""chat/services/risk.py: risk rules on a waiting client's and a live conversation's
messages, the urgent raise, a worker's lowering with a reason, the audit trail, the rules'
keeping and their compiled copy."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from chat import realtime
from chat.errors import Conflict, InvalidInput, NotAllowed, NotFound
from chat.models import Conversation, RiskFlag, RiskOverride, RiskRule
from chat.selectors import queue_positions
from chat.selectors.risk import risk_flag_counts, risk_rule_get_for, risk_trail
from chat.services import risk
from chat.services.conversations import conversation_end, conversation_move
from chat.services.messages import message_post
from chat.services.retention import retention_purge
from chat.services.risk import (
    risk_lower,
    risk_matcher_for,
    risk_rule_delete,
    risk_rule_save,
)
from tests import factories
from tests.factories import accept, start_conversation
from tests.queue_personas import gunnar, private_cache, vera, waited  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def sara(ekonomi):
    """Supervisor of Ekonomiskt bistånd."""
    return factories.make_user("sara", role=User.Role.SUPERVISOR, units=[ekonomi])


@pytest.fixture
def rules(ekonomi):
    """Ekonomiskt bistånd's rules: suicide raises, violence alerts, debt only marks."""
    made = {
        action: RiskRule.objects.create(unit=ekonomi, label=label, phrases=phrases, action=action)
        for action, label, phrases in (
            ("urgent", "Suicide risk", "självmord*\nta livet av mig\nkill myself"),
            ("alert", "Violence", "slår|slog|slagit mig"),
            ("mark", "Debt", "kronofogde*"),
        )
    }
    risk.risk_rules_forget_all()
    return made


@pytest.fixture
def commit(django_capture_on_commit_callbacks, published):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def post(conversation, body, author=None):
    return message_post(
        conversation_id=conversation.pk, author=author, body=body, client_id=uuid.uuid4()
    )


def events(published, type_):
    return [(group, event) for group, event in published if event["type"] == type_]


# --- the urgent raise --------------------------------------------------------------------------
def test_a_client_whose_first_message_matches_goes_ahead_of_those_who_waited_longer(
    ekonomi, rules, commit, published
):
    first, _ = start_conversation(ekonomi, "Hej, en fråga om hyran")
    waited(first, 600)
    with commit():
        urgent, _ = start_conversation(ekonomi, "Jag har tänkt på självmord hela veckan")

    assert urgent.priority == Conversation.Priority.URGENT
    assert [p["conversation"] for p in queue_positions(unit=ekonomi)] == [urgent.pk, first.pk]
    flag = RiskFlag.objects.get(conversation=urgent)
    assert (flag.rule_label, flag.effect, flag.raised, flag.seq) == (
        "Suicide risk",
        "urgent",
        True,
        1,
    )
    assert flag.matched == "självmord"
    assert urgent.risk["rule"] == "Suicide risk"
    assert (urgent.risk["before"], urgent.risk["matched"], urgent.risk["after"]) == (
        "Jag har tänkt på ",
        "självmord",
        " hela veckan",
    )
    # The staff's queue rows carry the reason; the waiting clients' places never do.
    (queue,) = [e for g, e in events(published, "queue.updated") if e["waiting"]][-1:]
    assert queue["waiting"][0]["id"] == urgent.pk
    assert queue["waiting"][0]["risk"]["matched"] == "självmord"
    assert all(
        "risk" not in e and "självmord" not in str(e) for _g, e in events(published, "queue.places")
    )


def test_a_live_message_flags_the_conversation_for_its_staff_and_supervisors_after_commit(
    ekonomi, anna, rules, django_capture_on_commit_callbacks, published
):
    conversation, _ = start_conversation(ekonomi)
    accept(anna, conversation)
    published.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post(conversation, "Han slog mig igår")
        assert events(published, "risk.flagged") == []  # nothing before commit
    for callback in callbacks:
        callback()

    flagged = events(published, "risk.flagged")
    assert {group for group, _e in flagged} == {
        realtime.conversation_staff_group(conversation.pk),
        realtime.unit_supervisors_group(ekonomi.pk),
    }
    event = flagged[0][1]
    assert event["conversation"] == conversation.pk
    assert event["raised"] is False
    assert event["risk"]["effect"] == "alert"
    assert event["risk"]["matched"] == "slog mig"
    conversation.refresh_from_db()
    assert conversation.priority == Conversation.Priority.NORMAL  # alert only alerts


def test_a_mark_rule_marks_for_the_worker_and_tells_no_supervisor(
    ekonomi, anna, rules, commit, published
):
    conversation, _ = start_conversation(ekonomi)
    accept(anna, conversation)
    with commit():
        post(conversation, "Kronofogden ringde igen")
    groups = {group for group, _e in events(published, "risk.flagged")}
    assert groups == {realtime.conversation_staff_group(conversation.pk)}
    assert RiskFlag.objects.get(conversation=conversation).effect == "mark"


def test_a_negated_or_quoted_phrase_is_marked_and_raises_nothing(ekonomi, rules, commit):
    with commit():
        negated, _ = start_conversation(ekonomi, "Jag tänker inte ta livet av mig")
        quoted, _ = start_conversation(ekonomi, "Vi såg ”Självmordsklubben” på bio")
    for conversation, held in ((negated, "negated"), (quoted, "quoted")):
        conversation.refresh_from_db()
        assert conversation.priority == Conversation.Priority.NORMAL
        flag = RiskFlag.objects.get(conversation=conversation)
        assert (flag.effect, flag.held, flag.raised) == ("mark", held, False)
        assert conversation.risk["held"] == held


def test_staff_messages_and_plain_messages_are_not_flagged(ekonomi, anna, rules):
    conversation, _ = start_conversation(ekonomi, "Hej, jag undrar över hyran")
    accept(anna, conversation)
    post(conversation, "Har du tankar på självmord?", author=anna)
    assert not RiskFlag.objects.filter(conversation=conversation).exists()


def test_a_stronger_finding_replaces_what_the_conversation_shows_a_weaker_does_not(
    ekonomi, anna, rules
):
    conversation, _ = start_conversation(ekonomi, "Han slog mig")
    accept(anna, conversation)
    post(conversation, "Jag vill ta livet av mig")
    post(conversation, "Och kronofogden ringde")
    conversation.refresh_from_db()
    assert conversation.risk["rule"] == "Suicide risk"
    assert conversation.priority == Conversation.Priority.URGENT
    assert list(
        RiskFlag.objects.filter(conversation=conversation).values_list("effect", "raised")
    ) == [("alert", False), ("urgent", True), ("mark", False)]


def test_a_fault_in_the_rules_never_loses_the_clients_message(ekonomi, rules, monkeypatch):
    def broken(**_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(risk, "risk_matcher_for", broken)
    conversation, _ = start_conversation(ekonomi, "självmord")
    assert conversation.messages.count() == 1
    assert conversation.priority == Conversation.Priority.NORMAL


# --- lowering with a reason ---------------------------------------------------------------------
def test_a_worker_lowers_it_again_with_a_reason_in_the_audit_trail(
    ekonomi, anna, rules, commit, published
):
    conversation, _ = start_conversation(ekonomi, "I want to kill myself")
    published.clear()
    with commit():
        override = risk_lower(
            conversation_id=conversation.pk, actor=anna, reason="Ett citat ur en bok"
        )

    conversation.refresh_from_db()
    assert conversation.priority == Conversation.Priority.NORMAL
    assert conversation.risk["lowered"]["reason"] == "Ett citat ur en bok"
    assert conversation.risk["lowered"]["by"] == anna.pk
    assert (override.actor, override.reason, override.from_priority) == (
        anna,
        "Ett citat ur en bok",
        Conversation.Priority.URGENT,
    )
    lowered = events(published, "risk.lowered")
    assert {g for g, _e in lowered} == {
        realtime.conversation_staff_group(conversation.pk),
        realtime.unit_supervisors_group(ekonomi.pk),
    }
    trail = risk_trail(conversation=conversation)
    assert [entry.kind for entry in trail] == ["flag", "lowered"]
    assert trail[0].detail["raised"] is True
    assert trail[1].detail == {"by": anna.display_name, "reason": "Ett citat ur en bok"}


def test_a_new_finding_after_a_lowering_raises_again(ekonomi, anna, rules):
    conversation, _ = start_conversation(ekonomi, "självmord")
    risk_lower(conversation_id=conversation.pk, actor=anna, reason="Frågade om en vän")
    post(conversation, "men jag vill ta livet av mig")
    conversation.refresh_from_db()
    assert conversation.priority == Conversation.Priority.URGENT
    assert conversation.risk["lowered"] is None


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_lowering_needs_a_reason_and_changes_nothing_without_one(ekonomi, anna, rules, reason):
    conversation, _ = start_conversation(ekonomi, "självmord")
    with pytest.raises(InvalidInput):
        risk_lower(conversation_id=conversation.pk, actor=anna, reason=reason)
    conversation.refresh_from_db()
    assert conversation.priority == Conversation.Priority.URGENT
    assert not RiskOverride.objects.exists()


def test_a_worker_of_another_unit_cannot_lower_nor_learn_of_it(ekonomi, cecilia, rules):
    conversation, _ = start_conversation(ekonomi, "självmord")
    with pytest.raises(NotFound):
        risk_lower(conversation_id=conversation.pk, actor=cecilia, reason="nej")


def test_there_is_nothing_to_lower_when_the_rules_raised_nothing_or_it_ended(ekonomi, anna, rules):
    plain, _ = start_conversation(ekonomi, "Hej")
    with pytest.raises(Conflict):
        risk_lower(conversation_id=plain.pk, actor=anna, reason="ingen risk")
    raised, _ = start_conversation(ekonomi, "självmord")
    accept(anna, raised)
    conversation_end(conversation=raised, actor=anna)
    with pytest.raises(Conflict):
        risk_lower(conversation_id=raised.pk, actor=anna, reason="slut")


# --- secrecy between units ------------------------------------------------------------------
def test_a_conversation_moved_to_another_unit_carries_none_of_the_words_there(
    ekonomi,
    vald,
    rules,
    gunnar,  # noqa: F811 - fixture
):
    conversation, _ = start_conversation(ekonomi, "självmord")
    conversation_move(conversation_id=conversation.pk, unit_id=vald.pk, actor=gunnar)
    conversation.refresh_from_db()
    assert realtime.conversation_payload(conversation)["risk"] is None
    assert risk_trail(conversation=conversation) == []


# --- keeping the rules ----------------------------------------------------------------------
def test_a_supervisor_keeps_their_units_rules_and_the_change_is_used_at_once(ekonomi, sara, commit):
    assert risk_matcher_for(unit_id=ekonomi.pk).find("jag har skulder") == []
    with commit():
        rule = risk_rule_save(
            actor=sara, unit=ekonomi, label="Skulder", phrases="skuld*\n\n", action="mark"
        )
    assert rule.phrases == "skuld*"
    assert [h.matched for h in risk_matcher_for(unit_id=ekonomi.pk).find("jag har skulder")] == [
        "skulder"
    ]
    with commit():
        risk_rule_save(
            actor=sara,
            unit=ekonomi,
            rule=rule,
            label="Skulder",
            phrases="skuld*",
            action="mark",
            active=False,
        )
    assert risk_matcher_for(unit_id=ekonomi.pk).find("jag har skulder") == []
    with commit():
        risk_rule_delete(actor=sara, rule=rule)
    assert not RiskRule.objects.exists()


def test_another_processes_copy_follows_a_change_within_the_recheck_time(
    ekonomi,
    sara,
    monkeypatch,
    private_cache,  # noqa: F811 - fixture
):
    clock = [1000.0]
    monkeypatch.setattr(risk, "monotonic", lambda: clock[0])
    assert len(risk_matcher_for(unit_id=ekonomi.pk)) == 0
    # Another process saves a rule: the row and the shared version change, not our copy.
    RiskRule.objects.create(unit=ekonomi, label="x", phrases="skuld*", action="mark")
    risk.cache.set(risk._version_key(ekonomi.pk), uuid.uuid4().hex, timeout=None)
    assert len(risk_matcher_for(unit_id=ekonomi.pk)) == 0
    clock[0] += risk.RECHECK_SECONDS
    assert len(risk_matcher_for(unit_id=ekonomi.pk)) == 1


def test_a_message_without_a_phrase_costs_no_statement(ekonomi, rules, django_assert_num_queries):
    conversation, _ = start_conversation(ekonomi, "Hej")
    message = conversation.messages.get()
    risk_matcher_for(unit_id=ekonomi.pk)
    with django_assert_num_queries(0):
        assert risk.risk_check_message(message=message) == []


@pytest.mark.parametrize(
    ("phrases", "code"),
    [("dö*", "risk_phrase"), ("", "risk_phrase"), ("döda (mig)", "risk_phrase")],
)
def test_a_bad_phrase_is_refused_with_what_is_wrong_and_nothing_is_saved(
    ekonomi, sara, phrases, code
):
    with pytest.raises(InvalidInput) as refused:
        risk_rule_save(actor=sara, unit=ekonomi, label="x", phrases=phrases, action="urgent")
    assert refused.value.code == code
    assert not RiskRule.objects.exists()


def test_only_a_supervisor_of_the_unit_keeps_its_rules(ekonomi, vald, anna, rules, vera):  # noqa: F811
    with pytest.raises(NotAllowed):
        risk_rule_save(actor=anna, unit=ekonomi, label="x", phrases="skuld*", action="mark")
    with pytest.raises(NotAllowed):
        risk_rule_save(actor=vera, unit=ekonomi, label="x", phrases="skuld*", action="mark")
    with pytest.raises(NotAllowed):
        risk_rule_delete(actor=vera, rule=rules["urgent"])
    assert risk_rule_get_for(user=vera, rule_id=rules["urgent"].pk) is None


# --- statistics and retention ---------------------------------------------------------------
def test_flags_are_counted_per_rule_without_the_words(ekonomi, anna, rules):
    one, _ = start_conversation(ekonomi, "självmord")
    two, _ = start_conversation(ekonomi, "Jag tänker inte ta livet av mig")
    accept(anna, two)
    post(two, "Han slog mig")
    now = timezone.now()
    counts = risk_flag_counts(
        unit_ids=[ekonomi.pk], since=now - timedelta(hours=1), until=now + timedelta(hours=1)
    )
    by_rule = {row["rule"]: row for row in counts}
    assert by_rule["Suicide risk"] == {
        "unit": ekonomi.pk,
        "rule": "Suicide risk",
        "flags": 2,
        "conversations": 2,
        "raised": 1,
        "alerted": 0,
        "marked": 1,
        "held": 1,
    }
    assert by_rule["Violence"]["alerted"] == 1
    assert "självmord" not in str(counts)
    assert one.pk != two.pk


def test_the_retention_purge_removes_the_clients_words_and_keeps_the_counts(
    ekonomi, anna, rules, settings
):
    conversation, _ = start_conversation(ekonomi, "självmord")
    accept(anna, conversation)
    conversation_end(conversation=conversation, actor=anna)
    Conversation.objects.filter(pk=conversation.pk).update(
        ended_at=timezone.now() - timedelta(days=3650)
    )
    retention_purge()
    conversation.refresh_from_db()
    assert conversation.risk == {}
    flag = RiskFlag.objects.get(conversation=conversation)
    assert (flag.matched, flag.rule_label, flag.raised) == ("", "Suicide risk", True)
