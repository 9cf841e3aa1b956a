"""Cross-cutting records: the audit trail and the trigger-written change history."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    pass


class AppendOnlyModel(models.Model):
    """Rows are written once; the database triggers refuse changes too (see core.apps)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError(f"{self._meta.label} is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError(f"{self._meta.label} is append-only")


class AuditEvent(AppendOnlyModel):
    """Who did what, when, from which request, and whether it was allowed."""

    class Outcome(models.TextChoices):
        OK = "ok", _("allowed")
        DENIED = "denied", _("refused")
        FAILED = "failed", _("failed")

    at = models.DateTimeField(_("time (UTC)"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    username = models.CharField(_("user"), max_length=150, blank=True, db_index=True)
    agency = models.CharField(_("agency"), max_length=8, blank=True, db_index=True)
    action = models.CharField(_("action"), max_length=40, db_index=True)
    object_type = models.CharField(_("object type"), max_length=60, blank=True)
    object_id = models.CharField(_("object"), max_length=64, blank=True, db_index=True)
    outcome = models.CharField(_("outcome"), max_length=8, choices=Outcome.choices, default=Outcome.OK, db_index=True)
    request_id = models.CharField(_("request id"), max_length=36, blank=True, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit event")
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.object_type}:{self.object_id} {self.outcome}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        """Readable per agency: an auditor (User.is_auditor) reads every agency's trail, a supervisor only
        the rows of its own agency's users; rows of nobody's agency (unknown sign-ins, the system) only
        auditors. Rows about a record the reader may not see are shown without it (core.audit_views)."""
        if getattr(user, "is_auditor", False):
            return Q()
        if user.agency_id is None or not user.has_role("supervisor"):
            return Q(pk__in=[])
        return Q(agency=user.agency.code)


class HistoryChange(models.Model):
    """One row changed by one statement, written by a database trigger (core.history)."""

    at = models.CharField(max_length=32, db_index=True)
    table_name = models.CharField(max_length=80, db_index=True)
    row_pk = models.CharField(max_length=64, db_index=True)
    op = models.CharField(max_length=1)
    before = models.TextField(null=True)
    after = models.TextField(null=True)
    context = models.TextField(null=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["table_name", "row_pk"])]

    def __str__(self) -> str:
        return f"{self.at} {self.op} {self.table_name}:{self.row_pk}"

    def before_dict(self) -> dict[str, Any]:
        return json.loads(self.before) if self.before else {}

    def after_dict(self) -> dict[str, Any]:
        return json.loads(self.after) if self.after else {}

    def context_dict(self) -> dict[str, Any]:
        return json.loads(self.context) if self.context else {}

    def changed_fields(self) -> dict[str, tuple[Any, Any]]:
        before, after = self.before_dict(), self.after_dict()
        keys = sorted(set(before) | set(after))
        return {k: (before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)}


class IdempotentRequest(models.Model):
    """The first answer to a request carrying an Idempotency-Key, replayed for any retry of it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    path = models.CharField(max_length=300)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        unique_together = [("user", "key")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
