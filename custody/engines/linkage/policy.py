"""The merge policy: what a scored pair of records may become, and why (plain Python, no Django).

A name score says how alike two records' names are; it cannot say that two records are one person.
Sisters share their father's and grandfather's names, brothers their mother's; a household's children
differ by one given name. So:

- **merge** (automatic) needs evidence beyond names that agrees (an identifier issued by an authority
  on both records, or a 1:1 biometric match at the verification operating point), names at least in the
  review band, and nothing against;
- **keep apart** when anything speaks against, whatever the names say: recorded sex differs; same
  household or a recorded family link; exact birth dates differ; both held in two places at the same
  time; a keep-apart pair (or a person's earlier "different"); and when the names are below the review
  band with nothing beyond names for them;
- **queue** everything else, for a person to decide, with its reasons, most consequential first
  (`queue_order`).

Every decision carries its reasons (codes the app translates, `Reason.text` in English for the CLI and
the benchmarks), Splink-style: nothing is decided without saying what it rests on.

`resolve` clusters the merge decisions by complete linkage: two groups are joined only if *every* pair
across them is itself a merge, so A and C are never one person through B; a merge that would chain is
sent to the queue with the pair that stopped it. See docs/matching-policy.md.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from custody.engines.linkage.pipeline import DEFAULT_THRESHOLD, REVIEW_THRESHOLD

__all__ = [
    "AGAINST",
    "BiometricResult",
    "Candidate",
    "CustodyInterval",
    "Decision",
    "Identifier",
    "MergePolicy",
    "Outcome",
    "PolicyRecord",
    "PolicyRun",
    "REASON_TEXT",
    "Reason",
    "decided_same",
    "queue_order",
    "resolve",
    "shared_identifier_pairs",
]


class Outcome(StrEnum):
    MERGE = "merge"
    QUEUE = "queue"
    KEEP_APART = "keep_apart"


# What each reason code means, in English. The app shows these through gettext by code; the engine
# has no Django and no catalogue, so the English text lives here once.
REASON_TEXT: dict[str, str] = {
    # against: never outweighed by names
    "sex_differs": "recorded sex differs ({a} / {b})",
    "same_household": "same household ({household})",
    "family_link": "recorded family link ({relation})",
    "birth_dates_differ": "exact birth dates differ ({a} / {b})",
    "simultaneous_custody": "held in two places at the same time ({a_facility} and {b_facility} from {since})",
    "keep_apart": "a keep-apart pair (or decided: different people)",
    # for: evidence beyond names
    "shared_identifier": "same {kind} issued by {authority}: {value}",
    "biometric_match": "{modality} 1:1 match at the verification operating point ({score} >= {threshold})",
    # doubts: stop an automatic merge, send to a person
    "biometric_no_match": "{modality} 1:1 verification did not match ({score} < {threshold})",
    "names_only": "nothing beyond names supports a merge: names alone never merge",
    "names_weak": "names are in the review band only (weight {weight})",
    "names_disagree": "names disagree (weight {weight}) and nothing beyond names links the records",
    "identifier_names_disagree": "an identifier is shared but the names disagree (weight {weight}): a mistyped number?",
    "chain": "would put {x} and {y} in one cluster, and {x}–{y} is not a merge on its own ({state})",
    # names
    "names_agree": "names agree (weight {weight})",
    # what a merge would change (queue order)
    "two_custodians": "held by two authorities ({a} and {b}): both, or the working group's adjudicator, must agree",
    "both_held": "both records are counted in custody now: a merge changes a headcount",
    "custody_history": "only one record is in custody: a merge gives the other its custody history",
    "risk_tier": "risk tier {tier}",
    # a person decided
    "decided_same": "decided the same person by {user}",
}

# Reason kinds. "against" keeps a pair apart; "for" is evidence beyond names; "doubt" stops an
# automatic merge; "names" and "stakes" inform the person deciding.
AGAINST, FOR, DOUBT, NAMES, STAKES = "against", "for", "doubt", "names", "stakes"


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    kind: str  # AGAINST, FOR, DOUBT, NAMES, STAKES
    params: tuple[tuple[str, str], ...] = ()

    @property
    def text(self) -> str:
        return REASON_TEXT[self.code].format(**dict(self.params))

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "kind": self.kind, "params": dict(self.params), "text": self.text}


def _reason(code: str, side: str, /, **params: object) -> Reason:
    return Reason(code, side, tuple((k, str(v)) for k, v in params.items()))


def _norm(value: str) -> str:
    # as the registry normalises identifier values (Identifier.normalise): letters and digits, upper case
    return "".join(ch for ch in value.upper() if ch.isalnum())


@dataclass(frozen=True, slots=True)
class Identifier:
    """A number issued by an authority (agency code, or ISO country for a passport). An identifier
    without an issuer proves nothing: two lists can both write "12"."""

    kind: str
    authority: str
    value: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.authority.upper(), _norm(self.value))


@dataclass(frozen=True, slots=True)
class CustodyInterval:
    """Where the ledger has the person, from `start` until `end` (None: still there)."""

    facility: str
    start: dt.datetime
    end: dt.datetime | None = None
    custodian: str = ""


@dataclass(frozen=True, slots=True)
class BiometricResult:
    """A 1:1 comparison of the two records' templates and the operating point it was judged at."""

    modality: str  # finger, face
    score: float
    threshold: float

    @property
    def matched(self) -> bool:
        return self.score >= self.threshold


@dataclass(frozen=True)
class PolicyRecord:
    """What the policy needs to know of a registry record beyond its names. The matching app fills it
    from the registry (sex, exact birth date, household, family links, identifiers, keep-apart pairs and
    "different" decisions) and from the ledger (custody intervals, current custodian)."""

    rid: str
    sex: str | None = None  # "M" / "F"; anything else is unknown
    birth_date: dt.date | None = None  # only an exact date; a year or a range is not evidence either way
    household: str = ""
    family: Mapping[str, str] = field(default_factory=dict)  # relative rid -> relation
    keep_apart: frozenset[str] = frozenset()  # rids this record is never to be joined with
    identifiers: frozenset[Identifier] = frozenset()
    custody: tuple[CustodyInterval, ...] = ()
    custodian: str = ""  # who holds the person now ("" if nobody)
    risk_tier: int | None = None

    @property
    def held(self) -> bool:
        return any(iv.end is None for iv in self.custody)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A pair to decide: the name weight (log2 odds from the linkage model; -inf if never scored) and,
    when both records have templates, their 1:1 verification."""

    a: str
    b: str
    weight: float
    biometric: BiometricResult | None = None


@dataclass(frozen=True)
class Decision:
    a: str
    b: str
    weight: float
    outcome: Outcome
    reasons: tuple[Reason, ...]
    stakes: int = 0  # how much a merge would change (queue order, highest first)

    @property
    def pair(self) -> frozenset[str]:
        return frozenset((self.a, self.b))

    def of(self, kind: str) -> list[Reason]:
        return [r for r in self.reasons if r.kind == kind]

    @property
    def against(self) -> list[Reason]:
        return self.of(AGAINST)

    @property
    def evidence(self) -> list[Reason]:
        """Evidence beyond names, for the merge."""
        return self.of(FOR)

    def explain(self) -> list[str]:
        return [f"{r.kind}: {r.text}" for r in self.reasons]

    def as_dict(self) -> dict[str, object]:
        return {"a": self.a, "b": self.b, "weight": round(self.weight, 3), "outcome": str(self.outcome),
                "stakes": self.stakes, "reasons": [r.as_dict() for r in self.reasons]}


def _overlap(x: CustodyInterval, y: CustodyInterval) -> dt.datetime | None:
    """The moment two intervals at different facilities begin to overlap, or None. Half-open: a move
    that ends one interval at the instant the next begins is not an overlap."""
    if x.facility == y.facility:
        return None
    start = max(x.start, y.start)
    ends = [e for e in (x.end, y.end) if e is not None]
    if ends and min(ends) <= start:
        return None
    return start


@dataclass(frozen=True)
class MergePolicy:
    """The rules, with the name thresholds of the linkage model they apply to."""

    name_threshold: float = DEFAULT_THRESHOLD  # names "agree"
    review_threshold: float = REVIEW_THRESHOLD  # below: the names alone do not make a candidate

    def against(self, a: PolicyRecord, b: PolicyRecord) -> list[Reason]:
        out: list[Reason] = []
        if a.sex in ("M", "F") and b.sex in ("M", "F") and a.sex != b.sex:
            out.append(_reason("sex_differs", AGAINST, a=a.sex, b=b.sex))
        if a.household and a.household == b.household:
            out.append(_reason("same_household", AGAINST, household=a.household))
        relation = a.family.get(b.rid) or b.family.get(a.rid)
        if relation:
            out.append(_reason("family_link", AGAINST, relation=relation))
        if a.birth_date is not None and b.birth_date is not None and a.birth_date != b.birth_date:
            out.append(_reason("birth_dates_differ", AGAINST, a=a.birth_date.isoformat(), b=b.birth_date.isoformat()))
        for x in a.custody:
            hit = next(((y, s) for y in b.custody if (s := _overlap(x, y)) is not None), None)
            if hit is not None:
                y, since = hit
                out.append(_reason("simultaneous_custody", AGAINST, a_facility=x.facility, b_facility=y.facility,
                                   since=since.isoformat(timespec="minutes")))
                break
        if b.rid in a.keep_apart or a.rid in b.keep_apart:
            out.append(_reason("keep_apart", AGAINST))
        return out

    def support(self, a: PolicyRecord, b: PolicyRecord, biometric: BiometricResult | None) -> tuple[list[Reason], list[Reason]]:
        """(evidence for beyond names, doubts)."""
        found: list[Reason] = []
        doubts: list[Reason] = []
        theirs = {i.key: i for i in b.identifiers if i.authority and _norm(i.value)}
        for ident in sorted(a.identifiers, key=lambda i: i.key):
            if ident.authority and ident.key in theirs:
                found.append(_reason("shared_identifier", FOR, kind=ident.kind, authority=ident.authority,
                                     value=ident.value))
        if biometric is not None:
            params = {"modality": biometric.modality, "score": f"{biometric.score:.3f}",
                      "threshold": f"{biometric.threshold:.3f}"}
            if biometric.matched:
                found.append(_reason("biometric_match", FOR, **params))
            else:
                doubts.append(_reason("biometric_no_match", DOUBT, **params))
        return found, doubts

    def stakes(self, a: PolicyRecord, b: PolicyRecord) -> tuple[int, list[Reason]]:
        """What a merge would change, as a score (queue order) and its reasons: two authorities' records
        first (both must agree), then headcounts, then custody histories joined, then risk."""
        score = 0
        out: list[Reason] = []
        if a.custodian and b.custodian and a.custodian != b.custodian:
            score += 8
            out.append(_reason("two_custodians", STAKES, a=a.custodian, b=b.custodian))
        if a.held and b.held:
            score += 4
            out.append(_reason("both_held", STAKES))
        elif a.held != b.held:
            score += 2
            out.append(_reason("custody_history", STAKES))
        tiers = [t for t in (a.risk_tier, b.risk_tier) if t is not None]
        if tiers:
            tier = min(tiers)
            score += max(0, 4 - tier)
            out.append(_reason("risk_tier", STAKES, tier=tier))
        return score, out

    def decide(self, a: PolicyRecord, b: PolicyRecord, weight: float,
               biometric: BiometricResult | None = None) -> Decision:
        against = self.against(a, b)
        found, doubts = self.support(a, b, biometric)
        stakes, stake_reasons = self.stakes(a, b)
        w = f"{weight:.2f}"
        names: list[Reason] = []
        if weight >= self.name_threshold:
            names.append(_reason("names_agree", NAMES, weight=w))
        if against:
            outcome = Outcome.KEEP_APART
        elif weight < self.review_threshold:
            if found:
                # a shared number with unlike names is more often a typed number than one person
                doubts.append(_reason("identifier_names_disagree", DOUBT, weight=w))
                outcome = Outcome.QUEUE
            else:
                against = [_reason("names_disagree", AGAINST, weight=w)]
                outcome = Outcome.KEEP_APART
        elif found and not doubts:
            outcome = Outcome.MERGE
        else:
            if not found:
                if weight >= self.name_threshold:
                    doubts.append(_reason("names_only", DOUBT))
                else:
                    doubts.append(_reason("names_weak", DOUBT, weight=w))
            outcome = Outcome.QUEUE
        a_id, b_id = (a.rid, b.rid) if a.rid <= b.rid else (b.rid, a.rid)
        return Decision(a_id, b_id, weight, outcome, (*against, *found, *doubts, *names, *stake_reasons), stakes)

    def run(self, records: Mapping[str, PolicyRecord], candidates: Iterable[Candidate],
            extra: Iterable[Decision] = ()) -> PolicyRun:
        """Decide every candidate pair (each once) and cluster the merges (`resolve`); `extra` are
        decisions already taken (a person's "same", `decided_same`)."""
        seen: set[frozenset[str]] = set()
        decisions = []
        for d in extra:
            # a person's "same" does not outrank the facts either: whoever thinks a fact wrong corrects
            # the fact (the family link, the sex, the date), and the pair is decided again
            against = self.against(records[d.a], records[d.b]) if d.a in records and d.b in records else []
            if d.outcome == Outcome.MERGE and against:
                d = replace(d, outcome=Outcome.KEEP_APART, reasons=(*against, *d.reasons))
            if d.pair not in seen:
                seen.add(d.pair)
                decisions.append(d)
        for c in candidates:
            key = frozenset((c.a, c.b))
            if c.a == c.b or key in seen:
                continue
            seen.add(key)
            decisions.append(self.decide(records[c.a], records[c.b], c.weight, c.biometric))
        return resolve(decisions)


def decided_same(a: str, b: str, user: str, weight: float = float("nan")) -> Decision:
    """A person's "same person" decision, as a merge decision that `resolve` clusters with the rest
    (it is still subject to complete linkage: it never pulls in a third record on its own)."""
    a_id, b_id = (a, b) if a <= b else (b, a)
    return Decision(a_id, b_id, weight, Outcome.MERGE, (_reason("decided_same", FOR, user=user),))


def shared_identifier_pairs(records: Iterable[PolicyRecord], max_group: int = 20) -> list[tuple[str, str]]:
    """Pairs of records that carry the same authority-issued identifier: candidates name blocking may
    not propose (a kunya on one list, the full name on the other). A number on more than `max_group`
    records is a placeholder ("0", "unknown"), not an identity, and proposes nothing."""
    by_key: dict[tuple[str, str, str], list[str]] = {}
    for r in records:
        for i in r.identifiers:
            if i.authority and _norm(i.value):
                by_key.setdefault(i.key, []).append(r.rid)
    out: set[tuple[str, str]] = set()
    for rids in by_key.values():
        uniq = sorted(set(rids))
        if 2 <= len(uniq) <= max_group:
            out.update((x, y) for k, x in enumerate(uniq) for y in uniq[k + 1:])
    return sorted(out)


def queue_order(decisions: Iterable[Decision]) -> list[Decision]:
    """The queue, most consequential first: what a merge would change, then the strongest names."""
    return sorted((d for d in decisions if d.outcome == Outcome.QUEUE),
                  key=lambda d: (-d.stakes, -(d.weight if d.weight == d.weight else 0.0), d.a, d.b))


@dataclass
class PolicyRun:
    decisions: list[Decision]
    clusters: list[frozenset[str]]  # merged groups of two or more records

    def by_outcome(self, outcome: Outcome) -> list[Decision]:
        return [d for d in self.decisions if d.outcome == outcome]

    @property
    def merged(self) -> list[Decision]:
        return self.by_outcome(Outcome.MERGE)

    @property
    def queue(self) -> list[Decision]:
        return queue_order(self.decisions)

    @property
    def kept_apart(self) -> list[Decision]:
        return self.by_outcome(Outcome.KEEP_APART)

    def cluster_of(self) -> dict[str, int]:
        return {rid: k for k, members in enumerate(self.clusters) for rid in members}

    def evidence_counts(self) -> dict[str, Counter[str]]:
        """Per outcome, how often each reason code was used."""
        out: dict[str, Counter[str]] = {str(o): Counter() for o in Outcome}
        for d in self.decisions:
            out[str(d.outcome)].update(r.code for r in d.reasons)
        return out


def _strength(d: Decision) -> tuple[int, int, float, str, str]:
    w = d.weight if d.weight == d.weight else float("inf")  # a person's decision first
    return (-len(d.evidence), -sum(r.code == "biometric_match" for r in d.evidence), -w, d.a, d.b)


def resolve(decisions: Iterable[Decision]) -> PolicyRun:
    """Cluster the merge decisions by complete linkage, strongest first. Two groups are joined only if
    every pair across them is a merge decision; a merge that would join records whose own pair is not
    a merge (A~B, B~C, A-C apart or queued) goes to the queue instead, naming the pair that stopped it.
    Every pair inside a returned cluster is therefore a merge on its own evidence."""
    decisions = list(decisions)
    merge_pairs = {d.pair for d in decisions if d.outcome == Outcome.MERGE}
    outcome_of = {d.pair: d.outcome for d in decisions}
    parent: dict[str, str] = {}
    members: dict[str, list[str]] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        members.setdefault(x, [x])
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    final: dict[frozenset[str], Decision] = {}
    for d in sorted((d for d in decisions if d.outcome == Outcome.MERGE), key=_strength):
        ra, rb = find(d.a), find(d.b)
        if ra == rb:
            continue
        blocker = next(((x, y) for x in members[ra] for y in members[rb] if frozenset((x, y)) not in merge_pairs),
                       None)
        if blocker is not None:
            x, y = sorted(blocker)
            state = outcome_of.get(frozenset((x, y)), "not a candidate")
            final[d.pair] = replace(d, outcome=Outcome.QUEUE, reasons=(
                *d.reasons, _reason("chain", DOUBT, x=x, y=y, state=state)))
            continue
        if len(members[ra]) < len(members[rb]):
            ra, rb = rb, ra
        parent[rb] = ra
        members[ra].extend(members.pop(rb))
    clusters = sorted((frozenset(m) for r, m in members.items() if parent[r] == r and len(m) > 1),
                      key=lambda c: sorted(c))
    return PolicyRun([final.get(d.pair, d) for d in decisions], clusters)
