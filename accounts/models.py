from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
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
    units = models.ManyToManyField(Unit, blank=True, related_name="staff", verbose_name=_("units"))

    @property
    def is_worker(self) -> bool:
        return self.role == self.Role.WORKER

    @property
    def is_supervisor(self) -> bool:
        return self.role == self.Role.SUPERVISOR

    @property
    def works_in_console(self) -> bool:
        """Workers and supervisors chat with clients; other roles never see the console."""
        return self.is_active and self.role in {self.Role.WORKER, self.Role.SUPERVISOR}

    @property
    def short_name(self) -> str:
        return self.first_name or self.username
