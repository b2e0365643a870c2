from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Unit


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
    # Highest seq handed out; bumped under the row lock by message_post.
    last_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(help_text="When it entered its current queue.")
    accepted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=10, choices=EndedBy.choices, blank=True)
    # Last sign of life from the client's socket; a waiting client silent for the grace
    # period has left the queue.
    client_seen_at = models.DateTimeField(null=True, blank=True)
    # Kept beyond the retention period (a legal hold); the purge passes it over.
    legal_hold = models.BooleanField(default=False)
    # When the retention purge removed its messages; the row stays for statistics.
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(state="active") | models.Q(worker__isnull=False),
                name="conversation_active_has_worker",
            ),
        ]
        indexes = [models.Index(fields=["unit", "state", "-priority", "queued_at"])]

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
        SYSTEM = "system", _("system")

    class Event(models.TextChoices):
        ACCEPTED = "accepted", _("A social worker has joined the chat.")
        ENDED = "ended", _("The chat has ended.")
        ABANDONED = "abandoned", _("The client left the queue.")
        MOVED = "moved", _("The conversation was moved to another unit.")
        QUICK_EXIT = "quick_exit", _("The client left quickly with the quick exit.")
        REJOINED = "rejoined", _("The client is back in the queue.")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    seq = models.PositiveIntegerField()
    sender = models.CharField(max_length=10, choices=Sender.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    body = models.TextField(blank=True)
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


class AccessLog(models.Model):
    """Append-only record of every staff read of a client's messages or case.

    Ids are plain numbers, not foreign keys, so the record outlives what it speaks of.
    The application only inserts; on PostgreSQL a trigger refuses UPDATE and DELETE except
    inside the retention purge (see chat/migrations and chat/services/retention.py).
    """

    class Action(models.TextChoices):
        READ_MESSAGES = "read_messages", _("read the messages")
        READ_TRANSCRIPT = "read_transcript", _("downloaded the transcript")
        READ_CASE = "read_case", _("opened the case")

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
    request_id = models.UUIDField()

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
