"""Sign-in: password (argon2), lockout, and the TOTP second factor.

Two rules shape this module (issue 14):
- The lockout is counted in the database *before* the password is looked at: each attempt reserves its
  place under a row lock, and once LOCKOUT_FAILURES places are taken the account is locked for every
  attempt still in flight or yet to come. Checking the lock first and counting after the (slow) hash let
  a burst of parallel guesses all pass the check before any of them was counted.
- A wrong password, an unknown user, a locked account and a disabled one get one answer, byte for byte,
  at the cost of one password hash each: neither the page nor its timing tells which usernames exist.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import check_password, get_hasher, make_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from custody.accounts.models import User
from custody.core import audit


@dataclass
class SignInResult:
    user: User | None
    error: str = ""
    needs_otp_setup: bool = False
    device: Any = None


def second_factor_required(user: User) -> bool:
    return not settings.DEMO_MODE or user_has_device(user, confirmed=True)


def refused_message() -> str:
    """The one answer to every refused password: it names the lock without saying whether it applies."""
    return _("Wrong username or password. After %(n)d failed attempts an account is locked for %(m)d minutes.") % {
        "n": settings.LOCKOUT_FAILURES, "m": settings.LOCKOUT_SECONDS // 60}


@functools.lru_cache(maxsize=4)
def _dummy_hash(algorithm: str) -> str:
    # One per hasher, made at first use: an unknown or locked account then costs one verify, as a real
    # account does, instead of nothing (or a make_password, which some hashers price differently).
    return make_password(secrets.token_urlsafe(24), hasher=algorithm)


def spend_one_hash(password: str) -> None:
    """Hash the offered password against a throw-away hash of the current default hasher."""
    check_password(password, _dummy_hash(get_hasher("default").algorithm))


def is_locked(user: User, now: datetime | None = None) -> bool:
    return bool(user.locked_until and user.locked_until > (now or timezone.now()))


def _reserve_attempt(username: str, now: datetime) -> tuple[User | None, int]:
    """Count this attempt before its password is checked. Returns the user (None if unknown) and the
    attempt's number in the current window, or 0 if the account is locked and the password must not be
    tried. The row lock (SELECT ... FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transaction takes the
    write lock at BEGIN) makes concurrent attempts take their numbers one after another."""
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        if user is None:
            return None, 0
        if is_locked(user, now):
            return user, 0
        # A lock that has run out starts a fresh window.
        attempt = (0 if user.locked_until else user.failed_logins) + 1
        locked_until = now + timedelta(seconds=settings.LOCKOUT_SECONDS) if attempt >= settings.LOCKOUT_FAILURES else None
        User.objects.filter(pk=user.pk).update(failed_logins=attempt, locked_until=locked_until)
        return user, attempt


def _clear(user: User) -> None:
    User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)


def _failed(request: Any, user: User, attempt: int, **detail: Any) -> None:
    """The attempt stays counted; the one that reached the limit has already locked the account."""
    audit.record(request, "sign_in", obj=user, outcome="failed", username=user.username, **detail)
    if attempt >= settings.LOCKOUT_FAILURES:
        audit.record(request, "account_locked", obj=user, outcome="denied", username=user.username)


def sign_in(request: Any, username: str, password: str, otp_token: str) -> SignInResult:
    """Check lockout, password and second factor; audit every outcome."""
    now = timezone.now()
    candidate, attempt = _reserve_attempt(username, now)
    if attempt == 0:
        spend_one_hash(password)
        if candidate is None:
            audit.record(request, "sign_in", outcome="failed", username=username, object_type="accounts.user",
                         reason="bad credentials")
        else:
            audit.record(request, "sign_in", obj=candidate, outcome="denied", username=username, reason="locked")
        return SignInResult(None, refused_message())
    assert candidate is not None
    user = authenticate(request, username=username, password=password)
    if user is None:
        # Also a disabled account's right password: the backend refuses it after hashing it.
        _failed(request, candidate, attempt, reason="bad credentials")
        return SignInResult(None, refused_message())
    if second_factor_required(user):
        if not user_has_device(user, confirmed=True):
            _clear(user)  # the password was right; enrolment (throttled by django-otp) comes next
            return SignInResult(user, needs_otp_setup=True)
        device = match_token(user, otp_token.strip()) if otp_token else None
        if device is None:
            # Wrong codes count like wrong passwords: a known password does not open unlimited guessing.
            _failed(request, user, attempt, reason="second factor")
            return SignInResult(None, _("The six-digit code from your authenticator app is missing or wrong."))
        _clear(user)
        return SignInResult(user, device=device)
    _clear(user)
    return SignInResult(user)


def new_totp_device(user: User) -> TOTPDevice:
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
