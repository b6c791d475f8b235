"""Through the API: a hold's patient_label, each text's body and segments, texts that cannot be confused."""

from __future__ import annotations

import pytest

from tests.services.test_hold_texts import stripped
from tests.web.conftest_api import Harness


def _signed_episode(api: Harness, lang: str, holds: list[dict[str, str]]) -> dict:
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
    texts = [m for m in e["messages"] if m["kind"] in ("last_dose", "restart") and m["status"] == "scheduled"]
    assert len(texts) == 3  # two last-dose days, one shared restart
    assert all(m["body"] and m["segments"] >= 1 for m in e["messages"])
    read = [(m["kind"], stripped(m["body"])) for m in texts]
    assert len(set(read)) == len(read)
    assert any("Plavix" in m["body"] for m in texts if m["kind"] == "last_dose")
    (restart,) = [m for m in texts if m["kind"] == "restart"]
    assert "Plavix" in restart["body"] and ("blood thinner" in restart["body"] or "anticoagulante" in restart["body"])


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
