"""A canonical fingerprint of a population: equal digests mean byte-identical populations."""

from __future__ import annotations

import hashlib

from custody.synth.model import Population


def digest(pop: Population) -> str:
    """sha256 over the repr of every record, in order. Dataclass reprs list every field, so any change in
    any value, or in order, changes the digest."""
    h = hashlib.sha256()
    for group in (pop.agencies, pop.users, pop.facilities, pop.persons, pop.households, pop.family_links,
                  pop.keep_apart, pop.events):
        for item in group:
            h.update(repr(item).encode())
            h.update(b"\n")
    for source in sorted(pop.rosters):
        roster = pop.rosters[source]
        h.update(f"{roster.source}|{roster.title}|{roster.agency}|{roster.habit}|{roster.has_arabic}\n".encode())
        for row in roster.rows:
            h.update(repr(row).encode())
            h.update(b"\n")
    return h.hexdigest()
