"""Staff login rules: two-factor enrolment and verification, sessions, log out everywhere."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends import db as db_sessions
from django.db import transaction
from django.utils.crypto import constant_time_compare
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User

BACKUP_CODE_COUNT = 10


def two_factor_required(user: User) -> bool:
    return bool(settings.STAFF_TWO_FACTOR and user.is_authenticated)


def totp_device_for_enrolment(*, user: User) -> TOTPDevice:
    """The user's unconfirmed authenticator, made on first visit to enrolment."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


def totp_confirm(*, user: User, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm the authenticator with a code from it and make fresh backup codes, shown
    once. None when the code is wrong."""
    if device.user_id != user.pk or not device.verify_token(token):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        StaticDevice.objects.filter(user=user).delete()
        backup = StaticDevice.objects.create(user=user, name="backup codes", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=backup, token=c) for c in codes)
    return codes


def has_confirmed_device(*, user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def session_is_verified(*, user: User, session: Any) -> bool:
    """Did this session pass the second factor with one of the user's own devices?"""
    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    if not persistent_id:
        return False
    device = Device.from_persistent_id(persistent_id)
    return bool(device and device.user_id == user.pk and device.confirmed)


def staff_session_ok(
    *, user: User, session: Any, user_is_current: bool = False, session_is_current: bool = False
) -> bool:
    """A staff websocket may stay open: the session still exists, still belongs to this
    user with the current password and epoch, and passed two factors when that is on.
    Saving it moves the idle expiry forward, so an open console keeps its worker signed in.
    `user_is_current`: `user` is the active account just read from the database in this
    crossing, so it is not read again. `session_is_current`: `session` itself was just
    loaded from the database (a socket's connect, right after the auth middleware read the
    session and the account), so it is not read again either."""
    if session is None or not session.session_key:
        return False
    if session_is_current:
        store = getattr(session, "_wrapped", session)  # Channels' lazy wrapper, if any
        data = store
    else:
        store = import_module(settings.SESSION_ENGINE).SessionStore(session.session_key)
        data = store.load()
    fresh = user if user_is_current else User.objects.filter(pk=user.pk, is_active=True).first()
    if fresh is None or str(data.get(SESSION_KEY)) != str(user.pk):
        return False
    if not constant_time_compare(data.get(HASH_SESSION_KEY, ""), fresh.get_session_auth_hash()):
        return False
    if two_factor_required(fresh) and not session_is_verified(user=fresh, session=data):
        return False
    session_keep_alive(store)
    return True


def session_keep_alive(store: Any) -> None:
    """Move a session's idle expiry forward. With database sessions (the default engine)
    one UPDATE of the expiry, as the data has not changed; Django's `save` writes the data
    too, in a transaction (three statements). Any other engine saves as usual."""
    if type(store) is db_sessions.SessionStore and store.session_key:
        store.model.objects.filter(session_key=store.session_key).update(
            expire_date=store.get_expiry_date()
        )
    else:
        store.save()


def user_log_out_everywhere(*, user: User) -> None:
    """End every session of the user, on every device: the session epoch is part of every
    session's signature. Open sockets hear of it from chat's signal receivers and close."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.session_epoch += 1
        locked.save(update_fields=["session_epoch"])
