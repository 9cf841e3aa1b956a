"""The releasability and classification every protected record carries."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from custody.accounts.models import Classification


class Releasable(models.Model):
    """Which agencies may see a record, and how it is classified.

    `release_all` covers the common case (a roster entry every agency may see) without a row per agency;
    the originating agency always sees what it made.
    """

    classification = models.IntegerField(_("classification"), choices=Classification.choices, default=Classification.RESTRICTED)
    release_all = models.BooleanField(_("releasable to all agencies"), default=True)
    releasable_to = models.ManyToManyField("accounts.Agency", blank=True, related_name="+", verbose_name=_("releasable to"))
    originating_agency = models.ForeignKey(
        "accounts.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("originating agency")
    )

    class Meta:
        abstract = True

    def releasability_label(self) -> str:
        if self.release_all:
            return str(_("all agencies"))
        codes = sorted({a.code for a in self.releasable_to.all()} | ({self.originating_agency.code} if self.originating_agency_id else set()))
        return ", ".join(codes)
