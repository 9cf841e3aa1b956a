"""Sign-in: password (argon2), lockout, and the TOTP second factor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.db.models import F
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


def sign_in(request: Any, username: str, password: str, otp_token: str) -> SignInResult:
    """Check password, lockout and second factor; audit every outcome."""
    now = timezone.now()
    candidate = User.objects.filter(username=username).first()
    if candidate is not None and candidate.locked_until and candidate.locked_until > now:
        audit.record(request, "sign_in", obj=candidate, outcome="denied", username=username, reason="locked")
        minutes = int((candidate.locked_until - now).total_seconds() // 60) + 1
        return SignInResult(None, _("This account is locked after repeated failed sign-ins. Try again in %(m)d minutes.") % {"m": minutes})
    user = authenticate(request, username=username, password=password)
    if user is None:
        if candidate is not None:
            User.objects.filter(pk=candidate.pk).update(failed_logins=F("failed_logins") + 1)
            candidate.refresh_from_db(fields=["failed_logins"])
            if candidate.failed_logins >= settings.LOCKOUT_FAILURES:
                User.objects.filter(pk=candidate.pk).update(locked_until=now + timedelta(seconds=settings.LOCKOUT_SECONDS), failed_logins=0)
                audit.record(request, "account_locked", obj=candidate, outcome="denied", username=username)
        audit.record(request, "sign_in", outcome="failed", username=username, object_type="accounts.user",
                     object_id=str(candidate.pk) if candidate else "", reason="bad credentials")
        return SignInResult(None, _("Wrong username or password."))
    if second_factor_required(user):
        if not user_has_device(user, confirmed=True):
            return SignInResult(user, needs_otp_setup=True)
        device = match_token(user, otp_token.strip()) if otp_token else None
        if device is None:
            User.objects.filter(pk=user.pk).update(failed_logins=F("failed_logins") + 1)
            user.refresh_from_db(fields=["failed_logins"])
            # The request is still anonymous: name the account, or the audit row says nobody.
            audit.record(request, "sign_in", obj=user, outcome="failed", username=user.username, reason="second factor")
            if user.failed_logins >= settings.LOCKOUT_FAILURES:
                # Wrong codes count like wrong passwords: a known password does not open unlimited guessing.
                User.objects.filter(pk=user.pk).update(locked_until=now + timedelta(seconds=settings.LOCKOUT_SECONDS), failed_logins=0)
                audit.record(request, "account_locked", obj=user, outcome="denied", username=user.username)
            return SignInResult(None, _("The six-digit code from your authenticator app is missing or wrong."))
        User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
        return SignInResult(user, device=device)
    User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
    return SignInResult(user)


def new_totp_device(user: User) -> TOTPDevice:
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
