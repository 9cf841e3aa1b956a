"""Verification of the whole log as a recorded run: started from the overview page, the API, the CLI or
the daily housekeeping pass; queued for the worker, polled while it runs, its result on the overview."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from custody.ledger import integrity
from custody.ledger.models import EventAttachment, LedgerEvent, VerificationRun

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def test_a_supervisor_verifies_from_the_overview_and_sees_the_result(world: dict[str, Any], person_factory: Any,
                                                                      transfer: Any, client_for: Any, settings: Any) -> None:
    settings.TASKS = IMMEDIATE  # the worker's part runs inside the request here
    transfer(person_factory())
    sup = client_for(world["sup"])
    before = sup.get("/ledger/").content.decode()
    assert "The whole log has not been verified yet." in before and 'action="/ledger/verify/"' in before

    r = sup.post("/ledger/verify/")
    assert r.status_code == 302
    run = VerificationRun.objects.get()
    assert (run.status, run.size, run.trigger, run.requested_by) == ("ok", 6, "page", world["sup"])
    page = sup.get("/ledger/").content.decode()
    assert "Verified" in page and "6 events and" in page and f"/ledger/verifications/{run.pk}/" in page
    assert sup.get(f"/ledger/verifications/{run.pk}/").status_code == 200

    clerk = client_for(world["sdf"])
    assert clerk.post("/ledger/verify/").status_code == 403
    assert "Integrity of the log" not in clerk.get("/ledger/").content.decode()
    assert clerk.get(f"/ledger/verifications/{run.pk}/").status_code == 403


def test_a_failed_run_names_the_first_event_that_does_not_fit(world: dict[str, Any], person_factory: Any,
                                                               transfer: Any, client_for: Any, settings: Any) -> None:
    settings.TASKS = IMMEDIATE
    events = transfer(person_factory())
    # An index row that no signed body backs (inserting is all the database allows on this table).
    EventAttachment.objects.create(event=LedgerEvent.objects.get(seq=events[2].seq), sha256="ab" * 32)
    sup = client_for(world["sup"])
    sup.post("/ledger/verify/")
    run = VerificationRun.objects.get()
    assert run.status == "failed" and run.first_bad_event == events[2].seq
    assert "Problems found" in sup.get("/ledger/").content.decode()
    detail = sup.get(f"/ledger/verifications/{run.pk}/").content.decode()
    assert "the attachment index lists file abababababab" in detail


def test_a_queued_run_is_polled_and_never_doubled(world: dict[str, Any], person_factory: Any, transfer: Any,
                                                  client_for: Any) -> None:
    # The default backend: the request only queues; the worker's task runs it.
    transfer(person_factory())
    sup = client_for(world["sup"])
    sup.post("/ledger/verify/")
    sup.post("/ledger/verify/")
    run = VerificationRun.objects.get()
    assert run.status == "queued"
    fragment = sup.get("/ledger/verify/status/").content.decode()
    assert 'hx-trigger="every 2s"' in fragment and "Waiting for the worker" in fragment and "spinner" in fragment

    from django_tasks_db.models import DBTaskResult

    queued = DBTaskResult.objects.get(task_path="custody.ledger.tasks.ledger_verification")
    assert queued.args_kwargs["args"] == [run.pk]
    integrity.execute(run.pk)  # what the task does in the worker
    run.refresh_from_db()
    assert run.status == "ok" and run.finished_at is not None
    assert "hx-trigger" not in sup.get("/ledger/verify/status/").content.decode()


def test_the_api_queues_or_runs_and_the_cli_records(world: dict[str, Any], person_factory: Any, transfer: Any,
                                                    api_for: Any) -> None:
    transfer(person_factory())
    api = api_for(world["sup"])
    queued = api.post("/api/ledger/verifications/")
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    assert api.post("/api/ledger/verifications/").status_code == 200  # the same run, not a second
    integrity.execute(queued.json()["id"])
    assert api.get(f"/api/ledger/verifications/{queued.json()['id']}/").json()["status"] == "ok"

    now = api.post("/api/ledger/verify/").json()
    assert now["ok"] and VerificationRun.objects.get(pk=now["run"]).trigger == "api"
    assert api_for(world["sdf"]).post("/api/ledger/verifications/").status_code == 403
    assert api_for(world["sdf"]).get("/api/ledger/verifications/").json()["count"] == 0

    out = StringIO()
    call_command("ledger", "verify", "--user", world["sup"].username, stdout=out)
    assert out.getvalue().startswith("OK: 6 events")
    cli = VerificationRun.objects.get(trigger="cli")
    assert (cli.status, cli.requested_by) == ("ok", world["sup"])


def test_the_housekeeping_pass_verifies_once_a_day(world: dict[str, Any], person_factory: Any, transfer: Any,
                                                   settings: Any) -> None:
    from custody.ledger.tasks import ledger_housekeeping

    settings.TASKS = IMMEDIATE
    settings.LEDGER_VERIFY_HOURS = 24
    transfer(person_factory())
    assert integrity.verification_due()
    ledger_housekeeping.call(reschedule=False)
    run = VerificationRun.objects.get()
    assert (run.trigger, run.status) == ("schedule", "ok")
    assert not integrity.verification_due()
    ledger_housekeeping.call(reschedule=False)
    assert VerificationRun.objects.count() == 1
    assert integrity.verification_due(now=timezone.now() + timedelta(hours=25))
    settings.LEDGER_VERIFY_HOURS = 0
    assert not integrity.verification_due(now=timezone.now() + timedelta(days=30))


def test_a_run_whose_worker_died_does_not_block_the_next(world: dict[str, Any]) -> None:
    stale = VerificationRun.objects.create(trigger="page", status="running",
                                           requested_at=timezone.now() - integrity.STALE_AFTER - timedelta(minutes=1))
    run, created = integrity.request_verification(world["sup"], "page")
    assert created and run.pk != stale.pk
    stale.refresh_from_db()
    assert stale.status == "error" and "interrupted" in stale.progress


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_panel_is_translated(world: dict[str, Any], client_for: Any, lang: str) -> None:
    page = client_for(world["sup"]).get("/ar/ledger/" if lang == "ar" else "/ledger/").content.decode()
    assert ("سلامة السجل" if lang == "ar" else "Integrity of the log") in page


def test_a_projection_that_drifted_from_the_log_fails_the_run(world: dict[str, Any], person_factory: Any,
                                                              transfer: Any) -> None:
    from custody.ledger.models import CustodyState

    p = person_factory()
    transfer(p)
    assert integrity.verify_now(world["sup"], "cli").status == "ok"
    # The headcounts the pages show come from this table: an edit to it must not go unnoticed.
    CustodyState.objects.filter(person=p).update(facility=world["prison"])
    run = integrity.verify_now(world["sup"], "cli")
    assert run.status == "failed" and run.first_bad_event is None
    assert [pr["kind"] for pr in run.problems] == ["projection"] and p.ref in run.problems[0]["message"]
