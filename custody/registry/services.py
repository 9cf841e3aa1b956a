"""Every change to the registry: one action each, called by the pages, the API and the CLI alike.

Each action (custody.core.actions) checks the capability, restricts every row it touches (a row the actor
may not reach is NotFound, the same answer as an absent one), applies the registry's rules, writes and
names what the audit row records. The edges only translate input and output.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from custody.accounts.models import Classification
from custody.core.access import restrict
from custody.core.actions import BadInput, NotAllowed, NotFound, RuleError, action, note
from custody.engines.names.normalise import script_of
from custody.registry import importer
from custody.registry.models import Facility, ImportBatch, Nationality, Person, PersonName, next_refs
from custody.registry.search import reindex_people

# Fields of a person an edit may not write: the ledger's projection owns custody state, the registry's
# own bookkeeping is not an edit, and the classification has its own rule (do_classify).
NOT_EDITABLE = frozenset({
    "id", "pk", "ref", "current_facility", "current_custodian", "custody_status", "custodians_ever", "import_batch",
    "declared_facility", "created_at", "updated_at", "classification", "classified_by", "originating_agency",
    "release_all", "releasable_to",
})


def _person(actor: Any, ref: str, action_name: str = "view") -> Person:
    """The person `ref` as the actor may reach it; NotFound otherwise (absent or not visible alike)."""
    found = restrict(Person.objects.all(), actor, action_name).filter(ref=ref).first()
    if found is None:
        raise NotFound(_("No person %(ref)s that you may see.") % {"ref": ref}, field="person")
    return found


def _level(value: Any, field: str = "classification") -> int:
    try:
        level = int(value)
    except (TypeError, ValueError):
        level = -1
    if level not in Classification.values:
        raise BadInput(_("“%(value)s” is not a classification: use 0 (unclassified) to 3 (secret).") % {"value": value}, field=field)
    return level


# ------------------------------------------------------------------ people


@action("registry.person_create", capability="add")
def do_create_person(actor: Any, fields: dict[str, Any], *, names: list[dict[str, Any]] | None = None,
                     nationality_codes: list[str] = ()) -> Person:  # type: ignore[assignment]
    """A new person, originated by the actor's agency, which also sets its classification."""
    fields = dict(fields)
    unknown = sorted(set(fields) & NOT_EDITABLE - {"classification"})
    if unknown:
        raise BadInput(_("%(field)s is not written by registering a person.") % {"field": unknown[0]}, field=unknown[0])
    level = _level(fields.pop("classification", Classification.RESTRICTED))
    if level > actor.clearance:
        raise NotAllowed(_("You may not classify a record above your own clearance (%(clearance)s).") % {"clearance": actor.clearance},
                         rule="clearance", field="classification")
    person = Person.objects.create(ref=next_refs(1)[0], originating_agency=actor.agency, classification=level,
                                   classified_by=actor.agency, **fields)
    if not names:
        names = [{"script": "arab" if script_of(person.display_name) == "Arab" else "latn", "full": person.display_name}]
        if person.display_name_ar:
            names.append({"script": "arab", "full": person.display_name_ar})
    for n in names:
        PersonName.objects.create(person=person, **n)
    for code in dict.fromkeys(c.upper() for c in nationality_codes):
        Nationality.objects.create(person=person, country=code)
    reindex_people([person.pk])
    note(person, classification=level)
    return person


@action("registry.person_change", capability="change")
def do_change_person(actor: Any, ref: str, fields: dict[str, Any], *, names: list[dict[str, Any]] | None = None,
                     nationality_codes: list[str] | None = None, classification: Any = None,
                     classification_reason: str = "") -> Person:
    """Edit a person the actor may see. `names` and `nationality_codes`, when given, replace the lists;
    a new classification goes through the classification rule (with its reason)."""
    person = _person(actor, ref, "change")
    refused = sorted(set(fields) & NOT_EDITABLE)
    if refused:
        raise BadInput(_("%(field)s cannot be changed by editing the person.") % {"field": refused[0]}, field=refused[0])
    for name, value in fields.items():
        setattr(person, name, value)
    if fields:
        person.save(update_fields=[*fields, "updated_at"])
    if names is not None:
        person.names.all().delete()
        for n in names:
            PersonName.objects.create(person=person, **n)
        reindex_people([person.pk])
    if nationality_codes is not None:
        person.nationalities.all().delete()
        for code in dict.fromkeys(c.upper() for c in nationality_codes):
            Nationality.objects.create(person=person, country=code)
    detail: dict[str, Any] = {"fields": sorted(fields) + (["names"] if names is not None else [])
                              + (["nationalities"] if nationality_codes is not None else [])}
    if classification is not None and _level(classification) != person.classification:
        detail.update(_reclassify(actor, person, _level(classification), classification_reason))
    note(person, **detail)
    return person


@action("registry.classify", capability="change")
def do_classify(actor: Any, ref: str, level: Any, reason: str) -> Person:
    """Raise or lower a person's classification (the rule in _reclassify), with the reason."""
    person = _person(actor, ref, "change")
    new = _level(level, "level")
    if new == person.classification:
        raise BadInput(_("%(ref)s is already classified %(level)s.") % {"ref": person.ref, "level": Classification(new).label},
                       field="level")
    note(person, **_reclassify(actor, person, new, reason))
    return person


def _reclassify(actor: Any, person: Person, new: int, reason: str) -> dict[str, Any]:
    """The classification rule (issue 14). Raised by any agency that holds or sees the person (clerk and
    up, cleared to the new level); lowered only by the agency that set the current level, a supervisor.
    Either way the reason is required and kept in the audit row; the raising agency becomes the one
    that set it."""
    reason = (reason or "").strip()
    if not reason:
        raise BadInput(_("Give the reason for changing the classification of %(ref)s.") % {"ref": person.ref}, field="reason")
    old = person.classification
    if new > old:
        if new > actor.clearance:
            raise NotAllowed(_("You may not classify %(ref)s above your own clearance (%(clearance)s).") % {
                "ref": person.ref, "clearance": Classification(actor.clearance).label}, rule="clearance", field="level")
    else:
        setter_id = person.classified_by_id or person.originating_agency_id
        if setter_id != actor.agency_id:
            setter = person.classified_by or person.originating_agency
            raise NotAllowed(_("Only %(agency)s, which set the classification of %(ref)s, may lower it.") % {
                "agency": setter.code if setter else _("the agency that set it"), "ref": person.ref},
                rule="lower_classification", field="level")
        if not actor.has_role("supervisor"):
            raise NotAllowed(_("Lowering a classification needs a supervisor of %(agency)s.") % {"agency": actor.agency.code},
                             rule="lower_classification", field="level")
    person.classification = new
    person.classified_by = actor.agency
    person.save(update_fields=["classification", "classified_by", "updated_at"])
    return {"classification_from": old, "classification_to": new, "reason": reason[:500],
            "set_by": actor.agency.code if actor.agency_id else ""}


# ------------------------------------------------------------------ roster imports


class DuplicateRoster(RuleError, importer.DuplicateImport):
    """The roster was imported before (importer.DuplicateImport, which the import page catches to offer
    the confirmation) refused as a broken rule, so the door audits it like any other refusal."""

    def __init__(self, previous: list[Any], message: str) -> None:
        Exception.__init__(self, message)
        self.previous = previous
        self.message = message
        self.rule = "duplicate_import"
        self.field = "file"


@action("registry.import", capability="import")
def do_import(actor: Any, table: importer.Table, mapping: dict[str, str], *, source: str = "",
              allow_duplicate: bool = False) -> ImportBatch:
    """Validate a read roster against the facilities the actor may see and write it all, or nothing; a
    roster imported before is refused unless `allow_duplicate`."""
    codes = set(restrict(Facility.objects.all(), actor).values_list("code", flat=True))
    parsed, errors = importer.validate(table, mapping, codes)
    if errors:
        first = errors[0]
        raise BadInput(_("%(n)d problems; nothing was written. First: %(error)s") % {"n": len(errors), "error": str(first)},
                       field=getattr(first, "column", "") or "file")
    previous = importer.previous_imports(table, actor)
    try:
        batch = importer.commit(table, mapping, parsed, user=actor, source=source, allow_duplicate=allow_duplicate)
    except importer.DuplicateImport as exc:
        note(object_type="registry.importbatch", file=table.file_name, sha256=table.sha256, previous=[b.pk for b in exc.previous])
        raise DuplicateRoster(exc.previous, exc.message) from exc
    note(batch, file=table.file_name, sha256=table.sha256, rows=len(parsed), duplicate_of=[b.pk for b in previous])
    return batch


def _batch(actor: Any, pk: Any) -> ImportBatch:
    """An import of the actor's agency; another agency's is NotFound, like an absent one."""
    try:
        pk = int(pk)
    except (ValueError, TypeError) as exc:
        raise BadInput(_("“%(value)s” is not an import number.") % {"value": pk}, field="batch") from exc
    batch = restrict(ImportBatch.objects.all(), actor, "import").filter(pk=pk).first()
    if batch is None:
        raise NotFound(_("No import %(pk)s of your agency.") % {"pk": pk}, field="batch")
    return batch


@action("registry.import_undo", capability="import")
def do_undo_import(actor: Any, batch_id: Any) -> int:
    """Remove what an import of the actor's agency created, while nothing depends on it."""
    batch = _batch(actor, batch_id)
    note(batch)
    n = importer.undo(batch, user=actor)
    note(batch, people=n)
    return n


@action("registry.import_intake", capability="import")
def do_record_intake(actor: Any, batch_id: Any) -> int:
    """Record in the custody ledger the intake of an import's people at the facilities the roster names.
    An intake is a custody fact of the facility: only the agency operating each named facility records it."""
    batch = _batch(actor, batch_id)
    note(batch)
    facilities = Facility.objects.filter(pk__in=batch.people.filter(current_facility__isnull=True).values("declared_facility"))
    foreign = sorted(f.code for f in facilities.select_related("custodian") if f.custodian_id != actor.agency_id)
    if foreign:
        raise NotAllowed(_("Only the agency operating %(codes)s may record an intake there.") % {"codes": ", ".join(foreign)},
                         rule="custodian", field="facility")
    n = importer.record_intake(batch, user=actor)
    note(batch, events=n)
    return n


__all__ = [
    "NOT_EDITABLE", "DuplicateRoster", "RuleError", "do_change_person", "do_classify", "do_create_person", "do_import", "do_record_intake",
    "do_undo_import", "next_refs",
]
