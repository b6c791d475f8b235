"""Through the API: a hold's patient_label, each text's body and segments, texts that cannot be confused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.services.test_hold_texts import stripped
from tests.web.conftest_api import Harness


def _signed_episode(api: Harness, lang: str, holds: list[dict[str, str]]) -> dict:
    """The episode's answer once every hold is approved and signed (before the procedure)."""
    patient = api.patient(language=lang)
    e = api.episode(patient["id"], holds=holds)
    for hold in e["holds"]:
        answer = api.post(f"/holds/{hold['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"},
                          role="clinician")
        assert answer.status == 200, answer
    answer = api.get(f"/episodes/{e['id']}")
    assert answer.status == 200
    return answer.json


@pytest.mark.parametrize("lang", ["en", "es"])
def test_two_holds_through_the_api_give_distinguishable_texts_with_bodies_and_segments(
    api: Harness, lang: str
) -> None:
    e = _signed_episode(api, lang, [{"drug": "apixaban"}, {"drug": "clopidogrel", "patient_label": "Plavix"}])
    assert [h["patient_label"] for h in e["holds"]] == [None, "Plavix"]
    lasts = [m for m in e["messages"] if m["kind"] == "last_dose" and m["status"] == "scheduled"]
    assert not any(m["kind"] == "restart" for m in e["messages"])  # the restart texts wait for the end
    api.clock.set(datetime(2027, 3, 10, 17, 0, tzinfo=UTC))
    ended = api.post(f"/episodes/{e['id']}/procedure-end", {"ended_at": "2027-03-10T09:00"})
    assert ended.status == 200, ended
    e = ended.json
    texts = lasts + [m for m in e["messages"] if m["kind"] == "restart" and m["status"] == "scheduled"]
    assert len(texts) == 4  # a last-dose and a restart text per medicine, each naming it
    assert all(m["body"] and m["segments"] >= 1 for m in e["messages"])
    read = [(m["kind"], stripped(m["body"])) for m in texts]
    assert len(set(read)) == len(read)
    assert any("Plavix" in m["body"] for m in texts if m["kind"] == "last_dose")
    restarts = [m["body"] for m in texts if m["kind"] == "restart"]
    assert any("Plavix" in b for b in restarts)
    assert any("blood thinner" in b or "anticoagulante" in b for b in restarts)


def test_a_label_over_40_characters_is_refused_naming_the_field(api: Harness) -> None:
    patient = api.patient()
    answer = api.post(f"/patients/{patient['id']}/episodes",
                      {"procedure_at": "2027-03-10T08:00", "holds": [{"drug": "apixaban", "patient_label": "x" * 41}]})
    assert answer.status == 422 and "holds[0].patient_label" in answer.errors


def test_the_worklist_asks_for_a_missing_procedure_end(api: Harness) -> None:
    from datetime import UTC, datetime

    e = api.episode(holds=[{"drug": "apixaban"}])
    api.clock.set(datetime(2027, 3, 10, 16, 5, tzinfo=UTC))
    items = api.get("/worklist").json["items"]
    assert any(i["kind"] == "procedure_end_missing" and i["episode_id"] == e["id"] for i in items)


def test_a_clearance_signed_on_the_dst_last_dose_day_texts_at_once_or_too_late_asks_for_a_call(
    api: Harness,
) -> None:
    from datetime import UTC, datetime

    # Procedure Thu Mar 18 2027; apixaban 3 days: last dose Sun Mar 14, the day US clocks spring forward.
    e = api.episode(procedure_at="2027-03-18T08:00", holds=[{"drug": "apixaban"}])
    hold = e["holds"][0]
    assert hold["last_dose_on"] == "2027-03-14"
    api.clock.set(datetime(2027, 3, 14, 23, 0, tzinfo=UTC))  # 19:00 EDT, still the last-dose day
    signed = api.post(f"/holds/{hold['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"}, role="clinician")
    assert signed.status == 200, signed
    episode = api.get(f"/episodes/{e['id']}").json
    (text,) = [m for m in episode["messages"] if m["kind"] == "last_dose"]
    assert text["send_at"].startswith("2027-03-14T23:00")  # at once
    items = api.get("/worklist").json["items"]
    assert not any(i["kind"] == "last_dose_not_texted" and i["episode_id"] == e["id"] for i in items)

    other = api.episode(procedure_at="2027-03-18T08:00", holds=[{"drug": "apixaban"}])
    api.clock.set(datetime(2027, 3, 15, 0, 30, tzinfo=UTC))  # 20:30 EDT: quiet hours until the day is over
    signed = api.post(f"/holds/{other['holds'][0]['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"},
                      role="clinician")
    assert signed.status == 200, signed
    episode = api.get(f"/episodes/{other['id']}").json
    assert not [m for m in episode["messages"] if m["kind"] == "last_dose"]
    items = api.get("/worklist").json["items"]
    assert any(i["kind"] == "last_dose_not_texted" and i["episode_id"] == other["id"] for i in items)


def test_a_clearance_signed_after_the_last_dose_day_sends_no_last_dose_text(api: Harness) -> None:
    from datetime import UTC, datetime

    e = api.episode(holds=[{"drug": "apixaban"}])  # last dose Sat Mar 6
    hold = e["holds"][0]
    api.clock.set(datetime(2027, 3, 7, 15, 0, tzinfo=UTC))
    signed = api.post(f"/holds/{hold['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"}, role="clinician")
    assert signed.status == 200, signed
    assert signed.json["signed_at"] > signed.json["last_dose_on"]  # what hold_started_late compares
    episode = api.get(f"/episodes/{e['id']}").json
    assert not [m for m in episode["messages"] if m["kind"] == "last_dose"]
