"""Changes made outside the chat services that the chat must hear of at once, wherever they
are made (the admin, a management command, a view): signing out, and a staff member's units,
role or account changing. Each tells that person's open sockets, after commit, to check
again what they may hear (see `StaffConsumer.access_changed`)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

from accounts.models import User
from chat import eid, realtime
from chat.services.presence import presence_signed_out

# What a socket's rights are made of; a change to any of them is checked again at once.
ACCESS_FIELDS = ("role", "is_active", "password", "session_epoch")
CONSOLE_ROLES = {User.Role.WORKER, User.Role.SUPERVISOR}


def _tell(user_ids: set[int]) -> None:
    for user_id in user_ids:
        realtime.publish_on_commit(realtime.worker_group(user_id), realtime.access_changed_event())


@receiver(user_logged_out)
def signed_out(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    if user is None or request is None or not hasattr(request, "session"):
        return
    if user.role in CONSOLE_ROLES:
        presence_signed_out(worker=user, session_key=request.session.session_key)


@receiver(user_logged_in)
def staff_signed_in(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    """A staff sign-in never shares a session with a client's e-ID sign-in: the client's
    part goes (the e-ID sign-in flushes the session the other way round)."""
    if request is not None and hasattr(request, "session"):
        request.session.pop(eid.SESSION_CLIENT, None)


@receiver(pre_save, sender=User)
def remember_access(sender: Any, instance: User, update_fields: Any = None, **kwargs: Any) -> None:
    if instance.pk is None or (
        update_fields is not None and not set(update_fields) & set(ACCESS_FIELDS)
    ):
        instance._access_before = None  # type: ignore[attr-defined]
        return
    instance._access_before = (  # type: ignore[attr-defined]
        User.objects.filter(pk=instance.pk).values_list(*ACCESS_FIELDS).first()
    )


@receiver(post_save, sender=User)
def access_saved(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
    before = getattr(instance, "_access_before", None)
    now = tuple(getattr(instance, f) for f in ACCESS_FIELDS)
    if before is None or before == now:
        return
    _tell({instance.pk})
    role, _active, password, epoch = before
    if role not in CONSOLE_ROLES:
        return
    sessions_ended = password != instance.password or epoch != instance.session_epoch
    console_lost = not instance.is_active or instance.role not in CONSOLE_ROLES
    if sessions_ended or console_lost:
        # No console of theirs counts from now on; their clients go back to the queue.
        presence_signed_out(worker=instance, session_key=None)


@receiver(m2m_changed, sender=User.units.through)
def units_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    if action == "pre_clear" and reverse:
        # Unit.staff.clear(): who was in it is known only before.
        instance._cleared_staff = set(instance.staff.values_list("pk", flat=True))
        return
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    if not reverse:
        _tell({instance.pk})
    elif action == "post_clear":
        _tell(getattr(instance, "_cleared_staff", set()))
    else:
        _tell(set(pk_set or ()))
