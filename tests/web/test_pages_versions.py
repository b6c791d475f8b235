"""Two people on the same record through the staff pages (issue 13): every form carries the
record's version and what its page showed; a form sent after someone else changed the record
is refused (409) with "someone else changed this record; here is what changed" (old and new),
keeps what was typed, and changes nothing. Sent again from the fresh page, it is applied."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest


@pytest.fixture
def two(as_role: Any) -> tuple[Any, Any]:
    """Two people signed in at once: a coordinator and a clinician."""
    return as_role("coordinator"), as_role("clinician")


def _hidden(page: str, form_action: str) -> dict[str, str]:
    """The version fields of the form that posts to ``form_action`` on ``page`` (""; the page's own
    URL: the first form that carries them)."""
    for form in re.findall(r"<form\b.*?</form>", page, flags=re.S):
        if form_action and f'action="{form_action}"' not in form:
            continue
        found = {name: html.unescape(value) for name, value in
                 re.findall(r'<input type="hidden" name="(version|seen)" value="([^"]*)">', form)}
        if found:
            return found
    raise AssertionError(f"no form with a version posts to {form_action!r}")


def _patient_form(p: Any, **changes: Any) -> dict[str, Any]:
    values = {"given_name": p.given_name, "family_name": p.family_name, "phone": p.phone, "timezone": p.timezone,
              "language": p.language, "sms_consent": "on", "consent_method": "verbal"}
    values.update(changes)
    return values


def _conflict_rows(page: str) -> list[tuple[str, str, str]]:
    box = page[page.index('id="conflict"'):]
    box = box[:box.index("</table>")]
    return [(html.unescape(a), html.unescape(b), html.unescape(c)) for a, b, c in re.findall(
        r'<th scope="row" class="fw-semibold">([^<]*)</th><td><del>([^<]*)</del></td><td><ins>([^<]*)</ins></td>',
        box)]


def test_a_patient_edit_sent_after_someone_else_saved_is_refused_and_shows_what_changed(
    two: tuple[Any, Any], make_patient: Any, session: Any
) -> None:
    ana, ben = two
    p = make_patient(family_name="Rivera")
    mine = _hidden(ana.text(f"/patients/{p.id}/edit"), "")
    assert mine["version"] == str(p.version) and '"Family name":"Rivera"' in mine["seen"]
    # Ben saves a new family name first.
    ben_page = _hidden(ben.text(f"/patients/{p.id}/edit"), "")
    assert ben.post(f"/patients/{p.id}/edit", {**_patient_form(p, family_name="Ortega"), **ben_page}).status_code == 302
    # Ana sends her change of the given name from the page she opened before.
    r = ana.post(f"/patients/{p.id}/edit", {**_patient_form(p, given_name="Anabel", family_name="Rivera"), **mine})
    assert r.status_code == 409
    page = r.get_data(as_text=True)
    assert "Someone else changed this record; here is what changed" in page and "not saved" in page
    assert _conflict_rows(page) == [("Family name", "Rivera", "Ortega")]
    assert 'value="Anabel"' in page  # what she typed is kept to send again
    assert 'value="Ortega"' in page and 'value="Rivera"' not in page  # the field she left takes Ben's change
    session.expire_all()
    assert p.given_name != "Anabel" and p.family_name == "Ortega"
    # Sent again from the page that now shows the new version, it is applied.
    again = _hidden(page, "")
    assert again["version"] == str(p.version)
    r = ana.post(f"/patients/{p.id}/edit", {**_patient_form(p, given_name="Anabel", family_name="Ortega"), **again})
    assert r.status_code == 302
    session.expire_all()
    assert (p.given_name, p.family_name) == ("Anabel", "Ortega")


def test_a_cancellation_sent_after_someone_else_changed_the_episode_is_refused_with_the_changes(
    two: tuple[Any, Any], make_episode: Any, session: Any
) -> None:
    ana, ben = two
    e = make_episode(facility="Riverside Surgery Center")
    cancel = f"/episodes/{e.id}/cancel"
    mine = _hidden(ana.text(f"/episodes/{e.id}"), cancel)
    details = f"/episodes/{e.id}/details"
    his = _hidden(ben.text(f"/episodes/{e.id}"), details)
    # (A new facility changes the day-before text: the form is confirmed, as after its preview.)
    r = ben.post(details, {"facility": "Northside Spine Center", "proceduralist": e.proceduralist,
                           "levels": e.levels, "confirm": "yes", **his})
    assert r.status_code == 302
    r = ana.post(cancel, {"reason": "patient asked", "confirm": "yes", **mine})
    assert r.status_code == 409
    page = r.get_data(as_text=True)
    assert ("Facility", "Riverside Surgery Center", "Northside Spine Center") in _conflict_rows(page)
    assert "patient asked" in page  # the reason typed is kept
    session.expire_all()
    assert e.status == "scheduled" and e.cancelled_at is None
    # From the fresh page, the cancellation goes through.
    r = ana.post(cancel, {"reason": "patient asked", "confirm": "yes", **_hidden(page, cancel)})
    assert r.status_code == 302
    session.expire_all()
    assert e.status == "cancelled"


def test_two_answers_to_one_hold_the_later_is_refused_and_the_first_stands(
    two: tuple[Any, Any], make_episode: Any, session: Any
) -> None:
    coordinator, clinician = two
    e = make_episode(holds=[{"drug": "clopidogrel", "prescriber_name": "Dr. Ortiz"}])
    hold = e.holds[0]
    url = f"/episodes/{e.id}/holds/{hold.id}/clearance"
    coord_form = _hidden(coordinator.text(f"/episodes/{e.id}"), url)
    clin_form = _hidden(clinician.text(f"/episodes/{e.id}"), url)
    assert clinician.post(url, {"status": "approved", "by": "Dr. Ortiz", **clin_form}).status_code == 302
    r = coordinator.post(url, {"status": "requested", **coord_form})
    assert r.status_code == 409
    rows = dict((label, (old, new)) for label, old, new in _conflict_rows(r.get_data(as_text=True)))
    old, new = rows[f"{hold.drug_name} hold"]
    assert "clearance needed" in old and "not signed" in old
    assert "clearance approved" in new and new.endswith("signed") and "not signed" not in new
    session.expire_all()
    assert hold.clearance == "approved" and hold.signed_at is not None


def test_a_move_previewed_from_a_stale_form_is_refused_before_anything_is_shown(
    two: tuple[Any, Any], make_episode: Any, session: Any
) -> None:
    ana, ben = two
    e = make_episode(procedure_at="2027-03-10T08:00")
    url = f"/episodes/{e.id}/reschedule"
    mine = _hidden(ana.text(url), "")
    his = _hidden(ben.text(f"/episodes/{e.id}"), f"/episodes/{e.id}/escort")
    assert ben.post(f"/episodes/{e.id}/escort", {"arranged": "yes", **his}).status_code == 302
    r = ana.post(url, {"procedure_at": "2027-03-12T08:00", "preview": "yes", **mine})
    assert r.status_code == 409
    page = r.get_data(as_text=True)
    assert ("Escort arranged", "no", "yes") in _conflict_rows(page)
    assert 'value="2027-03-12T08:00"' in page
    session.expire_all()
    assert e.procedure_at.isoformat().startswith("2027-03-10")


def test_a_form_without_a_version_is_still_accepted(two: tuple[Any, Any], make_episode: Any, session: Any) -> None:
    """Forms from before this change (a page open during an upgrade) carry no version: not checked."""
    ana, _ = two
    e = make_episode()
    r = ana.post(f"/episodes/{e.id}/escort", {"arranged": "yes"})
    assert r.status_code == 302
    session.expire_all()
    assert e.escort_arranged is True


def test_a_stale_details_form_keeps_what_was_typed_and_takes_the_others_change_elsewhere(
    two: tuple[Any, Any], make_episode: Any, session: Any
) -> None:
    ana, ben = two
    e = make_episode(facility="Riverside Surgery Center", proceduralist="Dr. Lee")
    details = f"/episodes/{e.id}/details"
    mine = _hidden(ana.text(f"/episodes/{e.id}"), details)
    his = _hidden(ben.text(f"/episodes/{e.id}"), details)
    assert ben.post(details, {"facility": "Northside Spine Center", "proceduralist": "Dr. Lee", "levels": e.levels,
                              "escort_arranged": "yes", "confirm": "yes", **his}).status_code == 302
    r = ana.post(details, {"facility": "Riverside Surgery Center", "proceduralist": "Dr. Park", "levels": e.levels,
                           **mine})
    assert r.status_code == 409
    page = r.get_data(as_text=True)
    rows = {label for label, _, _ in _conflict_rows(page)}
    assert {"Facility", "Escort arranged"} <= rows
    assert 'value="Northside Spine Center"' in page and 'value="Dr. Park"' in page
    assert re.search(r'id="details-escort_arranged" name="escort_arranged" value="yes" checked', page)
    session.expire_all()
    assert (e.facility, e.proceduralist) == ("Northside Spine Center", "Dr. Lee")


def _bumped_under_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another transaction's change landing between this request's read and its write: the
    episode's version goes up in the database right after the service has read the row."""
    from sqlalchemy import text

    from pathway.services import episodes as ep

    original = ep.load_episode

    def load_then_someone_writes(session: Any, episode_id: Any, *, lock: bool = False) -> Any:
        episode = original(session, episode_id, lock=lock)
        session.execute(text("UPDATE episodes SET version = version + 1 WHERE id = :id"), {"id": episode.id})
        return episode

    monkeypatch.setattr(ep, "load_episode", load_then_someone_writes)


def test_a_write_that_loses_the_race_after_the_check_is_a_409_page_and_saves_nothing(
    two: tuple[Any, Any], make_episode: Any, session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana, _ = two
    e = make_episode()
    mine = _hidden(ana.text(f"/episodes/{e.id}"), f"/episodes/{e.id}/escort")
    _bumped_under_the_request(monkeypatch)
    r = ana.post(f"/episodes/{e.id}/escort", {"arranged": "yes", **mine})
    assert r.status_code == 409
    assert "Someone else changed this record at the same moment" in r.get_data(as_text=True)
    session.expire_all()
    assert e.escort_arranged is False


def test_the_api_answers_the_same_race_with_409(
    web_app: Any, make_episode: Any, session: Any, env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathway.services.base import SYSTEM
    from pathway.services.users import create_token

    token = create_token(session, env, SYSTEM, "coordinator@example.test")
    e = make_episode()
    session.flush()
    _bumped_under_the_request(monkeypatch)
    r = web_app.test_client().patch(f"/api/v1/episodes/{e.id}", json={"facility": "North Clinic"},
                                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 409 and "someone else changed this record at the same moment" in r.get_json()["message"]
    session.expire_all()
    assert e.facility != "North Clinic"


def test_consent_recorded_from_a_stale_patient_page_is_refused_with_what_changed(
    two: tuple[Any, Any], make_patient: Any, session: Any
) -> None:
    ana, ben = two
    p = make_patient(sms_consent=False)
    consent = f"/patients/{p.id}/consent"
    mine = _hidden(ana.text(f"/patients/{p.id}"), consent)
    his = _hidden(ben.text(f"/patients/{p.id}/edit"), "")
    form = {"given_name": "Pat", "family_name": p.family_name, "phone": p.phone, "timezone": p.timezone,
            "language": "es"}
    assert ben.post(f"/patients/{p.id}/edit", {**form, **his}).status_code in (200, 302)
    session.expire_all()
    if p.language != "es":  # the language change needed confirming: confirm it
        assert ben.post(f"/patients/{p.id}/edit", {**form, "confirm": "yes", **his}).status_code == 302
    r = ana.post(consent, {"consent_method": "written", **mine})
    assert r.status_code == 409
    assert ("Language of texts", "en", "es") in _conflict_rows(r.get_data(as_text=True))
    session.expire_all()
    assert p.sms_consent_at is None
