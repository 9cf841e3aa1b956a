"""Agencies, users and roles: who may see and do what starts here."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from custody.core.history import track


class Classification(models.IntegerChoices):
    UNCLASSIFIED = 0, _("Unclassified")
    RESTRICTED = 1, _("Restricted")
    CONFIDENTIAL = 2, _("Confidential")
    SECRET = 3, _("Secret")


class Role(models.TextChoices):
    # Ordered: each role can do what the roles before it can.
    VIEWER = "viewer", _("Viewer")
    CLERK = "clerk", _("Clerk")
    ANALYST = "analyst", _("Analyst")
    SUPERVISOR = "supervisor", _("Supervisor")
    ADMINISTRATOR = "administrator", _("Administrator")


ROLE_RANK = {role.value: rank for rank, role in enumerate(Role)}


@track
class Agency(models.Model):
    """One organisation sharing the deployment. Its flags drive the authorisation layer."""

    code = models.CharField(_("code"), max_length=8, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_ar = models.CharField(_("Arabic name"), max_length=200, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    sees_intelligence = models.BooleanField(
        _("sees intelligence"), default=True, help_text=_("False for a humanitarian observer: no risk rationale, no intelligence.")
    )
    custody_scope = models.BooleanField(
        _("limited to people it holds or held"), default=False,
        help_text=_("A detaining authority sees only people it holds or has held."),
    )
    biometric_access = models.BooleanField(_("sees biometric images"), default=False)
    protection_purpose = models.BooleanField(_("protection purpose"), default=False)
    is_custodian = models.BooleanField(_("can hold people in custody"), default=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


@track
class User(AbstractUser):
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="users")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.VIEWER)
    clearance = models.IntegerField(_("clearance"), choices=Classification.choices, default=Classification.RESTRICTED)
    protection_role = models.BooleanField(_("protection role"), default=False)
    # Reads every agency's audit trail (a supervisor reads only its own agency's); each read is audited.
    is_auditor = models.BooleanField(
        _("auditor"), default=False, help_text=_("Reads the audit trail of every agency. Every read is itself audited."))
    failed_logins = models.PositiveIntegerField(default=0, editable=False)
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    preferred_language = models.CharField(max_length=8, blank=True)

    objects = UserManager()

    class Meta:
        ordering = ["username"]

    @property
    def role_rank(self) -> int:
        return ROLE_RANK.get(self.role, 0)

    def has_role(self, role: str) -> bool:
        return self.is_active and self.role_rank >= ROLE_RANK[role]


class ApiToken(models.Model):
    """A bearer token for scripts and partner systems; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_sha256 = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.user} / {self.name}"
