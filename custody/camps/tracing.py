"""Family tracing: from a detainee to his family in the camps, from a child to a parent in custody.

Two kinds of evidence. The registry's family links are facts someone recorded. Name matching is a lead:
in an Arabic nasab a child's second name is the father's given name and the family name is shared, so a
resident "Aisha Ahmed al-Jubouri" is a candidate daughter of a detainee "Ahmed Mohammed al-Jubouri".
The name engine compares the parts across scripts and spellings; each lead carries its evidence so the
reader can judge it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from custody.camps import services
from custody.core.access import restrict
from custody.engines.names.compare import token_similarity
from custody.engines.names.parse import ParsedName, Token, parse_name
from custody.registry.models import NameToken, Person, PersonName, PopulationGroup, Relation
from custody.registry.search import SKELETON_MARK, tokens_for_name

AGREE = 0.85
MAX_CANDIDATES = 3000


@dataclass
class NameParts:
    given: Token | None
    father: Token | None
    grandfather: Token | None
    family: Token | None


def parts(p: ParsedName) -> NameParts:
    """Positional reading of a nasab: given, father, grandfather ... family (last, when 3+ words)."""
    plain = [t for t in p.tokens if t.kind != "kunya"]
    if not plain:
        return NameParts(None, None, None, None)
    given = p.given or plain[0]
    family = p.family or (plain[-1] if len(plain) >= 3 else None)
    middle = [t for t in plain[1:] if t is not family]
    father = p.father or (middle[0] if middle else None)
    grandfather = p.grandfather or (middle[1] if len(middle) > 1 else None)
    return NameParts(given, father, grandfather, family)


def _sim(a: Token | None, b: Token | None) -> float:
    return token_similarity(a, b) if a is not None and b is not None else 0.0


@dataclass
class Lead:
    person: Person
    relation: str  # the found person's relation to the one traced from
    basis: str  # "link" or "name"
    score: float
    evidence: list[str] = field(default_factory=list)

    @property
    def relation_label(self) -> str:
        return str(Relation(self.relation).label)


def _names(person: Person) -> list[ParsedName]:
    out = [parse_name(n.full) for n in person.names.all()]
    if not out and person.display_name:
        out.append(parse_name(person.display_name))
    return [p for p in out if not p.empty]


def child_of_evidence(child: Person, child_names: list[ParsedName], parent_names: list[ParsedName]) -> tuple[float, list[str]]:
    """How well the child's nasab names this parent: father's name = parent's given name, and the
    family name or the grandfather's name agrees. Best over all name pairs."""
    best: tuple[float, list[str]] = (0.0, [])
    recorded_father = parse_name(child.father_name) if child.father_name else None
    for cn in child_names:
        c = parts(cn)
        for pn in parent_names:
            par = parts(pn)
            father_sim = _sim(c.father, par.given)
            via_field = False
            if recorded_father is not None and not recorded_father.empty:
                field_sim = _sim(parts(recorded_father).given, par.given)
                if field_sim > father_sim:
                    father_sim, via_field = field_sim, True
            if father_sim < AGREE:
                continue
            family_sim = _sim(c.family, par.family)
            lineage_sim = _sim(c.grandfather, par.father)
            # the nasab is a chain: a child's grandfather is the parent's father. Where both names carry
            # that link and it disagrees, the shared names are a coincidence (Hamid/Hammad share a skeleton).
            if c.grandfather is not None and par.father is not None and lineage_sim < AGREE:
                continue
            if max(family_sim, lineage_sim) < AGREE:
                continue
            agreeing = [father_sim] + [x for x in (family_sim, lineage_sim) if x >= AGREE]
            score = round(sum(agreeing) / len(agreeing) * (1.0 if len(agreeing) == 3 else 0.9), 3)
            if score <= best[0]:
                continue
            ev = []
            father_tok = parts(recorded_father).given if via_field and recorded_father else c.father
            ev.append(_("father's name %(a)s ≈ given name %(b)s (%(s).2f)") % {"a": father_tok.text, "b": par.given.text, "s": father_sim})  # type: ignore[union-attr]
            if family_sim >= AGREE:
                ev.append(_("family name %(a)s ≈ %(b)s (%(s).2f)") % {"a": c.family.text, "b": par.family.text, "s": family_sim})  # type: ignore[union-attr]
            if lineage_sim >= AGREE:
                ev.append(_("grandfather's name %(a)s ≈ father's name %(b)s (%(s).2f)") % {"a": c.grandfather.text, "b": par.father.text, "s": lineage_sim})  # type: ignore[union-attr]
            best = (score, ev)
    return best


def sibling_evidence(a_names: list[ParsedName], b_names: list[ParsedName]) -> tuple[float, list[str]]:
    best: tuple[float, list[str]] = (0.0, [])
    for an in a_names:
        a = parts(an)
        for bn in b_names:
            b = parts(bn)
            fs, fam = _sim(a.father, b.father), _sim(a.family, b.family)
            if a.grandfather is not None and b.grandfather is not None and _sim(a.grandfather, b.grandfather) < AGREE:
                continue  # brothers and sisters share the grandfather too
            if fs >= AGREE and fam >= AGREE and _sim(a.given, b.given) < 0.95:
                score = round((fs + fam) / 2 * 0.9, 3)  # a shared father's and family name is common: weaker than a nasab
                if score > best[0]:
                    best = (score, [_("same father's name %(a)s ≈ %(b)s (%(s).2f)") % {"a": a.father.text, "b": b.father.text, "s": fs},  # type: ignore[union-attr]
                                    _("family name %(a)s ≈ %(b)s (%(s).2f)") % {"a": a.family.text, "b": b.family.text, "s": fam}])  # type: ignore[union-attr]
    return best


def _candidates(pool: QuerySet[Person], tokens: list[Token | None]) -> QuerySet[Person]:
    """People of the pool whose names share the skeleton of every given token (through the search index)."""
    qs = pool
    for tok in tokens:
        if tok is None:
            continue
        keys = {t for t in tokens_for_name(tok.text) if t.startswith(SKELETON_MARK)}
        if keys:
            qs = qs.filter(pk__in=NameToken.objects.filter(token__in=keys).values("person_id"))
    return qs


def _link_leads(user: Any, person: Person, want_group: str, in_custody: bool = False) -> dict[int, Lead]:
    leads: dict[int, Lead] = {}
    for row in services.family_of(user, person):
        other = row["relative"]
        if other.group != want_group:
            continue
        if in_custody and not other.current_facility_id:
            continue
        leads[other.pk] = Lead(other, row["relation"], "link", 1.0, [_("recorded family link (%(source)s)") % {"source": row["link"].source or _("registry")}])
    return leads


def trace_family_in_camps(user: Any, detainee: Person) -> list[Lead]:
    """Camp residents who are (by link) or may be (by name) the family of a detainee."""
    leads = _link_leads(user, detainee, PopulationGroup.CAMP_RESIDENT)
    pool = services.residents(restrict(Person.objects.all(), user)).exclude(pk__in=list(leads))
    mine = _names(detainee)
    seen: set[int] = set()
    for name in mine:
        pp = parts(name)
        # children carry the detainee's given name and family name; brothers and sisters his father's
        for kind, keys in (("child", [pp.given, pp.family]), ("sibling", [pp.father, pp.family])):
            if kind == "sibling" and pp.father is None:
                continue
            for cand in _candidates(pool, keys).prefetch_related("names")[:MAX_CANDIDATES]:
                if cand.pk in seen:
                    continue
                theirs = _names(cand)
                if kind == "child":
                    score, ev = child_of_evidence(cand, theirs, mine)
                    relation = "son" if cand.sex == "M" else "daughter"
                else:
                    score, ev = sibling_evidence(mine, theirs)
                    relation = "brother" if cand.sex == "M" else "sister"
                if score > 0:
                    seen.add(cand.pk)
                    leads[cand.pk] = Lead(cand, relation, "name", score, ev)
    return sorted(leads.values(), key=lambda lead: (lead.basis != "link", -lead.score, lead.person.ref))


def trace_parents_in_custody(user: Any, child: Person) -> list[Lead]:
    """Detainees in custody who are (by link) or may be (by name) a parent of this child."""
    leads = {pk: lead for pk, lead in _link_leads(user, child, PopulationGroup.DETAINEE, in_custody=True).items()
             if lead.relation in services.PARENT_RELATIONS}
    pool = restrict(Person.objects.all(), user).filter(group=PopulationGroup.DETAINEE, current_facility__isnull=False).exclude(pk__in=list(leads))
    mine = _names(child)
    if child.father_name:
        mine_father = parse_name(child.father_name)
    else:
        mine_father = None
    for name in mine:
        c = parts(name)
        father_tok = c.father or (parts(mine_father).given if mine_father and not mine_father.empty else None)
        for cand in _candidates(pool, [father_tok, c.family]).prefetch_related("names")[:MAX_CANDIDATES]:
            if cand.pk in leads:
                continue
            score, ev = child_of_evidence(child, [name], _names(cand))
            if score > 0:
                leads[cand.pk] = Lead(cand, "father" if cand.sex != "F" else "mother", "name", score, ev)
    return sorted(leads.values(), key=lambda lead: (lead.basis != "link", -lead.score, lead.person.ref))


def names_of(person: Person) -> QuerySet[PersonName]:
    return person.names.all()
