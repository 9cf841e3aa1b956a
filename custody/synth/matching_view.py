"""A population as the matching app sees it once loaded: engine records for linkage and policy records for
the merge policy (plain Python; evaluation and benchmarks only).

`engine_records` gives what custody.matching.services.person_records builds from the registry rows the
loader writes (display name, every PersonName, birth date at its precision, sex, nationalities, place of
birth, mother's name); `policy_records` what the merge policy needs beyond names (household, family links,
keep-apart pairs, identifiers with their issuer, custody intervals replayed from the ledger's events, the
current custodian, risk tier). The truth (`Population.planted`) is not read here.
"""

from __future__ import annotations

import datetime as dt

from custody.engines.linkage import CustodyInterval, Identifier, PolicyRecord
from custody.engines.linkage.records import Record, make_record
from custody.synth.load import PRIMARY_ROSTERS, _names, _place, full_latin
from custody.synth.model import EventSpec, Person, Population

__all__ = ["engine_records", "intervals", "policy_records"]

PLACE_KINDS = {"intake", "moved", "hospitalised", "returned", "arrived"}


def _dob_text(p: Person) -> str:
    # as custody.matching.services._dob_text reads the registry row the loader writes
    if p.birth_precision == "exact":
        return p.dob.isoformat()
    if p.birth_year_min != p.birth_year_max:
        return f"{p.birth_year_min}/{p.birth_year_max}"
    return str(p.birth_year_min)


def engine_records(pop: Population) -> list[Record]:
    registered = {r.identity_id: r for source in PRIMARY_ROSTERS for r in pop.rosters[source].rows}
    out = []
    for p in pop.persons:
        display = full_latin(p.name)
        names = [fields["full"] for fields, _parts in _names(p, registered.get(p.id))]
        alts = [n for n in [p.name.ar, *names] if n and n != display]
        out.append(make_record(p.id, display, dob=_dob_text(p), sex=p.sex, nationality=";".join(p.nationalities),
                               place_of_birth=_place(p), mother_name=full_latin(p.mother_name),
                               alt_names=list(dict.fromkeys(alts))))
    return out


def intervals(events: list[EventSpec]) -> tuple[tuple[CustodyInterval, ...], str]:
    """Where the ledger has the person over time (the events replayed), and who holds them now."""
    out: list[CustodyInterval] = []
    cur: tuple[str, dt.datetime, str] | None = None
    holder = ""
    for e in sorted(events, key=lambda e: e.seq):
        if e.custodian:
            holder = e.custodian
        if e.kind in PLACE_KINDS or e.kind in {"departed", "died"}:
            if cur is not None:
                out.append(CustodyInterval(cur[0], cur[1], e.at, cur[2]))
                cur = None
            if e.kind in PLACE_KINDS:
                cur = (e.facility, e.at, holder)
    if cur is not None:
        out.append(CustodyInterval(cur[0], cur[1], None, holder))
    return tuple(out), (holder if cur is not None else "")


def policy_records(pop: Population) -> dict[str, PolicyRecord]:
    family: dict[str, dict[str, str]] = {}
    for link in pop.family_links:
        family.setdefault(link.person, {})[link.relative] = link.relation
        family.setdefault(link.relative, {})[link.person] = f"{link.relation} of"
    apart: dict[str, set[str]] = {}
    for k in pop.keep_apart:
        apart.setdefault(k.person, set()).add(k.other)
        apart.setdefault(k.other, set()).add(k.person)
    events: dict[str, list[EventSpec]] = {}
    for e in pop.events:
        events.setdefault(e.person, []).append(e)
    out = {}
    for p in pop.persons:
        custody, holder = intervals(events.get(p.id, []))
        out[p.id] = PolicyRecord(
            p.id, sex=p.sex, birth_date=p.dob if p.birth_precision == "exact" else None, household=p.household,
            family=family.get(p.id, {}), keep_apart=frozenset(apart.get(p.id, ())),
            identifiers=frozenset(Identifier(k, a, v) for k, a, v in p.identifiers),
            custody=custody, custodian=holder, risk_tier=p.risk_tier)
    return out
