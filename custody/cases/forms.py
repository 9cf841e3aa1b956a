"""Forms of the cases pages: they parse and validate input; the rules are in services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from custody.accounts.models import Agency, Classification
from custody.cases.models import CaseStage, ItemKind, RecipientKind, Verdict


def _codes(value: str) -> list[str]:
    return [c.strip().upper() for c in value.replace(";", ",").split(",") if c.strip()]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class ItemForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ItemKind.choices)
    title = forms.CharField(label=_("Title"), max_length=300)
    source = forms.CharField(label=_("Source"), max_length=200)
    item_date = forms.DateField(label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    people = forms.CharField(label=_("People (references, comma-separated)"), max_length=2000)
    body = forms.CharField(label=_("Text"), required=False, widget=forms.Textarea(attrs={"rows": 6}))
    classification = forms.TypedChoiceField(label=_("Classification"), choices=Classification.choices, coerce=int,
                                            initial=Classification.RESTRICTED)
    release_all = forms.BooleanField(label=_("Releasable to all agencies"), required=False)
    releasable_to = forms.ModelMultipleChoiceField(label=_("Releasable to agencies"), queryset=Agency.objects.all(), required=False,
                                                   to_field_name="code", widget=forms.CheckboxSelectMultiple)
    nations = forms.CharField(label=_("Releasable to nations (ISO codes, comma-separated)"), required=False, max_length=300)
    attachments = MultipleFileField(label=_("Attachments"), required=False)

    def people_refs(self) -> list[str]:
        return _codes(self.cleaned_data["people"])

    def nation_codes(self) -> list[str]:
        return _codes(self.cleaned_data["nations"])


class ReleasabilityForm(forms.Form):
    classification = forms.TypedChoiceField(label=_("Classification"), choices=Classification.choices, coerce=int)
    release_all = forms.BooleanField(label=_("Releasable to all agencies"), required=False)
    releasable_to = forms.ModelMultipleChoiceField(label=_("Releasable to agencies"), queryset=Agency.objects.all(), required=False,
                                                   to_field_name="code", widget=forms.CheckboxSelectMultiple)
    nations = forms.CharField(label=_("Releasable to nations (ISO codes, comma-separated)"), required=False, max_length=300)
    reason = forms.CharField(label=_("Reason"), max_length=500)

    def nation_codes(self) -> list[str]:
        return _codes(self.cleaned_data["nations"])


class AttachForm(forms.Form):
    file = forms.FileField(label=_("File"))


class RedactForm(forms.Form):
    attachment = forms.IntegerField(label=_("File"), required=False)
    spans = forms.CharField(label=_("Text spans (START-END, comma-separated)"), required=False, max_length=2000)
    regions = forms.CharField(label=_("Image regions (X,Y,WIDTH,HEIGHT; separated by semicolons)"), required=False, max_length=2000)
    reason = forms.CharField(label=_("Reason"), max_length=500)


class DisclosureRequestForm(forms.Form):
    recipient = forms.CharField(label=_("Recipient"), max_length=24)
    justification = forms.CharField(label=_("Justification"), widget=forms.Textarea(attrs={"rows": 3}))


class DecisionForm(forms.Form):
    ACTIONS = [("review", _("Start review")), ("approve", _("Approve")), ("refuse", _("Refuse")), ("withdraw", _("Withdraw"))]
    action = forms.ChoiceField(choices=ACTIONS)
    reason = forms.CharField(label=_("Reasons"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    redactions = forms.CharField(required=False, max_length=500)

    def redaction_ids(self) -> list[int]:
        out = []
        for part in _codes(self.cleaned_data.get("redactions") or ""):
            if not part.isdigit():
                raise forms.ValidationError(_("Redacted copies are given by number."))
            out.append(int(part))
        return out


class CaseStatusForm(forms.Form):
    stage = forms.ChoiceField(label=_("Status"), choices=CaseStage.choices)
    on = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    court = forms.CharField(label=_("Court"), required=False, max_length=200)
    verdict = forms.ChoiceField(label=_("Verdict"), choices=Verdict.choices, required=False)
    sentence = forms.CharField(label=_("Sentence"), required=False, max_length=300)
    next_hearing = forms.DateField(label=_("Next hearing"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("Note"), required=False, max_length=500)


class GenerateForm(forms.Form):
    recipient = forms.CharField(label=_("Recipient"), max_length=24)
    language = forms.ChoiceField(label=_("Language"), choices=[("en", "English"), ("ar", "العربية")])


class RecipientForm(forms.Form):
    code = forms.RegexField(label=_("Code"), regex=r"^[A-Z0-9-]{2,24}$", max_length=24,
                            error_messages={"invalid": _("Code: 2 to 24 capital letters, digits or hyphens.")})
    name = forms.CharField(label=_("Name"), max_length=200)
    name_ar = forms.CharField(label=_("Arabic name"), max_length=200, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=RecipientKind.choices)
    country = forms.CharField(label=_("Country (ISO code)"), max_length=2, min_length=2)


def form_errors(form: forms.Form) -> str:
    """All of a form's errors in one line, each naming its field."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts.append(f"{label}: {' '.join(str(e) for e in errors)}" if label else " ".join(str(e) for e in errors))
    return " · ".join(parts)
