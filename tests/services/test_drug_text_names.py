"""Texts that name a drug use its plain generic name in the patient's language ("apixabán"),
never the staff row name ("aspirin (secondary prevention)"); free-text drugs keep their typed
name; two regimens of one drug are one medicine to the patient."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from pathway.models import Message
from pathway.services import episodes as ep
from pathway.services.base import ValidationError
from pathway.services.planning import hold_plan_sheet
from tests.conftest import at

STAFF_WORDS = ("prevention", "prophylactic", "therapeutic", "renal", "(IV)", "subcutaneous")


def _texts(session, e, kinds=("last_dose", "restart")) -> list[str]:
    rows = session.scalars(select(Message).where(Message.episode_id == e.id, Message.kind.in_(kinds),
                                                 Message.status == "scheduled").order_by(Message.send_at))
    return [m.body for m in rows]


def _sign(session, env, staff, e, **plan) -> None:
    for hold in e.holds:
        ep.record_clearance(session, env, staff["clinician"], hold.id,
                            {"status": "approved", "by": "Dr. Ortiz", **plan})


def _end(session, env, staff, e) -> None:
    noon = at(env, datetime.fromisoformat("2027-03-10T17:00:00+00:00"))
    ep.record_procedure_end(session, noon, staff["coordinator"], e.id, {"ended_at": "2027-03-10T09:00"})


@pytest.mark.parametrize(("lang", "names"), [
    ("en", ("apixaban", "enoxaparin", "dabigatran")),
    ("es", ("apixabán", "enoxaparina", "dabigatrán")),
])
def test_detailed_texts_name_the_plain_generic_in_the_patients_language(
    session, env, staff, make_patient, make_episode, lang: str, names: tuple[str, ...]
) -> None:
    patient = make_patient(data={"language": lang, "detailed_texts": True})
    e = make_episode(patient=patient, holds=[{"drug": "apixaban"}, {"drug": "enoxaparin-prophylactic"},
                                             {"drug": "dabigatran-renal"}])
    _sign(session, env, staff, e)
    lasts = _texts(session, e, ("last_dose",))
    _end(session, env, staff, e)
    restarts = _texts(session, e, ("restart",))
    assert lasts and restarts
    for body in lasts + restarts:
        print(f"\n[{lang}] {body}")
        assert not any(word in body for word in STAFF_WORDS), body
    for name in names:
        assert any(name in b for b in lasts), name
        assert any(name in b for b in restarts), name


def test_spanish_detailed_texts_name_aspirin_in_spanish(session, env, staff, make_patient, make_episode) -> None:
    patient = make_patient(data={"language": "es", "detailed_texts": True})
    e = make_episode(patient=patient, holds=[{"drug": "aspirin-primary"}])
    _sign(session, env, staff, e)
    (body,) = _texts(session, e, ("last_dose",))
    print(body)
    assert "aspirina" in body and "aspirin " not in body and "primary" not in body


def test_a_free_text_drug_keeps_its_typed_name(session, env, staff, make_patient, make_episode) -> None:
    patient = make_patient(data={"language": "es", "detailed_texts": True})
    e = make_episode(patient=patient, holds=[{"drug": "Turmeric capsules"}])
    _sign(session, env, staff, e, stop_days=7, restart_hours=24)
    (body,) = _texts(session, e, ("last_dose",))
    assert "Turmeric capsules" in body


@pytest.mark.parametrize(("lang", "names"), [("en", ("ibuprofen", "naproxen")),
                                             ("es", ("ibuprofeno", "naproxeno"))])
def test_two_medicines_that_read_alike_fall_back_to_the_generic_in_the_patients_language(
    session, env, staff, make_patient, make_episode, lang: str, names: tuple[str, ...]
) -> None:
    patient = make_patient(data={"language": lang})  # default texts
    e = make_episode(patient=patient, holds=[{"drug": "ibuprofen"}, {"drug": "naproxen"}])
    _sign(session, env, staff, e)
    bodies = _texts(session, e, ("last_dose",))
    for body in bodies:
        print(f"\n[{lang}] {body}")
    for name in names:
        assert sum(name in b for b in bodies) == 1, name


def test_two_regimens_of_one_drug_cannot_both_be_held(make_episode) -> None:
    with pytest.raises(ValidationError) as err:
        make_episode(holds=[{"drug": "aspirin-primary"}, {"drug": "aspirin-secondary"}])
    (message,) = err.value.errors.values()
    assert "aspirin-secondary is aspirin, already listed" in message


def test_adding_another_regimen_of_a_held_drug_is_refused(session, env, staff, make_episode) -> None:
    e = make_episode(holds=[{"drug": "enoxaparin-prophylactic"}])
    with pytest.raises(ValidationError) as err:
        ep.add_hold(session, env, staff["coordinator"], e.id, {"drug": "enoxaparin-therapeutic"})
    assert "same medicine to the patient" in err.value.errors["drug"]
    assert [h.drug_key for h in e.holds] == ["enoxaparin-prophylactic"]


@pytest.mark.parametrize(("lang", "names"), [("en", {"apixaban", "aspirin"}), ("es", {"apixabán", "aspirina"})])
def test_the_hold_plan_prints_the_generic_in_the_patients_language(
    session, env, staff, make_patient, make_episode, lang: str, names: set[str]
) -> None:
    e = make_episode(patient=make_patient(data={"language": lang}),
                     holds=[{"drug": "apixaban"}, {"drug": "aspirin-secondary"}])
    rows = hold_plan_sheet(session, env, staff["coordinator"], e.id).rows
    assert {r.text_name for r in rows} == names
    assert "aspirin (secondary prevention)" in [r.drug_name for r in rows]  # the staff name, for staff
