"""The pages' go / no go banner, the holds-to-sign page, a clearance step nobody completes by hand
and a follow-up outside its window."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from pathway.services import episodes as ep
from tests.conftest import at

READY = {"mri_reviewed_on": "2027-01-15", "tried_pt": True, "escort_arranged": True}


@pytest.fixture
def coordinator(as_role: Any) -> Any:
    return as_role("coordinator")


@pytest.fixture
def clinician(as_role: Any) -> Any:
    return as_role("clinician")


def _banner(page: str) -> str:
    found = re.search(r'<section class="decision.*?</section>', page, re.S)
    assert found, "no go / no go banner"
    return found.group(0)


def test_the_episode_page_says_no_go_with_the_reasons_in_words_at_the_top(coordinator: Any,
                                                                          make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    page = coordinator.text(f"/episodes/{e.id}")
    banner = _banner(page)
    assert page.index(banner) < page.index('id="timeline-h"')  # above the timeline
    assert 'aria-labelledby="decision-h"' in banner and '<h2 class="display-6 fw-bold mb-1" id="decision-h">' in banner
    assert "No go</h2>" in banner
    for words in ("Clopidogrel: clearance not yet requested from the prescriber.",
                  "Candidacy: the lumbar MRI review is not recorded.",
                  "No escort or driver is recorded for procedure day.",
                  f'href="#hold-{e.holds[0].id}">Open the clopidogrel hold</a>'):
        assert words in banner, words


def test_the_episode_page_says_go_when_nothing_blocks_it(clinician: Any, make_episode: Any, session: Any,
                                                         env: Any, staff: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}], **READY)
    ep.record_clearance(session, env, staff["clinician"], e.holds[0].id, {"status": "approved", "by": "Dr. O"})
    banner = _banner(clinician.text(f"/episodes/{e.id}"))
    assert "Go</h2>" in banner and "No go" not in banner and "decision-reasons" not in banner


def test_a_cancelled_episode_page_says_cancelled_and_never_go(coordinator: Any, make_episode: Any, session: Any,
                                                              env: Any, staff: Any) -> None:
    e = make_episode(**READY)
    ep.cancel_episode(session, env, staff["coordinator"], e.id, {"reason": "patient unwell"})
    page = coordinator.text(f"/episodes/{e.id}")
    banner = _banner(page)
    assert "Cancelled</h2>" in banner and "patient unwell" in banner
    assert "Go</h2>" not in banner and "Go: every item confirmed" not in page


def test_the_page_refuses_to_complete_a_hold_clearance_step(clinician: Any, make_episode: Any,
                                                           session: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    m = next(m for m in e.milestones if m.kind == "hold_clearance")
    r = clinician.post(f"/episodes/{e.id}/milestones/{m.id}/complete", {})
    assert r.status_code == 302
    session.refresh(m)
    assert m.status != "done"
    assert "Not allowed: a hold&#39;s clearance is completed only by recording" in clinician.text(f"/episodes/{e.id}")


def test_holds_to_sign_lists_every_hold_waiting_and_links_to_its_clearance_panel(
    clinician: Any, coordinator: Any, make_episode: Any, session: Any, env: Any, staff: Any
) -> None:
    far = make_episode(procedure_at="2027-06-10T08:00", holds=[{"drug": "clopidogrel"}])
    near = make_episode(holds=[{"drug": "apixaban"}])
    for e in (far, near):
        ep.record_clearance(session, env, staff["coordinator"], e.holds[0].id, {"status": "requested"})
    page = clinician.text("/holds/to-sign")
    assert page.index("apixaban") < page.index("clopidogrel")  # earliest last dose first
    assert f'href="/episodes/{near.id}#hold-{near.holds[0].id}"' in page
    assert "Clearance requested from" in page and "in 33 days" in page and "2 holds to sign" in page
    assert 'href="/holds/to-sign"' in page and 'aria-current="page"' in page
    # Clinicians get the link in the navigation; coordinators keep their worklist.
    assert 'href="/holds/to-sign"' not in coordinator.text("/patients")
    assert 'href="/holds/to-sign"' in clinician.text("/patients")


def test_booking_a_follow_up_outside_its_window_on_the_page_asks_for_confirmation(
    coordinator: Any, make_episode: Any, session: Any
) -> None:
    e = make_episode()
    r = coordinator.post(f"/episodes/{e.id}/appointments/follow_up", {"appointment_at": "2027-03-24T10:00"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "The follow-up visit belongs 7 to 10 days after the procedure" in page
    assert e.appointment("follow_up") is None
    r = coordinator.post(f"/episodes/{e.id}/appointments/follow_up",
                         {"appointment_at": "2027-03-24T10:00", "confirm_outside_window": "yes"})
    assert r.status_code == 302
    assert "Outside the day 7\N{EN DASH}10 window" in coordinator.text(f"/episodes/{e.id}")


def test_a_completed_episode_page_says_completed(clinician: Any, make_episode: Any, session: Any, env: Any,
                                                 staff: Any) -> None:
    e = make_episode(procedure_at="2027-02-03T08:00", **READY)
    later = at(env, datetime(2027, 2, 3, 16, tzinfo=UTC))
    ep.record_procedure_end(session, later, staff["clinician"], e.id, {"ended_at": "2027-02-03T08:50"})
    banner = _banner(clinician.text(f"/episodes/{e.id}"))
    assert "Completed</h2>" in banner and "Go</h2>" not in banner and "The procedure took place" in banner
