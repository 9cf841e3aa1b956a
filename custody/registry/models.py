"""The registry: people, their names in both scripts, identifiers, families, facilities, households.

The fields follow what international humanitarian law expects a detaining power to record (customary
rule 123; GC III 122-123, GC IV 136-138): name, date and place of birth, nationality, father's first
name, mother's maiden name, date and place of capture and of internment, the person to inform.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Exists, Max, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from custody.core.access import RestrictedQuerySet, clearance_q, person_scoped_q, releasable_exists
from custody.core.history import track
from custody.core.releasable import Releasable


class FacilityKind(models.TextChoices):
    PRISON = "prison", _("Prison")
    CAMP = "camp", _("Camp")
    TRANSIT = "transit", _("Transit point")
    RECEIVING = "receiving", _("Receiving facility")
    HOSPITAL = "hospital", _("Hospital")
    COURT = "court", _("Court")


@track
class Facility(models.Model):
    code = models.CharField(_("code"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_ar = models.CharField(_("Arabic name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=FacilityKind.choices)
    country = models.CharField(_("country"), max_length=2)
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True)
    custodian = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="facilities", verbose_name=_("custodian authority"))

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("facility")
        verbose_name_plural = _("facilities")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        # Where people are held is shared knowledge among the agencies; a detaining authority with
        # custody scope sees its own facilities and the ones its detainees went to.
        if user.agency is not None and user.agency.custody_scope:
            return Q(custodian_id=user.agency_id) | Q(kind__in=[FacilityKind.RECEIVING, FacilityKind.HOSPITAL, FacilityKind.TRANSIT])
        return Q()

    def display_name(self, language: str = "en") -> str:
        return self.name_ar if language.startswith("ar") and self.name_ar else self.name


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")
    UNKNOWN = "U", _("Unknown")


class BirthPrecision(models.TextChoices):
    EXACT = "exact", _("Exact date")
    YEAR = "year", _("Year only")
    RANGE = "range", _("Estimated range")
    UNKNOWN = "unknown", _("Unknown")


class LegalStatus(models.TextChoices):
    HELD = "held", _("Held")
    CHARGED = "charged", _("Charged")
    ON_TRIAL = "on_trial", _("On trial")
    CONVICTED = "convicted", _("Convicted")
    RELEASED = "released", _("Released")
    REPATRIATED = "repatriated", _("Repatriated")
    DECEASED = "deceased", _("Deceased")
    ESCAPED = "escaped", _("Escaped")


class PopulationGroup(models.TextChoices):
    DETAINEE = "detainee", _("Detainee")
    CAMP_RESIDENT = "resident", _("Camp resident")


@track
class Household(models.Model):
    camp = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="households", verbose_name=_("camp"))
    ref = models.CharField(_("household number"), max_length=32)
    sector = models.CharField(_("sector"), max_length=32, blank=True)
    tent = models.CharField(_("tent"), max_length=32, blank=True)
    head = models.ForeignKey("Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("head"))

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        unique_together = [("camp", "ref")]
        ordering = ["camp", "ref"]
        verbose_name = _("household")

    def __str__(self) -> str:
        return f"{self.camp.code}/{self.ref}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q()


class ImportBatch(models.Model):
    """One committed roster import: who imported which file when; undone as a whole."""

    at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    # The rows themselves, hashed apart from their file format: the same roster saved again as CSV,
    # or re-exported as XLSX, is still recognised as imported (custody.registry.importer.content_hash).
    content_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    source = models.CharField(max_length=100, blank=True)
    rows = models.PositiveIntegerField(default=0)
    mapping = models.JSONField(default=dict)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.rows} rows)"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(user__agency_id=user.agency_id)



# Written by the ledger's projection; the vocabulary lives with the field it describes.
class CustodyStatus(models.TextChoices):
    REGISTERED = "registered", _("Registered, not yet received")
    IN_CUSTODY = "in_custody", _("In custody")
    IN_TRANSIT = "in_transit", _("In transit")
    HOSPITAL = "hospital", _("In hospital")
    AT_COURT = "at_court", _("At court")
    RELEASED = "released", _("Released")
    REPATRIATED = "repatriated", _("Repatriated")
    DECEASED = "deceased", _("Deceased")
    ESCAPED = "escaped", _("Escaped")


@track
class Person(Releasable):
    ref = models.CharField(_("reference"), max_length=20, unique=True)
    group = models.CharField(_("group"), max_length=10, choices=PopulationGroup.choices, default=PopulationGroup.DETAINEE, db_index=True)
    display_name = models.CharField(_("name"), max_length=300, db_index=True)
    display_name_ar = models.CharField(_("name (Arabic script)"), max_length=300, blank=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    birth_precision = models.CharField(_("date of birth precision"), max_length=8, choices=BirthPrecision.choices, default=BirthPrecision.UNKNOWN)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    birth_year_min = models.IntegerField(_("born no earlier than"), null=True, blank=True)
    birth_year_max = models.IntegerField(_("born no later than"), null=True, blank=True)
    place_of_birth = models.CharField(_("place of birth"), max_length=200, blank=True)
    father_name = models.CharField(_("father's name"), max_length=200, blank=True)
    mother_name = models.CharField(_("mother's full name"), max_length=300, blank=True)
    capture_date = models.DateField(_("date of capture"), null=True, blank=True)
    capture_place = models.CharField(_("place of capture"), max_length=200, blank=True)
    internment_date = models.DateField(_("date of internment"), null=True, blank=True)
    internment_place = models.CharField(_("place of internment"), max_length=200, blank=True)
    next_of_kin_name = models.CharField(_("person to inform"), max_length=200, blank=True)
    next_of_kin_relation = models.CharField(_("relation"), max_length=60, blank=True)
    next_of_kin_contact = models.CharField(_("contact"), max_length=200, blank=True)
    legal_status = models.CharField(_("legal status"), max_length=12, choices=LegalStatus.choices, default=LegalStatus.HELD, db_index=True)
    risk_tier = models.PositiveSmallIntegerField(_("risk tier"), null=True, blank=True, choices=[(1, "1"), (2, "2"), (3, "3")], db_index=True)
    risk_rationale = models.TextField(_("risk rationale"), blank=True)
    faction = models.CharField(_("faction"), max_length=60, blank=True)
    is_minor = models.BooleanField(_("minor"), default=False)
    medical_flag = models.BooleanField(_("medical"), default=False)
    medical_note = models.CharField(_("medical note"), max_length=300, blank=True)
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="members", verbose_name=_("household"))
    # Written only by custody.ledger.projection.save, through the ORM, in the same transaction as each
    # ledger event (one owner of custody state); everything else reads them.
    current_facility = models.ForeignKey(Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="people", verbose_name=_("facility"))
    current_custodian = models.ForeignKey("accounts.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("custodian"))
    custody_status = models.CharField(
        _("custody status"), max_length=20, blank=True, db_index=True, choices=CustodyStatus.choices
    )
    custodians_ever = models.ManyToManyField("accounts.Agency", blank=True, related_name="+", verbose_name=_("custodians, past and present"))
    # The agency that set the current classification: only it (a supervisor) may lower it again
    # (custody.registry.services.do_classify). Empty for records made before it was kept: then the
    # originating agency counts as the one that set it.
    classified_by = models.ForeignKey("accounts.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                      verbose_name=_("classification set by"))
    import_batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="people")
    # Where the source roster says the person is. Custody itself (current_facility) starts only when a
    # clerk records the intake in the ledger.
    declared_facility = models.ForeignKey(Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("facility named by the source"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["ref"]
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return f"{self.ref} {self.display_name}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        q = clearance_q(user)
        q &= releasable_exists(cls, user)
        agency = user.agency
        if agency is not None and agency.custody_scope:
            # A detaining authority sees the people it holds or held, and the residents of the camps
            # it controls (households are not custody events, so custodians_ever does not cover them).
            through = cls.custodians_ever.through
            held = Q(Exists(through.objects.filter(person_id=OuterRef("pk"), agency_id=agency.pk)))
            q &= held | Q(household__camp__custodian_id=agency.pk)
        return q

    def birth_display(self) -> str:
        if self.birth_precision == BirthPrecision.EXACT and self.birth_date:
            return self.birth_date.isoformat()
        if self.birth_precision == BirthPrecision.YEAR and self.birth_year_min:
            return str(self.birth_year_min)
        if self.birth_precision == BirthPrecision.RANGE and self.birth_year_min and self.birth_year_max:
            return f"{self.birth_year_min}–{self.birth_year_max}"
        return "—"


class Script(models.TextChoices):
    ARABIC = "arab", _("Arabic script")
    LATIN = "latn", _("Latin letters")
    OTHER = "other", _("Other")


@track
class PersonName(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="names")
    script = models.CharField(_("script"), max_length=5, choices=Script.choices)
    full = models.CharField(_("name as written"), max_length=300)
    given = models.CharField(_("given name"), max_length=100, blank=True)
    father = models.CharField(_("father's name"), max_length=100, blank=True)
    grandfather = models.CharField(_("grandfather's name"), max_length=100, blank=True)
    family = models.CharField(_("family or tribe"), max_length=100, blank=True)
    kunya = models.CharField(_("kunya"), max_length=100, blank=True)
    nisba = models.CharField(_("nisba"), max_length=100, blank=True)
    source = models.CharField(_("source"), max_length=100, blank=True)
    is_alias = models.BooleanField(_("alias"), default=False)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["person", "is_alias", "id"]
        verbose_name = _("name")

    def __str__(self) -> str:
        return self.full

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return person_scoped_q(user, action)


class NameToken(models.Model):
    """Search index: one normalised token of one name. Rebuilt whenever names change."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=60, db_index=True)

    ACCESS_EXEMPT = "internal index; read only through search.find_people, which restricts persons"

    class Meta:
        indexes = [models.Index(fields=["token", "person"])]

    def __str__(self) -> str:
        return self.token


class IdentifierKind(models.TextChoices):
    PRISONER = "prisoner", _("Prisoner number")
    WRISTBAND = "wristband", _("Wristband")
    NATIONAL_ID = "national_id", _("National identity number")
    PASSPORT = "passport", _("Passport")
    DOCUMENT = "document", _("Other document")
    ENROLMENT = "enrolment", _("Biometric enrolment id")
    LIST_REF = "list_ref", _("List reference")


@track
class Identifier(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(_("kind"), max_length=12, choices=IdentifierKind.choices)
    authority = models.ForeignKey("accounts.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("issued by"))
    country = models.CharField(_("country"), max_length=2, blank=True)
    value = models.CharField(_("number"), max_length=64)
    value_norm = models.CharField(max_length=64, db_index=True, editable=False)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "value"]
        verbose_name = _("identifier")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.value_norm = self.normalise(self.value)
        super().save(*args, **kwargs)

    @staticmethod
    def normalise(value: str) -> str:
        return "".join(ch for ch in value.upper() if ch.isalnum())

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return person_scoped_q(user, action)


@track
class Nationality(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="nationalities")
    country = models.CharField(_("country"), max_length=2, db_index=True)
    source = models.CharField(_("source"), max_length=100, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        unique_together = [("person", "country")]
        verbose_name = _("nationality")
        verbose_name_plural = _("nationalities")

    def __str__(self) -> str:
        return self.country

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return person_scoped_q(user, action)


class Relation(models.TextChoices):
    FATHER = "father", _("Father")
    MOTHER = "mother", _("Mother")
    HUSBAND = "husband", _("Husband")
    WIFE = "wife", _("Wife")
    SON = "son", _("Son")
    DAUGHTER = "daughter", _("Daughter")
    BROTHER = "brother", _("Brother")
    SISTER = "sister", _("Sister")
    OTHER = "other", _("Other relative")


INVERSE_RELATION = {
    # Read as: if B is A's father, A is B's son or daughter (by A's sex).
    "father": ("son", "daughter"), "mother": ("son", "daughter"),
    "husband": ("wife", "wife"), "wife": ("husband", "husband"),
    "son": ("father", "mother"), "daughter": ("father", "mother"),
    "brother": ("brother", "sister"), "sister": ("brother", "sister"), "other": ("other", "other"),
}


@track
class FamilyLink(models.Model):
    """`relative` is `person`'s <relation>. Shown from both sides; stored once."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="family_links")
    relative = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="family_links_in")
    relation = models.CharField(_("relation"), max_length=10, choices=Relation.choices)
    source = models.CharField(_("source"), max_length=100, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        unique_together = [("person", "relative", "relation")]
        verbose_name = _("family link")

    def __str__(self) -> str:
        return f"{self.relative} is {self.relation} of {self.person}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return person_scoped_q(user, action) & person_scoped_q(user, action, "relative")


@track
class KeepApart(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="keep_apart")
    other = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="keep_apart_in")
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        unique_together = [("person", "other")]
        verbose_name = _("keep apart")

    def __str__(self) -> str:
        return f"{self.person_id} apart from {self.other_id}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return person_scoped_q(user, action) & person_scoped_q(user, action, "other")


class FileKind(models.TextChoices):
    PHOTO = "photo", _("Photo")
    DOCUMENT = "document", _("Document")


def _person_file_path(instance: PersonFile, filename: str) -> str:
    return f"registry/{instance.sha256[:2]}/{instance.sha256}"


@track
class PersonFile(Releasable):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="files")
    kind = models.CharField(_("kind"), max_length=10, choices=FileKind.choices)
    file = models.FileField(upload_to=_person_file_path)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(auto_now_add=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at"]

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return person_scoped_q(user, action) & clearance_q(user) & releasable_exists(cls, user)


# Person references: kept beside the model so that the importer and the services take them alike.
REF_PREFIX = "P-"
REF_WIDTH = 6


def next_refs(n: int) -> list[str]:
    """The next n person references. Called inside the writer's transaction: SQLite's IMMEDIATE
    transactions and PostgreSQL's unique index on ref keep two writers from taking the same."""
    last = Person.objects.filter(ref__startswith=REF_PREFIX).aggregate(m=Max("ref"))["m"]
    start = int(last[len(REF_PREFIX):]) + 1 if last else 1
    return [f"{REF_PREFIX}{i:0{REF_WIDTH}d}" for i in range(start, start + n)]
