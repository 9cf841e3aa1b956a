from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _append_only(sender, using="default", **kwargs):  # type: ignore[no-untyped-def]
    from custody.core.history import make_append_only
    from custody.ledger.models import APPEND_ONLY_TABLES

    for table in APPEND_ONLY_TABLES:
        make_append_only(table, using=using)


class LedgerConfig(AppConfig):
    name = "custody.ledger"
    label = "ledger"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The events, the tree and the checkpoints refuse UPDATE and DELETE in the database itself.
        post_migrate.connect(_append_only, sender=self, dispatch_uid="custody-ledger-append-only")
