"""Cases and follow-up: a client's matter across meetings, the case code that brings an
anonymous client back, follow-up questions both ways, questions left outside opening
hours, and the post-chat survey."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Unit, User
from chat import realtime, selectors
from chat.errors import ChatError, Conflict, InvalidInput, NotFound
from chat.models import Case, ClientRecord, Conversation, FollowUp, Message, SurveyAnswer
from chat.parsing import in_range
from chat.permissions import require
from chat.ratelimit import abusive, count_one, counted, strike
from chat.services.messages import message_append, message_clean_body

# No 0/O, 1/I/L: nothing to mistake when reading a code off paper or a screen.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_GROUPS, CODE_GROUP_LENGTH = 3, 4
# 12 characters of 31: 12 * log2(31) = 59.4 bits. With the limits below (a few tries an
# hour per address, a lockout per code) guessing any one case is out of reach.
CODE_ENTROPY_BITS = CODE_GROUPS * CODE_GROUP_LENGTH * math.log2(len(CODE_ALPHABET))
QUESTION_MAX_LENGTH = 2000
CHOICES_MAX = 6
CHOICE_MAX_LENGTH = 100
RATING_MIN, RATING_MAX = 1, 5  # the survey's stars (the table's check constraint)


# --- case codes ------------------------------------------------------------------------------
def case_code_normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def case_code_hash(code: str) -> str:
    """Keyed, so a copy of the database alone is no help in guessing codes offline."""
    key = (settings.CASE_CODE_PEPPER or settings.SECRET_KEY).encode()
    return hmac.new(key, case_code_normalise(code).encode(), hashlib.sha256).hexdigest()


def _new_code() -> str:
    groups = [
        "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH))
        for _ in range(CODE_GROUPS)
    ]
    return "-".join(groups)


def case_issue_code(*, case: Case) -> str:
    """A new code for the case, returned once and stored only as a hash; an older code
    stops working. Never sent by e-mail or SMS: the client reads it off the screen."""
    for _attempt in range(5):
        code = _new_code()
        digest = case_code_hash(code)
        if not Case.objects.filter(code_hash=digest).exists():
            Case.objects.filter(pk=case.pk).update(code_hash=digest, code_created_at=timezone.now())
            return code
    raise Conflict("could not make a unique code")  # pragma: no cover - 59 bits


def case_open_by_code(*, code: str, address: str) -> Case:
    """The case a code opens. Wrong codes are counted per code and per address: after
    CASE_CODE_TRIES of them a code opens nothing, and after CASE_CODE_ADDRESS_TRIES (or
    CASE_CODE_TRIES, once the address has shown abuse) nothing opens from that address,
    until the lockout has passed. Reaching the address ceiling is a strike against the
    address. Every refusal looks the same, so a guesser learns nothing; a client who opens
    their case again and again is never locked out by it."""
    window = settings.CASE_CODE_LOCKOUT_SECONDS
    tries = settings.CASE_CODE_TRIES
    normalised = case_code_normalise(code)
    digest = case_code_hash(normalised) if normalised else ""
    refused = ChatError("we could not open a case with that code", code="code_refused")
    address_key, code_key = f"casecode:tries:{address}", f"casecode:code:{digest}"
    wrong_from_address = counted(address_key)
    if wrong_from_address >= settings.CASE_CODE_ADDRESS_TRIES or (
        wrong_from_address >= tries and abusive(address)
    ):
        raise refused
    if digest and counted(code_key) >= tries:
        raise refused
    case = Case.objects.filter(code_hash=digest).first() if digest else None
    if case is None:
        if count_one(address_key, timeout=window) == settings.CASE_CODE_ADDRESS_TRIES:
            strike(address)
        if digest:
            count_one(code_key, timeout=window)
        raise refused
    return case


# --- cases --------------------------------------------------------------------------------
def case_open_for_new_conversation(
    *, unit: Unit, case: Case | None = None, client: ClientRecord | None = None
) -> Case:
    """The case a new conversation belongs to: the client's returning case; an identified
    client's case with the unit (their latest, opened again if closed; made on their first
    chat with the unit); or a new one for a new anonymous client."""
    if case is None and client is not None and client.is_identified:
        case = Case.objects.filter(client=client, unit=unit).order_by("-created_at").first()
        if case is None:
            return Case.objects.create(client=client, unit=unit)
    if case is not None:
        if case.unit_id != unit.pk:
            raise InvalidInput("a returning client's chat belongs to their case's unit")
        if case.status == Case.Status.CLOSED:
            case.status = Case.Status.OPEN
            case.closed_at = None
            case.save(update_fields=["status", "closed_at"])
        return case
    return Case.objects.create(client=ClientRecord.objects.create(), unit=unit)


def case_for_transfer(*, case: Case, unit: Unit) -> Case:
    """A conversation that moves to another unit continues on the same client's case with
    that unit (a case is one client's matter with one unit), so the receiving unit's
    follow-ups, notes and secrecy stay its own."""
    if case.unit_id == unit.pk:
        return case
    existing = (
        Case.objects.filter(client_id=case.client_id, unit=unit, status=Case.Status.OPEN)
        .order_by("-created_at")
        .first()
    )
    return existing or Case.objects.create(client_id=case.client_id, unit=unit)


def case_issue_code_for_client(*, token: str) -> str:
    conversation = selectors.conversation_get_for_client(token=token)
    return case_issue_code(case=conversation.case)


def case_close(*, case: Case, actor: User) -> None:
    require(actor, "chat.manage_case", case)
    Case.objects.filter(pk=case.pk).update(status=Case.Status.CLOSED, closed_at=timezone.now())


def case_protect(*, case: Case, actor: User, named: Sequence[User] = ()) -> Case:
    """Mark a case protected (skyddade personuppgifter), or name more staff on a protected
    case. From then on only the staff named on it open the case and read its history, and
    every read is flagged for review. Whoever marks it is named, and so is its owner;
    `named` may add staff of the case's unit, nobody else."""
    require(actor, "chat.manage_case", case)
    for user in named:
        if not user.units.filter(pk=case.unit_id).exists():
            raise InvalidInput("only staff of the case's unit can be named on it")
    with transaction.atomic():
        Case.objects.filter(pk=case.pk).update(protected=True)
        case.protected = True
        people = {actor, *named}
        if case.owner is not None:
            people.add(case.owner)
        case.named_staff.add(*people)
    return case


# --- follow-up ------------------------------------------------------------------------------
@dataclass(frozen=True)
class FollowUpQuestion:
    """A question a worker leaves for the client as they end a meeting, with its quick
    answers (chat/consumers/console.py parses it from the `end` frame)."""

    body: str
    choices: tuple[str, ...] = ()
    # The same quick answers in the client's language, {language: [...]} (followup_ask).
    translated_choices: Mapping[str, Sequence[str]] = field(default_factory=dict)


def _clean_question(body: str) -> str:
    if not body.strip():
        raise InvalidInput("a question needs text")
    if len(body) > QUESTION_MAX_LENGTH or "\x00" in body:
        raise InvalidInput(f"at most {QUESTION_MAX_LENGTH} characters")
    return body.strip()


def _clean_choices(choices: Sequence[str]) -> list[str]:
    if len(choices) > CHOICES_MAX:
        raise InvalidInput(f"at most {CHOICES_MAX} quick answers")
    clean = [c.strip() for c in choices]
    if not all(clean) or any(len(c) > CHOICE_MAX_LENGTH for c in clean):
        raise InvalidInput("quick answers are short texts")
    return clean


def _clean_translated_choices(
    translated: Mapping[str, Sequence[str]], choices: list[str]
) -> dict[str, list[str]]:
    """Quick answers in other client languages: each list as long as the Swedish one and in
    its order; an empty list (not given in that language) is left out."""
    languages = {code for code, _name in settings.CLIENT_LANGUAGES} - {"sv"}
    clean: dict[str, list[str]] = {}
    for language, texts in translated.items():
        if not texts:
            continue
        if language not in languages:
            raise InvalidInput("quick answers in an unknown language")
        texts = _clean_choices(texts)
        if len(texts) != len(choices):
            raise InvalidInput("give every quick answer in each language, in the same order")
        clean[language] = texts
    return clean


def _announce(followup: FollowUp) -> None:
    realtime.publish_on_commit(
        realtime.unit_staff_group(followup.case.unit_id), realtime.followup_event(followup)
    )


def followup_ask(
    *,
    case: Case,
    actor: User,
    body: str,
    choices: Sequence[str] = (),
    translated_choices: Mapping[str, Sequence[str]] | None = None,
    conversation: Conversation | None = None,
) -> FollowUp:
    """A worker asks the client a follow-up question on the case; the quick answers in
    Swedish, and optionally in other client languages (shown to a client who reads the
    case in one; FollowUp.quick_answers)."""
    require(actor, "chat.manage_case", case)
    clean_choices = _clean_choices(choices)
    followup = FollowUp.objects.create(
        case=case,
        conversation=conversation,
        kind=FollowUp.Kind.TO_CLIENT,
        body=_clean_question(body),
        choices=clean_choices,
        translated_choices=_clean_translated_choices(translated_choices or {}, clean_choices),
        asked_by=actor,
    )
    _announce(followup)
    return followup


def followup_client_answer(*, case: Case, followup_id: int, answer: str) -> FollowUp:
    """The returning client answers a question put to them: a quick answer or own words."""
    text = _clean_question(answer)
    with transaction.atomic():
        followup = (
            FollowUp.objects.select_for_update()
            .filter(pk=followup_id, case=case, kind=FollowUp.Kind.TO_CLIENT)
            .first()
        )
        if followup is None:
            raise NotFound("no such question")
        if followup.is_answered:
            raise Conflict("already answered")
        followup.answer = text
        followup.answered_at = timezone.now()
        followup.save(update_fields=["answer", "answered_at"])
        _announce(followup)
    return followup


def followup_client_ask(
    *, case: Case, body: str, conversation: Conversation | None = None
) -> FollowUp:
    """The client asks the unit a question on their case."""
    followup = FollowUp.objects.create(
        case=case,
        conversation=conversation,
        kind=FollowUp.Kind.FROM_CLIENT,
        body=_clean_question(body),
    )
    _announce(followup)
    return followup


def followup_worker_answer(*, followup: FollowUp, actor: User, answer: str) -> FollowUp:
    """A worker answers a client's question; the client sees it when they come back."""
    text = _clean_question(answer)
    with transaction.atomic():
        locked = FollowUp.objects.select_for_update().select_related("case").get(pk=followup.pk)
        require(actor, "chat.manage_case", locked.case)
        if locked.kind != FollowUp.Kind.FROM_CLIENT:
            raise InvalidInput("only a client's question is answered here")
        if locked.is_answered:
            raise Conflict("already answered")
        locked.answer = text
        locked.answered_by = actor
        locked.answered_at = timezone.now()
        locked.save(update_fields=["answer", "answered_by", "answered_at"])
        _announce(locked)
    return locked


def followup_remind_waiting_long(*, now: datetime | None = None) -> int:
    """Clients' questions unanswered for FOLLOWUP_REMINDER_DAYS get their reminder recorded
    (`reminded_at`), once each: the inbox marks them as waiting long, and the statistics
    count the reminders. Returns how many were reminded now."""
    now = now or timezone.now()
    return FollowUp.objects.filter(
        kind=FollowUp.Kind.FROM_CLIENT,
        answered_at__isnull=True,
        reminded_at__isnull=True,
        created_at__lt=selectors.followup_reminder_cutoff(now=now),
    ).update(reminded_at=now)


def followup_mark_read(*, case: Case) -> None:
    """The returning client has seen the answers to their questions."""
    FollowUp.objects.filter(
        case=case, kind=FollowUp.Kind.FROM_CLIENT, answered_at__isnull=False, read_at__isnull=True
    ).update(read_at=timezone.now())


# --- outside opening hours -------------------------------------------------------------------
def conversation_leave_question(
    *,
    unit_id: int,
    token: str,
    body: str,
    client_id: uuid.UUID,
    case: Case | None = None,
) -> tuple[Conversation, bool]:
    """When the unit is closed or nobody is available, the client leaves a question. It is
    stored as an `offline` conversation on a case and lands in the unit's follow-up inbox.
    A repeat with the same token finds the same conversation."""
    if not selectors.TOKEN_PATTERN.fullmatch(token):
        raise InvalidInput("token must be 43 base64url characters")
    clean_body = message_clean_body(body)
    existing = Conversation.objects.filter(token_hash=selectors.token_hash(token)).first()
    if existing is not None:
        return existing, False
    unit = Unit.objects.filter(pk=unit_id, is_active=True).first()
    if unit is None:
        raise NotFound("no such unit")
    with transaction.atomic():
        now = timezone.now()
        conversation = Conversation.objects.create(
            unit=unit,
            case=case_open_for_new_conversation(unit=unit, case=case),
            token_hash=selectors.token_hash(token),
            state=Conversation.State.OFFLINE,
            queued_at=now,
            ended_at=now,
            ended_by=Conversation.EndedBy.CLIENT,
        )
        message_append(
            conversation, sender=Message.Sender.CLIENT, body=clean_body, client_id=client_id
        )
        followup_client_ask(case=conversation.case, body=clean_body, conversation=conversation)
    return conversation, True


# --- the post-chat survey ---------------------------------------------------------------------
@dataclass(frozen=True)
class SurveyReply:
    """The client's answers to the post-chat survey, each optional (chat/consumers/client.py
    parses them from the `survey` frame)."""

    helped: SurveyAnswer.Helped | None = None
    rating: int | None = None
    comment: str = ""


def survey_submit(*, token: str, answers: SurveyReply) -> SurveyAnswer:
    """The client's optional answers after a meeting, once per conversation."""
    conversation = selectors.conversation_get_for_client(token=token)
    if conversation.state != Conversation.State.ENDED or conversation.accepted_at is None:
        raise Conflict("the survey comes after a meeting")
    if answers.rating is not None:
        in_range(answers.rating, minimum=RATING_MIN, maximum=RATING_MAX, name="rating")
    comment = answers.comment
    if len(comment) > QUESTION_MAX_LENGTH or "\x00" in comment:
        raise InvalidInput(f"the comment is text of at most {QUESTION_MAX_LENGTH} characters")
    survey, _created = SurveyAnswer.objects.update_or_create(
        conversation=conversation,
        defaults={
            "helped": answers.helped or "",
            "rating": answers.rating,
            "comment": comment.strip(),
        },
    )
    return survey
