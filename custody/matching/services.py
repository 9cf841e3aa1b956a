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
from dataclasses import dataclass, field, replace
from typing import IO, Any

from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.core import actions, audit
from custody.core.access import restrict
from custody.core.actions import BadInput, NotAllowed, NotFound, RuleError, action, reach
from custody.engines.linkage import (
    BiometricResult,
    Candidate,
    MergePolicy,
    Outcome,
    PolicyRecord,
    decided_same,
    queue_order,
    resolve,
    shared_identifier_pairs,
)
from custody.engines.linkage import Decision as PolicyDecision
from custody.engines.linkage.model import FSModel, pair_features
from custody.engines.linkage.pipeline import DEFAULT_THRESHOLD, REVIEW_THRESHOLD, LinkageIndex, Linker
from custody.engines.linkage.records import Record, make_record
from custody.matching.evidence import biometric_results, policy_records
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


# The reasons the app adds to the policy's own (custody.engines.linkage.policy.REASON_TEXT): an automatic
# merge the app holds back for a person. Shown through gettext by code (labels.REASON_LABELS).
APP_REASON_TEXT = {
    "needs_consent": "held by two authorities: a merge needs both, or the working group's adjudicator; "
                     "never automatic",
    "undone_before": "an automatic merge of this pair was undone: a person decides",
}


def _reason_dict(code: str, kind: str = "doubt", **params: Any) -> dict[str, Any]:
    return {"code": code, "kind": kind, "params": {k: str(v) for k, v in params.items()},
            "text": APP_REASON_TEXT[code].format(**params)}


@dataclass
class ScanItem:
    """One pair as the scan decided it, for the summary and the dry run."""

    a: str  # person refs
    b: str
    weight: float
    outcome: str
    stakes: int
    reasons: list[dict[str, Any]]

    def line(self) -> str:
        return f"{self.a} / {self.b} ({self.weight:.1f}): " + "; ".join(r["text"] for r in self.reasons)


@dataclass
class ScanReport:
    run: LinkageRun | None  # None for a dry run: nothing is written
    records: int
    candidate_pairs: int
    queued: int
    merged: int
    kept_apart: int = 0
    dry_run: bool = False
    merges: list[ScanItem] = field(default_factory=list)  # new automatic merges (or, dry, would-be)
    queue: list[ScanItem] = field(default_factory=list)  # newly queued or still open, most consequential first
    evidence: dict[str, dict[str, int]] = field(default_factory=dict)
    held_back: dict[str, int] = field(default_factory=dict)  # policy merges sent to a person, by app reason
    contradicted: list[ScanItem] = field(default_factory=list)  # earlier automatic merges the policy no longer supports

    def summary(self) -> dict[str, Any]:
        return {"records": self.records, "candidate_pairs": self.candidate_pairs, "merged": self.merged,
                "queued": self.queued, "kept_apart": self.kept_apart, "evidence": self.evidence,
                "held_back": self.held_back, "contradicted": [c.line() for c in self.contradicted[:50]],
                "contradicted_count": len(self.contradicted)}


def _ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _active_merges() -> list[tuple[int, int]]:
    return list(Merge.objects.filter(undone_at__isnull=True).values_list("survivor_id", "merged_id"))


def identities(pks: Iterable[int] | None = None) -> dict[int, frozenset[int]]:
    """Identity of every record joined by an open merge: pk -> all pks of that person (only records in
    a merge appear; `pks` limits the answer). One query over the open merges, a union-find in memory."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for s, m in _active_merges():
        ra, rb = find(s), find(m)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, set[int]] = {}
    for x in list(parent):
        groups.setdefault(find(x), set()).add(x)
    wanted = None if pks is None else set(pks)
    return {x: frozenset(g) for g in groups.values() for x in g if wanted is None or x in wanted}


def identity_of(pk: int) -> set[int]:
    """All entries joined to this one through merges that are not undone."""
    return set(identities([pk]).get(pk, {pk}))


def survivor_of(person: Any) -> Any:
    """The record a person's identity is kept under: the first registered record (lowest id) of all the
    records joined to it by open merges. A record merged away points to it; a record in no merge is its
    own survivor. Takes a Person or a pk and answers the same kind."""
    pk = getattr(person, "pk", person)
    survivor = min(identity_of(pk))
    if survivor == pk or not hasattr(person, "pk"):
        return person if survivor == pk else survivor
    return Person.objects.get(pk=survivor)


def also_recorded_as(person: Any, user: Any) -> list[Person]:
    """The other records of this person that `user` may see, oldest first."""
    others = identity_of(person.pk) - {person.pk}
    return list(restrict(Person.objects.filter(pk__in=others), user).order_by("pk")) if others else []


def collapse_people(people: list[Any], user: Any) -> tuple[list[Any], int]:
    """A listing with each person once: a record merged away is replaced by its survivor (if the user may
    see it; else it stays, as the only record they may see), later records of an identity already listed
    are dropped, and every listed person gets `also_recorded_as` (the other visible records). Returns the
    listing and how many rows were dropped."""
    ident = identities([p.pk for p in people])
    if not ident:
        for p in people:
            p.also_recorded_as = []
        return people, 0
    wanted = {x for p in people for x in ident.get(p.pk, ())}
    visible = {p.pk: p for p in restrict(Person.objects.filter(pk__in=wanted), user)
               .select_related("current_facility", "current_custodian")}
    out: list[Any] = []
    shown: set[frozenset[int]] = set()
    for p in people:
        group = ident.get(p.pk)
        if group is None:
            p.also_recorded_as = []
            out.append(p)
            continue
        if group in shown:
            continue
        shown.add(group)
        keep = visible.get(min(group), p) if min(group) in visible else p
        keep.also_recorded_as = [visible[x] for x in sorted(group) if x != keep.pk and x in visible]
        out.append(keep)
    return out, len(people) - len(out)


def is_adjudicator(user: Any) -> bool:
    """The working group's adjudicator: a supervisor (or above) of the agency leading the working group
    (settings.MATCHING_ADJUDICATOR_AGENCY, the intelligence-led working group's CIO by default). May
    merge records held by two authorities without both of them (docs/matching-policy.md)."""
    from django.conf import settings

    code = getattr(settings, "MATCHING_ADJUDICATOR_AGENCY", "CIO")
    agency = getattr(user, "agency", None)
    return bool(agency is not None and agency.code == code and user.has_role("supervisor"))


def _candidates(linker: Linker, records: list[Record], prec: dict[str, PolicyRecord],
                bio: dict[frozenset[str], BiometricResult], review: float) -> list[Candidate]:
    rid = [r.rid for r in records]
    index = {r: i for i, r in enumerate(rid)}
    cands = [Candidate(rid[s.i], rid[s.j], s.weight, bio.get(frozenset((rid[s.i], rid[s.j]))))
             for s in linker.scored if s.weight >= review]
    seen = {frozenset((c.a, c.b)) for c in cands}
    # pairs only a shared number or a stored biometric comparison proposes (a kunya on one list, the
    # full name on the other): blocking on names may not have
    extra = [(a, b) for a, b in shared_identifier_pairs(prec.values()) if frozenset((a, b)) not in seen]
    extra += [tuple(sorted(k)) for k in bio if k not in seen and all(x in index for x in k)]
    for a, b in dict.fromkeys(extra):
        seen.add(frozenset((a, b)))
        cands.append(Candidate(a, b, linker.pair_weight(index[a], index[b]), bio.get(frozenset((a, b)))))
    return cands


@action("matching.scan", capability="adjudicate")
def do_scan(user: Any, *, threshold: float = DEFAULT_THRESHOLD, review: float = REVIEW_THRESHOLD,
            dry_run: bool = False, progress: Progress | None = None) -> ScanReport:
    """Link the whole registry and decide every candidate pair through the merge policy
    (custody.engines.linkage.policy): an automatic merge only where the policy says merge (evidence
    beyond names agrees, nothing against, clusters complete-linked with the merges already open), never
    across two custodians and never again for a pair whose automatic merge was undone; the rest queued
    with its reasons, most consequential first; pairs with evidence against kept apart. A person's
    decision is never overridden. `dry_run` decides the same and writes nothing (the audit row only).

    The model is estimated over everyone (an agency's view would bias it); what each analyst then sees
    of the queue is restricted to the pairs whose both people they may see."""
    tick = progress or (lambda stage, done, total: None)
    people = list(Person.objects.all().order_by("pk"))
    refs = {p.pk: p.ref for p in people}
    records = person_records(people)
    linker = Linker(records, progress=progress)
    linker.run()
    tick("policy", 0, 3)
    existing = {(a, b): (i, s) for i, a, b, s in
                CandidatePair.objects.values_list("id", "person_a_id", "person_b_id", "status")}
    different = [k for k, (_, s) in existing.items() if s == PairStatus.DIFFERENT]
    prec = policy_records(people, different=different)
    bio = biometric_results(refs)
    cands = _candidates(linker, records, prec, bio, review)
    tick("policy", 1, 3)
    active = {_ordered(s, m) for s, m in _active_merges()}
    undone_auto = {_ordered(s, m) for s, m in Merge.objects.filter(undone_at__isnull=False, automatic=True)
                   .values_list("survivor_id", "merged_id")}
    person_same = {k for k, (_, s) in existing.items() if s == PairStatus.SAME and k in active}
    policy = MergePolicy(name_threshold=threshold, review_threshold=review)
    decisions: list[PolicyDecision] = []
    for k in sorted(person_same):
        d = decided_same(str(k[0]), str(k[1]), "analyst")
        against = policy.against(prec[d.a], prec[d.b])
        decisions.append(replace(d, outcome=Outcome.KEEP_APART, reasons=(*against, *d.reasons)) if against else d)
    app_reasons: dict[frozenset[str], list[dict[str, Any]]] = {}
    held_back: dict[str, int] = {}
    seen = {d.pair for d in decisions}
    for c in cands:
        key = frozenset((c.a, c.b))
        if key in seen:
            continue
        seen.add(key)
        d = policy.decide(prec[c.a], prec[c.b], c.weight, c.biometric)
        if d.outcome == Outcome.MERGE:
            pair = _ordered(int(d.a), int(d.b))
            code = ""
            ra, rb = prec[d.a], prec[d.b]
            if pair in active:
                pass  # already one person: the merge stands as it is
            elif ra.custodian and rb.custodian and ra.custodian != rb.custodian:
                code = "needs_consent"
            elif pair in undone_auto:
                code = "undone_before"
            elif existing.get(pair, (0, PairStatus.OPEN))[1] not in (PairStatus.OPEN, PairStatus.KEPT_APART, PairStatus.AUTO):
                code = "decided"  # a person decided (unsure): the machine does not overrule
            if code:
                d = replace(d, outcome=Outcome.QUEUE)
                held_back[code] = held_back.get(code, 0) + 1
                if code != "decided":
                    app_reasons.setdefault(key, []).append(_reason_dict(code))
        decisions.append(d)
    result = resolve(decisions)
    tick("policy", 2, 3)

    def item(d: PolicyDecision) -> ScanItem:
        reasons = [r.as_dict() for r in d.reasons] + app_reasons.get(d.pair, [])
        a, b = _ordered(int(d.a), int(d.b))
        return ScanItem(refs[a], refs[b], d.weight, str(d.outcome), d.stakes, reasons)

    new_merges = [d for d in result.decisions if d.outcome == Outcome.MERGE and _ordered(int(d.a), int(d.b)) not in active]
    queued = queue_order(result.decisions)
    kept = [d for d in result.decisions if d.outcome == Outcome.KEEP_APART]
    contradicted = [d for d in result.decisions if d.outcome != Outcome.MERGE
                    and _ordered(int(d.a), int(d.b)) in active and _ordered(int(d.a), int(d.b)) not in person_same]
    report = ScanReport(None, len(records), len(linker.pairs), len(queued), len(new_merges), len(kept), dry_run,
                        merges=[item(d) for d in new_merges], queue=[item(d) for d in queued],
                        evidence={k: dict(v) for k, v in result.evidence_counts().items()}, held_back=held_back,
                        contradicted=[item(d) for d in contradicted])
    if dry_run:
        actions.note(object_type="matching.linkagerun", object_id="dry-run", dry_run=True, records=len(records),
                     would_merge=len(new_merges), would_queue=len(queued), kept_apart=len(kept))
        tick("policy", 3, 3)
        return report
    run = LinkageRun.objects.create(user=user, records=len(records), candidate_pairs=len(linker.pairs),
                                    params=linker.model.to_json_dict(), threshold=threshold, review_threshold=review)
    index = {r.rid: i for i, r in enumerate(records)}
    weights = {frozenset((records[s.i].rid, records[s.j].rid)): s for s in linker.scored}
    to_create: list[CandidatePair] = []
    to_update: list[CandidatePair] = []
    merges: list[tuple[tuple[int, int], PolicyDecision]] = []
    now = timezone.now()
    for d in result.decisions:
        a, b = _ordered(int(d.a), int(d.b))
        if (a, b) in person_same:
            continue
        reasons = [r.as_dict() for r in d.reasons] + app_reasons.get(d.pair, [])
        weight = d.weight if d.weight == d.weight else 0.0
        s = weights.get(d.pair)
        probability = s.probability if s is not None else FSModel.probability(weight)
        status = {Outcome.MERGE: PairStatus.AUTO, Outcome.QUEUE: PairStatus.OPEN,
                  Outcome.KEEP_APART: PairStatus.KEPT_APART}[d.outcome]
        if (a, b) in existing:
            pk, old = existing[(a, b)]
            if old not in (PairStatus.OPEN, PairStatus.KEPT_APART, PairStatus.AUTO):
                status = old  # a person decided: kept, with the policy's reasons beside it
            elif old == PairStatus.AUTO and (a, b) in active:
                status = PairStatus.AUTO  # an open automatic merge stays until a person or an undo ends it
            row = CandidatePair(pk=pk, person_a_id=a, person_b_id=b, weight=weight, probability=probability,
                                status=status, outcome=str(d.outcome), reasons=reasons, stakes=d.stakes,
                                run=run, updated_at=now)
            to_update.append(row)
        else:
            exp = linker.explain(index[d.a], index[d.b]).as_dict()
            row = CandidatePair(person_a_id=a, person_b_id=b, weight=weight, probability=probability,
                                explanation=exp, status=status, found_by="scan", outcome=str(d.outcome),
                                reasons=reasons, stakes=d.stakes, run=run)
            to_create.append(row)
        if d.outcome == Outcome.MERGE and (a, b) not in active:
            merges.append(((a, b), d))
    CandidatePair.objects.bulk_create(to_create, batch_size=500)
    CandidatePair.objects.bulk_update(to_update, ["weight", "probability", "status", "outcome", "reasons", "stakes",
                                                  "run", "updated_at"], batch_size=500)
    pair_ids = {(a, b): i for i, a, b in CandidatePair.objects.filter(run=run).values_list("id", "person_a_id", "person_b_id")}
    # the survivor is the first registered record of the two (survivor_of: the lowest id of an identity)
    Merge.objects.bulk_create([
        Merge(survivor_id=a, merged_id=b, pair_id=pair_ids[(a, b)], automatic=True, run=run,
              reasons=[r.as_dict() for r in d.reasons]) for (a, b), d in merges], batch_size=500)
    run.queued, run.merged, run.kept_apart = len(queued), len(merges), len(kept)
    run.summary = report.summary()
    run.save(update_fields=["queued", "merged", "kept_apart", "summary"])
    report.run = run
    actions.note(run, records=len(records), candidate_pairs=len(linker.pairs), queued=len(queued),
                 merged=len(merges), kept_apart=len(kept), held_back=held_back)
    reset_index()
    tick("policy", 3, 3)
    return report


@action("matching.undo_run", capability="adjudicate")
def do_undo_run(user: Any, run: Any, *, reason: str) -> LinkageRun:
    """Undo every automatic merge a scan made, as one action: each merge is closed (never deleted) with the
    reason, its pair goes back to the queue, and no later scan merges those pairs again automatically (a
    person decides). Refused unless the user may see both people of every merge of the run."""
    pk = getattr(run, "pk", run)
    row = LinkageRun.objects.select_for_update().filter(pk=pk).first() if str(pk).isdigit() else None
    if row is None:
        raise NotFound(_("Scan %(id)s does not exist.") % {"id": pk}, rule="not_found", field="run")
    if not reason.strip():
        raise BadInput(_("Give the reason for undoing the scan."), field="reason")
    if row.undone_at is not None:
        raise RuleError(_("Scan %(id)s was already undone.") % {"id": row.pk}, rule="undone_once")
    merges = Merge.objects.filter(run=row, undone_at__isnull=True)
    total = merges.count()
    reachable = restrict(merges, user, "adjudicate").count()
    if reachable != total:
        raise NotAllowed(_("Scan %(id)s merged people you may not see (%(n)s of %(total)s merges): an analyst "
                           "who sees them all undoes it.") % {"id": row.pk, "n": total - reachable, "total": total},
                         rule="undo_run_scope")
    now = timezone.now()
    pair_ids = list(merges.exclude(pair__isnull=True).values_list("pair_id", flat=True))
    count = merges.update(undone_at=now, undone_by=user, undo_reason=reason[:500])
    CandidatePair.objects.filter(pk__in=pair_ids, status=PairStatus.AUTO).update(status=PairStatus.OPEN, updated_at=now)
    row.undone_at, row.undone_by, row.undo_reason = now, user, reason[:500]
    row.save(update_fields=["undone_at", "undone_by", "undo_reason"])
    actions.note(row, merges_undone=count, reason=reason[:200])
    reset_index()
    return row


# --------------------------------------------------------------------------- adjudication


def queue(user: Any) -> Any:
    """Open pairs the user may see, most consequential first (what a merge would change: two
    authorities, headcounts, custody histories, risk), then the strongest names."""
    return restrict(CandidatePair.objects.filter(status=PairStatus.OPEN), user, "adjudicate").select_related(
        "person_a", "person_b").order_by("-stakes", "-weight", "pk")


@action("matching.decide", capability="adjudicate")
def do_decide(user: Any, pair: Any, decision: str, *, note: str = "") -> MatchDecision:
    """An analyst's decision on a pair; only an agency that may see both people decides (the pair is
    out of reach otherwise)."""
    pk = getattr(pair, "pk", pair)
    pair = reach(CandidatePair.objects.select_related("person_a", "person_b"), user, "adjudicate", what=_("Pair #%(id)s") % {"id": pk},
                 lock=True, pk=pk)
    if decision not in Decision.values:
        raise BadInput(_("Unknown decision %(d)s: use same, different or unsure.") % {"d": decision}, field="decision")
    if pair.status not in (PairStatus.OPEN, PairStatus.AUTO, PairStatus.KEPT_APART):
        raise RuleError(_("This pair was already decided (%(s)s); it is not asked again.") % {"s": pair.get_status_display()},
                        rule="decided_once")
    awaiting = ""
    if decision == Decision.SAME:
        awaiting = _same_allowed(user, pair)
    d = MatchDecision.objects.create(pair=pair, decision=decision, user=user, weight=pair.weight,
                                     probability=pair.probability, note=note[:500])
    active = Merge.objects.filter(Q(survivor=pair.person_a, merged=pair.person_b) | Q(survivor=pair.person_b, merged=pair.person_a),
                                  undone_at__isnull=True)
    if decision == Decision.SAME and awaiting:
        # one custodian agreed; the pair stays open for the other (or the working group's adjudicator)
        actions.note(pair, decision=decision, weight=round(pair.weight, 3), awaiting=awaiting)
        return d
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


def _same_allowed(user: Any, pair: CandidatePair) -> str:
    """Whether a person's "same" may merge the pair now. Refuses when a recorded fact speaks against (the
    policy: a decision does not outrank the facts; correct the fact first) and when the records are held
    by two authorities and the user is of neither and not the working group's adjudicator. Returns the
    agency code still to agree ("" when the merge may be made now)."""
    a, b = pair.person_a, pair.person_b
    prec = policy_records([a, b])
    against = MergePolicy().against(prec[str(a.pk)], prec[str(b.pk)])
    if against:
        raise RuleError(_("%(a)s and %(b)s cannot be one person while the records say otherwise: %(why)s. "
                          "Correct the record first.") % {"a": a.ref, "b": b.ref,
                                                         "why": "; ".join(reason_text(r.as_dict()) for r in against)},
                        rule="evidence_against")
    ca, cb = a.current_custodian, b.current_custodian
    if ca is None or cb is None or ca.pk == cb.pk or is_adjudicator(user):
        return ""
    if user.agency_id not in (ca.pk, cb.pk):
        raise NotAllowed(_("%(a)s is held by %(ca)s and %(b)s by %(cb)s: only those two authorities together, or "
                           "the working group's adjudicator, may merge them.") % {
                               "a": a.ref, "ca": ca.code, "b": b.ref, "cb": cb.code}, rule="merge_custodians")
    other = cb if user.agency_id == ca.pk else ca
    agreed = MatchDecision.objects.filter(pair=pair, decision=Decision.SAME, user__agency=other).exclude(
        pk__in=MatchDecision.objects.filter(pair=pair, decision=Decision.DIFFERENT).values("pk")).exists()
    return "" if agreed else other.code


def reason_text(reason: dict[str, Any]) -> str:
    from custody.matching.labels import reason_label

    return reason_label(reason)


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
