"""The working group's records: meetings, decisions linked to records, actions; incidents near sites and
the analysts' danger estimates; the situation reports produced for each audience."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custody.core.access import RestrictedQuerySet, can, clearance_q, releasable_exists
from custody.core.history import track
from custody.core.releasable import Releasable


@track
class Meeting(Releasable):
    held_on = models.DateField(_("date"), db_index=True)
    title = models.CharField(_("title"), max_length=200)
    attendees = models.ManyToManyField("accounts.Agency", related_name="+", verbose_name=_("attending agencies"))
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-held_on", "-id"]
        verbose_name = _("meeting")

    def __str__(self) -> str:
        return f"{self.held_on} {self.title}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return clearance_q(user) & releasable_exists(cls, user)


def _meeting_visible(user: Any, action: str) -> Q:
    return Q(meeting__in=Meeting.objects.filter(Meeting.access_q(user, action)).values("pk"))


@track
class Decision(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="decisions", verbose_name=_("meeting"))
    text = models.TextField(_("decision"))
    people = models.ManyToManyField("registry.Person", blank=True, related_name="+", verbose_name=_("people concerned"))
    facilities = models.ManyToManyField("registry.Facility", blank=True, related_name="+", verbose_name=_("sites concerned"))
    # Other records by label and key, e.g. {"type": "ledger.discrepancy", "id": "12"}: apps come and go,
    # a decision's reference must survive them.
    other_records = models.JSONField(_("other records"), default=list, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["meeting", "id"]
        verbose_name = _("decision")

    def __str__(self) -> str:
        return self.text[:80]

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return _meeting_visible(user, action)


class ActionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    DROPPED = "dropped", _("Dropped")


OPEN_STATUSES = (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)


@track
class Action(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="actions", verbose_name=_("meeting"))
    decision = models.ForeignKey(Decision, null=True, blank=True, on_delete=models.SET_NULL, related_name="actions", verbose_name=_("decision"))
    text = models.TextField(_("action"))
    owner = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+", verbose_name=_("owner agency"))
    due_on = models.DateField(_("due"), db_index=True)
    status = models.CharField(_("status"), max_length=12, choices=ActionStatus.choices, default=ActionStatus.OPEN, db_index=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "id"]
        verbose_name = _("action")

    def __str__(self) -> str:
        return self.text[:80]

    def is_overdue(self, today: Any = None) -> bool:
        return self.status in OPEN_STATUSES and self.due_on < (today or timezone.localdate())

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return _meeting_visible(user, action)


class IncidentKind(models.TextChoices):
    ATTACK = "attack", _("Attack")
    SHELLING = "shelling", _("Shelling or air strike")
    UNREST = "unrest", _("Unrest inside the site")
    ESCAPE_ATTEMPT = "escape_attempt", _("Escape attempt")
    ROAD_CLOSURE = "road_closure", _("Road closure")
    OTHER = "other", _("Other")


@track
class Incident(Releasable):
    occurred_on = models.DateField(_("date"), db_index=True)
    site = models.ForeignKey("registry.Facility", on_delete=models.PROTECT, related_name="incidents", verbose_name=_("site"))
    kind = models.CharField(_("kind"), max_length=16, choices=IncidentKind.choices)
    severity = models.PositiveSmallIntegerField(_("severity (1-5)"), validators=[MinValueValidator(1), MaxValueValidator(5)])
    source = models.CharField(_("source"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_on", "-id"]
        verbose_name = _("incident")

    def __str__(self) -> str:
        return f"{self.occurred_on} {self.site.code} {self.kind}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return clearance_q(user) & releasable_exists(cls, user)


@track
class DangerEstimate(models.Model):
    """An analyst's estimate, as of a day, of the probability that a site falls that day."""

    site = models.ForeignKey("registry.Facility", on_delete=models.PROTECT, related_name="danger_estimates", verbose_name=_("site"))
    as_of = models.DateField(_("as of"), db_index=True)
    probability = models.FloatField(_("probability the site falls that day"), validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    rationale = models.TextField(_("rationale"), blank=True)
    analyst = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["site", "as_of"]
        constraints = [models.UniqueConstraint(fields=["site", "as_of"], name="coordination_one_estimate_per_site_day")]
        verbose_name = _("danger estimate")

    def __str__(self) -> str:
        return f"{self.site.code} {self.as_of} {self.probability:.3f}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        # Analysts' assessments are intelligence: not for the humanitarian observer.
        if not can(user, "intelligence"):
            return Q(pk__in=[])
        return Q()


class Trigger(models.TextChoices):
    DEMAND = "demand", _("On demand")
    SCHEDULE = "schedule", _("Scheduled")


def _sitrep_path(instance: SitRep, filename: str) -> str:
    return f"sitreps/{instance.report_date:%Y/%m}/{filename}"


@track
class SitRep(models.Model):
    """One produced situation report: for one day, one audience, one language. The figures are stored as
    computed, so a report read later shows what was sent."""

    report_date = models.DateField(_("report date"), db_index=True)
    audience = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+", verbose_name=_("audience"))
    language = models.CharField(_("language"), max_length=2, choices=[("en", "English"), ("ar", "العربية")])
    classification = models.IntegerField(_("classification"))
    figures = models.JSONField(_("figures"))
    pdf = models.FileField(upload_to=_sitrep_path, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    trigger = models.CharField(_("produced"), max_length=10, choices=Trigger.choices, default=Trigger.DEMAND)
    generated_at = models.DateTimeField(_("generated at"), auto_now_add=True)
    generated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-report_date", "-generated_at"]
        verbose_name = _("situation report")

    def __str__(self) -> str:
        return f"{self.report_date} {self.audience.code} {self.language}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        # A report is produced for one audience: only that agency's people, cleared to its level, read it.
        return Q(audience_id=user.agency_id) & clearance_q(user)
