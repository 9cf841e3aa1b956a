from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_database_guards(sender, using="default", **kwargs):  # type: ignore[no-untyped-def]
    from custody.core.history import install_triggers, make_append_only

    install_triggers(using=using)
    make_append_only("core_auditevent", using=using)
    make_append_only("core_historychange", using=using)


class CoreConfig(AppConfig):
    name = "custody.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from custody.core import checks  # noqa: F401  (registers system checks)

        # Once, after the whole migrate run: every app's tables exist by then.
        post_migrate.connect(_install_database_guards, sender=self, dispatch_uid="custody-db-guards")
