"""Risk rules: a unit's phrases found in a client's messages lift the conversation to
urgent, alert the unit's supervisors, or only mark it (chat/risk_match.py says what a
phrase is and how negation and quotation are read).

Everything runs here, on the server: the text never leaves it. The rules of a unit are
compiled once per process and kept (`risk_matcher_for`); a change (`risk_rules_changed`)
drops this process's copy at once and other processes' within `RECHECK_SECONDS` (they
compare a version kept in the shared cache). A message without a phrase costs one search
and no statement.

The audit trail: every automatic change is a `RiskFlag` row, every lowering a
`RiskOverride` with the worker's reason, written in the transaction that makes the change.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import Unit, User
from chat import announce, realtime
from chat.errors import Conflict, InvalidInput
from chat.models import Conversation, Message, RiskFlag, RiskOverride, RiskRule
from chat.permissions import require
from chat.risk_match import Hit, PhraseError, RiskMatcher, RuleSource, phrase_lines

log = logging.getLogger(__name__)

RECHECK_SECONDS = 5.0  # how stale another process's copy of a unit's rules may be
LABEL_MAX = 80
REASON_MAX = 500
CONTEXT_CHARS = 40  # of the message shown either side of the matched words
MAX_FLAGS = 10  # per message: a pasted wall of text flags no more
EFFECT_RANK: dict[str, int] = {
    RiskFlag.Effect.MARK: 1,
    RiskFlag.Effect.ALERT: 2,
    RiskFlag.Effect.URGENT: 3,
}
ACTION_EFFECT: dict[str, str] = {
    RiskRule.Action.URGENT: RiskFlag.Effect.URGENT,
    RiskRule.Action.ALERT: RiskFlag.Effect.ALERT,
}


def monotonic() -> float:
    """The clock the rule cache reads; tests replace it."""
    return time.monotonic()


# --- the rules, compiled once per unit ------------------------------------------------
@dataclass
class _Cached:
    matcher: RiskMatcher
    version: str | None
    checked_at: float


_matchers: dict[int, _Cached] = {}
_matchers_lock = threading.Lock()


def _version_key(unit_id: int) -> str:
    return f"risk-rules:{unit_id}"


def _shared_version(unit_id: int) -> str | None:
    try:
        return cache.get(_version_key(unit_id))
    except Exception:  # a cache that is down means: read the rules again
        log.warning("risk rules: the shared cache did not answer")
        return None


def risk_rule_sources(*, unit_id: int) -> list[RuleSource]:
    """The unit's rules in use, as the matcher takes them."""
    return [
        RuleSource(id=pk, label=label, action=action, phrases=tuple(phrases.splitlines()))
        for pk, label, action, phrases in RiskRule.objects.filter(
            unit_id=unit_id, active=True
        ).values_list("pk", "label", "action", "phrases")
    ]


def risk_matcher_for(*, unit_id: int) -> RiskMatcher:
    """The unit's rules, compiled. Read from the database the first time, and again when
    the shared version says they changed (looked at no more than every RECHECK_SECONDS)."""
    now = monotonic()
    cached = _matchers.get(unit_id)
    if cached is not None and now - cached.checked_at < RECHECK_SECONDS:
        return cached.matcher
    version = _shared_version(unit_id)
    if cached is not None and version is not None and version == cached.version:
        cached.checked_at = now
        return cached.matcher
    if version is None:
        version = uuid.uuid4().hex
        try:
            cache.add(_version_key(unit_id), version, timeout=None)
            version = cache.get(_version_key(unit_id)) or version
        except Exception:  # a cache that is down: this copy holds for now
            version = None
    matcher = RiskMatcher(risk_rule_sources(unit_id=unit_id))
    with _matchers_lock:
        _matchers[unit_id] = _Cached(matcher=matcher, version=version, checked_at=now)
    return matcher


def risk_rules_changed(*, unit_id: int) -> None:
    """Forget the unit's compiled rules here and (through the shared version) everywhere."""
    with _matchers_lock:
        _matchers.pop(unit_id, None)
    try:
        cache.set(_version_key(unit_id), uuid.uuid4().hex, timeout=None)
    except Exception:
        log.warning("risk rules: the shared cache did not answer; other processes follow later")


def risk_rules_changed_on_commit(*, unit_id: int) -> None:
    transaction.on_commit(lambda: risk_rules_changed(unit_id=unit_id))


def risk_rules_forget_all() -> None:
    """Drop every compiled copy in this process (tests)."""
    with _matchers_lock:
        _matchers.clear()


# --- keeping the rules ----------------------------------------------------------------
def _clean_rule(label: str, phrases: str, action: str) -> tuple[str, str, str]:
    label = " ".join(label.split())
    if not label or len(label) > LABEL_MAX or "\x00" in label:
        raise InvalidInput(f"a name of at most {LABEL_MAX} characters", code="risk_label")
    try:
        lines = phrase_lines(phrases.replace("\x00", " "))
    except PhraseError as error:
        raise InvalidInput(
            str(error), code="risk_phrase", what=error.code, word=error.word
        ) from None
    if action not in RiskRule.Action.values:
        raise InvalidInput("no such action", code="risk_action")
    return label, "\n".join(lines), action


def risk_rule_save(
    *,
    actor: User,
    unit: Unit,
    label: str,
    phrases: str,
    action: str,
    active: bool = True,
    rule: RiskRule | None = None,
) -> RiskRule:
    """Create or change one of the unit's rules (its supervisors only). Phrases, one per
    line, are checked against the notation; `InvalidInput` says what is wrong and nothing
    is saved."""
    if rule is not None:
        unit = rule.unit
    require(actor, "chat.manage_risk_rules", unit)
    clean_label, clean_phrases, clean_action = _clean_rule(label, phrases, action)
    with transaction.atomic():
        rule = rule or RiskRule(unit=unit)
        rule.label, rule.phrases, rule.action = clean_label, clean_phrases, clean_action
        rule.active, rule.updated_by = active, actor
        rule.save()
        risk_rules_changed_on_commit(unit_id=unit.pk)
    return rule


def risk_rule_delete(*, actor: User, rule: RiskRule) -> None:
    """Remove a rule. Its flags stay, with the rule's name, in the audit trail."""
    require(actor, "chat.manage_risk_rules", rule.unit)
    unit_id = rule.unit_id
    with transaction.atomic():
        rule.delete()
        risk_rules_changed_on_commit(unit_id=unit_id)


# --- checking a message ---------------------------------------------------------------
def _effect(hit: Hit) -> str:
    if hit.held:
        return RiskFlag.Effect.MARK
    return ACTION_EFFECT.get(hit.action, RiskFlag.Effect.MARK)


def _context(text: str, start: int, end: int) -> tuple[str, str]:
    """Up to CONTEXT_CHARS either side of the match, cut at a space, with … where cut."""
    before = text[max(0, start - CONTEXT_CHARS) : start]
    if start > CONTEXT_CHARS:
        before = "…" + before[before.find(" ") + 1 :] if " " in before else "…" + before
    after = text[end : end + CONTEXT_CHARS]
    if len(text) - end > CONTEXT_CHARS:
        after = (after[: after.rfind(" ")] if " " in after else after) + "…"
    return " ".join(before.split(" ")).replace("\n", " "), after.replace("\n", " ")


def risk_payload(flag: RiskFlag, text: str, *, start: int, end: int) -> dict[str, Any]:
    """The conversation's `risk` as the console and dashboard show it."""
    before, after = _context(text, start, end)
    return {
        "flag": flag.pk,
        "unit": flag.unit_id,
        "rule": flag.rule_label,
        "action": flag.action,
        "effect": flag.effect,
        "held": flag.held,
        "raised": flag.raised,
        "seq": flag.seq,
        "before": before,
        "matched": flag.matched,
        "after": after,
        "at": flag.created_at.isoformat(),
        "lowered": None,
    }


def _stronger(new: RiskFlag, current: dict[str, Any]) -> bool:
    """Does `new` replace what the conversation shows? A stronger effect does, and an
    equal one (the latest words), and anything after a lowering."""
    if not current or current.get("lowered"):
        return True
    return EFFECT_RANK[new.effect] >= EFFECT_RANK.get(str(current.get("effect")), 0)


def risk_check_message(*, message: Message) -> list[RiskFlag]:
    """Run the unit's rules on a client's message just stored. A hit writes a RiskFlag
    each; "raise to urgent" lifts a normal conversation to urgent (the front of the queue);
    the conversation's `risk` shows the strongest. After commit: the queue is announced,
    `risk.flagged` goes to the staff in the conversation and, when it raised or alerts, to
    the unit's supervisors. A message without a phrase costs no statement."""
    if message.sender != Message.Sender.CLIENT or not message.body:
        return []
    unit_id = message.conversation.unit_id
    hits = risk_matcher_for(unit_id=unit_id).find(message.body)[:MAX_FLAGS]
    if not hits:
        return []
    text = message.body
    with transaction.atomic():
        # The row lock: a worker's lowering and this raising do not cross.
        locked = (
            Conversation.objects.select_for_update()
            .filter(pk=message.conversation_id, state__in=Conversation.OPEN_STATES)
            .first()
        )
        if locked is None or locked.unit_id != unit_id:
            return []  # ended, or moved to another unit's rules meanwhile
        flags = []
        raise_now = locked.priority < Conversation.Priority.URGENT
        for hit in hits:
            effect = _effect(hit)
            flags.append(
                RiskFlag(
                    conversation=locked,
                    unit_id=unit_id,
                    rule_id=hit.rule_id,
                    rule_label=hit.label,
                    action=hit.action,
                    effect=effect,
                    held=hit.held,
                    raised=raise_now and effect == RiskFlag.Effect.URGENT,
                    phrase=hit.phrase[:200],
                    matched=hit.matched[:200],
                    seq=message.seq,
                )
            )
            if flags[-1].raised:
                raise_now = False
        flags = RiskFlag.objects.bulk_create(flags)
        by_flag = dict(zip((id(f) for f in flags), hits, strict=True))
        strongest = max(flags, key=lambda f: EFFECT_RANK[f.effect])
        fields = []
        if any(flag.raised for flag in flags):
            locked.priority = Conversation.Priority.URGENT
            fields.append("priority")
        if _stronger(strongest, locked.risk):
            hit = by_flag[id(strongest)]
            locked.risk = risk_payload(strongest, text, start=hit.start, end=hit.end)
            fields.append("risk")
        if fields:
            locked.save(update_fields=fields)
        _announce(locked, strongest, raised="priority" in fields, lowered=False)
    return flags


def _announce(
    conversation: Conversation, flag: RiskFlag | None, *, raised: bool, lowered: bool
) -> None:
    event = realtime.risk_event(conversation, raised=raised, lowered=lowered)
    realtime.publish_on_commit(realtime.conversation_staff_group(conversation.pk), event)
    to_supervisors = lowered or raised
    if flag is not None and flag.effect in (RiskFlag.Effect.URGENT, RiskFlag.Effect.ALERT):
        to_supervisors = True
    if to_supervisors:
        realtime.publish_on_commit(realtime.unit_supervisors_group(conversation.unit_id), event)
    # As chat.services.queue.queue_announce: the rows carry the risk.
    transaction.on_commit(partial(announce.unit_changed, conversation.unit_id))


# --- a worker lowers it again ---------------------------------------------------------
def risk_lower(*, conversation_id: int, actor: User, reason: str) -> RiskOverride:
    """A worker of the unit (or the conversation's own) lowers a conversation the rules
    raised back to normal, with a reason that goes into the audit trail. Raises
    `InvalidInput` without a reason, `Conflict` when there is nothing to lower."""
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX or "\x00" in reason:
        raise InvalidInput(f"a reason of at most {REASON_MAX} characters", code="risk_reason")
    with transaction.atomic():
        locked = require(
            actor,
            "chat.lower_risk",
            Conversation.objects.select_for_update().filter(pk=conversation_id).first(),
            hide=True,
        )
        if not locked.is_open:
            raise Conflict("the conversation has ended")
        if not locked.risk or locked.risk.get("lowered"):
            raise Conflict("the risk rules have not raised this conversation", code="not_raised")
        override = RiskOverride.objects.create(
            conversation=locked,
            actor=actor,
            actor_name=actor.display_name,
            reason=reason,
            from_priority=locked.priority,
        )
        locked.priority = Conversation.Priority.NORMAL
        locked.risk = {
            **locked.risk,
            "lowered": {
                "by": actor.pk,
                "by_name": actor.display_name,
                "reason": reason,
                "at": timezone.now().isoformat(),
            },
        }
        locked.save(update_fields=["priority", "risk"])
        _announce(locked, None, raised=False, lowered=True)
    return override


def risk_forget_words(*, conversation_ids: list[int]) -> None:
    """The retention purge: the client's words go from the flags and the conversation's
    `risk`; which rule fired, when and what it did stay for statistics."""
    RiskFlag.objects.filter(conversation_id__in=conversation_ids).update(matched="")
    Conversation.objects.filter(pk__in=conversation_ids).exclude(risk={}).update(risk={})


def risk_check_message_safely(*, message: Message) -> list[RiskFlag]:
    """`risk_check_message` for the message path: a fault in the rules never loses or
    refuses the client's message, which is already stored (the check's own savepoint is
    rolled back); it is logged, without the text."""
    try:
        return risk_check_message(message=message)
    except Exception:
        log.exception("risk rules failed on conversation %s", message.conversation_id)
        return []
