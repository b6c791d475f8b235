"""Importing the schedule from a CSV file (issue 14): checked with the API's models, all or nothing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from pathway.models import AuditEvent, Episode, MedicationHold, Message, Patient, Task
from pathway.services import episodes as ep
from pathway.services import schedule_import as si
from pathway.services.base import Forbidden, ValidationError
from pathway.services.patients import enrol_patient

HEADER = ",".join(si.COLUMNS)
ANA = ("A100,Ana,Ruiz,1950-02-03,+1 312 555 0101,America/Chicago,es,yes,2027-03-10T08:00,North Center,Dr. Lee,L4-L5,"
       "Plavix;Advil")
BOB = "B200,Bob,Stone,1948-07-01,(212) 555-0102,,en,no,2027-03-11 09:30,North Center,Dr. Lee,L3-L4,"


def _file(*rows: str, header: str = HEADER) -> si.ParsedFile:
    return si.parse_file(("\n".join([header, *rows]) + "\n").encode())


def _run(session: Any, env: Any, actor: Any, *rows: str, **kw: Any) -> si.ImportReport:
    return si.import_schedule(session, env, actor, _file(*rows), **kw)


def _count(session: Any, model: Any) -> int:
    session.flush()
    return int(session.scalar(select(func.count()).select_from(model)))


def _problems(report: si.ImportReport) -> set[tuple[int, str]]:
    return {(p.line, p.column) for p in report.problems}


def test_a_new_file_enrols_each_patient_and_schedules_their_procedure(session, env, staff) -> None:
    report = _run(session, env, staff["coordinator"], ANA, BOB)
    assert report.ok and report.applied
    assert [(r.line, r.mrn, r.action) for r in report.rows] == [(2, "A100", "new patient"), (3, "B200", "new patient")]
    ana = session.scalars(select(Patient).where(Patient.mrn == "A100")).one()
    bob = session.scalars(select(Patient).where(Patient.mrn == "B200")).one()
    assert (ana.timezone, ana.language, ana.sms_consent_at is not None) == ("America/Chicago", "es", True)
    assert (bob.timezone, bob.phone, bob.sms_consent_at) == ("America/New_York", "+12125550102", None)  # clinic zone
    (episode,) = ana.episodes
    # Wall time in the patient's zone (CST, UTC-6), brand names resolved by the catalogue.
    assert episode.procedure_at == datetime(2027, 3, 10, 14, 0, tzinfo=UTC)
    assert (episode.facility, episode.proceduralist, episode.levels) == ("North Center", "Dr. Lee", "L4-L5")
    assert sorted(h.drug_key for h in episode.holds) == ["clopidogrel", "ibuprofen"]
    assert all(h.clearance == "needed" for h in episode.holds)
    assert report.rows[0].patient_id == ana.id and report.rows[0].episode_id == episode.id
    assert bob.episodes[0].procedure_at == datetime(2027, 3, 11, 14, 30, tzinfo=UTC)
    assert _count(session, Message) > 0  # planned like any scheduled episode


def test_every_change_is_audited_as_the_importing_user(session, env, staff) -> None:
    coordinator = staff["coordinator"]
    _run(session, env, coordinator, ANA, BOB)
    actions = [(a.action, a.actor, a.user_id) for a in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
               if a.action.startswith(("patient.", "episode.", "schedule."))]
    assert ("patient.enrol", coordinator.label, coordinator.user_id) in actions
    assert ("episode.schedule", coordinator.label, coordinator.user_id) in actions
    file_row = session.scalars(select(AuditEvent).where(AuditEvent.action == "schedule.import")).one()
    assert file_row.actor == coordinator.label and file_row.detail == {"rows": 2, "new_patient": 2}


def test_importing_the_same_file_again_changes_nothing(session, env, staff) -> None:
    _run(session, env, staff["coordinator"], ANA, BOB)
    counts = [_count(session, m) for m in (Patient, Episode, MedicationHold, Message, AuditEvent)]
    again = _run(session, env, staff["coordinator"], ANA, BOB)
    assert again.ok and [r.action for r in again.rows] == ["unchanged", "unchanged"]
    after = [_count(session, m) for m in (Patient, Episode, MedicationHold, Message, AuditEvent)]
    assert after[:4] == counts[:4]
    assert after[4] == counts[4] + 1  # only the file's own audit row


def test_a_bad_row_is_named_by_line_and_column_and_nothing_is_stored(session, env, staff) -> None:
    bad = "C300,Cy,,1960-13-01,555,Mars/Base,fr,maybe,2020-01-01T08:00,,,,Coumadin;warfarin"
    report = _run(session, env, staff["coordinator"], ANA, bad, BOB)
    assert not report.ok and not report.applied
    assert _problems(report) == {(3, c) for c in ("family_name", "birth_date", "phone", "timezone", "language",
                                                   "sms_consent", "procedure_at", "drugs")}
    messages = {p.column: p.message for p in report.problems}
    assert messages["family_name"] == "required"
    assert messages["procedure_at"].startswith("is in the past")
    assert "listed twice" in messages["drugs"]
    # The good rows are reported with what they would have done; none of them is stored.
    assert [(r.line, r.action) for r in report.rows] == [(2, "new patient"), (4, "new patient")]
    assert _count(session, Patient) == 0 and _count(session, Episode) == 0 and _count(session, Message) == 0


def test_a_row_gets_the_same_messages_as_the_api(session, env, staff) -> None:
    row = "D400,Di,Lane,1950-01-01,+1 212 555,America/New_York,en,yes,2027-03-14T02:30,,,,"
    report = _run(session, env, staff["coordinator"], row)
    with pytest.raises(ValidationError) as exc:
        enrol_patient(session, env, staff["coordinator"], dict(zip(si.COLUMNS[:8], row.split(",")[:8],
                                                                      strict=True)))
    mine = {p.column: p.message for p in report.problems}
    assert mine["phone"] == exc.value.errors["phone"]
    # 02:30 on 14 March 2027 does not exist in New York (clocks spring forward): never guessed.
    assert "offset" in mine["procedure_at"]


def test_lines_are_counted_in_the_file_across_quoted_line_breaks_and_blank_lines(session, env, staff) -> None:
    quoted = 'E500,"Eve Marie",Park,1951-05-05,+1 212 555 0105,,en,yes,2027-03-12T08:00,"North\nCenter",,,'
    report = _run(session, env, staff["coordinator"], quoted, "", BOB.replace("1948-07-01", "someday"))
    assert _problems(report) == {(5, "birth_date")}  # header 1, the row 2-3, blank 4


@pytest.mark.parametrize(("header", "column", "message"), [
    (HEADER + ",notes", "notes", "unknown column"),
    (HEADER.replace(",drugs", ""), "drugs", "missing column"),
    (HEADER.replace("levels", "facility"), "facility", "is listed twice"),
])
def test_unknown_missing_or_repeated_columns_are_an_error_on_line_1(session, env, staff, header, column,
                                                                    message) -> None:
    report = si.import_schedule(session, env, staff["coordinator"], _file(ANA, header=header))
    assert not report.ok and report.rows == ()
    assert any(p.line == 1 and p.column == column and p.message.startswith(message) for p in report.problems)
    assert _count(session, Patient) == 0


def test_an_empty_file_a_short_row_and_bytes_that_are_not_utf8_are_reported() -> None:
    assert si.parse_file(b"").problems[0].message.startswith("is empty")
    assert si.parse_file(b"\xff\xfe\x00mrn").problems[0].message.startswith("is not UTF-8")
    short = si.parse_file(f"{HEADER}\nA100,Ana\n".encode())
    assert [(p.line, p.column) for p in short.problems] == [(2, "row")]
    # A byte-order mark (Excel's "CSV UTF-8") and upper-case names are read.
    assert not si.parse_file(("\ufeff" + HEADER.upper() + "\n" + ANA + "\n").encode()).problems


def test_a_dry_run_reports_what_would_happen_and_stores_nothing(session, env, staff) -> None:
    report = _run(session, env, staff["coordinator"], ANA, BOB, dry_run=True)
    assert report.ok and report.dry_run and not report.applied
    assert [r.action for r in report.rows] == ["new patient", "new patient"]
    assert all(r.patient_id is None for r in report.rows)
    audited = session.scalars(select(AuditEvent.action)).all()
    assert _count(session, Patient) == 0 and not [a for a in audited if not a.startswith("user.")]


def test_a_new_time_reschedules_through_the_re_planning_never_a_second_episode(session, env, staff) -> None:
    _run(session, env, staff["coordinator"], ANA, BOB)
    moved = ANA.replace("2027-03-10T08:00", "2027-03-17T08:00")
    detail = BOB.replace("Dr. Lee", "Dr. Kim")
    dry = _run(session, env, staff["coordinator"], moved, detail, dry_run=True)
    assert [r.action for r in dry.rows] == ["reschedule", "details changed"]
    assert "reschedule: move 2027-03-10 08:00 CST -> 2027-03-17 08:00 CDT" in si.report_lines(dry)[0]
    report = _run(session, env, staff["coordinator"], moved, detail)
    assert report.ok
    ana = session.scalars(select(Patient).where(Patient.mrn == "A100")).one()
    session.refresh(ana)
    assert len(ana.episodes) == 1 and ana.episodes[0].procedure_at == datetime(2027, 3, 17, 13, 0, tzinfo=UTC)
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "episode.reschedule")).one()
    notices = session.scalars(select(Message).where(Message.episode_id == ana.episodes[0].id,
                                                    Message.kind == "date_changed")).all()
    assert len(notices) == 1  # the patient hears of the move, as after a move on the page
    bob = session.scalars(select(Patient).where(Patient.mrn == "B200")).one()
    assert bob.episodes[0].proceduralist == "Dr. Kim"


def test_a_cancelled_episode_gets_a_new_one(session, env, staff) -> None:
    _run(session, env, staff["coordinator"], BOB)
    bob = session.scalars(select(Patient).where(Patient.mrn == "B200")).one()
    ep.cancel_episode(session, env, staff["coordinator"], bob.episodes[0].id, {"reason": "patient unwell"})
    report = _run(session, env, staff["coordinator"], BOB)
    assert [r.action for r in report.rows] == ["new episode"]
    session.refresh(bob)
    assert [e.status for e in bob.episodes] == ["cancelled", "scheduled"]


def _sign_all(session, env, staff, mrn: str) -> Episode:
    patient = session.scalars(select(Patient).where(Patient.mrn == mrn)).one()
    episode = patient.episodes[0]
    for hold in episode.holds:
        ep.record_clearance(session, env, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. Ortiz"})
    return episode


def test_a_move_that_breaks_signed_holds_needs_confirmation_and_stores_nothing(session, env, staff) -> None:
    _run(session, env, staff["coordinator"], ANA, BOB)
    episode = _sign_all(session, env, staff, "A100")
    earlier = ANA.replace("2027-03-10T08:00", "2027-03-05T08:00")
    later_bob = BOB.replace("2027-03-11 09:30", "2027-03-18 09:30")
    before = [_count(session, m) for m in (Episode, Message, Task)]
    report = _run(session, env, staff["coordinator"], earlier, later_bob)
    assert not report.ok and not report.applied
    assert [(r.line, r.action) for r in report.rows] == [(2, "needs confirmation"), (3, "reschedule")]
    (problem,) = report.problems
    assert (problem.line, problem.column) == (2, "procedure_at")
    assert "confirmation" in problem.message and "clopidogrel" in problem.message.lower()
    session.refresh(episode)
    assert episode.procedure_at == datetime(2027, 3, 10, 14, 0, tzinfo=UTC)
    assert all(h.signed_at is not None for h in episode.holds)
    assert [_count(session, m) for m in (Episode, Message, Task)] == before
    bob = session.scalars(select(Patient).where(Patient.mrn == "B200")).one()
    assert bob.episodes[0].procedure_at == datetime(2027, 3, 11, 14, 30, tzinfo=UTC)  # the good row too


def test_confirmed_the_move_unsigns_the_holds_and_puts_them_on_the_worklist(session, env, staff) -> None:
    _run(session, env, staff["coordinator"], ANA)
    episode = _sign_all(session, env, staff, "A100")
    earlier = ANA.replace("2027-03-10T08:00", "2027-03-05T08:00")
    report = _run(session, env, staff["coordinator"], earlier, confirm_holds_at_risk=True)
    assert report.ok and [r.action for r in report.rows] == ["reschedule"]
    session.refresh(episode)
    assert episode.procedure_at == datetime(2027, 3, 5, 14, 0, tzinfo=UTC)
    assert all(h.signed_at is None and h.clearance == "requested" for h in episode.holds)
    kinds = session.scalars(select(Task.kind).where(Task.episode_id == episode.id)).all()
    assert kinds.count("hold_at_risk") == len(episode.holds)


def test_an_enrolled_mrn_keeps_its_details_and_a_different_birth_date_is_refused(session, env, staff) -> None:
    _run(session, env, staff["coordinator"], ANA)
    new_phone = ANA.replace("+1 312 555 0101", "+1 312 555 0199")
    report = _run(session, env, staff["coordinator"], new_phone)
    assert report.ok and report.rows[0].action == "unchanged"
    assert report.rows[0].notes and "phone" in report.rows[0].notes[0]
    assert session.scalars(select(Patient.phone).where(Patient.mrn == "A100")).one() == "+13125550101"
    other = _run(session, env, staff["coordinator"], ANA.replace("1950-02-03", "1950-02-04"))
    assert _problems(other) == {(2, "birth_date")}


def test_the_same_mrn_twice_in_a_file_is_refused(session, env, staff) -> None:
    report = _run(session, env, staff["coordinator"], ANA, ANA.replace("2027-03-10", "2027-03-20"))
    assert _problems(report) == {(3, "mrn")} and "line 2" in report.problems[0].message


def test_only_care_staff_import(session, env, staff) -> None:
    with pytest.raises(Forbidden):
        _run(session, env, staff["admin"], ANA)


def test_the_report_says_per_line_what_happens_and_why_nothing_was_stored(session, env, staff) -> None:
    report = _run(session, env, staff["coordinator"], ANA, BOB.replace("+1", "+44").replace("(212)", "(0)"))
    lines = si.report_lines(report)
    assert lines[0] == "line 2: MRN A100: new patient: 2027-03-10 08:00 CST"
    assert lines[1].startswith("line 3: MRN B200: phone: ")
    assert lines[-1].startswith("1 line(s) with problems: nothing was imported")


def test_a_large_file_is_parsed_in_order_with_its_line_numbers() -> None:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(si.COLUMNS)
    for i in range(500):
        w.writerow([f"M{i}", "A", "B", "1950-01-01", "+1 212 555 0100", "", "en", "no", "2027-03-10T08:00",
                    "", "", "", ""])
    parsed = si.parse_file(out.getvalue())
    assert [line for line, _ in parsed.rows] == list(range(2, 502))


def test_consent_in_the_file_that_differs_from_the_record_is_noted_not_changed(session, env, staff) -> None:
    _run(session, env, staff["coordinator"], BOB)  # no consent
    report = _run(session, env, staff["coordinator"], BOB.replace(",en,no,", ",en,yes,"))
    assert report.ok and report.rows[0].action == "unchanged" and "sms_consent" in report.rows[0].notes[0]
    assert session.scalars(select(Patient.sms_consent_at).where(Patient.mrn == "B200")).one() is None
