"""Write a generated population into the registry, and its custody history through the ledger.

Bulk inserts throughout (a real-scale population is ~46,000 people, ~140,000 names, ~60,000 family links):
one transaction, so a failed load leaves nothing behind. The registry's current facility, custodian and
custody status are NOT written here: only the ledger's projection writes them, from the events this
loader hands to `custody.ledger.services.record_events_bulk`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from custody.synth import places
from custody.synth.coordination import DangerSpec, IncidentSpec, coordination_picture
from custody.synth.model import Name, Person, Population, RosterRow
from custody.synth.translit import plain

PRIMARY_ROSTERS = ("sdf-prisons", "camp-register")  # the sources people were registered from
DEMO_PASSWORD = "custody-demo-2026"  # docs/conventions.md: every demo user, demo mode only
BATCH = 2000

# Agency flags, as the authorisation layer reads them (docs/conventions.md).
AGENCY_FLAGS: dict[str, dict[str, Any]] = {
    "CIO": dict(sees_intelligence=True, custody_scope=False, biometric_access=False, protection_purpose=False, is_custodian=False),
    "MIL": dict(sees_intelligence=True, custody_scope=False, biometric_access=False, protection_purpose=False, is_custodian=True),
    "MFA": dict(sees_intelligence=True, custody_scope=False, biometric_access=False, protection_purpose=False, is_custodian=False),
    "FBI": dict(sees_intelligence=True, custody_scope=False, biometric_access=True, protection_purpose=False, is_custodian=False),
    "IRQ": dict(sees_intelligence=True, custody_scope=False, biometric_access=True, protection_purpose=False, is_custodian=True, country="IQ"),
    "SDF": dict(sees_intelligence=True, custody_scope=True, biometric_access=False, protection_purpose=False, is_custodian=True, country="SY"),
    "HUM": dict(sees_intelligence=False, custody_scope=False, biometric_access=False, protection_purpose=True, is_custodian=False),
}
# Clearance of the demo users by agency: 0 unclassified ... 3 secret.
CLEARANCE = {"CIO": 3, "MIL": 3, "FBI": 3, "MFA": 2, "IRQ": 2, "SDF": 1, "HUM": 1}


class LedgerUnavailable(RuntimeError):
    """The ledger's bulk service is missing: loading people without their custody history would leave
    a registry whose headcounts say nobody is anywhere."""


def ledger_bulk_service() -> Callable[..., int]:
    try:
        from custody.ledger import services
    except ImportError as exc:
        raise LedgerUnavailable(
            "custody.ledger.services is not importable, so custody histories cannot be recorded "
            f"({exc}). Run with --skip-ledger to load the registry alone."
        ) from exc
    bulk = getattr(services, "record_events_bulk", None)
    if bulk is None:
        raise LedgerUnavailable(
            "custody.ledger.services has no record_events_bulk, so custody histories cannot be recorded. "
            "Run with --skip-ledger to load the registry alone."
        )
    return bulk


@dataclass
class LoadReport:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


class _NoProgress:
    def add_task(self, description: str, total: float | None = None) -> int:
        return 0

    def update(self, task: int, **kwargs: Any) -> None:
        return None

    def advance(self, task: int, advance: float = 1) -> None:
        return None


def full_latin(name: Name) -> str:
    return " ".join(plain(p.lat) for p in name.chain())


def _place(p: Person) -> str:
    country = places.BY_CODE.get(p.birth_place.country)
    return f"{p.birth_place.name}, {country.name}" if country else p.birth_place.name


def load_population(pop: Population, *, record_history: bool = True, progress: Any = None,
                    user: Any = None, on_stage: Callable[[str, int, float], None] | None = None) -> LoadReport:
    """Load `pop` into an empty registry. Raises LedgerUnavailable before writing anything if the history
    cannot be recorded and `record_history` is true; raises RuleError if the registry already has people."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from custody.accounts.models import Agency, User
    from custody.core.errors import RuleError
    from custody.registry import models as reg

    bulk_history = ledger_bulk_service() if record_history else None
    existing = reg.Person.objects.count()
    if existing:
        raise RuleError(
            f"The registry already holds {existing} people; the demo generator loads into an empty registry "
            "only (start from a fresh database)."
        )
    bar = progress or _NoProgress()
    report = LoadReport()

    @contextmanager
    def stage(label: str, total: int) -> Iterator[int]:
        task = bar.add_task(label, total=total)
        t0 = time.perf_counter()
        yield task
        bar.update(task, completed=total)
        report.seconds[label] = round(time.perf_counter() - t0, 2)
        report.counts[label] = total
        if on_stage is not None:
            on_stage(label, total, report.seconds[label])

    def bulk(model: Any, rows: list[Any], task: int) -> list[Any]:
        out = []
        for i in range(0, len(rows), BATCH):
            out.extend(model.objects.bulk_create(rows[i:i + BATCH]))
            bar.advance(task, len(rows[i:i + BATCH]))
        return out

    with transaction.atomic():
        with stage("agencies and demo users", len(pop.agencies) + len(pop.users)) as task:
            agencies: dict[str, Any] = {}
            for a in pop.agencies:
                obj, _ = Agency.objects.update_or_create(
                    code=a.code, defaults=dict(name=a.name, name_ar=a.name_ar, **AGENCY_FLAGS.get(a.code, {})))
                agencies[a.code] = obj
                bar.advance(task)
            # One hash for the shared demo password: argon2 costs ~0.1 s a call, 35 calls add nothing here.
            hashed = make_password(DEMO_PASSWORD)
            taken = set(User.objects.filter(username__in=[u.username for u in pop.users]).values_list("username", flat=True))
            new_users = [
                User(username=u.username, first_name=u.first_name, last_name=u.last_name, email=u.email,
                     agency=agencies[u.agency], role=u.role, clearance=CLEARANCE.get(u.agency, 1),
                     protection_role=(u.agency == "HUM"), is_staff=(u.role == "administrator"), password=hashed)
                for u in pop.users if u.username not in taken
            ]
            User.objects.bulk_create(new_users)
            users = {u.username: u.pk for u in User.objects.filter(username__in=[u.username for u in pop.users])}
            bar.advance(task, len(pop.users))

        with stage("facilities", len(pop.facilities)) as task:
            facilities: dict[str, Any] = {}
            for f in pop.facilities:
                obj, _ = reg.Facility.objects.update_or_create(code=f.code, defaults=dict(
                    name=f.name, name_ar=f.name_ar, kind=f.kind, country=f.country, latitude=f.lat,
                    longitude=f.lon, capacity=f.capacity, custodian=agencies[f.custodian]))
                facilities[f.code] = obj
                bar.advance(task)

        with stage("households", len(pop.households)) as task:
            hh_objs = bulk(reg.Household, [reg.Household(camp=facilities[h.camp], ref=h.ref, sector=h.sector, tent=h.tent)
                                           for h in pop.households], task)
            households = {h.ref: o for h, o in zip(pop.households, hh_objs, strict=True)}

        with stage("people", len(pop.persons)) as task:
            rows = [_person_row(reg.Person, p, households, agencies) for p in pop.persons]
            person_objs = bulk(reg.Person, rows, task)
            pk = {p.id: o.pk for p, o in zip(pop.persons, person_objs, strict=True)}

        with stage("household heads", len(pop.households)) as task:
            # executemany, not bulk_update: its CASE WHEN per row took 25 s for 12,600 households.
            sql = f"UPDATE {reg.Household._meta.db_table} SET head_id = %s WHERE id = %s"
            with connection.cursor() as cur:
                cur.executemany(sql, [(pk[h.head], households[h.ref].pk) for h in pop.households])
            bar.advance(task, len(pop.households))

        registered = {r.identity_id: r for source in PRIMARY_ROSTERS for r in pop.rosters[source].rows}
        names = [reg.PersonName(person_id=pk[p.id], **fields)
                 for p in pop.persons for fields, _parts in _names(p, registered.get(p.id))]
        with stage("names", len(names)) as task:
            bulk(reg.PersonName, names, task)

        idents = [
            reg.Identifier(person_id=pk[p.id], kind=kind, authority=agencies.get(auth), value=value,
                           value_norm=reg.Identifier.normalise(value))
            for p in pop.persons for kind, auth, value in p.identifiers
        ]
        with stage("identifiers", len(idents)) as task:
            bulk(reg.Identifier, idents, task)

        nats = [reg.Nationality(person_id=pk[p.id], country=c, source="generator") for p in pop.persons for c in p.nationalities]
        with stage("nationalities", len(nats)) as task:
            bulk(reg.Nationality, nats, task)

        links = [reg.FamilyLink(person_id=pk[link.person], relative_id=pk[link.relative], relation=link.relation,
                                source="generator") for link in pop.family_links]
        with stage("family links", len(links)) as task:
            bulk(reg.FamilyLink, links, task)

        apart = [reg.KeepApart(person_id=pk[k.person], other_id=pk[k.other], reason=k.reason) for k in pop.keep_apart]
        with stage("keep-apart pairs", len(apart)) as task:
            bulk(reg.KeepApart, apart, task)

        incidents, estimates = coordination_picture(pop.seed, pop.facilities)
        with stage("incidents and danger estimates", len(incidents) + len(estimates)) as task:
            _load_coordination(incidents, estimates, facilities, agencies, users.get("cio.analyst"))
            bar.advance(task, len(incidents) + len(estimates))

        with stage("search index", len(pop.persons)) as task:
            _write_search_index(pop, pk, registered, lambda n: bar.advance(task, n))

        if bulk_history is not None:
            specs = ledger_specs(pop, pk, facilities, agencies, users)
            with stage("custody history", len(specs)) as task:
                def advance(done: int, total: int | None = None) -> None:
                    bar.update(task, completed=done)

                recorded = bulk_history(specs, user=user, progress=advance)
                if recorded != len(specs):
                    raise RuntimeError(f"the ledger recorded {recorded} of {len(specs)} custody events")
    return report


def _load_coordination(incidents: list[IncidentSpec], estimates: list[DangerSpec], facilities: dict[str, Any],
                       agencies: dict[str, Any], analyst_id: int | None) -> None:
    """Dated back from the day of loading: the warnings page and the dashboard look back from today."""
    from django.utils import timezone

    from custody.coordination.models import DangerEstimate, Incident

    today = timezone.localdate()
    Incident.objects.bulk_create([
        Incident(occurred_on=today - timedelta(days=i.days_ago), site=facilities[i.site], kind=i.kind,
                 severity=i.severity, source=i.source, description=i.description, recorded_by_id=analyst_id,
                 originating_agency=agencies["CIO"], release_all=True, classification=1)
        for i in incidents
    ])
    DangerEstimate.objects.bulk_create([
        DangerEstimate(site=facilities[e.site], as_of=today - timedelta(days=e.days_ago), probability=e.probability,
                       rationale=e.rationale, analyst_id=analyst_id)
        for e in estimates
    ])


def _write_search_index(pop: Population, pk: dict[str, int], registered: dict[str, RosterRow],
                        advance: Callable[[int], None]) -> int:
    """The registry's name tokens (custody.registry.search), computed per name part and inserted raw.

    `reindex_people` computes tokens_for_name for every full name and builds a model instance per token:
    about 1.5 ms a name, 500,000 instances at real scale. Name parts repeat (a few hundred given names),
    and the tokens of a full name are the union of its parts' tokens (compounds like ʿAbd al-Karīm are
    one part), so a cache per part gives the same index in a fraction of the time. A deterministic sample
    of full names is checked against tokens_for_name first; any difference (say, a new token kind that
    spans parts) switches back to full names."""
    from django.db import connection

    from custody.registry.models import NameToken
    from custody.registry.search import tokens_for_name

    per_part = functools.lru_cache(maxsize=None)(tokens_for_name)
    # Each name as its parts; a name without known parts (a roster spelling with a typo) as one whole.
    named = [(pk[p.id], [parts or [fields["full"]] for fields, parts in _names(p, registered.get(p.id))])
             for p in pop.persons]
    sample = [parts for _pid, names in named[:: max(1, len(named) // 100)] for parts in names if len(parts) > 1]
    by_part = all(tokens_for_name(" ".join(parts)) == set().union(*(per_part(x) for x in parts)) for parts in sample)
    sql = f"INSERT INTO {NameToken._meta.db_table} (person_id, token) VALUES (%s, %s)"
    written = reported = 0
    rows: list[tuple[int, str]] = []
    with connection.cursor() as cur:
        for i, (pid, names) in enumerate(named, 1):
            tokens: set[str] = set()
            for parts in names:
                tokens |= set().union(*(per_part(x) for x in parts)) if by_part else tokens_for_name(" ".join(parts))
            rows.extend((pid, t) for t in sorted(tokens))
            if len(rows) >= 20_000 or i == len(named):
                cur.executemany(sql, rows)
                written += len(rows)
                rows = []
                advance(i - reported)
                reported = i
    return written


def _person_row(model: Any, p: Person, households: dict[str, Any], agencies: dict[str, Any]) -> Any:
    nok = p.next_of_kin
    return model(
        ref=p.id, group=p.group, display_name=full_latin(p.name), display_name_ar=p.name.ar, sex=p.sex,
        birth_precision=p.birth_precision, birth_date=p.dob if p.birth_precision == "exact" else None,
        birth_year_min=p.birth_year_min, birth_year_max=p.birth_year_max, place_of_birth=_place(p),
        father_name=plain(p.name.father.lat) if p.name.father else "", mother_name=full_latin(p.mother_name),
        capture_date=p.capture_date, capture_place=f"{p.capture_place.name}, Syria" if p.capture_place else "",
        internment_date=p.internment_date, internment_place=p.internment_place,
        next_of_kin_name=nok.name if nok else "", next_of_kin_relation=nok.relation if nok else "",
        next_of_kin_contact=f"{nok.phone}; {nok.address}" if nok else "",
        legal_status=p.legal_status, risk_tier=p.risk_tier, risk_rationale=p.risk_rationale, faction=p.faction,
        is_minor=p.is_minor, medical_flag=bool(p.medical_note), medical_note=p.medical_note,
        household=households.get(p.household) if p.household else None,
        originating_agency=agencies["SDF" if p.group == "detainee" else "HUM"],
    )


def _names(p: Person, registered: RosterRow | None) -> list[tuple[dict[str, Any], list[str]]]:
    """Every PersonName of `p` (as field values) with its written parts, in order: the true name in Arabic
    and Latin script, the kunya (with nisba) as an alias in both, and the Latin spelling under which the
    primary roster registered the person when it differs from the scholarly one."""
    n = p.name

    def lat(part: Any) -> str:
        return plain(part.lat) if part is not None else ""

    def ar(part: Any) -> str:
        return part.ar if part is not None else ""

    chain = n.chain()
    out: list[tuple[dict[str, Any], list[str]]] = [
        (dict(script="arab", full=n.ar, given=n.ism.ar, father=ar(n.father), grandfather=ar(n.grandfather),
              family=ar(n.family), nisba=ar(n.nisba), kunya=ar(n.kunya), source="generator"),
         [x.ar for x in chain]),
        (dict(script="latn", full=full_latin(n), given=lat(n.ism), father=lat(n.father),
              grandfather=lat(n.grandfather), family=lat(n.family), nisba=lat(n.nisba), kunya=lat(n.kunya),
              source="generator"),
         [lat(x) for x in chain]),
    ]
    if n.kunya is not None:
        # The kunya, usually with the nisba, is how many are known: an alias in both scripts.
        tail = [n.nisba] if n.nisba is not None else []
        out.append((dict(script="latn", full=" ".join(lat(x) for x in [n.kunya, *tail]), kunya=lat(n.kunya),
                         nisba=lat(n.nisba), source="generator", is_alias=True),
                    [lat(x) for x in [n.kunya, *tail]]))
        out.append((dict(script="arab", full=" ".join(ar(x) for x in [n.kunya, *tail]), kunya=ar(n.kunya),
                         nisba=ar(n.nisba), source="generator", is_alias=True),
                    [ar(x) for x in [n.kunya, *tail]]))
    if registered is not None and registered.name and registered.name.casefold() != out[1][0]["full"].casefold():
        out.append((dict(script="latn", full=registered.name, source=registered.source),
                    list(registered.name_parts)))
    return out


def ledger_specs(pop: Population, pk: dict[str, int], facilities: dict[str, Any], agencies: dict[str, Any],
                 users: dict[str, int]) -> list[Any]:
    """The generator's event specs as the ledger's EventSpec, with primary keys (no object loading).
    Handovers are confirmed by each side's demo clerk (x.clerk), as the ledger's two-sided rule requires."""
    from custody.ledger.specs import EventSpec

    def fac(code: str) -> int | None:
        return facilities[code].pk if code else None

    def agency(code: str) -> int | None:
        return agencies[code].pk if code else None

    specs = []
    for e in pop.events:
        specs.append(EventSpec(
            kind=e.kind, person=pk[e.person], occurred_at=e.at, facility=fac(e.facility), custodian=agency(e.custodian),
            reason=e.note, manifest=e.manifest, to_facility=fac(e.to_facility), expected_arrival=e.expected_arrival,
            identity_check=e.identity_check,
            sending_officer=users.get(f"{e.from_custodian.lower()}.clerk") if e.kind == "handed_over" else None,
            receiving_officer=users.get(f"{e.custodian.lower()}.clerk") if e.kind == "handed_over" else None,
            # Deterministic idempotency ids: loading the same seed twice names the same events.
            idempotency_id=f"synth-{pop.seed}-{e.person}-{e.seq}",
        ))
    return specs
