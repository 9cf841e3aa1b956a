from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from custody.core.access import can


def custody_context(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "DEMO_MODE": settings.DEMO_MODE,
        "can_audit": can(user, "audit"),
        "can_change": can(user, "change"),
        "can_import": can(user, "import"),
        "can_intelligence": can(user, "intelligence"),
        "can_biometrics": can(user, "biometric_images"),
        "can_protection": can(user, "protection"),
    }
