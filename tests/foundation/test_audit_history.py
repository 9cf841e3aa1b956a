"""The audit trail (what people did) and the change history (what rows became), on both databases."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from custody.core.commands import CustodyCommand
from custody.core.models import AppendOnlyError, AuditEvent, HistoryChange
from custody.registry.models import Person
from tests.foundation.conftest import World


def _history(person: Any, op: str | None = None) -> list[HistoryChange]:
    qs = HistoryChange.objects.filter(table_name="registry_person", row_pk=str(person.pk)).order_by("id")
    return list(qs.filter(op=op) if op else qs)


# --- audit -------------------------------------------------------------------------------------------


def test_reads_searches_and_changes_are_audited(world: World, make_user: Any, client_for: Any, api_for: Any) -> None:
    user = make_user("IRQ", "clerk")
    person = world.person("irq_only")
    r = client_for(user).get(f"/registry/people/{person.ref}/")
    e = AuditEvent.objects.get(action="person_read", username=user.username)
    assert (e.object_type, e.object_id, e.outcome, e.agency) == ("registry.person", str(person.pk), "ok", "IRQ")
    assert e.request_id == r["X-Request-ID"] and e.at is not None

    r = api_for(user).get(f"/api/registry/people/{person.ref}/", HTTP_X_REQUEST_ID="api-read-0001")
    assert AuditEvent.objects.filter(action="api_read", object_id=str(person.pk), request_id="api-read-0001").exists()

    client_for(user).get("/registry/search/", {"q": "Marwan"})
    e = AuditEvent.objects.get(action="search", username=user.username)
    assert e.detail["query"] == "Marwan" and person.pk in e.detail["ids"]
    api_for(user).get("/api/registry/people/", {"q": "البياتي"})
    assert AuditEvent.objects.filter(action="search", detail__via="api", detail__query="البياتي").exists()

    r = api_for(user).patch(f"/api/registry/people/{person.ref}/", {"place_of_birth": "Tikrit"}, format="json")
    assert r.status_code == 200
    e = AuditEvent.objects.get(action="registry.person_change", username=user.username)
    assert e.object_id == str(person.pk) and e.detail["fields"] == ["place_of_birth"]

    r = api_for(user).post("/api/registry/people/", {"display_name": "Harith Jasim", "display_name_ar": "حارث جاسم"}, format="json")
    assert r.status_code == 201
    assert AuditEvent.objects.filter(action="registry.person_create", object_id=str(Person.objects.get(ref=r.json()["ref"]).pk)).exists()


def test_import_is_audited_with_file_hash(make_user: Any, client_for: Any, facility_factory: Any) -> None:
    from tests.foundation.test_import import upload_and_commit

    facility_factory("IMP1", custodian="IRQ")
    user = make_user("IRQ", "clerk")
    c = client_for(user)
    data = b"name,facility\nHamza Adel,IMP1\n"
    upload_and_commit(c, data, "roster.csv")
    e = AuditEvent.objects.get(action="registry.import", username=user.username)
    import hashlib

    assert e.detail["sha256"] == hashlib.sha256(data).hexdigest() and e.detail["rows"] == 1


def test_supervisor_filters_the_audit_page_others_are_refused(world: World, make_user: Any, client_for: Any) -> None:
    clerk, sup = make_user("IRQ", "clerk"), make_user("IRQ", "supervisor")
    client_for(clerk).get(f"/registry/people/{world.person('irq_only').ref}/")
    assert client_for(clerk).get("/audit/").status_code == 403
    assert AuditEvent.objects.filter(action="audit_view", username=clerk.username, outcome="denied").exists()
    r = client_for(sup).get("/audit/", {"username": clerk.username, "action": "person_read"})
    assert r.status_code == 200
    page = list(r.context["page"])
    assert page and all(e.username == clerk.username and e.action == "person_read" for e in page)


@pytest.mark.parametrize("how", ["orm_save", "orm_delete", "queryset_update", "queryset_delete", "sql_update", "sql_delete"])
def test_audit_rows_cannot_be_changed_or_deleted(db: Any, how: str) -> None:
    from custody.core import audit

    event = audit.record(None, "probe", username="tester", object_id="1")
    errors: tuple[type[BaseException], ...] = (AppendOnlyError, DatabaseError)
    with pytest.raises(errors), transaction.atomic():
        if how == "orm_save":
            event.outcome = "denied"
            event.save()
        elif how == "orm_delete":
            event.delete()
        elif how == "queryset_update":
            AuditEvent.objects.filter(pk=event.pk).update(outcome="denied")
        elif how == "queryset_delete":
            AuditEvent.objects.filter(pk=event.pk).delete()
        with connection.cursor() as cur:
            if how == "sql_update":
                cur.execute("UPDATE core_auditevent SET outcome = 'denied' WHERE id = %s", [event.pk])
            elif how == "sql_delete":
                cur.execute("DELETE FROM core_auditevent WHERE id = %s", [event.pk])
    event.refresh_from_db()
    assert event.outcome == "ok"


@pytest.mark.parametrize("sql", ["UPDATE core_historychange SET after = NULL", "DELETE FROM core_historychange"])
def test_history_rows_cannot_be_changed_or_deleted(person_factory: Any, sql: str) -> None:
    person = person_factory()
    n = HistoryChange.objects.count()
    assert n > 0
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql)
    assert HistoryChange.objects.count() == n and _history(person, "I")[0].after is not None


# --- change history ----------------------------------------------------------------------------------


def test_create_update_delete_with_before_and_after(person_factory: Any) -> None:
    person = person_factory("Omar Salih", "عمر صالح")
    [ins] = _history(person, "I")
    assert ins.before is None and ins.after_dict()["display_name"] == "Omar Salih"
    Person.objects.filter(pk=person.pk)  # no-op
    person.place_of_birth = "Fallujah"
    person.save()
    [upd] = _history(person, "U")
    assert upd.changed_fields()["place_of_birth"] == ("", "Fallujah")
    assert upd.before_dict()["place_of_birth"] == "" and upd.after_dict()["place_of_birth"] == "Fallujah"
    pk = person.pk
    person.delete()
    dele = HistoryChange.objects.get(table_name="registry_person", row_pk=str(pk), op="D")
    assert dele.after is None and dele.before_dict()["display_name"] == "Omar Salih"
    # The names went with the person (cascade), and the trigger saw those deletes too.
    assert HistoryChange.objects.filter(table_name="registry_personname", op="D").count() == 2


def test_bulk_update_and_bulk_create_are_recorded(person_factory: Any) -> None:
    people = [person_factory(f"Bulk Person {i}", "") for i in range(3)]
    n = Person.objects.filter(pk__in=[p.pk for p in people]).update(legal_status="charged")
    assert n == 3
    for p in people:
        [upd] = _history(p, "U")
        assert upd.changed_fields()["legal_status"] == ("held", "charged")
    created = Person.objects.bulk_create([Person(ref=f"P-88000{i}", display_name=f"Bulk New {i}") for i in range(4)])
    pks = {str(p.pk) for p in Person.objects.filter(ref__startswith="P-88000")}
    assert len(created) == 4 and len(pks) == 4
    rows = HistoryChange.objects.filter(table_name="registry_person", op="I", row_pk__in=pks)
    assert rows.count() == 4 and {r.after_dict()["ref"] for r in rows} == {f"P-88000{i}" for i in range(4)}


def test_web_and_api_changes_are_attributed(world: World, make_user: Any, client_for: Any, api_for: Any) -> None:
    from rest_framework.test import APIClient

    user = make_user("FBI", "clerk")
    person = world.person("sdf_held")
    c = APIClient()
    c.force_login(user)  # a session: the same middleware stack as the browser
    r = c.patch(f"/api/registry/people/{person.ref}/", {"capture_place": "Baghuz"}, format="json", HTTP_X_REQUEST_ID="hist-api-0001")
    assert r.status_code == 200
    [upd] = _history(person, "U")
    ctx = upd.context_dict()
    assert ctx["source"] == "api" and ctx["user_id"] == user.pk and ctx["username"] == user.username
    assert ctx["agency"] == "FBI" and ctx["request_id"] == "hist-api-0001"
    # A change made by a page (the import) carries the web context.
    from tests.foundation.test_import import upload_and_commit

    clerk = make_user("IRQ", "clerk")
    upload_and_commit(client_for(clerk), b"name,facility\nRaed Hamid,TRCV1\n", "one.csv")
    new = Person.objects.get(display_name="Raed Hamid")
    [ins] = _history(new, "I")
    assert ins.context_dict()["source"] == "web" and ins.context_dict()["username"] == clerk.username
    assert ins.context_dict()["request_id"]


class _RenameCommand(CustodyCommand):
    help = "test command: renames one person"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("ref")

    def handle(self, *args: Any, **opts: Any) -> None:
        Person.objects.filter(ref=opts["ref"]).update(display_name="Renamed From The Command Line")


def test_command_line_changes_are_attributed(person_factory: Any) -> None:
    person = person_factory("Cli Person", "")
    call_command(_RenameCommand(), person.ref, stdout=StringIO())
    [upd] = _history(person, "U")
    ctx = upd.context_dict()
    assert ctx["source"] == "cli" and "command" in ctx and "os_user" in ctx
    assert upd.changed_fields()["display_name"][1] == "Renamed From The Command Line"
    # Outside the command there is no context left behind.
    Person.objects.filter(pk=person.pk).update(place_of_birth="Hit")
    assert _history(person, "U")[-1].context is None


def test_history_page_hides_what_the_user_may_not_see(world: World, make_user: Any, client_for: Any) -> None:
    """The history page shows before/after values of any tracked row: the same rules as the record
    pages apply (field groups, releasability, custody scope), and password hashes are never shown."""
    hum = make_user("HUM", "supervisor")
    page = client_for(hum).get("/audit/history/", {"table": "registry_person"}).content.decode()
    assert world.people["sdf_held"].name in page
    assert world.people["sdf_held"].rationale not in page and world.people["sdf_held"].faction not in page
    assert world.people["fbi_only"].name not in page and "withheld" in page
    sdf = make_user("SDF", "supervisor")
    page = client_for(sdf).get("/audit/history/", {"table": "registry_person"}).content.decode()
    assert world.people["irq_only"].name not in page and world.people["moved"].name in page
    page = client_for(sdf).get("/audit/history/", {"table": "accounts_user"}).content.decode()
    assert hum.username in page and hum.password not in page and "md5$" not in page and "argon2" not in page
    cio = make_user("CIO", "supervisor")
    page = client_for(cio).get("/audit/history/", {"table": "registry_person"}).content.decode()
    assert world.people["sdf_held"].rationale[:50] in page
