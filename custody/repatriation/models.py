"""Repatriation: each country of origin's file (stated position, contacts, outreach log) and, per person
and country, the steps from identity confirmation to the handover (a ledger "repatriated" event) or a
refusal with its reason. A person with several nationalities has one record per country.

Who changes these records: the agencies in settings.REPATRIATION_AGENCIES (default the foreign ministry,
MFA), which conducts the diplomacy; every agency that may see a person sees the records about them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from custody.core.access import RestrictedQuerySet, person_scoped_q
from custody.core.history import track
from custody.registry.models import Person


def repatriation_agencies() -> set[str]:
    return set(getattr(settings, "REPATRIATION_AGENCIES", None) or {"MFA"})


def is_diplomat(user: Any) -> bool:
    return bool(user is not None and getattr(user, "agency_id", None) and user.agency.code in repatriation_agencies())


def _writers_q(user: Any, action: str) -> Q:
    """Reading is open to every agency; writing only to the repatriation agencies."""
    if action == "view" or is_diplomat(user):
        return Q()
    return Q(pk__in=[])


def visible_people(user: Any) -> Any:
    return Person.objects.filter(person_scoped_q(user, "view", "pk")).values("pk")


class Position(models.TextChoices):
    UNKNOWN = "unknown", _("Not stated")
    ACCEPTS = "accepts", _("Takes back its nationals")
    CASE_BY_CASE = "case_by_case", _("Case by case")
    PROSECUTE_FIRST = "prosecute_first", _("Wants them tried in Iraq first")
    REFUSES = "refuses", _("Refuses")
    NO_ANSWER = "no_answer", _("No answer")


@track
class CountryFile(models.Model):
    code = models.CharField(_("country"), max_length=2, unique=True)
    position = models.CharField(_("stated position"), max_length=16, choices=Position.choices, default=Position.UNKNOWN)
    position_note = models.TextField(_("position in its own words"), blank=True)
    position_on = models.DateField(_("stated on"), null=True, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("country file")

    def __str__(self) -> str:
        return self.code

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return _writers_q(user, action)


@track
class Contact(models.Model):
    country = models.ForeignKey(CountryFile, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=200)
    title = models.CharField(_("title"), max_length=200, blank=True)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    notes = models.CharField(_("notes"), max_length=500, blank=True)
    active = models.BooleanField(_("active"), default=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-active", "name"]
        verbose_name = _("contact")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return _writers_q(user, action)


class OutreachKind(models.TextChoices):
    NOTE_SENT = "note_sent", _("Diplomatic note sent")
    NOTE_ANSWERED = "note_answered", _("Answer to a note received")
    MEETING = "meeting", _("Meeting")
    CALL = "call", _("Call")
    VISIT = "visit", _("Consular visit")


@track
class Outreach(models.Model):
    country = models.ForeignKey(CountryFile, on_delete=models.CASCADE, related_name="outreach")
    kind = models.CharField(_("kind"), max_length=16, choices=OutreachKind.choices)
    on = models.DateField(_("date"))
    reference = models.CharField(_("note number"), max_length=64, blank=True)
    subject = models.CharField(_("subject"), max_length=300)
    summary = models.TextField(_("summary"), blank=True)
    in_reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="answers",
                                    verbose_name=_("answers note"))
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("contact"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-on", "-id"]
        verbose_name = _("outreach")

    def __str__(self) -> str:
        return f"{self.country.code} {self.get_kind_display()} {self.on}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return _writers_q(user, action)


class StepKind(models.TextChoices):
    IDENTITY_CONFIRMED = "identity_confirmed", _("Identity confirmed by the country")
    CONSULAR_ACCESS = "consular_access", _("Consular access")
    ACCEPTED = "accepted", _("Accepted by the country")
    TRAVEL_DOCUMENTS = "travel_documents", _("Travel documents issued")
    SCHEDULED = "scheduled", _("Scheduled")
    HANDED_OVER = "handed_over", _("Handed over")
    REFUSED = "refused", _("Refused")


# What each step needs before it: the country cannot accept a man whose identity it has not confirmed,
# travel documents follow acceptance, a date needs both, a handover needs a date.
PREREQUISITES: dict[str, tuple[str, ...]] = {
    StepKind.IDENTITY_CONFIRMED: (),
    StepKind.CONSULAR_ACCESS: (),
    StepKind.ACCEPTED: (StepKind.IDENTITY_CONFIRMED,),
    StepKind.TRAVEL_DOCUMENTS: (StepKind.ACCEPTED,),
    StepKind.SCHEDULED: (StepKind.ACCEPTED, StepKind.TRAVEL_DOCUMENTS),
    StepKind.HANDED_OVER: (StepKind.SCHEDULED,),
    StepKind.REFUSED: (),
}
TERMINAL = (StepKind.HANDED_OVER, StepKind.REFUSED)
STEP_ORDER = [s.value for s in StepKind]


@track
class Repatriation(models.Model):
    """One person's path back to one of his countries."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="repatriations")
    country = models.CharField(_("country"), max_length=2, db_index=True)
    stage = models.CharField(_("stage"), max_length=20, choices=StepKind.choices, blank=True, db_index=True)
    scheduled_for = models.DateField(_("scheduled for"), null=True, blank=True)
    refusal_reason = models.TextField(_("reason for refusal"), blank=True)
    ledger_seq = models.BigIntegerField(_("ledger event"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        unique_together = [("person", "country")]
        ordering = ["country", "person__ref"]
        verbose_name = _("repatriation")

    def __str__(self) -> str:
        return f"{self.person_id} → {self.country}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(person__in=visible_people(user)) & _writers_q(user, action)

    def done(self) -> set[str]:
        return set(self.steps.values_list("kind", flat=True))


class OverrideKind(models.TextChoices):
    MINOR = "minor", _("Minor")
    PENDING_TRIAL = "pending_trial", _("Pending trial")


@track
class Override(models.Model):
    """A supervisor's recorded decision that a minor or a person awaiting trial may be scheduled."""

    repatriation = models.ForeignKey(Repatriation, on_delete=models.PROTECT, related_name="overrides")
    kind = models.CharField(_("kind"), max_length=16, choices=OverrideKind.choices)
    reason = models.TextField(_("reason"))
    supervisor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("override")

    def __str__(self) -> str:
        return f"{self.kind} by {self.supervisor_id}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(repatriation__person__in=visible_people(user)) & _writers_q(user, action)


@track
class Step(models.Model):
    repatriation = models.ForeignKey(Repatriation, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(_("step"), max_length=20, choices=StepKind.choices)
    on = models.DateField(_("date"))
    note = models.CharField(_("note"), max_length=500, blank=True)
    override = models.ForeignKey(Override, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        # In the order recorded: a handover may come before the date it was scheduled for.
        ordering = ["id"]
        verbose_name = _("step")

    def __str__(self) -> str:
        return f"{self.kind} {self.on}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(repatriation__person__in=visible_people(user)) & _writers_q(user, action)
