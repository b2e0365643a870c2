"""Journal-ready transcripts: what a conversation held, as plain text for the
municipality's case system. Text is text: nothing here is HTML.

Every piece of user text (messages, notes, names, handover notes) is wrapped line by line in
FIRST STRONG ISOLATE ... POP DIRECTIONAL ISOLATE, so a right-to-left override typed into it
reorders nothing around it, in a text editor as on the printable page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from chat.models import Call, Conversation, Handover, Message, Participant, PrivateNote

FSI = "\u2068"  # FIRST STRONG ISOLATE
PDI = "\u2069"  # POP DIRECTIONAL ISOLATE


def isolate(text: str) -> str:
    """`text` with each line isolated for direction; a line break ends every isolate, so
    each line gets its own pair. Empty lines stay empty."""
    return "\n".join(f"{FSI}{line}{PDI}" if line else "" for line in text.splitlines())


@dataclass
class Transcript:
    conversation: Conversation
    messages: list[Message]
    handovers: list[Handover] = field(default_factory=list)
    participants: list[Participant] = field(default_factory=list)
    notes: list[PrivateNote] = field(default_factory=list)
    for_client: bool = False


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "-"


def sender_label(message: Message, *, for_client: bool) -> str:
    if message.sender == Message.Sender.CLIENT:
        return _("You") if for_client else _("Client")
    if message.sender == Message.Sender.INTERPRETER:
        return _("Interpreter")
    if message.sender == Message.Sender.WORKER:
        if for_client or message.author is None:
            return _("Social worker")
        return isolate(message.author.display_name)
    return ""


def message_text(message: Message, *, for_client: bool) -> str:
    if message.sender == Message.Sender.SYSTEM and message.event == Message.Event.CALL:
        return call_text(message.body)
    if message.sender == Message.Sender.SYSTEM:
        return str(Message.Event(message.event).label) if message.event else ""
    return message.body


def call_event_parts(body: str) -> tuple[str, str, int]:
    """A call event's body (chat/services/calls.py `call_event_body`) read back: (media,
    outcome, seconds); outcome is "answered", "declined" or "unanswered"."""
    media, _space, outcome = body.partition(" ")
    if outcome.isascii() and outcome.isdigit():
        return media, "answered", int(outcome)
    return media, outcome if outcome == "declined" else "unanswered", 0


def call_text(body: str) -> str:
    """A call in the history: its medium, and how long it lasted or how it went."""
    media, outcome, seconds = call_event_parts(body)
    video = media == Call.Media.VIDEO
    if outcome == "declined":
        return _("Video call, declined.") if video else _("Voice call, declined.")
    if outcome == "unanswered":
        return _("Video call, not answered.") if video else _("Voice call, not answered.")
    minutes, seconds = divmod(seconds, 60)
    length = (
        _("%(minutes)d min %(seconds)d s") % {"minutes": minutes, "seconds": seconds}
        if minutes
        else _("%(seconds)d s") % {"seconds": seconds}
    )
    return (_("Video call, %(length)s.") if video else _("Voice call, %(length)s.")) % {
        "length": length
    }


def entries(transcript: Transcript) -> list[dict[str, Any]]:
    """Messages and (when included) private notes in thread order, ready to show."""
    rows: list[dict[str, Any]] = []
    notes = sorted(transcript.notes, key=lambda n: (n.after_seq, n.created_at))
    position = 0
    for message in transcript.messages:
        while position < len(notes) and notes[position].after_seq < message.seq:
            rows.append(_note_row(notes[position]))
            position += 1
        rows.append(
            {
                "at": message.created_at,
                "who": sender_label(message, for_client=transcript.for_client),
                "text": message_text(message, for_client=transcript.for_client),
                "system": message.sender == Message.Sender.SYSTEM,
                "note": False,
            }
        )
    rows.extend(_note_row(n) for n in notes[position:])
    return rows


def _note_row(note: PrivateNote) -> dict[str, Any]:
    return {
        "at": note.created_at,
        "who": _("Private note, %(author)s") % {"author": isolate(note.author.display_name)},
        "text": note.body,
        "system": False,
        "note": True,
    }


def transcript_text(transcript: Transcript) -> str:
    c = transcript.conversation
    lines = [
        _("Chat transcript"),
        "",
        f"{_('Unit')}: {c.unit.name}",
        f"{_('Conversation')}: {c.pk}"
        + (f"   {_('Case')}: {c.case_id}" if not transcript.for_client else ""),
        f"{_('Started')}: {_when(c.created_at)}",
        f"{_('Ended')}: {_when(c.ended_at)}",
    ]
    if not transcript.for_client:
        if c.worker is not None:
            lines.append(f"{_('Social worker')}: {isolate(c.worker.display_name)}")
        for p in transcript.participants:
            name = isolate(p.user.display_name) if p.user else _("external")
            lines.append(f"{p.get_role_display().capitalize()}: {name}")
        for h in transcript.handovers:
            target = isolate(h.to_worker.display_name) if h.to_worker else h.to_unit.name
            lines.append(
                f"{_('Handover')} {_when(h.created_at)}: "
                f"{isolate(h.from_worker.display_name)} -> {target}"
                f" ({h.get_state_display()}): {isolate(h.note)}"
            )
    lines += ["", "-" * 60, ""]
    for row in entries(transcript):
        prefix = f"[{timezone.localtime(row['at']):%H:%M}]"
        if row["system"]:
            lines.append(f"{prefix} -- {row['text']}")
        else:
            lines.append(f"{prefix} {row['who']}:")
            lines.extend("    " + line for line in isolate(row["text"]).split("\n"))
    return "\n".join(lines) + "\n"
