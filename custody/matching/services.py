"""Identity resolution services: the only code that changes matching state.

The engine (custody.engines.linkage) does the computation; this module turns registry rows into
engine records, keeps a warm in-memory index for the registration check, audits what people read, and
changes matching state only through actions (custody.core.actions): the scan, a decision on a pair and
the undo of a merge (by analysts of an agency that may see both people), a reference list's import.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any

from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.core import actions, audit
from custody.core.access import restrict
from custody.core.actions import BadInput, RuleError, action, reach
from custody.engines.linkage.model import FSModel, pair_features
from custody.engines.linkage.pipeline import DEFAULT_THRESHOLD, REVIEW_THRESHOLD, LinkageIndex, Linker
from custody.engines.linkage.records import Record, make_record
from custody.matching.models import (
    CandidatePair,
    Decision,
    LinkageRun,
    MatchDecision,
    Merge,
    PairStatus,
    ReferenceEntry,
    ReferenceList,
)
from custody.registry.models import Person

Progress = Callable[[str, int, int], None]
INDEX_TRAINING_SAMPLE = 5000

# --------------------------------------------------------------------------- registry -> engine


def _dob_text(p: Person) -> str:
    if p.birth_precision == "exact" and p.birth_date:
        return p.birth_date.isoformat()
    if p.birth_year_min and p.birth_year_max and p.birth_year_min != p.birth_year_max:
        return f"{p.birth_year_min}/{p.birth_year_max}"
    if p.birth_year_min:
        return str(p.birth_year_min)
    return ""


def person_records(people: Iterable[Person]) -> list[Record]:
    """Engine records for registry people: every name they carry (Arabic script, aliases) counts."""
    people = list(people)
    ids = [p.pk for p in people]
    names: dict[int, list[str]] = {}
    nats: dict[int, list[str]] = {}
    from custody.registry.models import Nationality, PersonName

    for pk, full in PersonName.objects.filter(person_id__in=ids).values_list("person_id", "full"):
        names.setdefault(pk, []).append(full)
    for pk, country in Nationality.objects.filter(person_id__in=ids).values_list("person_id", "country"):
        nats.setdefault(pk, []).append(country)
    out = []
    for p in people:
        alts = [n for n in [p.display_name_ar, *names.get(p.pk, [])] if n and n != p.display_name]
        out.append(make_record(
            str(p.pk), p.display_name, dob=_dob_text(p), sex=p.sex if p.sex in ("M", "F") else "",
            nationality=";".join(nats.get(p.pk, [])), place_of_birth=p.place_of_birth,
            mother_name=p.mother_name, alt_names=list(dict.fromkeys(alts)),
            extra={"ref": p.ref},
        ))
    return out


# --------------------------------------------------------------------------- the warm index

_lock = threading.Lock()
_cache: dict[str, Any] = {}


def _registry_version() -> tuple[int, Any, Any]:
    from custody.registry.models import PersonName

    return (Person.objects.count(), Person.objects.aggregate(m=Max("updated_at"))["m"],
            PersonName.objects.aggregate(m=Max("id"))["m"])


def current_model() -> FSModel | None:
    run = LinkageRun.objects.order_by("-created_at", "-id").first()
    return FSModel.from_json_dict(run.params) if run and run.params else None


def get_index() -> LinkageIndex:
    """The index of everyone known, rebuilt only when the registry changed since the last build."""
    version = _registry_version()
    with _lock:
        if _cache.get("version") == version and "index" in _cache:
            return _cache["index"]
        records = person_records(Person.objects.all().order_by("pk"))
        model = current_model()
        if model is None:
            # no scan yet: estimate on a spread sample so the first check stays quick on a large
            # registry (`custody match-scan` estimates on everyone and stores the parameters)
            step = max(1, len(records) // INDEX_TRAINING_SAMPLE)
            linker = Linker(records[::step])
            linker.run()
            model = linker.model
        index = LinkageIndex(records, model)
        _cache.update(version=version, index=index, pk_to_i={int(r.rid): i for i, r in enumerate(records)})
        return index


def reset_index() -> None:
    with _lock:
        _cache.clear()


@dataclass
class PossibleMatch:
    person: Person
    weight: float
    probability: float
    explanation: dict[str, Any]
    decided: str = ""


def _cannot_link(pk: int) -> set[int]:
    out: set[int] = set()
    for a, b in CandidatePair.objects.filter(Q(person_a_id=pk) | Q(person_b_id=pk),
                                             status=PairStatus.DIFFERENT).values_list("person_a_id", "person_b_id"):
        out.add(b if a == pk else a)
    return out


def _matches_for_record(rec: Record, user: Any, *, exclude: int | None, limit: int) -> list[PossibleMatch]:
    index = get_index()
    hits = index.query(rec, limit=limit * 3, min_weight=REVIEW_THRESHOLD)
    pks = [int(index.records[i].rid) for i, _ in hits]
    visible = {p.pk: p for p in restrict(Person.objects.filter(pk__in=pks), user)}
    blocked = _cannot_link(exclude) if exclude else set()
    out: list[PossibleMatch] = []
    for (_i, exp), pk in zip(hits, pks, strict=True):
        if pk == exclude or pk not in visible or pk in blocked:
            continue
        out.append(PossibleMatch(visible[pk], exp.match_weight, exp.probability, exp.as_dict()))
        if len(out) >= limit:
            break
    return out


def possible_matches(person: Person, user: Any, *, request: Any = None, limit: int = 10) -> list[PossibleMatch]:
    """Who else in the registry may be this person, best first, explained; only people the user may
    see; pairs decided "different" are left out."""
    rec = person_records([person])[0]
    found = _matches_for_record(rec, user, exclude=person.pk, limit=limit)
    audit.record(request, "match_read", obj=person, user=user, candidates=[m.person.ref for m in found])
    return found


def check_new_person(user: Any, *, name: str, name_ar: str = "", aliases: Iterable[str] = (), dob: str = "",
                     sex: str = "", nationality: str = "", mother_name: str = "", place_of_birth: str = "",
                     request: Any = None, limit: int = 10) -> tuple[list[PossibleMatch], list[str]]:
    """The registration check: who already known may this new person be? Returns the matches and
    the problems found in the input (named by field)."""
    problems: list[Any] = []
    rec = make_record("new", name, dob=dob, sex=sex, nationality=nationality, mother_name=mother_name,
                      place_of_birth=place_of_birth, alt_names=[name_ar, *aliases], problems=problems)
    found = [] if not rec.names else _matches_for_record(rec, user, exclude=None, limit=limit)
    audit.record(request, "match_check", user=user, query=name[:100], candidates=[m.person.ref for m in found])
    return found, [f"{p.column}: {p.message}" for p in problems]


# --------------------------------------------------------------------------- scanning the registry


@dataclass
class ScanReport:
    run: LinkageRun
    records: int
    candidate_pairs: int
    queued: int
    merged: int


def _ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def identity_of(pk: int) -> set[int]:
    """All entries joined to this one through merges that are not undone."""
    seen = {pk}
    frontier = [pk]
    while frontier:
        cur = frontier.pop()
        for s, m in Merge.objects.filter(Q(survivor_id=cur) | Q(merged_id=cur), undone_at__isnull=True).values_list(
                "survivor_id", "merged_id"):
            for x in (s, m):
                if x not in seen:
                    seen.add(x)
                    frontier.append(x)
    return seen


@action("matching.scan", capability="adjudicate")
def do_scan(user: Any, *, threshold: float = DEFAULT_THRESHOLD, review: float = REVIEW_THRESHOLD,
            progress: Progress | None = None) -> ScanReport:
    """Link the whole registry: estimate the model, queue the uncertain pairs, merge the sure ones
    unless a person decided otherwise. Decided pairs keep their decision and are not asked again.
    The model is estimated over everyone (an agency's view would bias it); what each analyst then sees
    of the queue is restricted to the pairs whose both people they may see."""
    people = list(Person.objects.all().order_by("pk"))
    records = person_records(people)
    linker = Linker(records, progress=progress)
    linker.run()
    pk = [int(r.rid) for r in records]
    existing = {(a, b): (i, s) for i, a, b, s in CandidatePair.objects.values_list("id", "person_a_id", "person_b_id", "status")}
    different = {k for k, (_, s) in existing.items() if s == PairStatus.DIFFERENT}
    active = {_ordered(s, m) for s, m in Merge.objects.filter(undone_at__isnull=True).values_list("survivor_id", "merged_id")}
    index_of = {p: i for i, p in enumerate(pk)}
    cannot_link = [(index_of[a], index_of[b]) for a, b in different if a in index_of and b in index_of]
    must_link = [(index_of[a], index_of[b]) for a, b in active if a in index_of and b in index_of]
    labels = linker.clusters(threshold, cannot_link=cannot_link, must_link=must_link)
    queued = merged = 0
    run = LinkageRun.objects.create(user=user, records=len(records), candidate_pairs=len(linker.pairs),
                                    params=linker.model.to_json_dict(), threshold=threshold, review_threshold=review)
    for s in linker.scored:
        if s.weight < review:
            continue
        a, b = _ordered(pk[s.i], pk[s.j])
        exp = linker.explain(s.i, s.j).as_dict()
        if (a, b) in existing:
            pair_id, status = existing[(a, b)]
            CandidatePair.objects.filter(pk=pair_id).update(weight=s.weight, probability=s.probability,
                                                            explanation=exp, updated_at=timezone.now())
            if status != PairStatus.OPEN:
                continue
            pair = CandidatePair.objects.get(pk=pair_id)
        else:
            pair = CandidatePair.objects.create(person_a_id=a, person_b_id=b, weight=s.weight,
                                                probability=s.probability, explanation=exp, found_by="scan")
        if s.weight >= threshold and labels[s.i] == labels[s.j] and (a, b) not in active:
            Merge.objects.create(survivor_id=a, merged_id=b, pair=pair, automatic=True)
            active.add((a, b))
            pair.status = PairStatus.AUTO
            pair.save(update_fields=["status", "updated_at"])
            merged += 1
        elif pair.status == PairStatus.OPEN:
            queued += 1
    run.queued, run.merged = queued, merged
    run.save(update_fields=["queued", "merged"])
    actions.note(run, records=len(records), candidate_pairs=len(linker.pairs), queued=queued, merged=merged)
    reset_index()
    return ScanReport(run, len(records), len(linker.pairs), queued, merged)


# --------------------------------------------------------------------------- adjudication


def queue(user: Any) -> Any:
    """Open pairs the user may see, most likely first."""
    return restrict(CandidatePair.objects.filter(status=PairStatus.OPEN), user, "adjudicate").select_related(
        "person_a", "person_b").order_by("-weight", "pk")


@action("matching.decide", capability="adjudicate")
def do_decide(user: Any, pair: Any, decision: str, *, note: str = "") -> MatchDecision:
    """An analyst's decision on a pair; only an agency that may see both people decides (the pair is
    out of reach otherwise)."""
    pk = getattr(pair, "pk", pair)
    pair = reach(CandidatePair.objects.select_related("person_a", "person_b"), user, "adjudicate", what=_("Pair #%(id)s") % {"id": pk},
                 lock=True, pk=pk)
    if decision not in Decision.values:
        raise BadInput(_("Unknown decision %(d)s: use same, different or unsure.") % {"d": decision}, field="decision")
    if pair.status not in (PairStatus.OPEN, PairStatus.AUTO):
        raise RuleError(_("This pair was already decided (%(s)s); it is not asked again.") % {"s": pair.get_status_display()},
                        rule="decided_once")
    d = MatchDecision.objects.create(pair=pair, decision=decision, user=user, weight=pair.weight,
                                     probability=pair.probability, note=note[:500])
    active = Merge.objects.filter(Q(survivor=pair.person_a, merged=pair.person_b) | Q(survivor=pair.person_b, merged=pair.person_a),
                                  undone_at__isnull=True)
    if decision == Decision.SAME:
        if not active.exists():
            Merge.objects.create(survivor=pair.person_a, merged=pair.person_b, pair=pair, decision=d, user=user)
        pair.status = PairStatus.SAME
    elif decision == Decision.DIFFERENT:
        for m in active:
            m.undone_at, m.undone_by, m.undo_reason = timezone.now(), user, _("decided: different people")
            m.save(update_fields=["undone_at", "undone_by", "undo_reason"])
        pair.status = PairStatus.DIFFERENT
    else:
        pair.status = PairStatus.UNSURE
    pair.save(update_fields=["status", "updated_at"])
    actions.note(pair, decision=decision, weight=round(pair.weight, 3))
    reset_index()
    return d


@action("matching.undo_merge", capability="adjudicate")
def do_undo_merge(user: Any, merge: Any, *, reason: str) -> Merge:
    pk = getattr(merge, "pk", merge)
    merge = reach(Merge.objects.select_related("pair"), user, "adjudicate", what=_("Merge #%(id)s") % {"id": pk}, lock=True, pk=pk)
    if not reason.strip():
        raise BadInput(_("Give the reason for undoing the merge."), field="reason")
    if merge.undone_at is not None:
        raise RuleError(_("This merge was already undone."), rule="undone_once")
    merge.undone_at, merge.undone_by, merge.undo_reason = timezone.now(), user, reason[:500]
    merge.save(update_fields=["undone_at", "undone_by", "undo_reason"])
    if merge.pair_id:
        pair = merge.pair
        # an automatic merge goes back to the queue; a person's "same" becomes "unsure"
        pair.status = PairStatus.OPEN if merge.automatic else PairStatus.UNSURE
        pair.save(update_fields=["status", "updated_at"])
    actions.note(merge, reason=reason[:200])
    return merge


# --------------------------------------------------------------------------- reference lists


class ListFormatError(BadInput):
    pass


def _text(el: ET.Element | None, tag: str) -> str:
    if el is None:
        return ""
    found = el.find(tag)
    return (found.text or "").strip() if found is not None and found.text else ""


def parse_un_consolidated_xml(fh: IO[bytes]) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The individuals of a UN Security Council consolidated list XML file."""
    data = fh.read()
    head = data[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise ListFormatError(_("The file declares a DOCTYPE or entities; the UN list has none. Refused."))
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise ListFormatError(_("Not well-formed XML: %(e)s") % {"e": e}) from e
    if root.tag != "CONSOLIDATED_LIST":
        raise ListFormatError(_("Not a UN consolidated list: the root element is %(t)s, expected CONSOLIDATED_LIST.") % {"t": root.tag})
    meta = {"generated_on": root.get("dateGenerated", "")}
    people = []
    for n, ind in enumerate(root.iter("INDIVIDUAL"), start=1):
        parts = [_text(ind, t) for t in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")]
        name = " ".join(p for p in parts if p)
        ref = _text(ind, "REFERENCE_NUMBER") or _text(ind, "DATAID")
        if not name:
            raise ListFormatError(_("Individual %(n)s (%(ref)s) has no name.") % {"n": n, "ref": ref or "?"})
        others = []
        original = _text(ind, "NAME_ORIGINAL_SCRIPT")
        if original:
            others.append(original)
        for alias in ind.iter("INDIVIDUAL_ALIAS"):
            alias_name = _text(alias, "ALIAS_NAME")
            if alias_name:
                others.append(alias_name)
        dobs = []
        for d in ind.iter("INDIVIDUAL_DATE_OF_BIRTH"):
            if _text(d, "DATE"):
                dobs.append(_text(d, "DATE")[:10])
            elif _text(d, "YEAR"):
                dobs.append(_text(d, "YEAR"))
            elif _text(d, "FROM_YEAR") and _text(d, "TO_YEAR"):
                dobs.append(f"{_text(d, 'FROM_YEAR')}/{_text(d, 'TO_YEAR')}")
        nats = [(v.text or "").strip() for v in ind.findall("NATIONALITY/VALUE") if v.text]
        people.append({"reference": ref, "name": name, "other_names": others, "dob": ";".join(dobs),
                       "nationality": ";".join(nats), "listed_on": _text(ind, "LISTED_ON"),
                       "comments": _text(ind, "COMMENTS1")})
    if not people:
        raise ListFormatError(_("The file holds no INDIVIDUAL entries."))
    return meta, people


@action("matching.import_list", capability="import")
def do_import_un_list(user: Any, fh: IO[bytes], *, name: str = "UN Security Council consolidated list") -> ReferenceList:
    meta, people = parse_un_consolidated_xml(fh)
    ref_list = ReferenceList.objects.create(name=name, source="UN Security Council", generated_on=meta["generated_on"],
                                            imported_by=user)
    ReferenceEntry.objects.bulk_create([ReferenceEntry(ref_list=ref_list, **p) for p in people])
    actions.note(ref_list, entries=len(people))
    _cache.pop("reference_index", None)
    return ref_list


def reference_matches(person: Person, user: Any, *, limit: int = 5) -> list[tuple[ReferenceEntry, dict[str, Any]]]:
    """Entries of imported reference lists that may be this person, with their explanations."""
    count = ReferenceEntry.objects.count()
    if not count:
        return []
    key = (count, ReferenceEntry.objects.aggregate(m=Max("id"))["m"])
    with _lock:
        cached = _cache.get("reference_index")
        if not cached or cached[0] != key:
            entries = list(ReferenceEntry.objects.all().order_by("pk"))
            recs = [make_record(str(e.pk), e.name, dob=e.dob, nationality=e.nationality, alt_names=e.other_names)
                    for e in entries]
            model = current_model() or FSModel()
            cached = (key, LinkageIndex(recs, model), {e.pk: e for e in entries})
            _cache["reference_index"] = cached
    _, index, by_pk = cached
    rec = person_records([person])[0]
    out = []
    for i, exp in index.query(rec, limit=limit, min_weight=REVIEW_THRESHOLD):
        out.append((by_pk[int(index.records[i].rid)], exp.as_dict()))
    return out


def explain_pair(a: Person, b: Person) -> dict[str, Any]:
    """A fresh explanation of two registry entries under the current model."""
    ra, rb = person_records([a, b])
    index = get_index()
    return index.model.explain(ra, rb, pair_features(ra, rb, index.rarity)).as_dict()
