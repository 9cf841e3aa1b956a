from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from custody.repatriation.models import OutreachKind, OverrideKind, Position, StepKind


class PositionForm(forms.Form):
    position = forms.ChoiceField(label=_("Stated position"), choices=Position.choices)
    on = forms.DateField(label=_("Stated on"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("Position in its own words"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    organisation = forms.CharField(label=_("Organisation"), max_length=200, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=50, required=False)
    notes = forms.CharField(label=_("Notes"), max_length=500, required=False)


class OutreachForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=OutreachKind.choices)
    on = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(label=_("Note number"), max_length=64, required=False)
    subject = forms.CharField(label=_("Subject"), max_length=300)
    summary = forms.CharField(label=_("Summary"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    in_reply_to = forms.IntegerField(label=_("Answers note #"), required=False)
    contact = forms.IntegerField(label=_("Contact #"), required=False)


class StepForm(forms.Form):
    country = forms.CharField(label=_("Country"), max_length=2)
    kind = forms.ChoiceField(label=_("Step"), choices=StepKind.choices)
    on = forms.DateField(label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("Note or reason"), max_length=500, required=False)
    officials = forms.CharField(label=_("Receiving officials (handover)"), max_length=300, required=False)


class OverrideForm(forms.Form):
    country = forms.CharField(label=_("Country"), max_length=2)
    kind = forms.ChoiceField(label=_("Override for"), choices=OverrideKind.choices)
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


def form_errors(form: forms.Form) -> str:
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts.append(f"{label}: {' '.join(str(e) for e in errors)}" if label else " ".join(str(e) for e in errors))
    return " · ".join(parts)
