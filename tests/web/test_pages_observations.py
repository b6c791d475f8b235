"""The episode page's observations (issue 11): the list, and the small form to record one."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import AuditEvent, Observation


@pytest.fixture
def coordinator(as_role: Any) -> Any:
    return as_role("coordinator")


def test_a_coordinator_records_a_baseline_pain_score_from_the_episode_page(coordinator: Any, make_episode: Any,
                                                                          session: Any) -> None:
    e = make_episode()
    page = coordinator.text(f"/episodes/{e.id}")
    assert 'id="obs-h"' in page and "No observations yet" in page
    r = coordinator.post(f"/episodes/{e.id}/observations", {"code": "nprs", "value": "6", "time_point": "baseline"})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    obs = session.scalars(select(Observation).where(Observation.episode_id == e.id)).one()
    assert (obs.code, int(obs.value), obs.time_point, obs.source) == ("nprs", 6, "baseline", "staff")
    assert session.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == obs.id,
                                                           AuditEvent.action == "observation.record")).one()
    page = coordinator.text(f"/episodes/{e.id}")
    row = page[page.index(f'id="observation-{obs.id}"'):]
    row = row[:row.index("</tr>")]
    assert "Pain (0-10)" in row and "6/10" in row and "baseline" in row and "Staff" in row


def test_a_bad_value_shows_the_form_again_with_the_field_named(coordinator: Any, make_episode: Any,
                                                               session: Any) -> None:
    e = make_episode()
    r = coordinator.post(f"/episodes/{e.id}/observations", {"code": "nprs", "value": "12", "time_point": "72h"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "must be from 0 to 10" in page and 'value="12"' in page
    assert session.scalars(select(Observation).where(Observation.episode_id == e.id)).all() == []


def test_a_medicine_not_stopped_is_decided_from_the_episode_page_by_a_clinician_only(
        coordinator: Any, as_role: Any, make_episode: Any, session: Any) -> None:
    from pathway.models import Task

    e = make_episode(holds=[{"drug": "clopidogrel"}], mri_reviewed_on="2027-01-15", tried_pt=True,
                     escort_arranged=True)
    hold = e.holds[0]
    r = coordinator.post(f"/episodes/{e.id}/observations",
                         {"code": "stopped_medicine", "value": "0", "hold_id": str(hold.id)})
    assert r.status_code == 302
    page = coordinator.text(f"/episodes/{e.id}")
    assert "the patient replied they have NOT stopped it" in page or "have NOT stopped" in page
    assert "Clinician&#39;s decision (required; clinicians only)" in page
    task = session.scalars(select(Task).where(Task.kind == "hold_not_stopped")).one()
    refused = coordinator.post(f"/tasks/{task.id}/resolve", {"resolution": "go ahead",
                                                            "next": f"/episodes/{e.id}"})
    assert refused.status_code in (302, 403)
    session.expire_all()
    assert session.get(Task, task.id).resolved_at is None
    clinician = as_role("clinician")
    done = clinician.post(f"/tasks/{task.id}/resolve", {"resolution": "spoke to the prescriber: go ahead",
                                                        "next": f"/episodes/{e.id}"})
    assert done.status_code == 302
    session.expire_all()
    assert session.get(Task, task.id).resolution == "spoke to the prescriber: go ahead"
    assert session.scalars(select(AuditEvent.action).where(AuditEvent.action == "hold.stop_decision")).one()
    page = clinician.text(f"/episodes/{e.id}")
    assert "a clinician&#39;s decision is recorded" in page or "decision is recorded" in page


def test_the_worklist_page_shows_a_high_pain_score_and_a_medicine_not_stopped(coordinator: Any, make_episode: Any,
                                                                              session: Any, env: Any) -> None:
    from datetime import UTC, datetime

    from pathway.services.base import SYSTEM
    from pathway.services.observations import record_observation
    from tests.conftest import at

    e = make_episode(holds=[{"drug": "clopidogrel"}], procedure_at="2027-02-02T08:00")
    coordinator.post(f"/episodes/{e.id}/observations",
                     {"code": "stopped_medicine", "value": "0", "hold_id": str(e.holds[0].id)})
    later = at(env, datetime(2027, 2, 5, 14, 0, tzinfo=UTC))
    record_observation(session, later, SYSTEM, e.id, {"code": "nprs", "value": 9, "time_point": "72h",
                                                      "received_at": "2027-02-05T09:00"})
    session.commit()
    page = coordinator.text("/")
    assert "Medicine not stopped: call; a clinician decides" in page
    assert "The clinician's decision (clinicians only)" in page
    assert "High pain after the procedure: call today" in page and "pain 9/10 at the 72-hour check" in page
    assert page.index("Medicine not stopped") < page.index("High pain after the procedure")
