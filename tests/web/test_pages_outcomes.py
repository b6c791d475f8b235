"""The episode page's outcomes (issue 12): the current values with their change from baseline,
and the form to record one measured at a visit or on a call."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import AuditEvent, Observation


@pytest.fixture
def coordinator(as_role: Any) -> Any:
    return as_role("coordinator")


def _row(page: str, obs_id: int) -> str:
    row = page[page.index(f'id="outcome-{obs_id}"'):]
    return row[:row.index("</tr>")]


def test_staff_record_outcomes_from_the_episode_page_and_see_the_change_and_history(
        coordinator: Any, as_role: Any, make_episode: Any, session: Any) -> None:
    e = make_episode()
    page = coordinator.text(f"/episodes/{e.id}")
    assert 'id="outcomes-h"' in page and "No outcomes yet" in page
    for label in ('for="outcome-measure">Measure', 'for="outcome-tp">Time point', 'for="outcome-value">Value',
                  'for="outcome-source">How it was taken', "When (patient's time zone, America/New York; empty: now)"):
        assert label in page, label
    assert 'name="csrf_token"' in page or "csrf" in page
    r = coordinator.post(f"/episodes/{e.id}/outcomes", {"measure": "odi", "value": "46", "time_point": "baseline",
                                                        "source": "visit", "recorded_at": "2027-01-31T09:30"})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    clinician = as_role("clinician")
    for value in ("34", "30"):
        r = clinician.post(f"/episodes/{e.id}/outcomes", {"measure": "odi", "value": value, "time_point": "visit",
                                                          "source": "phone", "recorded_at": ""})
        assert r.status_code == 302
    rows = list(session.scalars(select(Observation).where(Observation.episode_id == e.id).order_by(Observation.id)))
    assert [(o.time_point, int(o.value), o.source, o.superseded_by_id) for o in rows] == [
        ("baseline", 46, "visit", None), ("visit", 34, "phone", rows[2].id), ("visit", 30, "phone", None)]
    assert len(session.scalars(select(AuditEvent).where(AuditEvent.action == "outcome.record")).all()) == 3
    page = coordinator.text(f"/episodes/{e.id}")
    row = _row(page, rows[2].id)
    assert "Follow-up visit (7-10 days)" in row and "Oswestry Disability Index (0-100)" in row
    assert "<td>30</td>" in row and "-16" in row and "Phone call" in row and "replaced 1 earlier value: 34" in row
    assert f'id="outcome-{rows[1].id}"' not in page  # the replaced one is history, not a row
    # The observations list keeps every row, a replaced one marked so.
    replaced = page[page.index(f'id="observation-{rows[1].id}"'):]
    replaced = replaced[:replaced.index("</tr>")]
    assert "Oswestry Disability Index (0-100)" in replaced and "replaced" in replaced and "34 points" in replaced
    assert "Phone call" in replaced


def test_a_bad_outcome_shows_the_form_again_with_the_field_named_and_nothing_stored(
        coordinator: Any, make_episode: Any, session: Any) -> None:
    e = make_episode()
    r = coordinator.post(f"/episodes/{e.id}/outcomes", {"measure": "zcq_symptom", "value": "6", "time_point": "3m",
                                                        "source": "visit"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'id="outcome-value-error"' in page and "must be from 1 to 5" in page and 'value="6"' in page
    r = coordinator.post(f"/episodes/{e.id}/outcomes", {"measure": "odi", "value": "20", "time_point": "2w",
                                                        "source": "visit"})
    assert r.status_code == 422 and 'id="outcome-time_point-error"' in r.get_data(as_text=True)
    assert session.scalars(select(Observation).where(Observation.episode_id == e.id)).all() == []


def test_an_admin_may_not_record_an_outcome(as_role: Any, make_episode: Any, session: Any) -> None:
    e = make_episode()
    r = as_role("admin").post(f"/episodes/{e.id}/outcomes", {"measure": "odi", "value": "20", "time_point": "3m",
                                                             "source": "visit"})
    assert r.status_code in (302, 403, 404)
    assert session.scalars(select(Observation).where(Observation.episode_id == e.id)).all() == []
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
