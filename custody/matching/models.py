"""Identity resolution records: candidate pairs, human decisions, merges, reference lists.

A merge never deletes or rewrites a person: it records that two registry entries are one identity,
and an un-merge closes that record. Identities are read from the open merges.
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


def _both_visible(user: Any, action: str, a: str = "person_a", b: str = "person_b") -> Q:
    return person_scoped_q(user, action, a) & person_scoped_q(user, action, b)


class PairStatus(models.TextChoices):
    OPEN = "open", _("awaiting a decision")
    SAME = "same", _("decided: same person")
    DIFFERENT = "different", _("decided: different people")
    UNSURE = "unsure", _("decided: unsure")
    AUTO = "auto", _("merged automatically")
    KEPT_APART = "kept_apart", _("kept apart: evidence against")


@track
class CandidatePair(models.Model):
    """Two registry entries the model thinks may be one person, with its explained score."""

    person_a = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+", verbose_name=_("person"))
    person_b = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+", verbose_name=_("possible match"))
    weight = models.FloatField(_("match weight"))
    probability = models.FloatField(_("match probability"))
    explanation = models.JSONField(_("explanation"), default=dict)
    status = models.CharField(_("status"), max_length=10, choices=PairStatus.choices, default=PairStatus.OPEN, db_index=True)
    found_by = models.CharField(_("found by"), max_length=20, default="scan")  # scan, registration, check
    # The merge policy's decision at the last scan (custody.engines.linkage.policy): its outcome, its
    # reasons (code, kind, params) and what a merge would change (queue order, highest first).
    outcome = models.CharField(_("policy outcome"), max_length=12, blank=True)
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    stakes = models.PositiveSmallIntegerField(_("what a merge would change"), default=0, db_index=True)
    run = models.ForeignKey("LinkageRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="pairs",
                            verbose_name=_("last decided by scan"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-weight"]
        verbose_name = _("candidate pair")
        constraints = [
            models.UniqueConstraint(fields=["person_a", "person_b"], name="matching_pair_once"),
            models.CheckConstraint(condition=Q(person_a__lt=models.F("person_b")), name="matching_pair_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.person_a_id}~{self.person_b_id} {self.weight:+.1f}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return _both_visible(user, action)


class Decision(models.TextChoices):
    SAME = "same", _("same person")
    DIFFERENT = "different", _("different people")
    UNSURE = "unsure", _("unsure")


@track
class MatchDecision(models.Model):
    """An analyst's decision on a pair, with the score shown when it was taken."""

    pair = models.ForeignKey(CandidatePair, on_delete=models.PROTECT, related_name="decisions")
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(auto_now_add=True)
    weight = models.FloatField(_("match weight at decision"))
    probability = models.FloatField(_("match probability at decision"))
    note = models.CharField(_("note"), max_length=500, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-decided_at", "-id"]
        verbose_name = _("match decision")

    def __str__(self) -> str:
        return f"{self.pair_id}: {self.decision}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return _both_visible(user, action, "pair__person_a", "pair__person_b")


@track
class Merge(models.Model):
    """Two entries recorded as one identity; reversible (undone_at), never deleted."""

    survivor = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+", verbose_name=_("kept entry"))
    merged = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+", verbose_name=_("merged entry"))
    pair = models.ForeignKey(CandidatePair, null=True, blank=True, on_delete=models.PROTECT, related_name="merges")
    decision = models.ForeignKey(MatchDecision, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    automatic = models.BooleanField(_("automatic"), default=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    undo_reason = models.CharField(_("reason for undoing"), max_length=500, blank=True)
    # the scan that made an automatic merge (undone as a whole by matching.undo_run)
    run = models.ForeignKey("LinkageRun", null=True, blank=True, on_delete=models.PROTECT, related_name="merges",
                            verbose_name=_("scan"))
    reasons = models.JSONField(_("reasons"), default=list, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("merge")

    def __str__(self) -> str:
        return f"{self.merged_id}->{self.survivor_id}"

    @property
    def active(self) -> bool:
        return self.undone_at is None

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return _both_visible(user, action, "survivor", "merged")


@track
class ReferenceList(models.Model):
    """An imported outside list (e.g. the UN Security Council consolidated list)."""

    name = models.CharField(_("name"), max_length=200)
    source = models.CharField(_("source"), max_length=200, blank=True)
    generated_on = models.CharField(_("list date"), max_length=40, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-imported_at"]
        verbose_name = _("reference list")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        # public lists: everyone who may view the registry sees them
        return Q()


@track
class ReferenceEntry(models.Model):
    """One listed individual: primary name, other names (original script, aliases), dates."""

    ref_list = models.ForeignKey(ReferenceList, on_delete=models.CASCADE, related_name="entries")
    reference = models.CharField(_("reference number"), max_length=60, db_index=True)
    name = models.CharField(_("name"), max_length=300)
    other_names = models.JSONField(_("other names"), default=list)
    dob = models.CharField(_("date of birth"), max_length=120, blank=True)
    nationality = models.CharField(_("nationality"), max_length=200, blank=True)
    listed_on = models.CharField(_("listed on"), max_length=40, blank=True)
    comments = models.TextField(_("comments"), blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["ref_list", "reference"]
        verbose_name = _("reference entry")

    def __str__(self) -> str:
        return f"{self.reference} {self.name}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q()


class LinkageRun(models.Model):
    """One estimation of the linkage model over the registry: its parameters and what it found.
    Kept so that any score can be traced to the parameters that produced it."""

    created_at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    records = models.PositiveIntegerField(default=0)
    candidate_pairs = models.PositiveIntegerField(default=0)
    params = models.JSONField(default=dict)
    threshold = models.FloatField()
    review_threshold = models.FloatField()
    queued = models.PositiveIntegerField(default=0)
    merged = models.PositiveIntegerField(default=0)
    kept_apart = models.PositiveIntegerField(default=0)
    # the summary printed and shown: counts of each reason by outcome, chains stopped, consent needed
    summary = models.JSONField(default=dict, blank=True)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    undo_reason = models.CharField(_("reason for undoing"), max_length=500, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("linkage run")

    def __str__(self) -> str:
        return f"run {self.pk} ({self.records} records)"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q()
