from __future__ import annotations

from typing import Any

from rest_framework import serializers

from custody.core.access import can_see_fields
from custody.registry.models import Facility, Identifier, Person, PersonName

# Field groups (docs/conventions.md): omitted, not blanked, for callers who may not see them.
PERSON_FIELD_GROUPS = {"risk_rationale": "risk_rationale", "faction": "intelligence"}


class PersonNameSerializer(serializers.ModelSerializer):
    class Meta:
        model = PersonName
        fields = ["script", "full", "given", "father", "grandfather", "family", "kunya", "nisba", "source", "is_alias"]


class IdentifierSerializer(serializers.ModelSerializer):
    authority = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Identifier
        fields = ["kind", "value", "authority", "country"]


class FacilitySerializer(serializers.ModelSerializer):
    custodian = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Facility
        fields = ["code", "name", "name_ar", "kind", "country", "latitude", "longitude", "capacity", "custodian"]


class PersonSerializer(serializers.ModelSerializer):
    names = PersonNameSerializer(many=True, required=False)
    identifiers = IdentifierSerializer(many=True, read_only=True)
    nationalities = serializers.SerializerMethodField()
    nationality_codes = serializers.ListField(child=serializers.CharField(max_length=2), write_only=True, required=False)
    current_facility = serializers.SlugRelatedField(slug_field="code", read_only=True)
    current_custodian = serializers.SlugRelatedField(slug_field="code", read_only=True)
    classified_by = serializers.SlugRelatedField(slug_field="code", read_only=True)
    # A change of classification needs its reason (custody.registry.services.do_classify).
    classification_reason = serializers.CharField(write_only=True, required=False, allow_blank=True)

    class Meta:
        model = Person
        fields = [
            "ref", "group", "display_name", "display_name_ar", "sex", "birth_precision", "birth_date", "birth_year_min",
            "birth_year_max", "place_of_birth", "father_name", "mother_name", "capture_date", "capture_place",
            "internment_date", "internment_place", "next_of_kin_name", "next_of_kin_relation", "next_of_kin_contact",
            "legal_status", "risk_tier", "risk_rationale", "faction", "is_minor", "medical_flag", "classification", "classified_by",
            "classification_reason",
            "current_facility", "current_custodian", "custody_status", "names", "identifiers", "nationalities", "nationality_codes",
        ]
        read_only_fields = ["ref", "current_facility", "current_custodian", "custody_status", "classified_by"]

    def get_nationalities(self, obj: Person) -> list[str]:
        return [n.country for n in obj.nationalities.all()]

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        request = self.context.get("request")
        user = getattr(request, "user", None)
        for name, group in PERSON_FIELD_GROUPS.items():
            if not can_see_fields(user, group):
                fields.pop(name, None)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        from custody.registry.countries import is_country_code

        for code in attrs.get("nationality_codes", []):
            if not is_country_code(code.upper()):  # stored upper case (create/update)
                raise serializers.ValidationError({"nationality_codes": f"“{code}” is not a two-letter ISO country code"})
        lo, hi = attrs.get("birth_year_min"), attrs.get("birth_year_max")
        if lo and hi and lo > hi:
            raise serializers.ValidationError({"birth_year_min": "born no earlier than is after born no later than"})
        if not attrs.get("display_name") and not self.partial:
            raise serializers.ValidationError({"display_name": "a name is required"})
        return attrs
