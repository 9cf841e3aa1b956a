"""What the merge policy needs to know of registry people beyond their names, read from the registry and
the ledger (read only): `policy_records` fills custody.engines.linkage.PolicyRecord, `biometric_results`
the 1:1 comparisons stored by biometric identification. No writes here; the scan (services.do_scan)
decides with them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from custody.engines.linkage import BiometricResult, CustodyInterval, Identifier, PolicyRecord

# Ledger kinds that put the person somewhere (a new stay begins at the event's facility), and those that
# end every stay (the person is nowhere the ledger holds them: on the road, free, dead, escaped).
STAY_KINDS = {"intake", "recaptured", "moved", "hospitalised", "returned", "arrived", "transferred_to_court"}
END_KINDS = {"departed", "released", "repatriated", "died", "escaped"}


def replay(events: Iterable[tuple[str, dt.datetime, str, str]]) -> tuple[CustodyInterval, ...]:
    """Stays from one person's events in ledger order: (kind, occurred_at, facility code, custodian code).
    Half-open: a move ends one stay at the instant the next begins."""
    out: list[CustodyInterval] = []
    cur: tuple[str, dt.datetime, str] | None = None
    holder = ""
    for kind, at, facility, custodian in events:
        if custodian:
            holder = custodian
        if kind == "handed_over" and cur is not None and facility and facility != cur[0]:
            kind = "moved"  # a handover that also moves the person starts a stay at the new place
        if kind in STAY_KINDS or kind in END_KINDS:
            if cur is not None:
                out.append(CustodyInterval(cur[0], cur[1], at, cur[2]))
                cur = None
            if kind in STAY_KINDS and facility:
                cur = (facility, at, holder)
    if cur is not None:
        out.append(CustodyInterval(cur[0], cur[1], None, cur[2]))
    return tuple(out)


def _identifier_authority(kind: str, authority: str, country: str) -> str:
    # A passport or a national number is issued by a country; everything else by an agency. A number
    # with neither proves nothing and the policy ignores it.
    return authority or (country if kind in ("passport", "national_id") else "")


def policy_records(people: Sequence[Any], *, different: Iterable[tuple[int, int]] = ()) -> dict[str, PolicyRecord]:
    """PolicyRecord for each registry person (rid = str(pk)): sex, exact birth date, household, family
    links (both directions), keep-apart pairs and "different" decisions, identifiers with their issuer,
    custody stays replayed from the ledger's events, current custodian (the projection), risk tier."""
    from custody.ledger.models import LedgerEvent
    from custody.registry.models import FamilyLink, KeepApart
    from custody.registry.models import Identifier as IdentifierRow

    ids = [p.pk for p in people]
    chunks = [ids[k:k + 900] for k in range(0, len(ids), 900)] or [[]]
    family: dict[int, dict[str, str]] = {}
    apart: dict[int, set[str]] = {}
    idents: dict[int, set[Identifier]] = {}
    events: dict[int, list[tuple[str, dt.datetime, str, str]]] = {}
    for chunk in chunks:
        for a, b, rel in FamilyLink.objects.filter(person_id__in=chunk).values_list("person_id", "relative_id", "relation"):
            family.setdefault(a, {})[str(b)] = rel
            family.setdefault(b, {})[str(a)] = f"{rel} of"
        for a, b, rel in FamilyLink.objects.filter(relative_id__in=chunk).values_list("person_id", "relative_id", "relation"):
            family.setdefault(a, {})[str(b)] = rel
            family.setdefault(b, {})[str(a)] = f"{rel} of"
        for a, b in KeepApart.objects.filter(person_id__in=chunk).values_list("person_id", "other_id"):
            apart.setdefault(a, set()).add(str(b))
            apart.setdefault(b, set()).add(str(a))
        for a, b in KeepApart.objects.filter(other_id__in=chunk).values_list("person_id", "other_id"):
            apart.setdefault(a, set()).add(str(b))
            apart.setdefault(b, set()).add(str(a))
        for pid, kind, auth, country, value in IdentifierRow.objects.filter(person_id__in=chunk).values_list(
                "person_id", "kind", "authority__code", "country", "value"):
            issuer = _identifier_authority(kind, auth or "", country or "")
            if issuer:
                idents.setdefault(pid, set()).add(Identifier(kind, issuer, value))
        for pid, kind, at, fac, cust in LedgerEvent.objects.filter(person_id__in=chunk).order_by("person_id", "seq").values_list(
                "person_id", "kind", "occurred_at", "facility__code", "custodian__code"):
            events.setdefault(pid, []).append((kind, at, fac or "", cust or ""))
    for a, b in different:
        apart.setdefault(a, set()).add(str(b))
        apart.setdefault(b, set()).add(str(a))
    custodian_code = _agency_codes()
    out: dict[str, PolicyRecord] = {}
    for p in people:
        out[str(p.pk)] = PolicyRecord(
            str(p.pk), sex=p.sex if p.sex in ("M", "F") else None,
            birth_date=p.birth_date if p.birth_precision == "exact" else None,
            household=str(p.household_id) if p.household_id else "",
            family=family.get(p.pk, {}), keep_apart=frozenset(apart.get(p.pk, ())),
            identifiers=frozenset(idents.get(p.pk, ())), custody=replay(events.get(p.pk, [])),
            custodian=custodian_code.get(p.current_custodian_id, "") if p.current_custodian_id else "",
            risk_tier=p.risk_tier)
    return out


def _agency_codes() -> dict[int, str]:
    from custody.accounts.models import Agency

    return dict(Agency.objects.values_list("pk", "code"))


def biometric_results(person_ids: Iterable[int]) -> dict[frozenset[str], BiometricResult]:
    """1:1 comparisons stored by biometric identification (an enrolled person's search names the other
    record as a candidate with its face score and finger scores), judged at the verification operating
    point the search ran with. Per pair the strongest comparison: a face match, else the best finger."""
    from custody.biometrics.models import Identification
    from custody.engines.biometrics.identify import Thresholds

    wanted = set(person_ids)
    out: dict[frozenset[str], BiometricResult] = {}
    for pid, candidates, thresholds in Identification.objects.filter(person__isnull=False).values_list(
            "person_id", "candidates", "thresholds"):
        if pid not in wanted:
            continue
        t = Thresholds.from_dict(thresholds)
        for c in candidates or []:
            other = c.get("subject_id")
            if other is None or other == pid or other not in wanted:
                continue
            key = frozenset((str(pid), str(other)))
            found: list[BiometricResult] = []
            if c.get("face_score") is not None:
                found.append(BiometricResult("face", float(c["face_score"]), float(t.face_verify)))
            fingers = [int(v) for v in (c.get("finger_scores") or {}).values()]
            if fingers:
                found.append(BiometricResult("finger", float(max(fingers)), float(t.finger_verify)))
            if not found:
                continue
            best = max(found, key=lambda r: (r.matched, r.score / r.threshold if r.threshold else 0.0))
            cur = out.get(key)
            if cur is None or (best.matched and not cur.matched):
                out[key] = best
    return out
