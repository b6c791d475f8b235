"""Texts about held medicines cannot be confused: each names its medicine; one per moment."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from pathway.models import Message
from pathway.services import episodes as ep
from pathway.services.answers import episode_now
from pathway.services.answers import hold as hold_answer
from pathway.services.base import ValidationError
from pathway.timeline.texts import segments
from tests.conftest import at

HOLD_KINDS = ("last_dose", "restart")
_DATE_WORDS = re.compile(
    r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|AM|PM|"
    r"lun|mar|mié|jue|vie|sáb|dom|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|"
    r"octubre|noviembre|diciembre)\b")


def stripped(body: str) -> str:
    """The text with dates, times and numbers removed: what is left must tell medicines apart."""
    body = re.sub(r"\+?[\d][\d\s().:-]*", "", body)
    return re.sub(r"\s+", " ", _DATE_WORDS.sub("", body)).strip()


def _sign_all(session, env, staff, e) -> None:
    for hold in e.holds:
        ep.record_clearance(session, env, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. Ortiz"})


def _hold_texts(session, e) -> list[Message]:
    kinds = (*HOLD_KINDS, "stop_confirm")
    rows = session.scalars(select(Message).where(Message.episode_id == e.id, Message.kind.in_(kinds),
                                                 Message.status == "scheduled").order_by(Message.send_at))
    return list(rows)


def _assert_distinguishable(texts: list[Message]) -> None:
    by_words: dict[tuple[str, str], str] = {}
    for msg in texts:
        key = (msg.kind, stripped(msg.body))
        assert key not in by_words, f"two {msg.kind} texts read alike:\n{by_words.get(key)}\n{msg.body}"
        by_words[key] = msg.body


def _texts_before_and_after_the_end(session, env, staff, e) -> list[Message]:
    """Every text about the holds: the last-dose texts, planned once signed, and the restart
    texts, planned once the procedure's end is recorded (Wed Mar 10, 09:00 New York)."""
    lasts = [m for m in _hold_texts(session, e) if m.kind == "last_dose"]
    assert not any(m.kind == "restart" for m in _hold_texts(session, e))  # not before the end
    noon = at(env, datetime.fromisoformat("2027-03-10T17:00:00+00:00"))
    ep.record_procedure_end(session, noon, staff["coordinator"], e.id, {"ended_at": "2027-03-10T09:00"})
    return lasts + [m for m in _hold_texts(session, e) if m.kind == "restart"]


def _episode(make_patient, make_episode, lang: str, holds: list[dict[str, str]], detailed: bool = False):
    patient = make_patient(data={"language": lang, "detailed_texts": detailed})
    return make_episode(patient=patient, holds=holds)


CASES = {
    # different last-dose days (3 and 7 days), the same restart instant (24 h)
    "anticoagulant+antiplatelet": [{"drug": "apixaban"}, {"drug": "clopidogrel"}],
    # the same last-dose day (5 days), different restarts (6 h, 24 h)
    "same day": [{"drug": "warfarin"}, {"drug": "ticagrelor"}],
    # two NSAIDs, same day, told apart by what the patient calls them
    "two NSAIDs with labels": [{"drug": "naproxen", "patient_label": "Aleve"},
                               {"drug": "meloxicam", "patient_label": "the small yellow pill"}],
    # two NSAIDs, no labels: the drug names must tell them apart
    "two NSAIDs without labels": [{"drug": "ibuprofen"}, {"drug": "diclofenac"}],
}


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_two_holds_give_texts_that_cannot_be_confused(
    session, env, staff, make_patient, make_episode, lang: str, case: str
) -> None:
    e = _episode(make_patient, make_episode, lang, CASES[case])
    _sign_all(session, env, staff, e)
    texts = _texts_before_and_after_the_end(session, env, staff, e)
    assert {m.kind for m in texts} == set(HOLD_KINDS)
    _assert_distinguishable(texts)
    # every hold is named by a last-dose text and a restart text
    for kind in HOLD_KINDS:
        named = [m for m in texts if m.kind == kind]
        assert sum(len(m.plan_key.split(":")[1].split("+")) for m in named) == 2
    for msg in texts:
        assert segments(msg.body).segments <= 3, msg.body
        print(f"\n[{case} / {lang}] {msg.kind} ({segments(msg.body).segments} seg): {msg.body}")


def test_each_medicine_due_the_same_day_gets_its_own_text_naming_it(
    session, env, staff, make_patient, make_episode
) -> None:
    e = _episode(make_patient, make_episode, "en", CASES["same day"])
    _sign_all(session, env, staff, e)
    lasts = sorted(m.body for m in _hold_texts(session, e) if m.kind == "last_dose")
    assert len(lasts) == 2
    assert ["anti-platelet medicine" in b for b in lasts].count(True) == 1
    assert ["your blood thinner" in b for b in lasts].count(True) == 1


def test_spanish_texts_use_the_spanish_group_terms(session, env, staff, make_patient, make_episode) -> None:
    e = _episode(make_patient, make_episode, "es", CASES["anticoagulant+antiplatelet"])
    _sign_all(session, env, staff, e)
    texts = _texts_before_and_after_the_end(session, env, staff, e)
    for kind in HOLD_KINDS:
        bodies = [m.body for m in texts if m.kind == kind]
        assert any("su anticoagulante" in b for b in bodies) and any("su antiplaquetario" in b for b in bodies)


def test_a_label_names_the_medicine_and_is_answered(session, env, staff, make_patient, make_episode) -> None:
    e = _episode(make_patient, make_episode, "en", CASES["two NSAIDs with labels"])
    assert [hold_answer(h).patient_label for h in e.holds] == ["Aleve", "the small yellow pill"]
    _sign_all(session, env, staff, e)
    lasts = [m.body for m in _hold_texts(session, e) if m.kind == "last_dose"]
    assert any("last dose of Aleve on" in b for b in lasts)
    assert any("last dose of the small yellow pill on" in b for b in lasts)
    assert not any("naproxen" in b or "meloxicam" in b for b in lasts)  # default texts: no drug names


def test_two_unlabelled_medicines_of_one_group_fall_back_to_their_names(
    session, env, staff, make_patient, make_episode
) -> None:
    e = _episode(make_patient, make_episode, "en", CASES["two NSAIDs without labels"])
    _sign_all(session, env, staff, e)
    bodies = " ".join(m.body for m in _hold_texts(session, e))
    assert "ibuprofen" in bodies and "diclofenac" in bodies


def test_one_hold_still_reads_your_blood_thinner(session, env, staff, make_patient, make_episode) -> None:
    e = _episode(make_patient, make_episode, "en", [{"drug": "apixaban"}])
    _sign_all(session, env, staff, e)
    bodies = [m.body for m in _hold_texts(session, e)]
    assert bodies and all("your blood thinner" in b for b in bodies)


def test_detailed_texts_name_the_drug_and_the_label(session, env, staff, make_patient, make_episode) -> None:
    e = _episode(make_patient, make_episode, "en", [{"drug": "clopidogrel", "patient_label": "Plavix"}],
                 detailed=True)
    _sign_all(session, env, staff, e)
    assert all("Plavix (clopidogrel)" in m.body for m in _hold_texts(session, e))


@pytest.mark.parametrize("label", ["x" * 41, "line\nbreak", "tab\there"])
def test_a_label_too_long_or_with_control_characters_is_refused(make_episode, label: str) -> None:
    with pytest.raises(ValidationError) as err:
        make_episode(holds=[{"drug": "apixaban", "patient_label": label}])
    assert "holds[0].patient_label" in err.value.errors


def test_the_episode_answer_carries_each_texts_body_and_segments(
    session, env, staff, make_patient, make_episode
) -> None:
    e = _episode(make_patient, make_episode, "es", CASES["same day"])
    _sign_all(session, env, staff, e)
    answer = episode_now(session, env, e)
    stored = {m.id: m.body for m in session.scalars(select(Message).where(Message.episode_id == e.id))}
    assert answer.messages
    for msg in answer.messages:
        assert msg.body == stored[msg.id]
        assert msg.segments == segments(msg.body).segments >= 1


# --- late signatures ------------------------------------------------------------------------
# A last-dose text whose hold was signed after its time goes at once until the last-dose day
# ends (quiet hours still apply); when quiet hours leave no time that day, a person must call.


def test_a_hold_signed_too_late_in_its_last_dose_day_for_a_text_gets_a_call(
    session, env, staff, make_patient, make_episode
) -> None:
    from pathway.services.worklist import worklist

    e = _episode(make_patient, make_episode, "en", [{"drug": "apixaban"}])
    (hold,) = e.holds
    on_the_day = at(env, datetime.fromisoformat("2027-03-07T02:00:00+00:00"))  # Sat 21:00 local
    ep.record_clearance(session, on_the_day, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. O"})
    assert [m for m in _hold_texts(session, e) if m.kind == "last_dose"] == []
    items = [i for i in worklist(session, on_the_day, staff["coordinator"]) if i.kind == "last_dose_not_texted"]
    assert [i.subject_id for i in items] == [hold.id]


def _last_dose_texts(session, e) -> list[Message]:
    return [m for m in _hold_texts(session, e) if m.kind == "last_dose"]


def test_a_clearance_signed_on_the_last_dose_day_sends_the_text_at_once(
    session, env, staff, make_patient, make_episode
) -> None:
    # Procedure Wed Mar 10; apixaban 3 days: last dose Sat Mar 6 (New York).
    e = _episode(make_patient, make_episode, "en", [{"drug": "apixaban"}])
    (hold,) = e.holds
    assert hold.last_dose_on.isoformat() == "2027-03-06"
    on_the_day = at(env, datetime.fromisoformat("2027-03-06T15:30:00+00:00"))  # 10:30 local
    ep.record_clearance(session, on_the_day, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. O"})
    (text,) = _last_dose_texts(session, e)
    assert text.send_at == on_the_day.now
    assert hold.signed_at is not None and hold.signed_at.date() == hold.last_dose_on  # hold_started_late data


def test_a_clearance_signed_late_on_the_day_waits_for_quiet_hours_to_end_only_within_the_day(
    session, env, staff, make_patient, make_episode
) -> None:
    e = _episode(make_patient, make_episode, "en", [{"drug": "apixaban"}])
    (hold,) = e.holds
    evening = at(env, datetime.fromisoformat("2027-03-07T02:00:00+00:00"))  # Sat 21:00 local
    ep.record_clearance(session, evening, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. O"})
    assert _last_dose_texts(session, e) == []  # the next allowed time is tomorrow: too late


def test_a_clearance_signed_after_the_last_dose_day_sends_no_last_dose_text(
    session, env, staff, make_patient, make_episode
) -> None:
    e = _episode(make_patient, make_episode, "en", [{"drug": "apixaban"}])
    (hold,) = e.holds
    later = at(env, datetime.fromisoformat("2027-03-07T15:00:00+00:00"))
    ep.record_clearance(session, later, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. O"})
    assert _last_dose_texts(session, e) == []
    assert hold.signed_at.date() > hold.last_dose_on  # what the go/no-go's hold_started_late reads


def test_signed_on_the_last_dose_day_across_the_spring_dst_change(
    session, env, staff, make_patient, make_episode
) -> None:
    # US clocks spring forward Sun Mar 14 2027 at 02:00. Procedure Thu Mar 18, apixaban (3 days):
    # last dose Sun Mar 14, a 23-hour day; the day ends at local midnight, not 24 h after it began.
    e = make_episode(patient=make_patient(), procedure_at="2027-03-18T08:00",
                     holds=[{"drug": "apixaban"}])
    (hold,) = e.holds
    assert hold.last_dose_on.isoformat() == "2027-03-14"  # the DST day
    evening = at(env, datetime.fromisoformat("2027-03-14T23:00:00+00:00"))  # 19:00 EDT (UTC-4)
    ep.record_clearance(session, evening, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. O"})
    (text,) = _last_dose_texts(session, e)
    assert text.send_at == evening.now
    too_late = at(env, datetime.fromisoformat("2027-03-15T00:30:00+00:00"))  # 20:30 EDT: quiet hours
    other = make_episode(patient=make_patient(), procedure_at="2027-03-18T08:00", holds=[{"drug": "apixaban"}])
    ep.record_clearance(session, too_late, staff["clinician"], other.holds[0].id,
                        {"status": "approved", "by": "Dr. O"})
    assert _last_dose_texts(session, other) == []
    assert timedelta(0) < text.send_at - env.now


# --- missing procedure ends -----------------------------------------------------------------


def _end_missing(session, env, staff, episode_id: int) -> list:
    from pathway.services.worklist import worklist

    return [i for i in worklist(session, env, staff["coordinator"])
            if i.kind == "procedure_end_missing" and i.episode_id == episode_id]


def test_a_procedure_end_missing_two_hours_after_the_expected_end_goes_on_the_worklist(
    session, env, staff, make_patient, make_episode, rules
) -> None:
    assert rules.definition.end_missing_after == timedelta(hours=2)  # mild_pathway.toml, clinic policy
    e = _episode(make_patient, make_episode, "en", [{"drug": "apixaban"}])
    # Procedure Wed Mar 10 08:00 New York (13:00 UTC), expected to end 14:00 UTC.
    assert _end_missing(session, at(env, datetime.fromisoformat("2027-03-10T15:59:00+00:00")), staff, e.id) == []
    late = at(env, datetime.fromisoformat("2027-03-10T16:00:00+00:00"))
    (item,) = _end_missing(session, late, staff, e.id)
    assert item.due_at == datetime.fromisoformat("2027-03-10T16:00:00+00:00")
    assert "restart text for each held medicine is held until the procedure's end is recorded" in item.detail
    ep.record_procedure_end(session, late, staff["coordinator"], e.id, {"ended_at": "2027-03-10T10:30"})
    assert _end_missing(session, late, staff, e.id) == []


def test_the_restart_text_is_planned_from_the_recorded_end(session, env, staff, make_patient, make_episode) -> None:
    e = _episode(make_patient, make_episode, "en", CASES["anticoagulant+antiplatelet"])
    _sign_all(session, env, staff, e)
    late = at(env, datetime.fromisoformat("2027-03-10T17:00:00+00:00"))
    ep.record_procedure_end(session, late, staff["coordinator"], e.id, {"ended_at": "2027-03-10T11:15"})
    restarts = [m for m in _hold_texts(session, e) if m.kind == "restart"]
    assert {m.send_at for m in restarts} == {datetime.fromisoformat("2027-03-11T16:15:00+00:00")}  # end + 24 h
    assert len(restarts) == 2


def test_unsent_texts_are_re_rendered_when_a_medicines_name_changes(
    session, env, staff, make_patient, make_episode
) -> None:
    from pathway.services.planning import compute_diff, hold_words, replan

    e = _episode(make_patient, make_episode, "en", [{"drug": "apixaban"}])
    _sign_all(session, env, staff, e)
    (hold,) = e.holds
    assert hold_words(env, hold, e.patient) == "your blood thinner"
    before = {m.plan_key: m.body for m in _hold_texts(session, e)}
    hold.patient_label = "Eliquis"
    preview = compute_diff(session, env, e)
    # The last-dose text and the stop question; the restart waits.
    assert {rm.plan_key for rm in preview.reworded} == set(before)
    assert [rm.body_before for rm in preview.reworded] == [before[rm.plan_key] for rm in preview.reworded]
    assert all("Eliquis" in rm.body_after for rm in preview.reworded)
    assert not preview.messages_cancelled and not preview.messages_added  # same times: words only
    assert all("Eliquis" not in m.body for m in _hold_texts(session, e))  # a preview changes nothing
    diff = replan(session, env, staff["coordinator"], e, reason="label changed")
    assert len(diff.reworded) == 2
    session.expire_all()
    assert all("Eliquis" in m.body for m in _hold_texts(session, e))
    assert compute_diff(session, env, e).is_empty  # applied: nothing left to reword
    restarts = [m for m in _texts_before_and_after_the_end(session, env, staff, e) if m.kind == "restart"]
    assert len(restarts) == 1 and "Eliquis" in restarts[0].body


def test_rewording_leaves_a_text_a_worker_has_claimed_as_it_was_claimed(
    session, env, staff, make_patient, make_episode
) -> None:
    from sqlalchemy import update

    from pathway.models import Message
    from pathway.services.planning import compute_diff, episode_messages, reword

    e = _episode(make_patient, make_episode, "en", [{"drug": "apixaban"}, {"drug": "rivaroxaban"}])
    _sign_all(session, env, staff, e)
    for hold in e.holds:
        hold.patient_label = "Eliquis" if hold.drug_key == "apixaban" else "Xarelto"
    diff = compute_diff(session, env, e)
    assert len(diff.reworded) == 4  # each medicine's last-dose text and stop question
    claimed = diff.reworded[0].plan_key
    # A worker claims one text between the diff and its application (its own conditional UPDATE).
    session.execute(update(Message).where(Message.plan_key == claimed).values(status="sending"))
    assert reword(session, env, e, diff.reworded) == len(diff.reworded) - 1
    session.expire_all()
    bodies = {m.plan_key: m.body for m in episode_messages(session, e)
              if m.kind in ("last_dose", "restart", "stop_confirm")}
    assert "Eliquis" not in bodies[claimed] and "Xarelto" not in bodies[claimed]
    others = [b for k, b in bodies.items() if k != claimed]
    assert others and all("Eliquis" in b or "Xarelto" in b for b in others)


def test_a_hold_signed_too_late_for_a_text_on_its_last_dose_day_goes_on_the_worklist(
    session, env, staff, make_patient, make_episode
) -> None:
    from pathway.services.worklist import worklist

    e = _episode(make_patient, make_episode, "en", [{"drug": "apixaban"}, {"drug": "clopidogrel"}])
    apixaban, clopidogrel = e.holds
    ep.record_clearance(session, env, staff["clinician"], clopidogrel.id, {"status": "approved", "by": "Dr. O"})
    evening = at(env, datetime.fromisoformat("2027-03-07T02:00:00+00:00"))  # Sat Mar 6 21:00 New York
    ep.record_clearance(session, evening, staff["clinician"], apixaban.id, {"status": "approved", "by": "Dr. O"})
    items = [i for i in worklist(session, evening, staff["coordinator"]) if i.kind == "last_dose_not_texted"]
    assert [(i.subject_id, i.action) for i in items] == [(apixaban.id, "Call patient")]  # clopidogrel was texted
