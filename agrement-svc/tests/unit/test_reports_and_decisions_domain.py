"""The pure rules of reports (R421-41, attachments told by content, the workflow) and of staff decisions (which
action from which status; L421-4's 4 places), as tables."""
from __future__ import annotations

import datetime as dt

import pytest

from agrement.decisions.domain import DecisionRefused, decide
from agrement.reports.domain import ReportRefused, check_attachment, check_report, check_transition

TODAY = dt.date(2027, 3, 1)
PDF, PNG, JPEG = b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n....", b"\xff\xd8\xff\xe0...."


def moving(days: int) -> dict:
    return {"kind": "moving", "moving_date": (TODAY + dt.timedelta(days=days)).isoformat(),
            "new_address_line": "1 rue A", "new_postcode": "28000", "new_commune": "Chartres"}


@pytest.mark.parametrize("body,refused_field", [
    (moving(15), None),                                   # R421-41: 15 days ahead is in time
    (moving(14), "moving_date"),                          # R421-41: 14 is too late
    (moving(-3), "moving_date"),
    ({**moving(20), "new_postcode": "2800"}, "new_postcode"),
    ({**moving(20), "new_address_line": " "}, "new_address_line"),
    ({"kind": "household", "text": ""}, "text"),
    ({"kind": "household", "text": "Un bébé est né"}, None),
    ({"kind": "end_of_activity"}, None),
    ({"kind": "temporary_stop", "effective_date": "2027-02-30"}, "effective_date"),
    ({"kind": "other", "text": "x" * 4001}, "text"),
    ({"kind": "nope"}, "kind"),
    ({}, "kind"),
])
def test_reports_are_checked_field_by_field(body, refused_field):
    if refused_field is None:
        assert check_report(body, [], TODAY).kind == body["kind"]
    else:
        with pytest.raises(ReportRefused) as refused:
            check_report(body, [], TODAY)
        assert refused_field in refused.value.errors


@pytest.mark.parametrize("name,content,content_type", [
    ("bail.pdf", PDF, "application/pdf"), ("Photo.PNG", PNG, "image/png"), ("plan.jpeg", JPEG, "image/jpeg"),
    ("plan.jpg", JPEG, "image/jpeg"), ("C:\\Users\\m\\bail.pdf", PDF, "application/pdf"),
    ("photo.pdf", PNG, None), ("bail.png", PDF, None), ("virus.pdf", b"MZ\x90", None), ("vide.pdf", b"", None),
    ("gros.pdf", PDF + b"0" * 100, None),
])
def test_attachments_are_told_by_content_and_must_agree_with_their_name(name, content, content_type):
    attachment, problem = check_attachment(name, content, max_bytes=50)
    assert (attachment.content_type if attachment else None) == content_type
    assert (problem is None) == (content_type is not None)
    if attachment:
        assert "\\" not in attachment.file_name and "/" not in attachment.file_name


@pytest.mark.parametrize("current,target,message,refusal", [
    ("received", "in_progress", "", None), ("received", "processed", "", None),
    ("received", "refused", "", "invalid_message"), ("received", "refused", "Pièce manquante", None),
    ("in_progress", "processed", "", None), ("in_progress", "in_progress", "", "invalid_transition"),
    ("processed", "refused", "Non", "invalid_transition"), ("refused", "processed", "", "invalid_transition"),
    ("received", "received", "", "invalid_status"), ("received", "archived", "", "invalid_status"),
    ("received", "processed", "x" * 4001, "invalid_message"),
])
def test_the_workflow(current, target, message, refusal):
    problem = check_transition(current, target, message)
    assert (problem[0] if problem else None) == refusal


AGREMENT = {"status": "active", "capacity_total": 3, "capacity_under_3": 2, "validity_start": dt.date(2025, 1, 1),
            "validity_end": dt.date(2030, 1, 1), "publication_opposed": False, "publication_contact_hidden": False}


@pytest.mark.parametrize("status,action,body,changes", [
    ("active", "temporary_stop", {}, {"status": "temporary_stop"}),
    ("temporary_stop", "resume", {}, {"status": "active"}),
    ("suspended", "resume", {}, {"status": "active"}),
    ("active", "suspend", {"reason": "Enquête"}, {"status": "suspended"}),
    ("suspended", "withdraw", {"reason": "Décision"}, {"status": "withdrawn"}),
    ("active", "modify", {"capacity_total": 4}, {"capacity_total": 4}),                 # L421-4: 4 places
    ("active", "modify", {"validity_end": "2031-01-01"}, {"validity_end": dt.date(2031, 1, 1)}),
    ("active", "publication", {"publication": "opposed"}, {"publication_opposed": True}),
    ("active", "publication", {"publication": "no_contact"}, {"publication_contact_hidden": True}),
])
def test_decisions_allowed(status, action, body, changes):
    assert decide({**AGREMENT, "status": status}, action, body)[0] == changes


@pytest.mark.parametrize("status,action,body,field", [
    ("withdrawn", "resume", {}, "action"), ("withdrawn", "modify", {"capacity_total": 2}, "action"),
    ("active", "resume", {}, "action"), ("suspended", "temporary_stop", {}, "action"),
    ("active", "suspend", {}, "reason"), ("active", "withdraw", {"reason": "  "}, "reason"),
    ("active", "modify", {"capacity_total": 5}, "capacity_total"),                    # L421-4: more than 4 places
    ("active", "modify", {"capacity_total": 0}, "capacity_total"),
    ("active", "modify", {"capacity_total": True}, "capacity_total"),
    ("active", "modify", {"capacity_under_3": 4}, "capacity_under_3"),                # more than the places
    ("active", "modify", {"validity_end": "2024-12-31"}, "validity_end"),
    ("active", "modify", {"capacity_total": 3}, "action"),                            # nothing changes
    ("active", "publication", {"publication": "published"}, "publication"),           # already so
    ("active", "explode", {}, "action"),
])
def test_decisions_refused(status, action, body, field):
    with pytest.raises(DecisionRefused) as refused:
        decide({**AGREMENT, "status": status}, action, body)
    assert field in refused.value.errors
