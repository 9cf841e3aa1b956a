"""Disclosure review: states, reasons, the requester never approves, the two-person rule above the
configured level, releasability to the recipient's nation, and the full history."""

from __future__ import annotations

from typing import Any

from custody.cases.models import DisclosureEvent, DisclosureRequest
from custody.core.models import AuditEvent


def _request(client: Any, item: Any, recipient: str = "IQ-CCC") -> DisclosureRequest:
    resp = client.post(f"/cases/items/{item.ref}/request/", {"recipient": recipient, "justification": "needed at trial"})
    assert resp.status_code == 302, resp.content.decode()[:300]
    return DisclosureRequest.objects.latest("id")


def _decide(client: Any, req: DisclosureRequest, action: str, reason: str = "fine", **extra: Any) -> Any:
    return client.post(f"/cases/disclosures/{req.pk}/decide/", {"action": action, "reason": reason, **extra})


def test_requester_cannot_approve_and_single_approval_below_the_level(cw: Any, make_user: Any, client_for: Any, make_item: Any) -> None:
    item = make_item([cw.iq], classification=1)
    requester = make_user("CIO", "supervisor")
    req = _request(client_for(requester), item)
    own = _decide(client_for(requester), req, "approve")
    assert own.status_code == 403 and "The person who requested a disclosure cannot review or approve it." in own.content.decode()
    req.refresh_from_db()
    assert req.state == "requested"
    assert AuditEvent.objects.filter(action="cases.approve_disclosure", outcome="denied", user=requester).count() == 1
    # A clerk cannot decide either.
    assert _decide(client_for(make_user("CIO", "clerk")), req, "approve").status_code == 403
    reviewer = client_for(make_user("IRQ", "supervisor"))
    assert _decide(reviewer, req, "review", "taking it").status_code == 302
    assert _decide(reviewer, req, "approve", "").status_code == 400  # reasons are required
    assert _decide(reviewer, req, "approve", "relevant and releasable").status_code == 302
    req.refresh_from_db()
    assert req.state == "approved" and req.decision_reason == "relevant and releasable"
    assert list(req.events.values_list("action", flat=True)) == ["requested", "review_started", "approved"]
    assert _decide(reviewer, req, "refuse", "changed my mind").status_code == 409  # closed


def test_two_person_rule_above_the_configured_level(cw: Any, make_user: Any, client_for: Any, make_item: Any, settings: Any) -> None:
    item = make_item([cw.iq], classification=2)
    req = _request(client_for(make_user("FBI", "clerk")), item)
    first, second = make_user("CIO", "supervisor"), make_user("MIL", "supervisor")
    assert _decide(client_for(first), req, "approve", "ok by me").status_code == 302
    req.refresh_from_db()
    assert req.state == "under_review" and req.first_approver == first
    again = _decide(client_for(first), req, "approve", "still ok")
    assert again.status_code == 409 and "a second, different supervisor must approve" in again.content.decode()
    assert _decide(client_for(second), req, "approve", "confirmed").status_code == 302
    req.refresh_from_db()
    assert req.state == "approved" and req.second_approver == second
    assert list(req.events.values_list("action", flat=True)) == ["requested", "first_approval", "approved"]
    # The level is configurable: with CASES_TWO_PERSON_ABOVE = 2, a Confidential item needs one approval.
    settings.CASES_TWO_PERSON_ABOVE = 2
    item2 = make_item([cw.iq], classification=2)
    req2 = _request(client_for(make_user("FBI", "clerk")), item2)
    assert _decide(client_for(first), req2, "approve", "ok").status_code == 302
    req2.refresh_from_db()
    assert req2.state == "approved" and req2.second_approver is None


def test_approval_needs_releasability_to_the_recipients_nation(cw: Any, make_user: Any, client_for: Any, make_item: Any) -> None:
    fbi = make_user("FBI", "clerk")
    item = make_item([cw.iq], by=fbi, nations=("IQ",))
    req = _request(client_for(make_user("CIO", "clerk")), item, recipient="FR-PNAT")
    sup = client_for(make_user("CIO", "supervisor"))
    resp = _decide(sup, req, "approve", "ok")
    assert resp.status_code == 409 and "is not releasable to FR; only its originating agency (FBI)" in resp.content.decode()
    from custody.cases import services

    services.do_set_releasability(fbi, item, release_all=True, agencies=[], nations=["IQ", "FR"], reason="French case")
    assert _decide(sup, req, "approve", "ok").status_code == 302


def test_refusal_withdrawal_and_redacted_approval(cw: Any, make_user: Any, client_for: Any, make_item: Any) -> None:
    from custody.cases import services

    item = make_item([cw.iq], body="Name SECRET-PHRASE-BRAVO here")
    clerk = make_user("CIO", "clerk")
    sup = make_user("IRQ", "supervisor")
    req = _request(client_for(clerk), item)
    assert _decide(client_for(sup), req, "refuse", "").status_code == 400
    assert _decide(client_for(sup), req, "refuse", "source at risk").status_code == 302
    req.refresh_from_db()
    assert req.state == "refused" and req.decision_reason == "source at risk"
    req2 = _request(client_for(clerk), item)
    assert client_for(clerk).post(f"/cases/items/{item.ref}/request/", {"recipient": "IQ-CCC", "justification": "again"}).status_code == 409
    assert _decide(client_for(make_user("CIO", "clerk")), req2, "withdraw").status_code == 403  # not the requester
    assert _decide(client_for(clerk), req2, "withdraw", "not needed").status_code == 302
    req2.refresh_from_db()
    assert req2.state == "withdrawn"
    req3 = _request(client_for(clerk), item)
    copy = services.do_redact(sup, item, spans=[(5, 24)], reason="name of source")
    resp = client_for(sup).post(f"/cases/disclosures/{req3.pk}/decide/", {"action": "approve", "reason": "with the name removed",
                                                                          "redactions": [str(copy.pk)]})
    assert resp.status_code == 302
    req3.refresh_from_db()
    assert req3.state == "approved_redacted" and list(req3.redactions.all()) == [copy]
    page = client_for(sup).get(f"/cases/disclosures/{req3.pk}/").content.decode()
    assert "Approved with redactions" in page and "with the name removed" in page
    assert DisclosureEvent.objects.filter(request__item=item).count() == 6


def test_disclosure_api(cw: Any, make_user: Any, api_for: Any, make_item: Any) -> None:
    item = make_item([cw.iq], classification=1)
    requester = make_user("CIO", "supervisor")
    r = api_for(requester).post("/api/cases/disclosures/", {"item": item.ref, "recipient": "IQ-CCC", "justification": "trial"}, format="json")
    assert r.status_code == 201
    pk = r.json()["id"]
    own = api_for(requester).post(f"/api/cases/disclosures/{pk}/approve/", {"reason": "self"}, format="json")
    assert own.status_code == 403 and own.json()["rule"] == "not_requester"
    ok = api_for(make_user("MIL", "supervisor")).post(f"/api/cases/disclosures/{pk}/approve/", {"reason": "good"}, format="json")
    assert ok.status_code == 200 and ok.json()["state"] == "approved"
    assert [e["action"] for e in ok.json()["events"]] == ["requested", "approved"]
    # An agency that may not see the item does not see the request either.
    hidden = make_item([cw.iq], release_all=False, releasable_to=("CIO",))
    api_for(requester).post("/api/cases/disclosures/", {"item": hidden.ref, "recipient": "IQ-CCC", "justification": "t"}, format="json")
    listed = api_for(make_user("IRQ", "supervisor")).get("/api/cases/disclosures/").json()["results"]
    assert {d["item"] for d in listed} == {item.ref}
