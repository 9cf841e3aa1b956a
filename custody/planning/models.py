"""Transfer planning records: scenarios, plan runs, the days of a plan, its vehicles with their
manifests, and what actually happened to each vehicle (progress against plan)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from custody.core.history import track


def planning_q(user: Any) -> Q:
    """Plans name detainees, their risk tiers and factions: intelligence-level information, so only
    agencies that see intelligence reach them (not the humanitarian observer)."""
    agency = user.agency
    if agency is None or not agency.sees_intelligence:
        return Q(pk__in=[])
    return Q()


class ScenarioSource(models.TextChoices):
    REGISTRY = "registry", _("Registry")
    FILE = "file", _("File")
    SYNTHETIC = "synthetic", _("Synthetic")


@track
class PlanningScenario(models.Model):
    name = models.CharField(_("name"), max_length=200)
    source = models.CharField(_("source"), max_length=10, choices=ScenarioSource.choices)
    data = models.JSONField(_("scenario"))  # the documented file format, docs/planning-scenario.md
    digest = models.CharField(max_length=32, editable=False)
    people = models.PositiveIntegerField(_("people"), default=0)
    sites = models.PositiveIntegerField(_("sites"), default=0)
    days = models.PositiveIntegerField(_("days"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("planning scenario")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return planning_q(user)


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    INFEASIBLE = "infeasible", _("Infeasible")
    FAILED = "failed", _("Failed")


class PlanRun(models.Model):
    # Not tracked: the solver rewrites progress every second; creation and outcome are audited.
    scenario = models.ForeignKey(PlanningScenario, on_delete=models.CASCADE, related_name="runs", verbose_name=_("scenario"))
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replans",
                               verbose_name=_("re-plan of"))
    first_day = models.PositiveIntegerField(_("first day planned"), default=0)
    time_limit = models.FloatField(_("time limit (s)"), default=60)
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    stage = models.CharField(_("stage"), max_length=60, blank=True)
    note = models.CharField(_("progress"), max_length=200, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    findings = models.JSONField(default=list, blank=True)  # infeasibility, in words
    unmoved = models.JSONField(default=list, blank=True)
    violations = models.JSONField(default=list, blank=True)  # the independent checker's verdict
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("plan run")

    def __str__(self) -> str:
        return f"{self.scenario.name} #{self.pk}"

    @property
    def active(self) -> bool:
        return self.status in (RunStatus.QUEUED, RunStatus.RUNNING)

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(scenario__in=PlanningScenario.objects.filter(planning_q(user)).values("pk"))


class PlanDay(models.Model):
    """One day of a plan: what leaves, what arrives, what binds, who remains where."""

    run = models.ForeignKey(PlanRun, on_delete=models.CASCADE, related_name="plan_days")
    day = models.PositiveIntegerField(_("day"))
    departures = models.PositiveIntegerField(_("departures"), default=0)
    arrivals = models.PositiveIntegerField(_("arrivals"), default=0)
    intake = models.PositiveIntegerField(_("intake"), default=0)
    sorties = models.PositiveIntegerField(_("sorties"), default=0)
    convoys = models.PositiveIntegerField(_("convoys"), default=0)
    binding = models.JSONField(default=list)
    remaining = models.JSONField(default=dict)  # site -> people left after the day
    exposure = models.FloatField(default=0)
    greedy_exposure = models.FloatField(default=0)
    replanned = models.BooleanField(default=False)

    class Meta:
        ordering = ["run", "day"]
        constraints = [models.UniqueConstraint(fields=["run", "day"], name="planning_day_unique")]

    def __str__(self) -> str:
        return f"run {self.run_id} day {self.day + 1}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(run__in=PlanRun.objects.filter(PlanRun.access_q(user, action)).values("pk"))


class Mode(models.TextChoices):
    HELI = "heli", _("Helicopter sortie")
    CONVOY = "convoy", _("Convoy bus")


class PlannedVehicle(models.Model):
    """A sortie, or one bus of a convoy, with its manifest (scenario person ids: registry refs when
    the scenario was built from the registry)."""

    run = models.ForeignKey(PlanRun, on_delete=models.CASCADE, related_name="vehicles")
    vehicle_id = models.CharField(_("vehicle"), max_length=60)
    day = models.PositiveIntegerField(_("day"), db_index=True)
    site = models.CharField(_("site"), max_length=40)
    mode = models.CharField(_("mode"), max_length=6, choices=Mode.choices)
    airframe = models.CharField(_("airframe"), max_length=40, blank=True)
    convoy = models.CharField(_("convoy"), max_length=60, blank=True)
    manifest = models.JSONField(default=list)
    people = models.PositiveIntegerField(_("people"), default=0)

    class Meta:
        ordering = ["run", "day", "mode", "vehicle_id"]
        constraints = [models.UniqueConstraint(fields=["run", "vehicle_id"], name="planning_vehicle_unique")]

    def __str__(self) -> str:
        return self.vehicle_id

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(run__in=PlanRun.objects.filter(PlanRun.access_q(user, action)).values("pk"))


class OutcomeStatus(models.TextChoices):
    FLOWN = "flown", _("Flown or driven as planned")
    PARTIAL = "partial", _("Left with part of the manifest")
    CANCELLED = "cancelled", _("Cancelled")


@track
class VehicleOutcome(models.Model):
    """What actually happened to a planned vehicle: entered by hand until the custody ledger's
    departures are read."""

    vehicle = models.OneToOneField(PlannedVehicle, on_delete=models.CASCADE, related_name="outcome")
    status = models.CharField(_("outcome"), max_length=10, choices=OutcomeStatus.choices)
    moved = models.JSONField(default=list)  # who actually left on it
    note = models.CharField(_("note"), max_length=300, blank=True)
    recorded_at = models.DateTimeField(auto_now=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")

    def __str__(self) -> str:
        return f"{self.vehicle_id}: {self.status}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(vehicle__run__in=PlanRun.objects.filter(PlanRun.access_q(user, action)).values("pk"))
