"""The calendar link on the patient and episode pages: shown, revoked and re-issued (audited)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import AuditEvent

LINK = re.compile(r"https?://[^\"<\s]+/ical/([A-Za-z0-9_-]{43})\.ics")


@pytest.fixture
def coordinator(as_role: Any) -> Any:
    return as_role("coordinator")


def test_the_episode_and_patient_pages_show_the_patients_calendar_link(coordinator: Any, make_episode: Any,
                                                                       session: Any) -> None:
    e = make_episode()
    token = e.patient.calendar_token
    assert token is not None and len(token) == 43
    episode_page = coordinator.text(f"/episodes/{e.id}")
    assert LINK.search(episode_page) and LINK.search(episode_page).group(1) == token  # type: ignore[union-attr]
    patient_page = coordinator.text(f"/patients/{e.patient_id}")
    assert f"/ical/{token}.ics" in patient_page and "Issue a new link" in patient_page
    feed = coordinator.client.get(f"/ical/{token}.ics")
    assert feed.status_code == 200 and b"BEGIN:VEVENT" in feed.data


def test_revoke_then_reissue_from_the_patient_page(coordinator: Any, make_episode: Any, session: Any) -> None:
    e = make_episode()
    old = e.patient.calendar_token
    r = coordinator.post(f"/patients/{e.patient_id}/calendar/revoke")
    assert r.status_code == 302
    page = coordinator.text(f"/patients/{e.patient_id}")
    assert "The calendar link is revoked" in page and "No calendar link" in page
    assert "No calendar link (revoked)" in coordinator.text(f"/episodes/{e.id}")
    assert coordinator.client.get(f"/ical/{old}.ics").status_code == 404
    assert coordinator.post(f"/patients/{e.patient_id}/calendar/reissue").status_code == 302
    session.expire_all()
    new = e.patient.calendar_token
    assert new and new != old
    assert f"/ical/{new}.ics" in coordinator.text(f"/patients/{e.patient_id}")
    assert coordinator.client.get(f"/ical/{new}.ics").status_code == 200
    done = session.scalars(select(AuditEvent.action).where(AuditEvent.patient_id == e.patient_id,
                                                           AuditEvent.action.like("calendar.%"))).all()
    assert list(done) == ["calendar.revoke", "calendar.reissue"]


def test_the_calendar_actions_need_the_csrf_token_and_a_care_team_role(as_role: Any, make_episode: Any) -> None:
    e = make_episode()
    coordinator = as_role("coordinator")
    assert coordinator.post(f"/patients/{e.patient_id}/calendar/revoke", csrf=False).status_code == 400
    admin = as_role("admin")  # not the care team: a 403 naming the role, whether the patient exists or not
    assert admin.post(f"/patients/{e.patient_id}/calendar/revoke").status_code == 403
    assert coordinator.client.get(f"/ical/{e.patient.calendar_token}.ics").status_code == 200
