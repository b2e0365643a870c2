"""Risk rules and what they found: the rules a supervisor keeps, a conversation's audit
trail, and flags per rule for statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from accounts.models import Unit, User
from chat.models import Conversation, RiskFlag, RiskOverride, RiskRule
from chat.permissions import can


def risk_units_managed(*, user: User) -> list[Unit]:
    """The units whose risk rules `user` keeps (supervisors, their own units)."""
    return [
        unit for unit in user.units.order_by("name") if can(user, "chat.manage_risk_rules", unit)
    ]


def risk_rule_list(*, units: list[Unit]) -> QuerySet[RiskRule]:
    return RiskRule.objects.filter(unit__in=units).select_related("unit", "updated_by")


def risk_rule_get_for(*, user: User, rule_id: int) -> RiskRule | None:
    """One of the rules `user` keeps, else None (another unit's rule is not theirs)."""
    return risk_rule_list(units=risk_units_managed(user=user)).filter(pk=rule_id).first()


@dataclass(frozen=True)
class RiskTrailEntry:
    """One line of a conversation's risk audit trail: automatic (a flag) or a lowering."""

    at: datetime
    kind: str  # "flag" | "lowered"
    detail: dict[str, Any]
    item: RiskFlag | RiskOverride


def risk_trail(*, conversation: Conversation) -> list[RiskTrailEntry]:
    """Every automatic change and every lowering of the conversation, oldest first. The
    caller has checked that the reader may read the conversation."""
    entries = [
        RiskTrailEntry(
            at=flag.created_at,
            kind="flag",
            detail={
                "rule": flag.rule_label,
                "effect": flag.effect,
                "held": flag.held,
                "raised": flag.raised,
                "matched": flag.matched,
                "seq": flag.seq,
            },
            item=flag,
        )
        for flag in RiskFlag.objects.filter(conversation=conversation, unit_id=conversation.unit_id)
    ]
    entries += [
        RiskTrailEntry(
            at=override.created_at,
            kind="lowered",
            detail={"by": override.actor_name, "reason": override.reason},
            item=override,
        )
        for override in RiskOverride.objects.filter(conversation=conversation)
    ]
    return sorted(entries, key=lambda entry: entry.at)


def risk_alert_list(*, unit_ids: list[int]) -> list[dict[str, Any]]:
    """The open conversations of the units whose risk rules raised them to urgent or alert
    the supervisors, newest first, as `risk.flagged` events carry them: what a dashboard
    shows when it (re)connects."""
    rows = (
        Conversation.objects.filter(unit_id__in=unit_ids, state__in=Conversation.OPEN_STATES)
        .exclude(risk={})
        .values_list("pk", "unit_id", "state", "priority", "risk")
    )
    alerts = [
        {
            "type": "risk.flagged",
            "conversation": pk,
            "unit": unit_id,
            "state": state,
            "priority": priority,
            "raised": False,
            "risk": risk,
        }
        for pk, unit_id, state, priority, risk in rows
        if risk.get("unit") == unit_id
        and risk.get("effect") in (RiskFlag.Effect.URGENT, RiskFlag.Effect.ALERT)
        and not risk.get("held")
    ]
    return sorted(alerts, key=lambda alert: alert["risk"].get("at", ""), reverse=True)


def risk_flag_counts(
    *, unit_ids: list[int], since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Risk flags per rule in the units between `since` and `until` (statistics): for each
    unit and rule (by name, so a removed rule still counts), how many flags, how many
    raised a conversation, alerted, were only marked, and were held back (negated or
    quoted). Counts only, never the client's words."""
    rows = (
        RiskFlag.objects.filter(unit_id__in=unit_ids, created_at__gte=since, created_at__lt=until)
        .values("unit_id", "rule_label")
        .annotate(
            flags=Count("pk"),
            conversations=Count("conversation", distinct=True),
            raised=Count("pk", filter=Q(raised=True)),
            alerted=Count("pk", filter=Q(effect=RiskFlag.Effect.ALERT)),
            marked=Count("pk", filter=Q(effect=RiskFlag.Effect.MARK)),
            held=Count("pk", filter=~Q(held="")),
        )
        .order_by("unit_id", "-flags", "rule_label")
    )
    return [
        {
            "unit": row["unit_id"],
            "rule": row["rule_label"],
            "flags": row["flags"],
            "conversations": row["conversations"],
            "raised": row["raised"],
            "alerted": row["alerted"],
            "marked": row["marked"],
            "held": row["held"],
        }
        for row in rows
    ]
