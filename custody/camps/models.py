"""Camps and families: movements in and out of a camp, who holds the camp, censuses, protection flags.

Households and their members live in the registry (registry.Household, registry.Person with group
"resident"); this app records what happens to them. A resident is in the camp while the last movement
recorded for them there is not a departure (people registered before movements were recorded count as
present from the start).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from custody.core.access import RestrictedQuerySet, can, person_scoped_q
from custody.core.history import track
from custody.registry.models import Person


def _visible_people(user: Any, action: str) -> Any:
    return Person.objects.filter(person_scoped_q(user, action, "pk")).values("pk")


class MovementKind(models.TextChoices):
    ARRIVAL = "arrival", _("Arrival")
    DEPARTURE = "departure", _("Departure")


class DepartureReason(models.TextChoices):
    REPATRIATED = "repatriated", _("Repatriated")
    RELEASED = "released", _("Released")
    TRANSFERRED = "transferred", _("Transferred")
    LEFT_UNAUTHORISED = "left_unauthorised", _("Left without authorisation")
    UNKNOWN = "unknown", _("Unknown")


@track
class Movement(models.Model):
    """One person arriving in or leaving a camp on a day."""

    camp = models.ForeignKey("registry.Facility", on_delete=models.PROTECT, related_name="camp_movements", verbose_name=_("camp"))
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="camp_movements", verbose_name=_("person"))
    kind = models.CharField(_("kind"), max_length=10, choices=MovementKind.choices)
    occurred_on = models.DateField(_("date"), db_index=True)
    reason = models.CharField(_("reason"), max_length=20, choices=DepartureReason.choices, blank=True)
    destination = models.CharField(_("destination"), max_length=200, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_on", "-id"]
        verbose_name = _("camp movement")
        indexes = [models.Index(fields=["person", "occurred_on"])]

    def __str__(self) -> str:
        return f"{self.camp.code} {self.kind} {self.person_id} {self.occurred_on}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(person__in=_visible_people(user, action))


@track
class ControlChange(models.Model):
    """Control of a whole camp passing from one authority to another (e.g. al-Hol to the government)."""

    camp = models.ForeignKey("registry.Facility", on_delete=models.PROTECT, related_name="control_changes", verbose_name=_("camp"))
    occurred_on = models.DateField(_("date"))
    from_custodian = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+", verbose_name=_("from"))
    to_custodian = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+", verbose_name=_("to"))
    residents_at_change = models.PositiveIntegerField(_("residents at the change"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_on", "-id"]
        verbose_name = _("camp control change")

    def __str__(self) -> str:
        return f"{self.camp.code} {self.from_custodian.code}→{self.to_custodian.code} {self.occurred_on}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        # Who controls a camp is shared knowledge, like the facility itself.
        return Q()


@track
class Census(models.Model):
    """A head count of a camp on a day; the people counted are its entries."""

    camp = models.ForeignKey("registry.Facility", on_delete=models.PROTECT, related_name="censuses", verbose_name=_("camp"))
    taken_on = models.DateField(_("date"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    counted = models.ManyToManyField("registry.Person", related_name="+", verbose_name=_("people counted"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-taken_on", "-id"]
        verbose_name = _("census")
        verbose_name_plural = _("censuses")

    def __str__(self) -> str:
        return f"{self.camp.code} {self.taken_on}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q()


class FlagKind(models.TextChoices):
    UNACCOMPANIED = "unaccompanied", _("Unaccompanied child")
    SEPARATED = "separated", _("Separated child")
    MEDICAL = "medical", _("Medical")


@track
class ProtectionFlag(models.Model):
    """A protection concern about a resident. Only users with a protection purpose reach these rows."""

    person = models.ForeignKey("registry.Person", on_delete=models.CASCADE, related_name="protection_flags", verbose_name=_("person"))
    kind = models.CharField(_("kind"), max_length=14, choices=FlagKind.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    raised_on = models.DateField(_("raised on"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["person", "kind"]
        verbose_name = _("protection flag")

    def __str__(self) -> str:
        return f"{self.person_id} {self.kind}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        if not can(user, "protection"):
            return Q(pk__in=[])
        return Q(person__in=_visible_people(user, action))
