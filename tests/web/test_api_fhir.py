"""GET /api/v1/episodes/<id>/fhir (issue 14): the episode as a FHIR R4 Bundle, on SQLite and PostgreSQL.

Every resource is parsed with fhir.resources' R4B models and every reference must name an entry
of the same bundle (tests/fhir_check.py).
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

from pathway.dispatch.run import Dispatcher
from pathway.dispatch.settings import DispatchSettings
from pathway.services.fhir import RXNORM
from pathway.sms.console import ConsoleTransport
from tests.fhir_check import check_bundle
from tests.web.conftest_api import T0, Harness

HOLDS = [{"drug": "Plavix", "prescriber_name": "Dr. Ortiz"}, {"drug": "apixaban"},
         {"drug": "grandma's tea", "stop_days": 3, "restart_hours": 24}]


def _send_due_texts(api: Harness) -> int:
    """One dispatch pass through the console transport: texts due now become sent."""
    d = Dispatcher(sessions=api.runtime.sessions, transport=ConsoleTransport(io.StringIO(), clock=api.clock),
                   settings=DispatchSettings.from_config(api.runtime.config, None), rules=api.runtime.rules,
                   clock=api.clock, worker_id="fhir-test", sleep=lambda s: None)
    try:
        return d.dispatch_due().sent
    finally:
        d.close()


def _episode_with_everything(api: Harness, **patient: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    p = api.patient(**patient)
    e = api.episode(p["id"], holds=HOLDS, procedure_at="2027-03-10T08:00")
    plavix = next(h for h in e["holds"] if h["drug"] == "clopidogrel")
    assert api.post(f"/holds/{plavix['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"},
                    role="clinician").status == 200
    assert api.post(f"/episodes/{e['id']}/messages", {"body": "Please call us about your visit.",
                                                      "urgent": True}).status == 201
    assert _send_due_texts(api) >= 1  # the enrolment text and the one-off text go now
    assert api.post(f"/episodes/{e['id']}/follow-up", {"appointment_at": "2027-03-18T10:00"}).status == 200
    assert api.post(f"/episodes/{e['id']}/pt-start", {"appointment_at": "2027-03-25T10:00"}).status == 200
    return p, api.get(f"/episodes/{e['id']}").json


def _bundle(api: Harness, episode_id: int) -> dict[str, Any]:
    answer = api.get(f"/episodes/{episode_id}/fhir")
    assert answer.status == 200, answer
    assert answer.headers["Content-Type"].startswith("application/fhir+json")
    bundle: dict[str, Any] = answer.json
    return bundle


def test_the_bundle_holds_every_resource_each_valid_r4_and_every_reference_resolves(api: Harness) -> None:
    p, e = _episode_with_everything(api)
    by_type = check_bundle(_bundle(api, e["id"]))
    assert set(by_type) == {"Patient", "CarePlan", "Task", "Appointment", "MedicationStatement",
                            "CommunicationRequest", "Communication"}
    (patient,) = by_type["Patient"]
    assert patient["identifier"][0]["value"] == p["mrn"] and patient["birthDate"] == "1950-04-30"
    assert patient["name"][0] == {"use": "official", "family": p["family_name"], "given": ["Pat"]}
    assert patient["communication"][0]["language"]["coding"][0]["code"] == "en"
    (plan,) = by_type["CarePlan"]
    assert plan["status"] == "active" and plan["intent"] == "plan"
    tasks = {f"urn:uuid:{t['id']}": t for t in by_type["Task"]}
    assert len(tasks) == len(e["milestones"]) == len(plan["activity"])
    assert {a["reference"]["reference"] for a in plan["activity"]} == set(tasks)


def test_tasks_carry_status_and_due_time_or_window_and_hold_steps_point_at_their_medicine(api: Harness) -> None:
    _, e = _episode_with_everything(api)
    by_type = check_bundle(_bundle(api, e["id"]))
    tasks = {t["identifier"][0]["value"]: t for t in by_type["Task"]}
    meds = {f"urn:uuid:{m['id']}": m for m in by_type["MedicationStatement"]}
    for m in e["milestones"]:
        task = tasks[f"{m['kind']}:{'h' + str(m['hold_id']) if m['hold_id'] else ''}"]
        assert task["code"]["text"] == m["label"]
        assert task["status"] == {"planned": "requested", "due": "ready", "done": "completed",
                                  "missed": "failed", "cancelled": "cancelled"}[m["status"]]
        period = task.get("executionPeriod", {})
        if m["window_start"] or m["window_end"]:
            assert (_at(period.get("start")), _at(period.get("end"))) == (_at(m["window_start"]),
                                                                          _at(m["window_end"]))
        elif m["due_at"]:
            assert _at(period["end"]) == _at(m["due_at"])
        if m["hold_id"]:
            assert meds[task["focus"]["reference"]]["medicationCodeableConcept"]["text"]
    follow_up = tasks["follow_up:"]
    assert follow_up["executionPeriod"] == {"start": "2027-03-17T04:00:00+00:00", "end": "2027-03-21T04:00:00+00:00"}
    appointments = {f"urn:uuid:{a['id']}": a for a in by_type["Appointment"]}
    assert appointments[tasks["procedure:"]["focus"]["reference"]]["start"] == "2027-03-10T13:00:00+00:00"


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def test_each_hold_is_a_medication_statement_with_its_rxnorm_code_and_held_period(api: Harness) -> None:
    _, e = _episode_with_everything(api)
    by_type = check_bundle(_bundle(api, e["id"]))
    meds = {m["medicationCodeableConcept"]["text"]: m for m in by_type["MedicationStatement"]}
    holds = {h["drug_name"]: h for h in e["holds"]}
    assert set(meds) == set(holds)
    plavix = meds[holds["clopidogrel"]["drug_name"]]
    assert plavix["medicationCodeableConcept"]["coding"] == [{"system": RXNORM, "code": "32968",
                                                               "display": "clopidogrel"}]
    assert plavix["status"] == "on-hold"
    assert plavix["effectivePeriod"] == {"start": holds["clopidogrel"]["last_dose_on"],
                                         "end": holds["clopidogrel"]["restart_at"]}
    assert meds["apixaban"]["medicationCodeableConcept"]["coding"][0]["code"] == "1364430"
    tea = meds["grandma's tea"]
    assert "coding" not in tea["medicationCodeableConcept"]  # a drug the catalogue does not know: no code


def test_appointments_for_the_procedure_and_each_booked_visit(api: Harness) -> None:
    _, e = _episode_with_everything(api)
    by_type = check_bundle(_bundle(api, e["id"]))
    starts = sorted((a["start"], a["status"]) for a in by_type["Appointment"])
    assert starts == [("2027-03-10T13:00:00+00:00", "booked"), ("2027-03-18T14:00:00+00:00", "booked"),
                      ("2027-03-25T14:00:00+00:00", "booked")]
    for a in by_type["Appointment"]:
        assert a["end"] >= a["start"]
        assert a["participant"][0]["status"] == "accepted"


def test_texts_are_requests_until_sent_and_carry_no_words_without_detailed_texts(api: Harness) -> None:
    _, e = _episode_with_everything(api)
    by_type = check_bundle(_bundle(api, e["id"]))
    sent = by_type["Communication"]
    assert sorted(c["category"][0]["text"] for c in sent) == ["enrolment confirmation", "one-off text from staff"]
    assert all(c["sent"] == T0.isoformat() for c in sent)
    assert all(c["status"] == "completed" and c["medium"][0]["coding"][0]["code"] == "SMSWRIT" for c in sent)
    scheduled = [m for m in e["messages"] if m["status"] == "scheduled"]
    requests = [r for r in by_type["CommunicationRequest"] if r["status"] == "active"]
    assert len(requests) == len(scheduled) >= 1
    assert {r["occurrenceDateTime"] for r in requests} == {m["send_at"] for m in scheduled}
    assert not any("payload" in r for r in [*sent, *by_type["CommunicationRequest"]])


def test_a_patient_with_detailed_texts_gets_the_words_of_each_text(api: Harness) -> None:
    _, e = _episode_with_everything(api, detailed_texts=True)
    by_type = check_bundle(_bundle(api, e["id"]))
    bodies = [c["payload"][0]["contentString"] for c in by_type["Communication"]]
    assert "Please call us about your visit." in bodies
    assert all(r["payload"][0]["contentString"] for r in by_type["CommunicationRequest"])


def test_ids_are_stable_and_each_read_is_audited(api: Harness) -> None:
    _, e = _episode_with_everything(api)
    first = _bundle(api, e["id"])
    api.clock.set(T0 + timedelta(hours=1))
    second = _bundle(api, e["id"])
    assert [x["fullUrl"] for x in first["entry"]] == [x["fullUrl"] for x in second["entry"]]
    reads = [r for r in api.audit_actions(entity_id=e["id"]) if r[0] == "episode.fhir"]
    assert len(reads) == 2 and all(r[1] == "episode" and r[3] == e["patient_id"] for r in reads)


def test_a_cancelled_episode_is_a_revoked_care_plan_with_cancelled_tasks(api: Harness) -> None:
    e = api.episode(holds=[{"drug": "warfarin"}])
    assert api.post(f"/episodes/{e['id']}/cancel", {"reason": "patient asked"}).status == 200
    by_type = check_bundle(_bundle(api, e["id"]))
    assert by_type["CarePlan"][0]["status"] == "revoked"
    assert {a["status"] for a in by_type["Appointment"]} == {"cancelled"}
    med = by_type["MedicationStatement"][0]
    assert med["medicationCodeableConcept"]["coding"][0]["code"] == "11289"
    assert med["status"] == "unknown" and med["statusReason"][0]["text"] == "procedure cancelled"
    assert {t["status"] for t in by_type["Task"]} <= {"cancelled", "completed"}


def test_each_observation_is_coded_with_loinc_where_one_exists_and_points_at_its_hold(api: Harness) -> None:
    _, e = _episode_with_everything(api)
    plavix = next(h for h in e["holds"] if h["drug"] == "clopidogrel")
    for body in ({"code": "nprs", "value": 7, "time_point": "baseline"},
                 {"code": "stopped_medicine", "value": 1, "hold_id": plavix["id"]},
                 {"code": "walk_minutes", "value": 15, "time_point": "baseline"}):
        assert api.post(f"/episodes/{e['id']}/observations", body).status == 201
    by_type = check_bundle(_bundle(api, e["id"]))
    found = {o["identifier"][0]["value"]: o for o in by_type["Observation"]}
    assert set(found) == {"nprs", "stopped_medicine", "walk_minutes"}
    pain = found["nprs"]
    assert pain["code"]["coding"] == [{"system": "http://loinc.org", "code": "72514-3"}]
    assert pain["valueQuantity"] == {"value": 7, "unit": "points"} and pain["status"] == "final"
    assert pain["note"] == [{"text": "time point: baseline"}]
    assert "coding" not in found["walk_minutes"]["code"]  # no LOINC code we are sure of: the label only
    meds = {f"urn:uuid:{m['id']}": m for m in by_type["MedicationStatement"]}
    (focus,) = found["stopped_medicine"]["focus"]
    assert meds[focus["reference"]]["medicationCodeableConcept"]["coding"][0]["code"] == "32968"


def test_a_pain_score_answered_by_text_is_derived_from_the_question_text(api: Harness) -> None:
    import uuid

    from pathway.services.replies import receive_reply

    p = api.patient()
    e = api.episode(p["id"], procedure_at="2027-02-02T08:00")
    api.clock.set(datetime.fromisoformat("2027-02-05T14:00:00+00:00"))  # the 72-hour check asks for pain
    assert _send_due_texts(api) >= 1
    with api.runtime.unit_of_work() as (session, env):
        receive_reply(session, env, from_number=p["phone"], body="3", provider_id=f"SM{uuid.uuid4().hex}")
    by_type = check_bundle(_bundle(api, e["id"]))
    (pain,) = by_type["Observation"]
    assert pain["valueQuantity"]["value"] == 3 and pain["method"]["text"] == "patient's answer by text"
    sent = {f"urn:uuid:{c['id']}": c for c in by_type["Communication"]}
    (source,) = pain["derivedFrom"]
    assert sent[source["reference"]]["category"][0]["text"] == "72-hour check"


def test_outcomes_export_by_label_with_their_method_and_a_replaced_value_is_left_out(api: Harness) -> None:
    _, e = _episode_with_everything(api)
    for body in ({"time_point": "visit", "measure": "odi", "value": 42, "source": "visit"},
                 {"time_point": "visit", "measure": "zcq_symptom", "value": 3.25, "source": "visit"},
                 {"time_point": "6w", "measure": "stand_minutes", "value": 20, "source": "phone"},
                 {"time_point": "6w", "measure": "stand_minutes", "value": 25, "source": "phone"},
                 {"time_point": "6w", "measure": "global_change", "value": 2, "source": "sms"}):
        assert api.post(f"/episodes/{e['id']}/outcomes", body).status == 201
    by_type = check_bundle(_bundle(api, e["id"]))
    found = [(o["identifier"][0]["value"], o) for o in by_type["Observation"]]
    assert sorted(code for code, _ in found) == ["global_change", "odi", "stand_minutes", "zcq_symptom"]
    odi = dict(found)["odi"]
    assert odi["code"] == {"text": "Oswestry Disability Index (0-100)"}  # no LOINC confirmed: the label
    assert odi["method"]["text"] == "measured or asked at a clinic visit"
    assert dict(found)["zcq_symptom"]["valueQuantity"] == {"value": 3.25, "unit": "points"}
    standing = dict(found)["stand_minutes"]
    assert standing["valueQuantity"]["value"] == 25 and standing["method"]["text"] == "asked on a telephone call"
    assert standing["note"] == [{"text": "time point: 6w"}]
