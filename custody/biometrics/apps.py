from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _append_only(sender, using="default", **kwargs):  # type: ignore[no-untyped-def]
    from custody.biometrics.models import APPEND_ONLY_TABLES
    from custody.core.history import make_append_only

    for table in APPEND_ONLY_TABLES:
        make_append_only(table, using=using)


class BiometricsConfig(AppConfig):
    name = "custody.biometrics"
    label = "biometrics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Captured images and their templates are evidence: written once, never altered or removed.
        post_migrate.connect(_append_only, sender=self, dispatch_uid="custody-biometrics-append-only")
