"""One person everywhere: the hook listings call (through core.domains.app_modules("identity")) so that a
person recorded twice and merged is listed once, under the record kept, with "also recorded as"."""

from __future__ import annotations

from typing import Any

from custody.matching.services import collapse_people, survivor_of

__all__ = ["collapse", "survivor_of"]


def collapse(user: Any, people: list[Any]) -> tuple[list[Any], int]:
    """The listing with each person once (see services.collapse_people) and how many rows it dropped."""
    return collapse_people(list(people), user)
