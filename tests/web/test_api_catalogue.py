"""The JSON API and the medicine catalogue: brand names, ambiguity, free text, renal function."""

from __future__ import annotations

from tests.web.conftest_api import Harness


def test_a_brand_name_warfarin_resolves_to_warfarin_with_the_inr_gate(api: Harness) -> None:
    p = api.patient()
    answer = api.post(f"/patients/{p['id']}/episodes", {
        "procedure_at": "2027-03-10T08:00", "holds": [{"drug": "Coumadin"}, {"drug": " xeralto "},
                                                      {"drug": "Eliquis 5 mg"}, {"drug": "plavics"}],
    })
    assert answer.status == 201, answer
    holds = {h["drug"]: h for h in answer.json["holds"]}
    assert set(holds) == {"warfarin", "rivaroxaban", "apixaban", "clopidogrel"}
    assert holds["warfarin"]["inr_required"] is True and holds["warfarin"]["catalogued"] is True
    assert holds["warfarin"]["stop_days"] == 5 and holds["warfarin"]["last_dose_on"] == "2027-03-04"
    assert holds["rivaroxaban"]["inr_required"] is False


def test_an_ambiguous_name_answers_422_listing_the_variants(api: Harness) -> None:
    p = api.patient()
    before = api.snapshot()
    answer = api.post(f"/patients/{p['id']}/episodes", {"procedure_at": "2027-03-10T08:00",
                                                        "holds": [{"drug": "baby aspirin"}]})
    assert answer.status == 422
    assert "aspirin-primary, aspirin-secondary" in answer.errors["holds[0].drug"]
    combo = api.post(f"/patients/{p['id']}/episodes", {"procedure_at": "2027-03-10T08:00",
                                                       "holds": [{"drug": "Aggrenox"}]})
    assert combo.status == 422 and "aspirin-secondary, dipyridamole" in combo.errors["holds[0].drug"]
    assert api.snapshot() == before


def test_a_free_text_drug_cannot_be_signed_until_stop_and_restart_are_entered(api: Harness) -> None:
    e = api.episode(holds=[{"drug": "Mystery herbal blend"}])
    hold_id = e["holds"][0]["id"]
    refused = api.post(f"/holds/{hold_id}/clearance", {"status": "approved", "by": "Dr. Ortiz"}, role="clinician")
    assert refused.status == 422 and set(refused.errors) == {"stop_days", "restart_hours"}
    half = api.post(f"/holds/{hold_id}/clearance", {"status": "approved", "by": "Dr. Ortiz", "stop_days": 3},
                    role="clinician")
    assert half.status == 422 and set(half.errors) == {"restart_hours"}
    ok = api.post(f"/holds/{hold_id}/clearance",
                  {"status": "approved", "by": "Dr. Ortiz", "stop_days": 3, "restart_hours": 24}, role="clinician")
    assert ok.status == 200 and ok.json["signed"] is True and ok.json["interval_source"] == "clinician plan"


def test_a_dabigatran_hold_records_crcl_and_says_when_it_assumes_normal_renal_function(api: Harness) -> None:
    (plain,) = api.episode(holds=[{"drug": "dabigatran"}])["holds"]
    assert plain["stop_days"] == 4 and plain["crcl_ml_min"] is None
    assert plain["assumes_normal_renal_function"] is True
    (impaired,) = api.episode(holds=[{"drug": "Pradaxa 150 mg", "crcl_ml_min": 40}])["holds"]
    assert impaired["drug"] == "dabigatran" and impaired["stop_days"] == 6 and impaired["crcl_ml_min"] == 40
    assert impaired["assumes_normal_renal_function"] is False
    bad = api.post(f"/patients/{api.patient()['id']}/episodes", {
        "procedure_at": "2027-03-10T08:00", "holds": [{"drug": "dabigatran", "crcl_ml_min": "lots"}]})
    assert bad.status == 422 and "holds[0].crcl_ml_min" in bad.errors


def test_the_openapi_document_lists_the_new_hold_fields(api: Harness) -> None:
    doc = api.get("/openapi.json", role=None).json
    schemas = doc["components"]["schemas"]
    hold_in = next(v for k, v in schemas.items() if k.startswith("HoldIn"))
    assert "crcl_ml_min" in hold_in["properties"]
    hold_out = schemas["Hold"]
    assert {"crcl_ml_min", "assumes_normal_renal_function"} <= set(hold_out["properties"])
