"""Cases and disclosure: items of evidence and information about people, their releasability, the
review of what may be disclosed to a recipient, redacted copies, the prosecution files generated, and
the judicial status of each person's case.

An item's releasability has two halves: agencies (`Releasable`: who inside the deployment may see it)
and nations (`ItemNation`: to which countries' courts and prosecutors it may ever be disclosed). Only
the originating agency changes either (services.set_releasability).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from custody.core.access import RestrictedQuerySet, can, clearance_q, person_scoped_q, releasable_exists
from custody.core.history import track
from custody.core.releasable import Releasable
from custody.registry.models import Person


def visible_people(user: Any, action: str = "view") -> Any:
    return Person.objects.filter(person_scoped_q(user, action, "pk")).values("pk")


class ItemKind(models.TextChoices):
    DOCUMENT = "document", _("Document")
    BATTLEFIELD = "battlefield", _("Battlefield material")
    INTERVIEW = "interview", _("Interview record")
    INTELLIGENCE = "intelligence", _("Intelligence report")
    BIOMETRIC_HIT = "biometric_hit", _("Biometric hit")


# Kinds that are intelligence in themselves: an agency without the intelligence capability (the
# humanitarian observer) never sees them, whatever their releasability says.
INTELLIGENCE_KINDS = (ItemKind.INTELLIGENCE, ItemKind.BIOMETRIC_HIT)
# Kinds gathered for investigations: what a detainee said in interview and the documents seized or
# obtained. The humanitarian observer has no need of them either (issue 14); it still sees such an item
# its own agency registered.
INVESTIGATIVE_KINDS = (ItemKind.INTERVIEW, ItemKind.DOCUMENT)


@track
class Item(Releasable):
    ref = models.CharField(_("reference"), max_length=20, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=ItemKind.choices)
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("text"), blank=True)
    source = models.CharField(_("source"), max_length=200)
    item_date = models.DateField(_("date"), null=True, blank=True)
    people = models.ManyToManyField(Person, related_name="case_items", verbose_name=_("people"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("item")
        verbose_name_plural = _("items")

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        q = clearance_q(user)
        q &= releasable_exists(cls, user)
        if not can(user, "intelligence"):
            q &= ~Q(kind__in=INTELLIGENCE_KINDS)
            q &= ~Q(kind__in=INVESTIGATIVE_KINDS) | Q(originating_agency_id=user.agency_id)
        # About people: visible only if every person it names is visible to the user (an item about
        # two men must not reveal the second to an agency that may not know of him).
        through = cls.people.through
        q &= ~Q(Exists(through.objects.filter(item_id=OuterRef("pk")).exclude(person_id__in=visible_people(user))))
        if action == "change":
            # Only the originating agency edits its item or its releasability.
            q &= Q(originating_agency_id=user.agency_id)
        return q

    def nations(self) -> list[str]:
        return sorted(self.release_nations.values_list("country", flat=True))


@track
class ItemNation(models.Model):
    """The item may be disclosed to this country's courts and prosecutors."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="release_nations")
    country = models.CharField(_("country"), max_length=2)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        unique_together = [("item", "country")]
        ordering = ["country"]

    def __str__(self) -> str:
        return self.country

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(item__in=Item.objects.filter(Item.access_q(user, action)).values("pk"))


@track
class ReleasabilityChange(models.Model):
    """Who changed an item's releasability, from what to what (the M2M rows themselves carry no
    history of their own)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="releasability_changes")
    at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.item_id} {self.at:%Y-%m-%d}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(item__in=Item.objects.filter(Item.access_q(user, "view")).values("pk"))


def _attachment_path(instance: Attachment, filename: str) -> str:
    return f"cases/{instance.sha256[:2]}/{instance.sha256}"


@track
class Attachment(models.Model):
    """A file of an item, stored under its SHA-256; never altered (redactions are copies)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=_attachment_path)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(item__in=Item.objects.filter(Item.access_q(user, action)).values("pk"))

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def is_text(self) -> bool:
        return self.content_type.startswith("text/")


class RedactionKind(models.TextChoices):
    BODY = "body", _("Item text")
    TEXT = "text", _("Text file")
    IMAGE = "image", _("Image")


def _redaction_path(instance: RedactedCopy, filename: str) -> str:
    return f"cases/redacted/{instance.sha256[:2]}/{instance.sha256}"


@track
class RedactedCopy(models.Model):
    """A redacted copy of an item's text or of one of its attachments. The original stays as it was."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="redactions")
    attachment = models.ForeignKey(Attachment, null=True, blank=True, on_delete=models.CASCADE, related_name="redactions")
    kind = models.CharField(_("kind"), max_length=8, choices=RedactionKind.choices)
    spans = models.JSONField(_("text spans"), default=list, blank=True)
    regions = models.JSONField(_("image regions"), default=list, blank=True)
    text = models.TextField(_("redacted text"), blank=True)
    file = models.FileField(upload_to=_redaction_path, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    source_sha256 = models.CharField(max_length=64)
    sha256 = models.CharField(max_length=64)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("redacted copy")

    def __str__(self) -> str:
        return f"{self.item.ref} · {self.get_kind_display()} #{self.pk}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(item__in=Item.objects.filter(Item.access_q(user, "view")).values("pk"))


class RecipientKind(models.TextChoices):
    COURT = "court", _("Court")
    PROSECUTOR = "prosecutor", _("Prosecutor")
    OTHER = "other", _("Other authority")


@track
class Recipient(models.Model):
    """Who may receive a disclosure: a court or a named country's prosecutor. What it may receive is
    bound to its country (the item's nations)."""

    code = models.CharField(_("code"), max_length=24, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_ar = models.CharField(_("Arabic name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=RecipientKind.choices)
    country = models.CharField(_("country"), max_length=2)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("recipient")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q()

    def display_name(self, language: str = "en") -> str:
        return self.name_ar if language.startswith("ar") and self.name_ar else self.name


class DisclosureState(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    UNDER_REVIEW = "under_review", _("Under review")
    APPROVED = "approved", _("Approved")
    APPROVED_REDACTED = "approved_redacted", _("Approved with redactions")
    REFUSED = "refused", _("Refused")
    WITHDRAWN = "withdrawn", _("Withdrawn")


OPEN_STATES = (DisclosureState.REQUESTED, DisclosureState.UNDER_REVIEW)
APPROVED_STATES = (DisclosureState.APPROVED, DisclosureState.APPROVED_REDACTED)


@track
class DisclosureRequest(models.Model):
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="disclosures")
    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="disclosures")
    state = models.CharField(_("state"), max_length=20, choices=DisclosureState.choices, default=DisclosureState.REQUESTED, db_index=True)
    justification = models.TextField(_("justification"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Two-person rule: the first approval waits here until a second, different supervisor confirms.
    first_approver = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    first_approved_at = models.DateTimeField(null=True, blank=True)
    second_approver = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    redactions = models.ManyToManyField(RedactedCopy, blank=True, related_name="disclosures")
    decision_reason = models.TextField(_("reasons"), blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("disclosure request")

    def __str__(self) -> str:
        return f"D-{self.pk} {self.item.ref} → {self.recipient.code}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(item__in=Item.objects.filter(Item.access_q(user, "view")).values("pk"))

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


@track
class DisclosureEvent(models.Model):
    """The full history of one request: every transition, by whom, with the note given."""

    request = models.ForeignKey(DisclosureRequest, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(_("action"), max_length=30)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20)
    note = models.TextField(_("note"), blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.from_state}→{self.to_state}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(request__in=DisclosureRequest.objects.filter(DisclosureRequest.access_q(user, "view")).values("pk"))


def _file_path(instance: ProsecutionFile, filename: str) -> str:
    return f"cases/files/{filename}"


@track
class ProsecutionFile(models.Model):
    """One generation of a prosecution file: who, when, for whom, which items, and the hashes."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="prosecution_files")
    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="files")
    language = models.CharField(_("language"), max_length=5)
    generated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    generated_at = models.DateTimeField(auto_now_add=True)
    items = models.ManyToManyField(Item, blank=True, related_name="+")
    item_refs = models.JSONField(default=list)
    disclosure_ids = models.JSONField(default=list)
    pdf = models.FileField(upload_to=_file_path)
    pdf_sha256 = models.CharField(max_length=64)
    bundle = models.FileField(upload_to=_file_path)
    bundle_sha256 = models.CharField(max_length=64)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-generated_at", "-id"]
        verbose_name = _("prosecution file")

    def __str__(self) -> str:
        return f"{self.person_id} → {self.recipient_id} ({self.language})"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        # The file is as sensitive as the most sensitive item in it: visible only to those who may see
        # the person and every item it holds.
        hidden_items = Item.objects.exclude(Item.access_q(user, "view")).values("pk")
        through = cls.items.through
        return Q(person__in=visible_people(user)) & ~Q(Exists(through.objects.filter(prosecutionfile_id=OuterRef("pk"), item_id__in=hidden_items)))


class CaseStage(models.TextChoices):
    INVESTIGATION = "investigation", _("Investigation")
    REFERRED = "referred", _("Referred")
    CHARGED = "charged", _("Charged")
    TRIAL = "trial", _("Trial")
    VERDICT = "verdict", _("Verdict")
    SENTENCE = "sentence", _("Sentence")


STAGE_ORDER = [s.value for s in CaseStage]
# A trial is pending from referral until the verdict: such a person cannot be repatriated without a
# supervisor's override (repatriation rules).
PENDING_TRIAL_STAGES = (CaseStage.REFERRED, CaseStage.CHARGED, CaseStage.TRIAL)


class Verdict(models.TextChoices):
    NONE = "", _("—")
    CONVICTED = "convicted", _("Convicted")
    ACQUITTED = "acquitted", _("Acquitted")


@track
class Case(models.Model):
    """The judicial status of one person's case."""

    person = models.OneToOneField(Person, on_delete=models.PROTECT, related_name="case")
    stage = models.CharField(_("status"), max_length=16, choices=CaseStage.choices, default=CaseStage.INVESTIGATION, db_index=True)
    court = models.CharField(_("court"), max_length=200, blank=True)
    opened_on = models.DateField(_("investigation opened"), null=True, blank=True)
    referred_on = models.DateField(_("referred on"), null=True, blank=True)
    charged_on = models.DateField(_("charged on"), null=True, blank=True)
    trial_on = models.DateField(_("trial opened on"), null=True, blank=True)
    verdict_on = models.DateField(_("verdict on"), null=True, blank=True)
    verdict = models.CharField(_("verdict"), max_length=10, choices=Verdict.choices, blank=True)
    sentence = models.CharField(_("sentence"), max_length=300, blank=True)
    sentence_on = models.DateField(_("sentenced on"), null=True, blank=True)
    next_hearing = models.DateField(_("next hearing"), null=True, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["person__ref"]
        verbose_name = _("case")

    def __str__(self) -> str:
        return f"{self.person.ref} {self.get_stage_display()}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(person__in=visible_people(user))

    @property
    def trial_pending(self) -> bool:
        return self.stage in PENDING_TRIAL_STAGES


@track
class CaseStep(models.Model):
    """Each change of a case's status, kept in order (the case row holds only the latest)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="steps")
    stage = models.CharField(_("status"), max_length=16, choices=CaseStage.choices)
    on = models.DateField(_("date"))
    court = models.CharField(_("court"), max_length=200, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["on", "id"]

    def __str__(self) -> str:
        return f"{self.stage} {self.on}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(case__person__in=visible_people(user))
