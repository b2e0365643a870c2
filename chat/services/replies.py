from __future__ import annotations

from django.db import transaction

from accounts.models import Unit, User
from chat.errors import InvalidInput, NotFound
from chat.models import CannedReply
from chat.permissions import require

TITLE_MAX = 80
BODY_MAX = 4000


def _clean(title: str, body: str) -> tuple[str, str]:
    if not title.strip() or len(title) > TITLE_MAX or "\x00" in title:
        raise InvalidInput(f"a title of at most {TITLE_MAX} characters")
    if not body.strip() or len(body) > BODY_MAX or "\x00" in body:
        raise InvalidInput(f"a text of at most {BODY_MAX} characters")
    return title.strip(), body.strip()


def canned_reply_save(
    *,
    actor: User,
    title: str,
    body: str,
    language: CannedReply.Language,
    unit: Unit | None = None,
    reply: CannedReply | None = None,
) -> CannedReply:
    """Create or change a snippet: the unit's (its supervisors only) or the actor's own."""
    clean_title, clean_body = _clean(title, body)
    if reply is not None:
        unit = reply.unit
        if reply.owner_id not in (None, actor.pk):
            raise NotFound("no such reply")
    if unit is not None:
        require(actor, "chat.manage_unit_replies", unit)
    else:
        require(actor, "chat.use_console")
    with transaction.atomic():
        reply = reply or CannedReply(unit=unit, owner=None if unit else actor)
        reply.title, reply.body, reply.language = clean_title, clean_body, language
        reply.save()
    return reply


def canned_reply_delete(*, actor: User, reply: CannedReply) -> None:
    if reply.unit is not None:
        require(actor, "chat.manage_unit_replies", reply.unit)
    elif reply.owner_id != actor.pk:
        raise NotFound("no such reply")
    reply.delete()
