"""Who may do what: the one permission mechanism, used by services, views and consumers.

Every permission is a `rules` predicate over (user, object). Services call `require()`
before they act; the role x action table in docs/security.md is this file in words.
Superusers get no bypass here: social-services secrecy applies to administrators too.
"""

from __future__ import annotations

from typing import Any, TypeVar

import rules

from accounts.models import Unit, User
from chat.errors import NotAllowed, NotFound

T = TypeVar("T")


@rules.predicate
def is_console_user(user: User) -> bool:
    return bool(user.is_authenticated and user.works_in_console)


@rules.predicate
def is_supervisor(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_supervisor)


@rules.predicate
def is_administrator(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.role == User.Role.ADMIN)


@rules.predicate
def is_assigned(user: User, conversation: Any) -> bool:
    return conversation is not None and conversation.worker_id == user.pk


@rules.predicate
def is_in_conversation_unit(user: User, conversation: Any) -> bool:
    return conversation is not None and user.units.filter(pk=conversation.unit_id).exists()


@rules.predicate
def is_unit_member(user: User, unit: Unit | None) -> bool:
    return unit is not None and user.units.filter(pk=unit.pk).exists()


@rules.predicate
def is_interpreter(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.role == User.Role.INTERPRETER)


@rules.predicate
def is_present_participant(user: User, conversation: Any) -> bool:
    return (
        conversation is not None
        and conversation.participants.filter(
            user=user, joined_at__isnull=False, left_at__isnull=True
        ).exists()
    )


@rules.predicate
def is_present_colleague(user: User, conversation: Any) -> bool:
    return (
        conversation is not None
        and conversation.participants.filter(
            user=user, role="colleague", joined_at__isnull=False, left_at__isnull=True
        ).exists()
    )


@rules.predicate
def supervises_conversation(user: User, conversation: Any) -> bool:
    return bool(user.is_supervisor) and is_in_conversation_unit(user, conversation)


@rules.predicate
def is_case_owner(user: User, case: Any) -> bool:
    return case is not None and case.owner_id == user.pk


@rules.predicate
def is_in_case_unit(user: User, case: Any) -> bool:
    return case is not None and user.units.filter(pk=case.unit_id).exists()


@rules.predicate
def is_named_if_protected(user: User, case: Any) -> bool:
    return case is not None and (not case.protected or case.named_staff.filter(pk=user.pk).exists())


@rules.predicate
def is_offered_to(user: User, handover: Any) -> bool:
    return handover is not None and handover.to_worker_id == user.pk


@rules.predicate
def is_self(user: User, worker: User | None) -> bool:
    return worker is not None and worker.pk == user.pk


@rules.predicate
def shares_a_unit(user: User, worker: User | None) -> bool:
    return worker is not None and user.units.filter(pk__in=worker.units.values("pk")).exists()


@rules.predicate
def is_partner(user: User) -> bool:
    return bool(user.is_authenticated and user.is_partner)


@rules.predicate
def is_own_organisation(user: User, obj: Any) -> bool:
    """A referral, or a partner place, of the partner's own organisation."""
    if obj is None:
        return False
    organisation_id = getattr(obj, "organisation_id", None)
    if organisation_id is None and getattr(obj, "place", None) is not None:
        organisation_id = obj.place.organisation_id
    return organisation_id is not None and organisation_id == user.partner_organisation_id


PERMISSIONS = {
    # The console and the dashboard as a whole.
    "chat.use_console": is_console_user,
    "chat.view_dashboard": is_supervisor,
    # A conversation: staff of its unit read it (unit secrecy), and so do those invited into
    # it (from their joining on); its worker and the invited write; its worker ends it.
    "chat.read_conversation": (
        is_console_user & (is_assigned | is_in_conversation_unit | is_present_participant)
    )
    | (is_interpreter & is_present_participant),
    "chat.accept_conversation": is_console_user & is_in_conversation_unit,
    "chat.write_conversation": (is_console_user & (is_assigned | is_present_colleague))
    | (is_interpreter & is_present_participant),
    "chat.end_conversation": is_console_user & is_assigned,
    # Private notes: staff in the conversation and the unit's supervisors; never interpreters.
    "chat.private_notes": is_console_user
    & (is_assigned | is_present_colleague | supervises_conversation),
    # Handover and invitations are the worker's; an offer is answered by whom it names.
    "chat.hand_over": is_console_user & is_assigned,
    "chat.answer_handover": is_console_user & is_offered_to,
    "chat.invite": is_console_user & is_assigned,
    # The queue: supervisors of the conversation's unit, and of the unit it moves to.
    "chat.manage_waiting": is_supervisor & is_in_conversation_unit,
    "chat.receive_moved": is_supervisor & is_unit_member,
    # Presence: a worker's own status; a supervisor's for staff of their units.
    "accounts.set_presence": is_console_user & (is_self | (is_supervisor & shares_a_unit)),
    "accounts.set_capacity": is_supervisor & shares_a_unit & ~is_self,
    # The read-access log of the supervisor's units.
    "chat.review_access_log": is_supervisor,
    # Statistics: supervisors for their units, administrators for all (aggregates only).
    "chat.view_statistics": is_supervisor | is_administrator,
    # One's own figures (chats, handling, follow-up, survey): everyone who works in the
    # console, about themselves only.
    "chat.view_own_statistics": is_console_user,
    # Minimum staffing and the priority list of a unit: its supervisors.
    "chat.manage_staffing": is_supervisor & is_unit_member,
    # A case: its owner and the staff of its unit (unit secrecy), never an interpreter; a
    # protected case only the staff named on it.
    "chat.manage_case": is_console_user & (is_case_owner | is_in_case_unit) & is_named_if_protected,
    # Canned replies: the unit's are managed by its supervisors.
    "chat.manage_unit_replies": is_supervisor & is_unit_member,
    # Risk rules: the unit's are kept by its supervisors; a conversation the rules raised is
    # lowered again (with a reason) by its worker or staff of its unit.
    "chat.manage_risk_rules": is_supervisor & is_unit_member,
    "chat.lower_risk": is_console_user & (is_assigned | is_in_conversation_unit),
    # Partner staff send referrals and read their organisation's receipts (when, not what);
    # they never read a conversation or case: no rule above lets a partner in.
    "chat.refer": is_partner,
    "chat.view_referral_receipt": is_partner & is_own_organisation,
    # Posters: a unit's by its staff, a partner place's by that partner's staff.
    "chat.print_unit_poster": is_console_user & is_unit_member,
    "chat.print_place_poster": is_partner & is_own_organisation,
}

for _name, _predicate in PERMISSIONS.items():
    rules.add_perm(_name, _predicate)


def can(user: Any, permission: str, obj: object = None) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return rules.has_perm(permission, user, obj)


def require(user: Any, permission: str, obj: T | None = None, *, hide: bool = False) -> T:
    """Raise unless `user` has `permission` on `obj`, and return `obj`. `hide=True` answers
    NotFound, so a refused reader learns nothing about whether the object exists. Every
    object permission refuses None, so what comes back is never None."""
    if not can(user, permission, obj):
        if hide:
            raise NotFound("not found")
        raise NotAllowed(f"not allowed: {permission}")
    return obj  # type: ignore[return-value]
