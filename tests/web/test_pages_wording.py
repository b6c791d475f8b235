"""Words a coordinator reads all day (issue 15): true statuses, counts, labels, roles, phone
types, zones, and the reschedule preview naming each medicine."""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from pathway.clock import FixedClock
from pathway.models import Message, Patient
from pathway.services import episodes as ep
from pathway.services import outbox
from pathway.timeline.texts import plural
from pathway.web import filters
from tests.conftest import T0, at

UK_MOBILE = "+44 7911 123456"
NY = ZoneInfo("America/New_York")


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _sign(session: Any, env: Any, staff: Any, episode: Any) -> None:
    for hold in episode.holds:
        ep.record_clearance(session, env, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. Ortiz"})
    session.flush()


# --- counts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n, one, many, said", [
    (1, "day", "days", "1 day"), (2, "day", "days", "2 days"), (0, "day", "days", "0 days"),
    (1, "día", "días", "1 día"), (3, "día", "días", "3 días"), (1, "hour", "hours", "1 hour"),
])
def test_plural_gives_the_count_with_its_word_in_either_language(n: int, one: str, many: str, said: str) -> None:
    assert plural(n, one, many) == said


def test_the_plural_filter_is_the_same_helper_in_templates(web_app: Any) -> None:
    with web_app.app_context():
        render = web_app.jinja_env.from_string("{{ 1|plural('day', 'days') }}; {{ 2|plural('día', 'días') }}")
        assert render.render() == "1 day; 2 días"


def test_no_page_of_an_episode_says_1_days(as_role: Any, make_episode: Any, session: Any, env: Any,
                                           staff: Any) -> None:
    e = make_episode(holds=[{"drug": "ibuprofen"}, {"drug": "clopidogrel"}])  # ibuprofen is held 1 day
    _sign(session, env, staff, e)
    page = as_role("coordinator").text(f"/episodes/{e.id}")
    assert "1 day before" in page
    assert not re.search(r"\b1 (days|hours)\b", page)


# --- true statuses -----------------------------------------------------------------------------


def _statuses(page: str) -> dict[int, tuple[str, str]]:
    """milestone id -> (phase, status) from the timeline's classes."""
    return {int(m.group(3)): (m.group(1), m.group(2)) for m in
            re.finditer(r'timeline-item phase-(\w+) st-(\w+)" id="milestone-(\d+)"', page)}


def test_a_past_step_reads_done_missed_or_overdue_never_due(
    as_role: Any, make_episode: Any, session: Any, env: Any, staff: Any, web_clock: FixedClock
) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}, {"drug": "apixaban"}])
    clopidogrel, apixaban = e.holds
    ep.record_clearance(session, env, staff["clinician"], clopidogrel.id, {"status": "approved", "by": "Dr. O"})
    session.flush()
    # The clopidogrel last-dose text went; apixaban was never signed, so no text was planned for it.
    text = session.scalar(select(Message).where(Message.episode_id == e.id, Message.kind == "last_dose"))
    assert text is not None
    outbox.record(session, text, outbox.Sending(worker="t", lease_until=T0, started_at=T0), now=T0, source="test")
    outbox.record(session, text, outbox.Sent("ok", sid="SM1", provider_status="sent", sent_at=T0), now=T0,
                  source="test")
    session.flush()
    web_clock.set(datetime(2027, 3, 12, 15, 0, tzinfo=NY))  # two days after the procedure, end not recorded
    page = as_role("coordinator").text(f"/episodes/{e.id}")
    shown = _statuses(page)
    by_kind = {(m.kind, m.hold_id): m.id for m in e.milestones}
    assert shown[by_kind[("last_dose", clopidogrel.id)]] == ("past", "done")
    assert shown[by_kind[("last_dose", apixaban.id)]] == ("past", "missed")
    assert shown[by_kind[("procedure", None)]] == ("past", "overdue")  # its end was never recorded
    assert all(status not in ("due", "planned") for phase, status in shown.values() if phase == "past"), shown


# --- MRN, labels, task names --------------------------------------------------------------------


def test_an_mrn_stored_with_its_prefix_is_shown_once(as_role: Any, make_patient: Any, make_episode: Any) -> None:
    p = make_patient(data={"mrn": "MRN100206"})
    e = make_episode(patient=p)
    c = as_role("coordinator")
    for url in (f"/patients/{p.id}", f"/episodes/{e.id}", f"/patients/{p.id}/edit"):
        page = c.text(url)
        assert "MRN 100206" in page and "MRN MRN" not in page, url
    assert filters.mrn("T00001") == "MRN T00001"


def test_the_error_summary_names_fields_by_their_labels(as_role: Any) -> None:
    r = as_role("coordinator").post("/patients/new", {"mrn": "", "phone": "12"})
    assert r.status_code == 422
    summary = _main(r.get_data(as_text=True)).split('id="form-errors"', 1)[1].split("</ul>", 1)[0]
    for label in ("MRN", "Given name", "Family name", "Date of birth", "Mobile phone"):
        assert f">{label}</span>" in summary, label
    assert not re.search(r"birth.date</span>|given.name</span>|>mrn<", summary)


def test_a_field_name_inside_an_error_message_is_written_as_its_label() -> None:
    assert filters.error_text("give stop_days or stop_hours, not both") == \
        "give \u201cStop days\u201d or \u201cStop hours\u201d, not both"
    assert filters.field_label("hold-0-prescriber_phone") == "Drug 1: Prescriber's phone"
    said = filters.error_text("send it with sms_consent: true (it is how the consent being recorded was given)")
    assert "sms_consent" not in said and "The patient agrees to receive texts" in said


def test_tasks_are_named_in_words_not_their_kind(as_role: Any, make_episode: Any, session: Any, env: Any,
                                                 staff: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    _sign(session, env, staff, e)
    ep.cancel_episode(session, at(env, datetime(2027, 3, 5, 15, 0, tzinfo=NY)), staff["coordinator"],
                      e.id, {"reason": "patient unwell"})
    session.flush()
    page = as_role("coordinator").text(f"/episodes/{e.id}")
    assert "Restart call (cancelled)" in page
    assert "Restart after cancel" not in page and "restart_after_cancel" not in _visible(page)


def _visible(page: str) -> str:
    """The words of the page's main part, as read: tags gone, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", _main(page)))).replace(" )", ")")


# --- roles ---------------------------------------------------------------------------------------


def test_a_coordinator_opening_an_admin_page_is_told_it_needs_the_admin_role(as_role: Any) -> None:
    r = as_role("coordinator").get("/admin/tokens")
    assert r.status_code == 403
    body = _visible(r.get_data(as_text=True))
    assert "Not allowed for your role" in body and "needs the admin role" in body and "Not found" not in body


# --- phone numbers -------------------------------------------------------------------------------


def test_a_uk_mobile_is_a_mobile_and_gets_no_landline_warning(as_role: Any, session: Any) -> None:
    c = as_role("coordinator")
    r = c.post("/patients/new", {"mrn": "UK1", "given_name": "Ann", "family_name": "Walsh", "birth_date": "1950-01-02",
                                 "phone": UK_MOBILE, "timezone": "America/New_York", "language": "en",
                                 "sms_consent": "on", "consent_method": "verbal"})
    assert r.status_code == 302, _visible(r.get_data(as_text=True))[:500]
    p = session.scalar(select(Patient).where(Patient.mrn == "UK1"))
    assert p.phone == "+447911123456"
    page = _visible(c.text(f"/patients/{p.id}"))
    assert "+44 7911 123456 (mobile)" in page
    assert "landline" not in page


def test_a_us_number_is_not_called_a_landline(as_role: Any, make_patient: Any) -> None:
    p = make_patient()
    page = _visible(as_role("coordinator").text(f"/patients/{p.id}"))
    assert "(mobile or landline)" in page and "cannot be delivered" not in page


def test_a_landline_is_refused_for_texts_with_a_warning_where_texts_cannot_go(
    as_role: Any, make_patient: Any, session: Any
) -> None:
    c = as_role("coordinator")
    r = c.post("/patients/new", {"mrn": "UK2", "given_name": "Ann", "family_name": "Walsh",
                                 "birth_date": "1950-01-02", "phone": "+44 20 7946 0958"})
    assert r.status_code == 422 and "+44 20 7946 0958 is a landline" in r.get_data(as_text=True)
    # A landline stored before this check (or imported) is shown with the warning.
    p = make_patient()
    session.get(Patient, p.id).phone = "+442079460958"
    session.flush()
    page = _visible(c.text(f"/patients/{p.id}"))
    assert "(landline)" in page and "a text cannot be delivered to it" in page


def test_a_prescribers_landline_is_accepted(make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel", "prescriber_phone": "+44 20 7946 0958"}])
    assert e.holds[0].prescriber_phone == "+442079460958"


def test_the_episode_page_labels_the_patients_phone(as_role: Any, make_episode: Any) -> None:
    e = make_episode()
    page = _visible(as_role("coordinator").text(f"/episodes/{e.id}"))
    assert re.search(r"Phone \(212\) 555-\d{4} \(mobile or landline\)", page)


# --- zones ---------------------------------------------------------------------------------------


def test_zone_labels_follow_daylight_saving_across_the_change(
    as_role: Any, make_episode: Any, session: Any, env: Any, staff: Any
) -> None:
    """New York springs forward on 14 Mar 2027, London on 28 Mar: the labels say which is which."""
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    _sign(session, env, staff, e)
    c = as_role("coordinator")
    preview = _visible(c.post(f"/episodes/{e.id}/reschedule", {"procedure_at": "2027-03-17T08:00"}).get_data(
        as_text=True))
    assert re.search(r"Procedure Wed Mar 10 8:00 AM EST \u2192 Wed Mar 17 8:00 AM EDT", preview)
    with as_role("coordinator").app.test_request_context():
        before = str(filters.clinic_time(datetime(2027, 3, 10, 13, 0, tzinfo=ZoneInfo("UTC")), "Europe/London"))
        between = str(filters.clinic_time(datetime(2027, 3, 17, 12, 0, tzinfo=ZoneInfo("UTC")), "Europe/London"))
        after = str(filters.clinic_time(datetime(2027, 3, 31, 12, 0, tzinfo=ZoneInfo("UTC")), "Europe/London"))
    assert "08:00 EST" in before and "(patient: 13:00 GMT)" in before
    assert "08:00 EDT" in between and "(patient: 12:00 GMT)" in between
    assert "08:00 EDT" in after and "(patient: 13:00 BST)" in after


def test_every_time_input_on_the_episode_pages_says_which_zone_it_takes(
    as_role: Any, make_patient: Any, make_episode: Any
) -> None:
    p = make_patient(data={"timezone": "Europe/London", "phone": UK_MOBILE})
    e = make_episode(patient=p)
    c = as_role("coordinator")
    said = "In the patient's time zone (Europe/London), not the clinic's (America/New York)"
    for url in (f"/episodes/{e.id}", f"/episodes/{e.id}/reschedule", f"/patients/{p.id}/episodes/new"):
        page = html.unescape(c.text(url))
        assert said in page, url
        # Every datetime-local input is tied to words naming the zone (its label or its hint).
        for tag in re.findall(r'<input[^>]*type="datetime-local"[^>]*>', page):
            fid = re.search(r'id="([^"]+)"', tag).group(1)
            label = re.search(rf'<label[^>]*for="{re.escape(fid)}"[^>]*>(.*?)</label>', page, re.S)
            hint = re.search(r'aria-describedby="([^"]+)"', tag)
            words = label.group(1) if label else ""
            for h in hint.group(1).split() if hint else []:
                found = re.search(rf'id="{re.escape(h)}"[^>]*>(.*?)</div>', page, re.S)
                words += found.group(1) if found else ""
            assert "time zone" in words, (url, fid)
    page = _visible(c.text(f"/episodes/{e.id}"))
    assert "08:00 GMT" in page and "EST" in page  # the patient's zone and the clinic's, side by side


# --- the reschedule preview names each medicine whose dates move ------------------------------------


def test_the_reschedule_preview_names_each_medicine_the_date_change_text_will_name(
    as_role: Any, make_episode: Any, session: Any, env: Any, staff: Any
) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}, {"drug": "apixaban", "patient_label": "the pink pill"}])
    _sign(session, env, staff, e)
    r = as_role("coordinator").post(f"/episodes/{e.id}/reschedule", {"procedure_at": "2027-03-17T08:00"})
    page = _visible(r.get_data(as_text=True))
    send = re.search(r"Send\s+date-change notice[^\n]*?naming ([^\n]*?)\s+Choose another time", page)
    assert send is not None, page[-800:]
    assert "your anti-platelet medicine (clopidogrel)" in send.group(1)
    assert "the pink pill (apixaban)" in send.group(1)
    session.expire_all()
    assert session.get(type(e), e.id).procedure_at.astimezone(NY).day == 10  # a preview changes nothing
