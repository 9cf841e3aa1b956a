from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions

from custody.accounts.models import ApiToken


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
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        digest = hashlib.sha256(header[1]).hexdigest()
        try:
            token = ApiToken.objects.select_related("user", "user__agency").get(key_sha256=digest, revoked=False)
        except ApiToken.DoesNotExist as exc:
            raise exceptions.AuthenticationFailed("Unknown or revoked token.") from exc
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("Account disabled.")
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
