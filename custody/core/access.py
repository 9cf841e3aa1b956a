"""The one authorisation layer.

Every query for records goes through `restrict(queryset, user, action)`; every field group through
`can_see_fields(user, group)`; every action through `can(user, capability)`. Checks are written one
condition per line so a reviewer can read each rule on its own (the Zulip habit).

A model takes part by defining a classmethod `access_q(cls, user, action) -> Q` that says which rows the
user may reach; `restrict` adds the role requirement of the action. Models without `access_q` are
reachable by nobody through `restrict`.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Exists, OuterRef, Q

# Actions and the lowest role that may take them. Agency flags narrow these further.
ACTION_ROLE = {
    "view": "viewer",
    "add": "clerk",
    "change": "clerk",
    "import": "clerk",
    "adjudicate": "analyst",
    "export": "analyst",
    "approve": "supervisor",
    "audit": "supervisor",
    "administer": "administrator",
}

# Capabilities that come from the agency (and a few from the user), not from the role.
CAPABILITIES = {
    "intelligence",       # risk rationale, intelligence items
    "biometric_images",   # face and fingerprint images and templates
    "protection",         # children and protection flags in the camps
    "audit",              # the audit trail and change history
    "administer",         # accounts, agencies
}


def _active(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def has_role(user: Any, role: str) -> bool:
    if not _active(user):
        return False
    return user.has_role(role)


def can(user: Any, capability: str) -> bool:
    """May this user use a capability (an action name or an agency-derived capability)?"""
    if not _active(user):
        return False
    if capability in ACTION_ROLE:
        return user.has_role(ACTION_ROLE[capability])
    agency = user.agency
    if capability == "intelligence":
        return agency is not None and agency.sees_intelligence
    if capability == "biometric_images":
        return agency is not None and agency.biometric_access and user.has_role("clerk")
    if capability == "protection":
        return (agency is not None and agency.protection_purpose) or user.protection_role
    raise ValueError(f"unknown capability {capability!r}")


def may_read_audit(user: Any) -> bool:
    """Supervisors read their own agency's trail; auditors (User.is_auditor, any role) every agency's."""
    return can(user, "audit") or bool(can(user, "view") and getattr(user, "is_auditor", False))


# Field groups: which capability a group of sensitive fields needs. Serializers and templates ask
# `can_see_fields(user, group)`; a group not listed here is visible to whoever sees the record.
FIELD_GROUPS = {
    "risk_rationale": "intelligence",
    "intelligence": "intelligence",
    "biometrics": "biometric_images",
    "protection": "protection",
}


def can_see_fields(user: Any, group: str) -> bool:
    return can(user, FIELD_GROUPS[group])


def clearance_q(user: Any, field: str = "classification") -> Q:
    return Q(**{f"{field}__lte": user.clearance})


def releasable_q(user: Any, prefix: str = "") -> Q:
    """Rows released to everyone, released to the user's agency, or originated by it."""
    agency_id = user.agency_id
    q = Q(**{f"{prefix}release_all": True})
    if agency_id is None:
        return q
    q |= Q(**{f"{prefix}originating_agency_id": agency_id})
    model_field = f"{prefix}releasable_to"
    q |= Q(**{model_field: agency_id})
    return q


def releasable_exists(model: type[models.Model], user: Any, field: str = "releasable_to") -> Q:
    """Like releasable_q, through EXISTS so that the M2M join never multiplies rows."""
    agency_id = user.agency_id
    q = Q(release_all=True)
    if agency_id is None:
        return q
    through = model._meta.get_field(field).remote_field.through
    src = model._meta.get_field(field).m2m_field_name()
    dst = model._meta.get_field(field).m2m_reverse_field_name()
    q |= Q(originating_agency_id=agency_id)
    q |= Q(Exists(through.objects.filter(**{src: OuterRef("pk"), dst: agency_id})))
    return q


def person_scoped_q(user: Any, action: str = "view", field: str = "person") -> Q:
    """The one rule for records visible through their person: a row is reachable for `action` when the
    person its `field` names is (Person.access_q for the same action). Every such model builds its
    access_q from this, so a change to who may see a person reaches them all at once.

    Person is looked up through the app registry, not imported: core sits below the registry."""
    person = apps.get_model("registry", "Person")
    return Q(**{f"{field}__in": person.objects.filter(person.access_q(user, action)).values("pk")})


class RestrictedQuerySet(models.QuerySet):
    def restrict(self, user: Any, action: str = "view") -> RestrictedQuerySet:
        return restrict(self, user, action)


def restrict(queryset: models.QuerySet, user: Any, action: str = "view") -> models.QuerySet:
    """The rows of `queryset` this user may `action`. Nothing for the inactive or unauthenticated."""
    if not _active(user):
        return queryset.none()
    if not user.has_role(ACTION_ROLE.get(action, "administrator")):
        return queryset.none()
    policy = getattr(queryset.model, "access_q", None)
    if policy is None:
        return queryset.none()
    return queryset.filter(policy(user, action))


def get_restricted(
    queryset: models.QuerySet, user: Any, action: str = "view", *, request: Any = None, **lookup: Any
) -> Any:
    """One row or Http404 — the same answer whether the row is absent or not allowed, so nothing
    leaks; a refusal of an existing row is audited as denied."""
    from django.core.exceptions import ValidationError
    from django.http import Http404

    from custody.core import audit

    try:
        return restrict(queryset, user, action).get(**lookup)
    except (ValueError, TypeError, ValidationError) as exc:
        # A key of the wrong type ("0b…" for a number) names no row: absent, not a 500 (issue 14).
        raise Http404("not found") from exc
    except queryset.model.DoesNotExist as exc:
        if queryset.filter(**lookup).exists():
            audit.record(
                request, f"{action}", object_type=queryset.model._meta.label_lower,
                object_id=str(next(iter(lookup.values()), "")), outcome="denied", user=user,
            )
        raise Http404("not found") from exc
