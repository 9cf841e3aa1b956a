"""The board ranks countries, dual nationals are listed (and flagged) for each of their countries, the
outreach log keeps notes and answers, and exports hold only what the foreign ministry may share."""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
from html import unescape
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from custody.core.models import AuditEvent


def test_board_ranks_countries_and_flags_dual_nationals(rw: Any, make_user: Any, client_for: Any, api_for: Any,
                                                        person_factory: Any) -> None:
    person_factory("Jean Martin", "جان مارتان", facility=rw.fac, nationality="FR", ref="P-820010")
    c = client_for(make_user("MFA", "viewer"))
    page = unescape(c.get("/repatriation/").content.decode())
    assert "<svg" in page and "Nationals held, by country" in page
    assert page.index("Tunisia") < page.index("France")
    rows = {r["code"]: r for r in api_for(make_user("MFA", "viewer")).get("/api/repatriation/countries/").json()["results"]}
    # MFA sees the Tunisians in custody except the record released to IRQ only: tn, dual, minor, trial, secret.
    assert rows["TN"]["held"] == 5 and rows["TN"]["dual"] == 1
    assert rows["FR"]["held"] == 2 and rows["FR"]["dual"] == 1
    for code in ("TN", "FR"):
        body = unescape(c.get(f"/repatriation/countries/{code}/").content.decode())
        assert "P-820002" in body and "dual national" in body
    tn_page = unescape(c.get("/repatriation/countries/TN/").content.decode())
    assert "P-820005" not in tn_page  # not in custody and no record for Tunisia
    assert "P-820007" not in tn_page  # not releasable to MFA
    only_dual = unescape(c.get("/repatriation/countries/TN/?dual=1").content.decode())
    assert "P-820002" in only_dual and "P-820001" not in only_dual
    assert AuditEvent.objects.filter(action="repatriation_country").count() == 4
    assert AuditEvent.objects.filter(action="repatriation_board").count() == 2


def test_position_contacts_and_outreach_log(rw: Any, make_user: Any, client_for: Any, api_for: Any) -> None:
    c = client_for(make_user("MFA", "clerk"))
    assert c.post("/repatriation/countries/TN/position/", {"position": "case_by_case", "note": "Will examine each file"}).status_code == 302
    assert c.post("/repatriation/countries/TN/contacts/", {"name": "Mr Consul", "email": "not-an-email"}).status_code == 400
    assert c.post("/repatriation/countries/TN/contacts/", {"name": "Mr Consul", "title": "Consul general"}).status_code == 302
    today = dt.date.today()
    bad = c.post("/repatriation/countries/TN/outreach/", {"kind": "note_answered", "on": today.isoformat(), "subject": "Reply"})
    assert bad.status_code == 400 and "An answer names the note it answers" in unescape(bad.content.decode())
    assert c.post("/repatriation/countries/TN/outreach/", {"kind": "note_sent", "on": (today - dt.timedelta(days=3)).isoformat(),
                                                         "reference": "N-2026-014", "subject": "Request to take back 5 nationals"}).status_code == 302
    from custody.repatriation.models import Outreach

    note = Outreach.objects.get(reference="N-2026-014")
    early = c.post("/repatriation/countries/TN/outreach/", {"kind": "note_answered", "on": (today - dt.timedelta(days=5)).isoformat(),
                                                           "subject": "Reply", "in_reply_to": note.pk})
    assert early.status_code == 400 and "dated before the note it answers" in unescape(early.content.decode())
    assert c.post("/repatriation/countries/TN/outreach/", {"kind": "note_answered", "on": today.isoformat(), "subject": "Reply",
                                                         "in_reply_to": note.pk}).status_code == 302
    future = c.post("/repatriation/countries/TN/outreach/", {"kind": "meeting", "on": (today + dt.timedelta(days=2)).isoformat(), "subject": "x"})
    assert future.status_code == 400 and "is in the future" in unescape(future.content.decode())
    # Reading is open to other agencies; writing is not.
    other = client_for(make_user("CIO", "supervisor"))
    page = unescape(other.get("/repatriation/countries/TN/").content.decode())
    assert "Case by case" in page and "N-2026-014" in page and "Mr Consul" in page
    r = other.post("/repatriation/countries/TN/position/", {"position": "refuses"})
    assert r.status_code == 403 and "kept by MFA" in unescape(r.content.decode())
    api = api_for(make_user("MFA", "clerk")).post("/api/repatriation/countries/TN/position/", {"position": "maybe"}, format="json")
    assert api.status_code == 400 and api.json()["field"] == "position"
    got = api_for(make_user("IRQ", "viewer")).get("/api/repatriation/countries/TN/").json()
    assert got["position"] == "case_by_case" and len(got["outreach"]) == 2


MUST_NOT_LEAK = ("RATIONALE-", "FACTION-", "RIRQ1", "PR-INTERNAL-77", "P-820006", "P-820007", "P-820005")


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    text = unicodedata.normalize("NFKC", "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages))
    return " ".join(text.split())  # table cells wrap names over lines


def test_exports_hold_only_what_the_foreign_ministry_may_share(rw: Any, make_user: Any, client_for: Any) -> None:
    from openpyxl import load_workbook

    c = client_for(make_user("MFA", "analyst"))
    resp = c.get("/repatriation/countries/TN/export.csv")
    assert resp.status_code == 200
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Reference", "Name", "Name (Arabic script)"]
    by_ref = {r[0]: r for r in rows[1:]}
    assert set(by_ref) == {"P-820001", "P-820002", "P-820003", "P-820004"}
    assert by_ref["P-820001"][2] == "أنيس بن صالح" and "Passport TN1234567" in by_ref["P-820001"][10]
    assert by_ref["P-820002"][8] == "TN, FR" and by_ref["P-820002"][9] == "yes"
    xlsx = c.get("/repatriation/countries/TN/export.xlsx")
    ws = load_workbook(io.BytesIO(xlsx.content)).active
    xrows = [[str(v or "") for v in row] for row in ws.iter_rows(values_only=True)]
    assert {r[0] for r in xrows[1:]} == set(by_ref)
    pdf = c.get("/repatriation/countries/TN/export.pdf")
    text = _pdf_text(pdf.content)
    assert all(ref in text for ref in by_ref) and "Anis Ben Salah" in text
    for body in (resp.content.decode("utf-8-sig"), "\n".join(",".join(r) for r in xrows), text):
        for marker in MUST_NOT_LEAK:
            assert marker not in body, marker
    events = AuditEvent.objects.filter(action="repatriation_export", outcome="ok")
    assert sorted(e.detail["fmt"] for e in events) == ["csv", "pdf", "xlsx"]
    assert all(e.detail["withheld"] == 1 for e in events)  # the Confidential record
    assert events.get(detail__fmt="csv").detail["sha256"] == resp["X-Content-SHA256"]


def test_export_refusals_and_cli(rw: Any, make_user: Any, client_for: Any, api_for: Any, tmp_path: Any, capsys: Any) -> None:
    r = client_for(make_user("CIO", "analyst")).get("/repatriation/countries/TN/export.csv")
    assert r.status_code == 403 and "kept by MFA" in unescape(r.content.decode())
    r = client_for(make_user("MFA", "clerk")).get("/repatriation/countries/TN/export.csv")
    assert r.status_code == 403 and "it needs export" in unescape(r.content.decode())
    api = api_for(make_user("MFA", "analyst"))
    r = api.get("/api/repatriation/countries/TN/export/?fmt=docx")
    assert r.status_code == 400 and "Format must be csv, xlsx or pdf." in r.json()["detail"]
    ok = api.get("/api/repatriation/countries/TN/export/?fmt=csv")
    assert ok.status_code == 200 and "P-820001" in ok.content.decode("utf-8-sig") and "P-820006" not in ok.content.decode("utf-8-sig")
    assert AuditEvent.objects.filter(action="repatriation_export", outcome="denied").count() == 3
    analyst = make_user("MFA", "analyst")
    call_command("repatriation-export", "tn", "--format", "csv", "--as", analyst.username)
    out = capsys.readouterr().out
    assert "P-820001" in out and "RATIONALE-" not in out and "P-820006" not in out
    target = tmp_path / "tn.xlsx"
    call_command("repatriation-export", "TN", "--format", "xlsx", "--user", analyst.username, "--out", str(target))
    assert target.read_bytes()[:2] == b"PK"
    with pytest.raises(CommandError, match="kept by MFA"):
        call_command("repatriation-export", "TN", "--user", make_user("IRQ", "analyst").username)
    with pytest.raises(CommandError, match="not a two-letter ISO country code"):
        call_command("repatriation-export", "TUN", "--user", analyst.username)
