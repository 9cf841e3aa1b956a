"""The custody ledger's tables.

Append-only (refused by the model and by database triggers on SQLite and PostgreSQL):
LedgerEvent, TreeNode, SignedCheckpoint. Everything else is derived (CustodyState, the projection,
rebuildable from the events) or a workflow around the log (handovers, roll calls, discrepancies).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custody.core.access import RestrictedQuerySet, person_scoped_q
from custody.core.history import track
from custody.registry.models import CustodyStatus

APPEND_ONLY_TABLES = (
    "ledger_ledgerevent", "ledger_treenode", "ledger_signedcheckpoint", "ledger_eventfile", "ledger_eventattachment",
    "ledger_witnesscosignature",
)


class AppendOnlyError(Exception):
    pass


class AppendOnly(models.Model):
    """Refuses updates and deletes in Python too, so the mistake is caught before the database's trigger."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.db_table} is append-only: record a correction instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError(f"{self._meta.db_table} is append-only: record a correction instead")


class EventKind(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    INTAKE = "intake", _("Intake")
    MOVED = "moved", _("Moved")
    MANIFESTED = "manifested", _("Manifested")
    DEPARTED = "departed", _("Departed")
    ARRIVED = "arrived", _("Arrived")
    HANDED_OVER = "handed_over", _("Handed over")
    HOSPITALISED = "hospitalised", _("Hospitalised")
    RETURNED = "returned", _("Returned")
    TRANSFERRED_TO_COURT = "transferred_to_court", _("Transferred to court")
    RELEASED = "released", _("Released")
    REPATRIATED = "repatriated", _("Repatriated")
    DIED = "died", _("Died")
    ESCAPED = "escaped", _("Escaped")
    RECAPTURED = "recaptured", _("Recaptured")
    CORRECTION = "correction", _("Correction")


def _person_visible_q(user: Any, action: str) -> Q:
    return person_scoped_q(user, action)


class LedgerEvent(AppendOnly):
    """One custody event. `body` is the canonical JSON that is hashed into the tree; the other
    columns repeat its values for queries, and `custody ledger verify` checks they still agree."""

    seq = models.BigIntegerField(_("sequence"), unique=True)
    # Indexes cost every append: only those the pages and the rules query (person, facility+time,
    # manifest, seq, idempotency id) are kept.
    kind = models.CharField(_("event"), max_length=24, choices=EventKind.choices)
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="ledger_events", verbose_name=_("person"))
    occurred_at = models.DateTimeField(_("when it happened"))
    recorded_at = models.DateTimeField(_("when it was recorded"))
    facility = models.ForeignKey("registry.Facility", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_events", verbose_name=_("facility"))
    custodian = models.ForeignKey("accounts.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("custodian"), db_index=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by"), db_index=False)
    idempotency_id = models.CharField(_("idempotency id"), max_length=80, unique=True)
    manifest = models.CharField(_("manifest"), max_length=64, blank=True, db_index=True)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    body = models.TextField(_("canonical JSON"))

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        verbose_name = _("custody event")
        verbose_name_plural = _("custody events")
        indexes = [models.Index(fields=["person", "seq"]), models.Index(fields=["facility", "occurred_at"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind} {self.person_id}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return _person_visible_q(user, action)


class TreeNode(AppendOnly):
    """A complete node of the Merkle tree: the root of leaves [index * 2**level, (index + 1) * 2**level).
    Level 0 holds the leaf hashes. Never changes once written (see custody/engines/ledger/merkle.py)."""

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    ACCESS_EXEMPT = "hashes only; proofs are served through the ledger services"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="ledger_treenode_level_index")]

    def __str__(self) -> str:
        return f"node ({self.level}, {self.index})"


class SignedCheckpoint(AppendOnly):
    tree_size = models.BigIntegerField(_("events covered"), db_index=True)
    root_hash = models.BinaryField(max_length=32)
    timestamp = models.CharField(_("signed at"), max_length=32)
    key_id = models.CharField(_("key id"), max_length=16)
    signature = models.BinaryField(max_length=64)
    origin = models.CharField(max_length=200)

    ACCESS_EXEMPT = "public commitments: partners receive them in bundles"

    class Meta:
        ordering = ["tree_size", "id"]
        verbose_name = _("signed checkpoint")

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size} at {self.timestamp}"


class WitnessCosignature(AppendOnly):
    """A partner agency's countersignature of one of our checkpoints (`POST /api/ledger/witness/`,
    `custody ledger witness --cosign-key`): its Ed25519 signature over the checkpoint's text, checked on
    receipt. The partner keeps the checkpoint in its own witness file; this row is our copy of its word."""

    tree_size = models.BigIntegerField(_("events covered"), db_index=True)
    root_hash = models.BinaryField(max_length=32)
    checkpoint_timestamp = models.CharField(_("checkpoint signed at"), max_length=32)
    witness = models.CharField(_("witness"), max_length=100)
    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    key_id = models.CharField(_("witness key id"), max_length=16)
    public_key = models.BinaryField(max_length=32)
    timestamp = models.CharField(_("countersigned at"), max_length=32)
    signature = models.BinaryField(max_length=64)
    received_at = models.DateTimeField(default=timezone.now)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")

    ACCESS_EXEMPT = "public commitments: countersignatures of checkpoints partners already hold"

    class Meta:
        ordering = ["tree_size", "id"]
        verbose_name = _("witness countersignature")
        constraints = [models.UniqueConstraint(fields=["tree_size", "key_id"], name="ledger_one_cosignature_per_key")]

    def __str__(self) -> str:
        return f"{self.witness} countersigned checkpoint {self.tree_size}"


def _event_file_path(instance: EventFile, filename: str) -> str:
    return f"ledger/{instance.sha256[:2]}/{instance.sha256}"


class EventFile(AppendOnly):
    """A file attached to custody events (a court order, a death certificate, a medical note), held
    under its SHA-256. The events carry the hash in their signed bodies; `custody ledger verify`
    rehashes every file, so a file replaced on disk is named like an altered event."""

    sha256 = models.CharField(max_length=64, unique=True)
    file = models.FileField(upload_to=_event_file_path)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("attached file")

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        # Whoever may see an event the file is attached to; and its uploader, who has it already and
        # must be able to attach it to the event being recorded.
        events = LedgerEvent.objects.filter(LedgerEvent.access_q(user, action)).values("pk")
        return Q(sha256__in=EventAttachment.objects.filter(event__in=events).values("sha256")) | Q(
            uploaded_by=getattr(user, "pk", None)
        )


class EventAttachment(AppendOnly):
    """Which event lists which file hash: an index of the signed bodies, written in the append's
    transaction, so access to a file follows access to its events without parsing every body."""

    event = models.ForeignKey(LedgerEvent, on_delete=models.PROTECT, related_name="attachment_rows")
    sha256 = models.CharField(max_length=64, db_index=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "sha256"], name="ledger_attachment_once")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.sha256[:12]}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(event__in=LedgerEvent.objects.filter(LedgerEvent.access_q(user, action)).values("pk"))


class LedgerHead(models.Model):
    """The single row every append locks: tree size and frontier, so an append reads nothing else."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    size = models.BigIntegerField(default=0)
    frontier = models.JSONField(default=list)  # hex hashes of the frontier nodes, largest first
    last_checkpoint_size = models.BigIntegerField(default=0)
    last_checkpoint_at = models.DateTimeField(null=True, blank=True)

    ACCESS_EXEMPT = "internal: the append lock"

    def __str__(self) -> str:
        return f"ledger head at {self.size}"


class CustodyState(models.Model):
    """The projection: where each person is, who holds them. Written in the append's transaction."""

    person = models.OneToOneField("registry.Person", primary_key=True, on_delete=models.CASCADE, related_name="custody_state")
    status = models.CharField(_("custody status"), max_length=20, choices=CustodyStatus.choices, db_index=True)
    facility = models.ForeignKey("registry.Facility", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("facility"))
    custodian = models.ForeignKey("accounts.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("custodian"))
    block = models.CharField(_("block"), max_length=32, blank=True)
    manifest = models.CharField(_("open manifest"), max_length=64, blank=True, db_index=True)
    manifest_from = models.ForeignKey("registry.Facility", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    manifest_to = models.ForeignKey("registry.Facility", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    expected_arrival = models.DateTimeField(null=True, blank=True, db_index=True)
    departed = models.BooleanField(default=False)
    last_seq = models.BigIntegerField(default=0)
    last_event_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["facility", "status"]), models.Index(fields=["custodian", "status"])]

    def __str__(self) -> str:
        return f"{self.person_id}: {self.status}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return _person_visible_q(user, action)


class DiscrepancyKind(models.TextChoices):
    NOT_ARRIVED = "not_arrived", _("Manifested, not arrived by the expected time")
    ARRIVAL_WITHOUT_DEPARTURE = "arrival_without_departure", _("Arrival nobody departed")
    ROLL_CALL = "roll_call", _("Roll call differs from the ledger")


@track
class Discrepancy(models.Model):
    kind = models.CharField(_("kind"), max_length=32, choices=DiscrepancyKind.choices, db_index=True)
    person = models.ForeignKey("registry.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("person"))
    facility = models.ForeignKey("registry.Facility", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("facility"))
    manifest = models.CharField(_("manifest"), max_length=64, blank=True)
    details = models.TextField(_("details"))
    raised_at = models.DateTimeField(_("raised"), auto_now_add=True)
    expected = models.IntegerField(_("ledger count"), null=True, blank=True)
    counted = models.IntegerField(_("counted"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    resolution = models.TextField(_("resolution"), blank=True)
    # One open discrepancy per fact: raising it again (the board reconciles on every view) is a no-op.
    fact_key = models.CharField(max_length=200, db_index=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["resolved_at", "-raised_at"]
        verbose_name = _("discrepancy")
        verbose_name_plural = _("discrepancies")
        constraints = [
            models.UniqueConstraint(fields=["fact_key"], condition=Q(resolved_at__isnull=True), name="ledger_one_open_discrepancy")
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.details}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q(person__isnull=True) | person_scoped_q(user, action)


@track
class RollCall(models.Model):
    facility = models.ForeignKey("registry.Facility", on_delete=models.PROTECT, related_name="+", verbose_name=_("facility"))
    block = models.CharField(_("block"), max_length=32, blank=True)
    counted = models.PositiveIntegerField(_("counted"))
    expected = models.PositiveIntegerField(_("ledger count"))
    taken_at = models.DateTimeField(_("taken at"))
    taken_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(_("note"), blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"roll call {self.facility_id} {self.counted}/{self.expected}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        return Q()


class HandoverStatus(models.TextChoices):
    OPEN = "open", _("Open")
    COMPLETED = "completed", _("Completed")


@track
class Handover(models.Model):
    reference = models.CharField(_("reference"), max_length=40, unique=True)
    facility = models.ForeignKey("registry.Facility", on_delete=models.PROTECT, related_name="+", verbose_name=_("facility"))
    from_custodian = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+", verbose_name=_("handing over"))
    to_custodian = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+", verbose_name=_("receiving"))
    manifest = models.CharField(_("manifest"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=HandoverStatus.choices, default=HandoverStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("handover")

    def __str__(self) -> str:
        return self.reference

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        """The two sides of a handover see it (its items only as far as they may see each person); any
        other agency sees it only if it may see one of its people, so that a handover of people it may
        not know of is not even listed. The partner force (custody scope) sees only its own handovers."""
        agency = getattr(user, "agency", None)
        sides = Q(from_custodian=agency) | Q(to_custodian=agency) if agency is not None else Q(pk__in=[])
        if agency is not None and agency.custody_scope:
            return sides
        people = HandoverItem.objects.filter(_person_visible_q(user, action), handover=OuterRef("pk"))
        return sides | Q(Exists(people))


class IdentityCheck(models.TextChoices):
    MATCH = "match", _("Identity confirmed")
    NO_MATCH = "no_match", _("Identity NOT confirmed")
    NOT_CHECKED = "not_checked", _("Not checked (no biometric record)")


@track
class HandoverItem(models.Model):
    handover = models.ForeignKey(Handover, on_delete=models.CASCADE, related_name="items")
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("person"))
    sender_confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sender_confirmed_at = models.DateTimeField(null=True, blank=True)
    sender_wristband = models.CharField(_("wristband (sending side)"), max_length=64, blank=True)
    receiver_confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    receiver_confirmed_at = models.DateTimeField(null=True, blank=True)
    receiver_wristband = models.CharField(_("wristband (receiving side)"), max_length=64, blank=True)
    identity_check = models.CharField(_("identity check"), max_length=12, choices=IdentityCheck.choices, blank=True)
    event = models.ForeignKey(LedgerEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["handover", "person"], name="ledger_handover_person_once")]

    def __str__(self) -> str:
        return f"{self.handover_id}/{self.person_id}"

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        # The person, and the handover: the partner force may see a person it once held inside another
        # pair's handover, which it may not see.
        return _person_visible_q(user, action) & Q(handover__in=Handover.objects.filter(Handover.access_q(user, action)).values("pk"))


class VerificationStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting for the worker")
    RUNNING = "running", _("Running")
    OK = "ok", _("Verified")
    FAILED = "failed", _("Problems found")
    ERROR = "error", _("Could not finish")


class VerificationTrigger(models.TextChoices):
    PAGE = "page", _("overview page")
    API = "api", _("API")
    CLI = "cli", _("command line")
    SCHEDULE = "schedule", _("daily run")


class VerificationRun(models.Model):
    """One run of the whole-log verification (`custody ledger verify`, the overview's button, the API,
    or the daily run of the housekeeping task): who or what asked, when, and what it found."""

    trigger = models.CharField(_("started from"), max_length=12, choices=VerificationTrigger.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    status = models.CharField(_("result"), max_length=8, choices=VerificationStatus.choices, default=VerificationStatus.QUEUED)
    progress = models.CharField(max_length=200, blank=True)
    size = models.BigIntegerField(_("events"), null=True, blank=True)
    checkpoints = models.IntegerField(_("signed checkpoints"), null=True, blank=True)
    first_bad_event = models.BigIntegerField(null=True, blank=True)
    problems = models.JSONField(default=list, blank=True)  # [{kind, seq, message}], at most 100

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("ledger verification")

    def __str__(self) -> str:
        return f"verification {self.pk} {self.status}"

    @property
    def finished(self) -> bool:
        return self.status in (VerificationStatus.OK, VerificationStatus.FAILED, VerificationStatus.ERROR)

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        # Problems name events and people across agencies: for those who may verify (supervisors up).
        from custody.core.access import can

        return Q() if can(user, "approve") else Q(pk__in=[])


@track
class Delegation(models.Model):
    """A custodian agency lets another agency record custody events for the people it holds (optionally
    only those at one facility), for a stated reason and a stated time. The custodian rule
    (custody.ledger.authority) reads it; granting and revoking go through the one door and are audited.
    Rows are never deleted: a revoked delegation stays, with who revoked it and why."""

    from_agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+", verbose_name=_("custodian"))
    to_agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+", verbose_name=_("delegated to"))
    facility = models.ForeignKey("registry.Facility", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("only at facility"))
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField(_("granted"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("granted by"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("revoked by"))
    revoke_reason = models.TextField(_("reason for revoking"), blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("delegation")
        verbose_name_plural = _("delegations")
        indexes = [models.Index(fields=["to_agency", "from_agency"])]

    def __str__(self) -> str:
        return f"{self.from_agency_id} -> {self.to_agency_id}"

    def in_force(self, day: Any) -> bool:
        return self.revoked_at is None and self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    @classmethod
    def access_q(cls, user: Any, action: str) -> Q:
        # Who may write whose records is what every agency of the working group must be able to check:
        # a delegation names agencies, a facility and a reason, never a person.
        return Q()
