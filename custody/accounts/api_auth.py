from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from custody.accounts.auth import is_locked
from custody.accounts.models import ApiToken
from custody.core import audit


def issue_token(user: Any, name: str) -> str:
    """Create a token and return its only clear-text copy."""
    key = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, key_sha256=hashlib.sha256(key.encode()).hexdigest())
    return key


class TokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`; only a hash of the token is stored."""

    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("The Authorization header must be 'Bearer <token>'."))
        digest = hashlib.sha256(header[1]).hexdigest()
        try:
            token = ApiToken.objects.select_related("user", "user__agency").get(key_sha256=digest, revoked=False)
        except ApiToken.DoesNotExist as exc:
            raise exceptions.AuthenticationFailed(_("Unknown or revoked token.")) from exc
        # A token speaks for its user: it stops while the user may not sign in (issue 14), and works
        # again when the lock runs out or the account is enabled.
        refusal = None
        if not token.user.is_active:
            refusal = ("disabled", _("This account is disabled; its API tokens are refused."))
        elif is_locked(token.user):
            refusal = ("locked", _("This account is locked after repeated failed sign-ins; its API tokens are "
                                   "refused until the lock ends."))
        if refusal:
            # The Django request, not DRF's: DRF's .user is what is being authenticated here.
            audit.record(getattr(request, "_request", request), "api_token_refused", obj=token.user, user=token.user,
                         outcome="denied", reason=refusal[0], token=token.name)
            raise exceptions.AuthenticationFailed(refusal[1])
        ApiToken.objects.filter(pk=token.pk).update(last_used=timezone.now())
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


try:
    from drf_spectacular.extensions import OpenApiAuthenticationExtension

    class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
        target_class = "custody.accounts.api_auth.TokenAuthentication"
        name = "bearerToken"

        def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
            return {"type": "http", "scheme": "bearer", "description": "A Custody API token (custody issue-token)."}
except ImportError:  # drf-spectacular is a dependency; guard only against partial installs
    pass
