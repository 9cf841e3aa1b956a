"""Biometric records: captures (with sha256, operator, station, time), templates (extractor + version),
enrolments, identification results, adjudication decisions, verifications at handovers, and threshold
sets (configuration recorded with every decision).

Images and templates are readable only by users with the `biometric_images` capability (enrolment and
investigation agencies, clerk and above); everyone who may see the person may see that he was enrolled
and the outcome of identifications and verifications.
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


def _person_visible(user: Any, action: str, prefix: str = "person") -> Q:
    return person_scoped_q(user, action, prefix)


def _images_q(user: Any, action: str, prefix: str = "person") -> Q:
    if not can(user, "biometric_images"):
        return Q(pk__in=[])
    return _person_visible(user, action, prefix)


class Modality(models.TextChoices):
    FACE = "face", _("Face")
    FINGER = "finger", _("Fingerprint")


class Source(models.TextChoices):
    UPLOAD = "upload", _("Upload at the enrolment station")
    DROP = "drop", _("Scanner file drop")
    IMPORT = "import", _("ANSI/NIST-ITL import")
    HANDOVER = "handover", _("Capture at a handover")
    SEARCH = "search", _("Investigation search")


class Decision(models.TextChoices):
    NO_MATCH = "no_match", _("No match")
    MATCH = "match", _("Match")
    REVIEW = "review", _("Review")


@track
class ThresholdSet(models.Model):
    """Thresholds as configuration: the active set is copied into every decision it drives."""

    name = models.CharField(_("name"), max_length=100)
    values = models.JSONField(_("thresholds"))
    active = models.BooleanField(_("active"), default=False)
    calibration = models.JSONField(_("calibration summary"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name}{' (active)' if self.active else ''}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q()


@track
class Enrolment(models.Model):
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="biometric_enrolments", verbose_name=_("person"))
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("operator"))
    station = models.CharField(_("station"), max_length=100)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.UPLOAD)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)
    low_quality_accepted = models.BooleanField(_("low quality accepted by the operator"), default=False)
    note = models.TextField(_("note"), blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"enrolment {self.pk} of {self.person.ref}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return _person_visible(user, action)


class DetCurve(models.Model):
    """The DET plot of a calibration (binary, so kept out of the JSON change history; append-only)."""

    threshold_set = models.OneToOneField(ThresholdSet, on_delete=models.PROTECT, related_name="det")
    png = models.BinaryField(editable=False)

    objects = RestrictedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"DET curve of {self.threshold_set_id}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q()


# Captures and templates hold binary data (not JSON-history material) and never change once written:
# the database refuses UPDATE and DELETE on them (apps.py), which is a stronger guarantee than history.
class Capture(models.Model):
    """One captured image as received, with its hash; fingerprints also as WSQ at 500 ppi."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="biometric_captures", null=True, blank=True)
    enrolment = models.ForeignKey(Enrolment, on_delete=models.PROTECT, related_name="captures", null=True, blank=True)
    modality = models.CharField(_("modality"), max_length=10, choices=Modality.choices)
    position = models.PositiveSmallIntegerField(_("finger position"), default=0)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    image = models.BinaryField(editable=False)
    image_format = models.CharField(max_length=20)
    wsq = models.BinaryField(null=True, blank=True, editable=False)
    sha256 = models.CharField(max_length=64, db_index=True)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    quality = models.IntegerField(_("quality"), null=True, blank=True)
    quality_detail = models.JSONField(default=dict, blank=True)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    station = models.CharField(_("station"), max_length=100)
    captured_at = models.DateTimeField(_("captured at"), auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["modality", "position", "-captured_at"]

    def __str__(self) -> str:
        return f"{self.modality} {self.position} ({self.sha256[:12]})"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return _images_q(user, action)


class BiometricTemplate(models.Model):
    capture = models.OneToOneField(Capture, on_delete=models.PROTECT, related_name="template")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="biometric_templates")
    modality = models.CharField(max_length=10, choices=Modality.choices)
    position = models.PositiveSmallIntegerField(default=0)
    extractor = models.CharField(_("extractor"), max_length=120)
    version = models.CharField(_("extractor version"), max_length=120)
    format = models.CharField(max_length=40)
    data = models.BinaryField(editable=False)
    quality = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.modality} template {self.pk} ({self.extractor} {self.version})"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return _images_q(user, action)


@track
class Identification(models.Model):
    """A 1:N search and its fused answer, with the thresholds that produced it."""

    enrolment = models.OneToOneField(Enrolment, on_delete=models.PROTECT, related_name="identification", null=True, blank=True)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="biometric_identifications", null=True, blank=True)
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    strategy = models.CharField(_("strategy"), max_length=40)
    candidates = models.JSONField(_("candidates"), default=list)
    comparisons = models.PositiveIntegerField(default=0)
    thresholds = models.JSONField(_("thresholds"))
    threshold_set = models.ForeignKey(ThresholdSet, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    linked_person = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                      verbose_name=_("linked to"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    probe_sha256 = models.JSONField(default=list)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"identification {self.pk}: {self.decision}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        # A search without an enrolment (investigation) is visible to the biometric agencies only.
        if not can(user, "biometric_images"):
            return _person_visible(user, action)
        return _person_visible(user, action) | Q(person__isnull=True)


@track
class Adjudication(models.Model):
    identification = models.ForeignKey(Identification, on_delete=models.PROTECT, related_name="adjudications")
    candidate = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+", verbose_name=_("candidate"))
    same_person = models.BooleanField(_("same person"))
    note = models.TextField(_("note"), blank=True)
    thresholds = models.JSONField(_("thresholds"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"adjudication {self.pk}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return _images_q(user, action, "candidate")


@track
class Verification(models.Model):
    """1:1 at a handover: the person in front of the officer against the enrolled templates."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="biometric_verifications")
    capture = models.ForeignKey(Capture, on_delete=models.PROTECT, related_name="+")
    modality = models.CharField(max_length=10, choices=Modality.choices)
    score = models.FloatField(_("score"))
    threshold = models.FloatField(_("threshold"))
    passed = models.BooleanField(_("passed"))
    thresholds = models.JSONField(_("thresholds"))
    handover_ref = models.CharField(_("handover"), max_length=100, blank=True)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    station = models.CharField(_("station"), max_length=100)
    at = models.DateTimeField(auto_now_add=True)
    extractor = models.CharField(max_length=120)
    version = models.CharField(max_length=120)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"verification {self.pk}: {'pass' if self.passed else 'fail'}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return _person_visible(user, action)


APPEND_ONLY_TABLES = ["biometrics_capture", "biometrics_biometrictemplate", "biometrics_detcurve"]
