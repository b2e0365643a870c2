from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

CAPACITY_VALIDATORS = [MinValueValidator(1), MaxValueValidator(10)]


class Unit(models.Model):
    """A team with its own queue, opening hours and staff (enhet)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(unique=True)
    description = models.TextField(
        _("description"), blank=True, help_text=_("Shown to clients before they start a chat.")
    )
    default_capacity = models.PositiveSmallIntegerField(
        _("default capacity"), default=3, validators=CAPACITY_VALIDATORS
    )
    is_active = models.BooleanField(_("open for chats"), default=True)
    unanswered_minutes = models.PositiveSmallIntegerField(
        _("flag unanswered after (minutes)"),
        default=5,
        help_text=_("A conversation whose worker has not written for this long is flagged."),
    )
    return_unanswered = models.BooleanField(
        _("return unanswered conversations to the queue"),
        default=False,
        help_text=_("Put a flagged conversation back at the front of the queue."),
    )
    auto_assign = models.BooleanField(
        _("auto-assign"),
        default=False,
        help_text=_("Give waiting clients to the least loaded available worker automatically."),
    )
    # Urgent referrals from partners go to the open unit with the lowest number here; units
    # without one never take referrals.
    referral_order = models.PositiveSmallIntegerField(
        _("order for partner referrals"),
        null=True,
        blank=True,
        help_text=_(
            "Urgent referrals from partners go to the open unit with the lowest number "
            "(e.g. 1 for the unit, 2 for the after-hours on-call unit). Empty: no referrals."
        ),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(default_capacity__gte=1, default_capacity__lte=10),
                name="unit_default_capacity_1_to_10",
            )
        ]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """Staff and partners. Clients are not users: they are known by their conversation."""

    class Role(models.TextChoices):
        WORKER = "worker", _("social worker")
        SUPERVISOR = "supervisor", _("supervisor")
        ADMIN = "admin", _("administrator")
        INTERPRETER = "interpreter", _("interpreter")
        PARTNER = "partner", _("partner staff")

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.WORKER)
    # Partner staff only: the organisation whose places they refer from.
    partner_organisation = models.ForeignKey(
        "PartnerOrganisation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        verbose_name=_("partner organisation"),
    )
    units = models.ManyToManyField(Unit, blank=True, related_name="staff", verbose_name=_("units"))
    # Changed by "log out everywhere": every session signed with the old value stops working.
    session_epoch = models.PositiveIntegerField(default=0, editable=False)

    def get_session_auth_hash(self) -> str:
        """Sessions are signed with the password hash and the session epoch, so changing
        either ends every session of the user, websockets included on their next check."""
        return salted_hmac(
            "chatcounsel.session",
            f"{self.password}:{self.session_epoch}",
            algorithm="sha256",
        ).hexdigest()

    @property
    def is_worker(self) -> bool:
        return self.role == self.Role.WORKER

    @property
    def is_supervisor(self) -> bool:
        return self.role == self.Role.SUPERVISOR

    @property
    def is_partner(self) -> bool:
        """Partner staff of an active organisation: they send referrals and see receipts,
        nothing of any conversation or case."""
        return (
            self.is_active
            and self.role == self.Role.PARTNER
            and self.partner_organisation_id is not None
        )

    @property
    def works_in_console(self) -> bool:
        """Workers and supervisors chat with clients; other roles never see the console."""
        return self.is_active and self.role in {self.Role.WORKER, self.Role.SUPERVISOR}

    @property
    def short_name(self) -> str:
        """What a message or note of theirs is signed with: the first name."""
        return self.first_name or self.username

    @property
    def display_name(self) -> str:
        """How staff pages and events name them: the full name, else the username. Names
        are for showing only; the browser tells people apart by id."""
        return self.get_full_name() or self.username


class UnitTranslation(models.Model):
    """A unit's name and description in one of the client languages other than Swedish;
    a client page in a language without one shows the Swedish, marked `lang="sv"`."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(
        _("language"),
        max_length=12,
        choices=[(code, name) for code, name in settings.CLIENT_LANGUAGES if code != "sv"],
    )
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("translation")
        verbose_name_plural = _("translations")
        constraints = [
            models.UniqueConstraint(fields=["unit", "language"], name="unit_translation_unique")
        ]

    def __str__(self) -> str:
        return f"{self.unit} ({self.language})"


class OpeningHours(models.Model):
    """One opening period on a weekday, in Europe/Stockholm time. A unit with no periods
    at all is open around the clock."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        ordering = ["unit", "weekday", "opens"]
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes__gt=models.F("opens")),
                name="opening_hours_closes_after_opens",
            ),
            models.CheckConstraint(
                condition=models.Q(weekday__lte=6), name="opening_hours_weekday"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unit} {self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class ClosedDay(models.Model):
    """A date the unit's chat is closed all day (a holiday, a training day)."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="closed_days")
    date = models.DateField(_("date"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("closed day")
        verbose_name_plural = _("closed days")
        constraints = [models.UniqueConstraint(fields=["unit", "date"], name="closed_day_unique")]

    def __str__(self) -> str:
        return f"{self.unit} closed {self.date}"


class Presence(models.Model):
    """A worker's chosen availability and capacity. What others see is derived: offline
    when the console has been silent for the grace period, busy when at capacity."""

    class Status(models.TextChoices):
        AVAILABLE = "available", _("available")
        AWAY = "away", _("away")

    class Shown(models.TextChoices):
        AVAILABLE = "available", _("available")
        BUSY = "busy", _("busy")
        AWAY = "away", _("away")
        OFFLINE = "offline", _("offline")

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="presence"
    )
    # A worker who opens the console is there to answer; "away" is a choice they make.
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.AVAILABLE)
    # When the status in force was chosen: a choice made earlier that arrives later (a tab
    # that was offline, a slower process) does not undo it. The last choice wins.
    status_chosen_at = models.DateTimeField(null=True, blank=True)
    capacity = models.PositiveSmallIntegerField(
        _("capacity"), default=3, validators=CAPACITY_VALIDATORS
    )
    # Refreshed by every heartbeat of any of the worker's console tabs.
    last_seen = models.DateTimeField(null=True, blank=True)
    # When the worker last got or finished a conversation: "longest idle" breaks ties.
    idle_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(capacity__gte=1, capacity__lte=10),
                name="presence_capacity_1_to_10",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.status})"


class ConsoleConnection(models.Model):
    """One open console socket of a staff member. A worker is reachable, and may be given
    clients, only while one of these exists and their presence is fresh: signing out
    removes the rows of that session at once, closing a console removes its own row."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="console_connections")
    # The channel layer's name for the socket: unique, and how a closing socket finds its row.
    channel_name = models.CharField(max_length=200, unique=True)
    # sha256 of the session key, so signing out of one browser leaves another's consoles.
    session_hash = models.CharField(max_length=64, db_index=True)
    opened_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} console {self.pk}"


class PartnerOrganisation(models.Model):
    """A pharmacy, library or mobile library whose staff refer people who used the code
    word to the on-duty unit."""

    class Kind(models.TextChoices):
        PHARMACY = "pharmacy", _("pharmacy")
        LIBRARY = "library", _("library")
        MOBILE_LIBRARY = "mobile_library", _("mobile library")
        OTHER = "other", _("other")

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("partner organisation")
        verbose_name_plural = _("partner organisations")

    def __str__(self) -> str:
        return self.name


class PartnerPlace(models.Model):
    """Where a partner meets people: a branch, a library, a mobile library's stop."""

    organisation = models.ForeignKey(
        PartnerOrganisation, on_delete=models.PROTECT, related_name="places"
    )
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["organisation", "name"]
        verbose_name = _("partner place")
        verbose_name_plural = _("partner places")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "name"], name="partner_place_unique_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organisation}, {self.name}"
