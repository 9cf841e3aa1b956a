"""System checks that keep the authorisation layer whole as apps are added."""

from __future__ import annotations

from typing import Any

from django.core import checks


@checks.register(checks.Tags.security)
def every_person_model_is_restricted(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.apps import apps

    errors = []
    for model in apps.get_models():
        if not model.__module__.startswith("custody."):
            continue
        if getattr(model, "access_q", None) is None and getattr(model, "ACCESS_EXEMPT", False) is False:
            if model._meta.app_label in {"core", "accounts"}:
                continue
            errors.append(
                checks.Warning(
                    f"{model._meta.label} defines no access_q(user, action): its rows are visible to nobody "
                    "through restrict(); define access_q or set ACCESS_EXEMPT with a reason.",
                    id="custody.W001",
                )
            )
    return errors


@checks.register(checks.Tags.security)
def forged_forms_are_audited(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.conf import settings

    if getattr(settings, "CSRF_FAILURE_VIEW", "") != "custody.core.views.csrf_failure":
        return [checks.Warning("Refused forged forms (CSRF failures) are not audited: set CSRF_FAILURE_VIEW = "
                               "'custody.core.views.csrf_failure'.", id="custody.W002")]
    return []
