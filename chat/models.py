from typing import NamedTuple

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import PartnerPlace, Unit


class ClientRecord(models.Model):
    """Who a case belongs to: anonymous (reached only through its case code) or identified
    by an identity provider (e-ID), keyed on the provider's issuer and subject."""

    issuer = models.CharField(max_length=200, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Identified clients only (chat/services/clients.py): the name the provider gave, for
    # staff to address the client; the personal identity number only when the deployment
    # keeps it (EID_STORE_PERSONAL_NUMBER=hash): a keyed hash to find the client by it, and
    # its last four digits to recognise it, never the number itself.
    name = models.CharField(max_length=200, blank=True)
    personal_number_hash = models.CharField(max_length=64, blank=True, db_index=True)
    personal_number_last4 = models.CharField(max_length=4, blank=True)
    last_identified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "subject"],
                condition=~models.Q(subject=""),
                name="client_record_identity_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(issuer="", subject="")
                | (~models.Q(issuer="") & ~models.Q(subject="")),
                name="client_record_issuer_with_subject",
            ),
        ]

    def __str__(self) -> str:
        return "identified client" if self.subject else "anonymous client"

    @property
    def is_identified(self) -> bool:
        return bool(self.subject)


class Case(models.Model):
    """One client's matter with one unit (ärende). It outlives single chats and holds
    conversations, follow-up questions and notes."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        CLOSED = "closed", _("closed")

    client = models.ForeignKey(ClientRecord, on_delete=models.PROTECT, related_name="cases")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="cases")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_cases",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # The client's way back: only a hash of the code they were shown once.
    code_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    code_created_at = models.DateTimeField(null=True, blank=True)
    legal_hold = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Protected identity (skyddade personuppgifter): only the staff named here open the case
    # and read its history; every read is flagged in the access log for review.
    protected = models.BooleanField(default=False)
    named_staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="named_cases"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"case {self.pk}"


class Conversation(models.Model):
    """One live chat meeting (samtal). A transfer keeps the same conversation."""

    class State(models.TextChoices):
        QUEUED = "queued", _("waiting")
        ACTIVE = "active", _("active")
        ENDED = "ended", _("ended")
        ABANDONED = "abandoned", _("left the queue")
        OFFLINE = "offline", _("left as a message")

    OPEN_STATES = (State.QUEUED, State.ACTIVE)

    class Priority(models.IntegerChoices):
        NORMAL = 0, _("normal")
        URGENT = 1, _("urgent")

    class EndedBy(models.TextChoices):
        CLIENT = "client", _("client")
        WORKER = "worker", _("social worker")
        SYSTEM = "system", _("system")

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="conversations")
    # Every conversation belongs to a case (a new anonymous client gets one at the start).
    case = models.ForeignKey("Case", on_delete=models.PROTECT, related_name="conversations")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    # sha256 of the resume token that only the client's browser tab holds.
    token_hash = models.CharField(max_length=64, unique=True)
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_conversations",
    )
    # Highest seq handed out; bumped under the row lock by message_append.
    last_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(help_text="When it entered its current queue.")
    accepted_at = models.DateTimeField(null=True, blank=True)
    # When a worker first took it: the statistics' time to first answer (accepted_at moves
    # on with every handover or return to the queue).
    first_accepted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=10, choices=EndedBy.choices, blank=True)
    # Last sign of life from the client's socket; a waiting client silent for the grace
    # period has left the queue.
    client_seen_at = models.DateTimeField(null=True, blank=True)
    # Kept beyond the retention period (a legal hold); the purge passes it over.
    legal_hold = models.BooleanField(default=False)
    # When the retention purge removed its messages; the row stays for statistics.
    purged_at = models.DateTimeField(null=True, blank=True)
    # Handed over from another unit's worker: waits ahead of normal-priority clients.
    transferred = models.BooleanField(default=False)
    # The client is identified with e-ID (signed in when it started, or stepped up inside
    # it): staff see the mark, and the conversation is on the identified client's case.
    identified = models.BooleanField(default=False)
    # Staff of the conversation's unit read messages with seq above this; raised when a
    # conversation comes from another unit without its history (secrecy between units).
    unit_visible_from_seq = models.PositiveIntegerField(default=0)
    # For "when nobody answers": the last word from each side.
    last_client_message_at = models.DateTimeField(null=True, blank=True)
    last_staff_message_at = models.DateTimeField(null=True, blank=True)
    unanswered_flagged_at = models.DateTimeField(null=True, blank=True)
    # What the risk rules found, as the console and dashboard show it (plain JSON, see
    # chat/services/risk.py `risk_payload`): the strongest flag, and a worker's lowering.
    risk = models.JSONField(default=dict, blank=True)
    # The highest seq its worker has had in view (the console's `seen`): what is above it
    # from the client is unread. Back to 0 when the conversation gets another worker.
    worker_read_seq = models.PositiveIntegerField(default=0)
    # The language of the client's chat page when they started (settings.CLIENT_LANGUAGES),
    # shown to staff so they can invite an interpreter; "" when not known.
    language = models.CharField(max_length=12, blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(state="active") | models.Q(worker__isnull=False),
                name="conversation_active_has_worker",
            ),
        ]
        indexes = [
            models.Index(fields=["unit", "state", "-priority", "-transferred", "queued_at"]),
            # The statistics read a unit's conversations by when they began.
            models.Index(fields=["unit", "created_at"], name="conversation_unit_created"),
        ]

    def __str__(self) -> str:
        return f"conversation {self.pk} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES


class Message(models.Model):
    """A message or a system event in a conversation, numbered by a gapless `seq`."""

    class Sender(models.TextChoices):
        CLIENT = "client", _("client")
        WORKER = "worker", _("social worker")
        INTERPRETER = "interpreter", _("interpreter")
        SYSTEM = "system", _("system")

    class Event(models.TextChoices):
        """System events, labelled as the journal (transcripts, the admin) words them. What
        each reader sees in the browser is worded per reader in thread.js."""

        ACCEPTED = "accepted", _("A social worker joined the chat.")
        ENDED = "ended", _("The chat ended.")
        ABANDONED = "abandoned", _("The client left the queue.")
        MOVED = "moved", _("The conversation was moved to another unit.")
        QUICK_EXIT = "quick_exit", _("The client left with the quick exit.")
        REJOINED = "rejoined", _("The client came back to the queue.")
        HANDOVER_STARTED = "handover_started", _("A handover started.")
        HANDOVER_CANCELLED = "handover_cancelled", _("The handover did not go ahead.")
        HANDOVER_JOINED = "handover_joined", _("Another social worker took over the chat.")
        PARTICIPANT_JOINED = "participant_joined", _("Someone joined the chat.")
        PARTICIPANT_LEFT = "participant_left", _("Someone left the chat.")
        RETURNED = "returned", _("The conversation went back to the queue.")
        WORKER_GONE = (
            "worker_gone",
            _("The social worker went offline; the chat went back to the queue."),
        )
        REFERRED = "referred", _("Partner staff sent an urgent referral (code word).")
        # A call in the conversation: its medium and how it went (chat/services/calls.py
        # `call_event_body`), never its content.
        CALL = "call", _("A call.")
        # Someone besides the two parties joined the call; the body says who ("interpreter").
        CALL_JOINED = "call_joined", _("An interpreter joined the call.")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    seq = models.PositiveIntegerField()
    sender = models.CharField(max_length=12, choices=Sender.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    body = models.TextField(blank=True)
    # The body split into text and link parts (chat/text.py), made once when stored.
    parts = models.JSONField(default=list, blank=True)
    event = models.CharField(max_length=20, choices=Event.choices, blank=True)
    client_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_seq_unique"),
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=models.Q(client_id__isnull=False),
                name="message_client_id_unique",
            ),
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="message_seq_positive"),
        ]

    def __str__(self) -> str:
        return f"message {self.conversation_id}#{self.seq}"


class AccessLogQuerySet(models.QuerySet["AccessLog"]):
    """The rule for a read that stands out, written once: the page shows it
    (`with_stands_out`), the review filter filters on it (`standing_out`)."""

    @staticmethod
    def stands_out_rule() -> models.Q:
        """Up for a supervisor's review: a read of a protected case, or a read by someone
        who took no part. A preview in the queue is the unit's daily work (everyone on duty
        sees who waits), so it stands out only when protected."""
        return models.Q(flagged=True) | (
            models.Q(took_part=False) & ~models.Q(action=AccessLog.Action.READ_PREVIEW)
        )

    def with_stands_out(self) -> "AccessLogQuerySet":
        """Each row with its `stands_out`."""
        rule = models.ExpressionWrapper(self.stands_out_rule(), output_field=models.BooleanField())
        return self.annotate(stands_out=rule)

    def standing_out(self) -> "AccessLogQuerySet":
        return self.filter(self.stands_out_rule())


class AccessLog(models.Model):
    """Append-only record of every staff read of a client's messages or case.

    Conversation, case and unit are plain numbers, not foreign keys, so the record outlives
    what it speaks of; the actor is a protected key (staff accounts are deactivated, never
    deleted).
    The application only inserts; on PostgreSQL a trigger refuses UPDATE and DELETE except
    inside the retention purge (see chat/migrations and chat/services/retention.py).
    """

    class Action(models.TextChoices):
        READ_MESSAGES = "read_messages", _("read the messages")
        READ_TRANSCRIPT = "read_transcript", _("downloaded the transcript")
        READ_CASE = "read_case", _("opened the case")
        READ_PREVIEW = "read_preview", _("saw a waiting client's latest message")
        # Not a read, but as close to one: a call's sound and picture (never stored).
        JOINED_CALL = "joined_call", _("joined a call")

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150)
    unit_id = models.BigIntegerField(db_index=True)
    unit_name = models.CharField(max_length=100)
    conversation_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    case_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    # Did the reader take part (assigned worker) when they read? Other reads stand out.
    took_part = models.BooleanField()
    # A read of a protected case (or of a conversation on one): always up for review.
    flagged = models.BooleanField(default=False)
    request_id = models.UUIDField()

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.conversation_id or self.case_id}"


class PurgeReport(models.Model):
    """What one retention purge removed, and what a legal hold kept."""

    ran_at = models.DateTimeField(auto_now_add=True)
    counts = models.JSONField(default=dict)

    class Meta:
        ordering = ["-ran_at"]

    def __str__(self) -> str:
        return f"purge {self.ran_at:%Y-%m-%d %H:%M}"


class Participant(models.Model):
    """Someone invited into a live conversation besides its worker: a colleague or an
    interpreter (a user, or an external interpreter who came by a single-use link).
    They read messages with seq above `visible_from_seq`: only what was written from
    their joining on."""

    class Role(models.TextChoices):
        COLLEAGUE = "colleague", _("colleague")
        INTERPRETER = "interpreter", _("interpreter")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="participations",
    )
    role = models.CharField(max_length=12, choices=Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    visible_from_seq = models.PositiveIntegerField()
    # External interpreters: the single-use invitation, then the tab's own resume token.
    invitation_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    invitation_used_at = models.DateTimeField(null=True, blank=True)
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "user"],
                condition=models.Q(left_at__isnull=True, user__isnull=False),
                name="participant_once_while_present",
            )
        ]

    def __str__(self) -> str:
        return f"{self.role} in {self.conversation_id}"

    @property
    def is_present(self) -> bool:
        return self.joined_at is not None and self.left_at is None


class Handover(models.Model):
    """A transfer to a named worker or to a unit's queue, with a note the receiver sees
    first. The rows of a conversation are its handover trail."""

    class State(models.TextChoices):
        OFFERED = "offered", _("offered")
        ACCEPTED = "accepted", _("accepted")
        DECLINED = "declined", _("declined")
        EXPIRED = "expired", _("not answered in time")
        QUEUED = "queued", _("sent to the unit's queue")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="handovers"
    )
    from_worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    from_unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    # The case the conversation was on when it was handed over: its timeline keeps the
    # record of where the client went, even after the conversation moved to another case.
    from_case = models.ForeignKey(
        "Case", on_delete=models.PROTECT, null=True, blank=True, related_name="handovers_out"
    )
    to_worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="handovers_received",
    )
    to_unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    note = models.TextField()
    # Between units the sender chooses whether the history goes along or only the note.
    share_history = models.BooleanField()
    at_seq = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices)
    decline_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        # The statistics read a unit's handovers by when they were made.
        indexes = [models.Index(fields=["from_unit", "created_at"], name="handover_unit_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"],
                condition=models.Q(state="offered"),
                name="handover_one_open_offer",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="offered") | models.Q(to_worker__isnull=False),
                name="handover_offer_names_a_worker",
            ),
        ]

    def __str__(self) -> str:
        return f"handover of {self.conversation_id} ({self.state})"


class PrivateNote(models.Model):
    """A note in the thread for the staff in the conversation only. It is not a Message, so
    it never enters the client's seq, socket, resume or transcript."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="private_notes"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    # Shown after the message with this seq.
    after_seq = models.PositiveIntegerField()
    client_id = models.UUIDField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation", "after_seq", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_id"], name="private_note_client_id_unique"
            )
        ]

    def __str__(self) -> str:
        return f"note in {self.conversation_id}"


class CannedReply(models.Model):
    """A snippet for the composer: the unit's (managed by its supervisors) or a worker's own."""

    class Language(models.TextChoices):
        # The client languages (settings.CLIENT_LANGUAGES): a reply in the client's
        # language comes first in the console's list.
        SWEDISH = "sv", _("Swedish")
        EASY_SWEDISH = "sv-x-ll", _("Easy Swedish")
        ENGLISH = "en", _("English")
        FINNISH = "fi", _("Finnish")
        ARABIC = "ar", _("Arabic")
        PERSIAN = "fa", _("Persian")
        SOMALI = "so", _("Somali")
        UKRAINIAN = "uk", _("Ukrainian")

    unit = models.ForeignKey(
        Unit, on_delete=models.CASCADE, null=True, blank=True, related_name="canned_replies"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="canned_replies",
    )
    language = models.CharField(max_length=12, choices=Language.choices, default="sv")
    title = models.CharField(_("title"), max_length=80)
    body = models.TextField(_("text"))

    class Meta:
        ordering = ["title", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(unit__isnull=False, owner__isnull=True)
                    | models.Q(unit__isnull=True, owner__isnull=False)
                ),
                name="canned_reply_unit_or_personal",
            )
        ]

    def __str__(self) -> str:
        return self.title


class QuickAnswer(NamedTuple):
    """One quick answer: the value stored (Swedish), the text shown, and its language
    ("" for the client's own words)."""

    value: str
    label: str
    language: str


class FollowUp(models.Model):
    """A follow-up question on a case (uppföljningsfråga): asked by a worker at or after the
    end of a meeting for the client to answer later, or asked by the client (also a
    question left outside opening hours) for the unit to answer."""

    class Kind(models.TextChoices):
        TO_CLIENT = "to_client", _("question to the client")
        FROM_CLIENT = "from_client", _("question from the client")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="followups")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    body = models.TextField()
    # Quick-answer choices the client can pick (questions to the client only), in Swedish.
    choices = models.JSONField(default=list, blank=True)
    # The same choices in other client languages, as staff gave them: {"ar": [...], ...},
    # each list in the order of `choices` (services.cases.followup_ask checks it).
    translated_choices = models.JSONField(default=dict, blank=True)
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    # The client has seen the answer to their question (shown as new until then).
    read_at = models.DateTimeField(null=True, blank=True)
    # A client's question still unanswered after FOLLOWUP_REMINDER_DAYS: when the timed rule
    # marked it as waiting long in the unit's inbox (the reminder; counted by the statistics).
    reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        # The statistics read questions by when they were asked and answered, and reminders
        # by when they were given.
        indexes = [
            models.Index(fields=["created_at"], name="followup_created"),
            models.Index(fields=["answered_at"], name="followup_answered"),
            models.Index(fields=["reminded_at"], name="followup_reminded"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on case {self.case_id}"

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None

    def quick_answers(self, language: str) -> list[QuickAnswer]:
        """The choices as a client in `language` sees them: the translation staff gave, else
        the Swedish, marked "sv". The value sent back is always the Swedish one, so the
        worker reads the answer in the words they wrote."""
        translated = (self.translated_choices or {}).get(language) or []
        if len(translated) != len(self.choices):
            return [QuickAnswer(choice, choice, "sv") for choice in self.choices]
        return [
            QuickAnswer(choice, label, language)
            for choice, label in zip(self.choices, translated, strict=True)
        ]

    def answer_in(self, language: str) -> QuickAnswer:
        """The client's answer as they see it again: a quick answer in their language."""
        for quick in self.quick_answers(language):
            if quick.value == self.answer:
                return quick
        return QuickAnswer(self.answer, self.answer, "")


class SurveyAnswer(models.Model):
    """The client's optional answers after a meeting. Shown to supervisors in aggregate only."""

    class Helped(models.TextChoices):
        YES = "yes", _("yes")
        PARTLY = "partly", _("partly")
        NO = "no", _("no")

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="survey"
    )
    helped = models.CharField(max_length=6, choices=Helped.choices, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The statistics read answers by when they were given.
        indexes = [models.Index(fields=["created_at"], name="survey_created")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="survey_rating_1_to_5",
            )
        ]

    def __str__(self) -> str:
        return f"survey for {self.conversation_id}"


class RiskRule(models.Model):
    """A unit's risk phrases (Swedish and English, in the notation of chat/risk_match.py)
    and what finding one in a client's message does. Kept by the unit's supervisors."""

    class Action(models.TextChoices):
        URGENT = "urgent", _("raise to urgent")
        ALERT = "alert", _("alert the supervisor")
        MARK = "mark", _("only mark")

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="risk_rules")
    label = models.CharField(_("name"), max_length=80)
    phrases = models.TextField(_("phrases"))
    action = models.CharField(_("what it does"), max_length=6, choices=Action.choices)
    active = models.BooleanField(_("in use"), default=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["unit", "label", "pk"]

    def __str__(self) -> str:
        return self.label


class RiskFlag(models.Model):
    """Append-only: a rule's phrase found in a client's message, and what it did then.
    The automatic half of the risk audit trail (a worker's lowering is a RiskOverride)."""

    class Effect(models.TextChoices):
        URGENT = "urgent", _("raised to urgent")
        ALERT = "alert", _("alerted the supervisors")
        MARK = "mark", _("marked")

    class Held(models.TextChoices):
        NO = "", _("as written")
        NEGATED = "negated", _("negated, so only marked")
        QUOTED = "quoted", _("in quotation marks, so only marked")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="risk_flags"
    )
    unit_id = models.BigIntegerField(db_index=True)
    rule = models.ForeignKey(
        RiskRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="flags"
    )
    rule_label = models.CharField(max_length=80)
    action = models.CharField(max_length=6, choices=RiskRule.Action.choices)
    effect = models.CharField(max_length=6, choices=Effect.choices)
    held = models.CharField(max_length=8, choices=Held.choices, blank=True)
    # Whether this flag moved the conversation (normal to urgent).
    raised = models.BooleanField(default=False)
    phrase = models.CharField(max_length=200)
    # The client's own words that matched; emptied by the retention purge.
    matched = models.CharField(max_length=200, blank=True)
    seq = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.rule_label} in {self.conversation_id}#{self.seq}"


class RiskOverride(models.Model):
    """Append-only: a worker lowered a conversation the risk rules had raised, and why."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="risk_overrides"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150)
    reason = models.TextField()
    from_priority = models.SmallIntegerField(choices=Conversation.Priority.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"lowered {self.conversation_id}"


class Referral(models.Model):
    """An urgent referral from partner staff: a person used the code word at a pharmacy or
    library. It becomes an urgent conversation on a new case in the open referral unit;
    the partner sees only the receipt. Its events are the audit trail."""

    class Contact(models.TextChoices):
        CHAT_NOW = "chat_now", _("Chat now, on this device")
        CALL_BACK = "call_back", _("Call the person on a number, at a safe time")
        SELF = "self", _("The person will make contact themselves")
        POLICE = "police", _("The police have been called")

    class Children(models.TextChoices):
        YES = "yes", _("yes")
        NO = "no", _("no")
        UNKNOWN = "unknown", _("don't know")

    class State(models.TextChoices):
        SENT = "sent", _("sent, waiting for a social worker")
        ACCEPTED = "accepted", _("received by a social worker")
        NO_UNIT_OPEN = "no_unit_open", _("no unit open")

    partner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    place = models.ForeignKey(PartnerPlace, on_delete=models.PROTECT, related_name="referrals")
    contact = models.CharField(max_length=10, choices=Contact.choices)
    phone = models.CharField(max_length=30, blank=True)
    safe_time = models.CharField(max_length=100, blank=True)
    children = models.CharField(max_length=8, choices=Children.choices)
    language = models.CharField(max_length=60, blank=True)
    interpreter = models.BooleanField(default=False)
    note = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=14, choices=State.choices)
    # Where it went (the unit it waits in now) and the conversation it became.
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="referrals"
    )
    conversation = models.OneToOneField(
        Conversation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referral",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    # Escalation: 0 the unit's staff were alerted, 1 its supervisors too; each step after
    # moves it one unit along the chain. The next step is due at `escalate_at`.
    escalation_step = models.PositiveSmallIntegerField(default=0)
    escalate_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Chat now: the person's chat was opened on the partner's device (once only).
    chat_opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(contact="call_back") | ~models.Q(phone=""),
                name="referral_call_back_has_phone",
            ),
            models.CheckConstraint(
                condition=models.Q(state="no_unit_open") | models.Q(conversation__isnull=False),
                name="referral_routed_has_conversation",
            ),
        ]

    def __str__(self) -> str:
        return f"referral {self.pk} ({self.state})"


class ReferralEvent(models.Model):
    """Append-only audit trail of a referral: written in the same transaction as the change
    it records. Unit and actor names are copied so the record reads the same later."""

    class Kind(models.TextChoices):
        SENT = "sent", _("sent by partner staff")
        ROUTED = "routed", _("routed to a unit")
        NO_UNIT_OPEN = "no_unit_open", _("no unit open; the partner was told what to do")
        ESCALATED_SUPERVISORS = "escalated_supervisors", _("escalated to the supervisors")
        ESCALATED_UNIT = "escalated_unit", _("escalated to the next unit in the chain")
        END_OF_CHAIN = "end_of_chain", _("no further unit open in the chain")
        CHAT_OPENED = "chat_opened", _("chat opened on the partner's device")
        ACCEPTED = "accepted", _("accepted by a social worker")

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    unit_id_then = models.BigIntegerField(null=True, blank=True)
    unit_name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} of referral {self.referral_id}"


# --- statistics and staffing ------------------------------------------------------------------
class StaffingSample(models.Model):
    """How one unit was staffed at one moment: taken by the timed sweep once per
    STAFFING_SAMPLE_MINUTES, so the statistics can show staff online and serving per hour
    beside the clients who waited. Counts only: no names, no clients."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="staffing_samples")
    at = models.DateTimeField()
    staff_online = models.PositiveSmallIntegerField()
    staff_serving = models.PositiveSmallIntegerField()
    waiting = models.PositiveIntegerField()

    class Meta:
        ordering = ["unit", "at"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "at"], name="staffing_sample_once_per_slot")
        ]

    def __str__(self) -> str:
        return f"{self.unit} staffing at {self.at:%Y-%m-%d %H:%M}"


class StatisticsDay(models.Model):
    """The statistics' nightly roll-up: one unit's figures for one closed local day, as the
    additive tally the figures are computed from (chat/selectors/statistics.py `Tally`):
    counts, and per hour of the day how many clients took each five-second step of waiting,
    talking or leaving, the staffing samples' sums, per worker the conversation lengths.
    Counts only: no client, no text. Written once per (unit, day) by the nightly rule
    (chat/services/statistics.py `statistics_roll_up`); the page reads it for whole past
    days and queries the rest live."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="statistics_days")
    day = models.DateField()  # Europe/Stockholm
    tally = models.JSONField()
    rolled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["unit", "day"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "day"], name="statistics_day_once_per_unit")
        ]

    def __str__(self) -> str:
        return f"{self.unit} statistics {self.day:%Y-%m-%d}"


class StatisticsMonth(models.Model):
    """The sum of one unit's StatisticsDay tallies of one whole calendar month, written by
    the same nightly rule once every day of the month is stored, so that a year is read
    as twelve rows per unit instead of 365."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="statistics_months")
    month = models.DateField()  # its first day
    tally = models.JSONField()
    rolled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["unit", "month"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "month"], name="statistics_month_once_per_unit")
        ]

    def __str__(self) -> str:
        return f"{self.unit} statistics {self.month:%Y-%m}"


class StaffingMinimum(models.Model):
    """At least `minimum` staff serving (available or busy) in `unit` in one hour of the
    week, in Europe/Stockholm time. An hour without a row has no minimum."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="staffing_minimums")
    weekday = models.PositiveSmallIntegerField()  # 0 Monday .. 6 Sunday
    hour = models.PositiveSmallIntegerField()  # 0..23, the hour that starts then
    minimum = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["unit", "weekday", "hour"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "weekday", "hour"], name="staffing_minimum_once_per_hour"
            ),
            models.CheckConstraint(
                condition=models.Q(weekday__lte=6, hour__lte=23, minimum__gte=1, minimum__lte=50),
                name="staffing_minimum_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unit} day {self.weekday} {self.hour:02d}:00 at least {self.minimum}"


class StaffingLender(models.Model):
    """The unit's priority list for when it is below its minimum: the units it borrows
    staff from, lowest `rank` first."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="staffing_lenders")
    lender = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["unit", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "lender"], name="staffing_lender_once"),
            models.UniqueConstraint(fields=["unit", "rank"], name="staffing_lender_rank_once"),
            models.CheckConstraint(
                condition=~models.Q(unit=models.F("lender")), name="staffing_lender_not_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unit} borrows from {self.lender} ({self.rank})"


class Call(models.Model):
    """A voice or video call in a conversation (docs/realtime.md, "Calls"). The media go
    between the browsers (WebRTC, DTLS-SRTP); the server only relays the signalling and
    keeps who, when, how long and which medium, never the content."""

    class Media(models.TextChoices):
        VOICE = "voice", _("voice")
        VIDEO = "video", _("video")

    class State(models.TextChoices):
        RINGING = "ringing", _("ringing")
        ACTIVE = "active", _("in progress")
        ENDED = "ended", _("ended")

    class Reason(models.TextChoices):
        HUNG_UP = "hung_up", _("hung up")
        DECLINED = "declined", _("declined")
        QUICK_EXIT = "quick_exit", _("quick exit")
        CLIENT_LEFT = "client_left", _("the client's page closed")
        WORKER_LEFT = "worker_left", _("the social worker's console did not come back")
        CONVERSATION_ENDED = "conversation_ended", _("the conversation ended")
        HANDED_ON = "handed_on", _("the conversation went to another social worker or a queue")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="calls")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # What the worker offered, then what the client accepted (video offered, voice taken).
    media = models.CharField(max_length=5, choices=Media.choices)
    state = models.CharField(max_length=7, choices=State.choices, default=State.RINGING)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=10, choices=Conversation.EndedBy.choices, blank=True)
    reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)

    class Meta:
        constraints = [
            # One call at a time per conversation: a second offer is refused, not queued.
            models.UniqueConstraint(
                fields=["conversation"],
                condition=~models.Q(state="ended"),
                name="call_one_open_per_conversation",
            ),
        ]

    def __str__(self) -> str:
        return f"call {self.pk} ({self.media}, {self.state})"


class CallSeat(models.Model):
    """An interpreter in a call, besides its two parties (the worker and the client): from
    joining to leaving. Signalling goes to and from them only while the seat is open."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="seats")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="+")
    joined_at = models.DateTimeField(auto_now_add=True)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["call", "participant"],
                condition=models.Q(left_at__isnull=True),
                name="call_seat_once_while_in_call",
            ),
        ]

    def __str__(self) -> str:
        return f"participant {self.participant_id} in call {self.call_id}"
