"""Issue 15: the patient search finds a name in any case and accent, family or given name first or
"family, given", an MRN in any case and a phone as people type it, and says why each matched;
without a query it lists the active patients, paged. Runs on SQLite and, with
PATHWAY_TEST_DATABASE_URL, on PostgreSQL (the keys compare bytewise on both)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from pathway.schemas.vocab import PATIENT_MATCHES
from pathway.services import episodes as ep
from pathway.services import schedule_import as si
from pathway.services.patients import MATCH_WORDS, find, fold, update_patient
from pathway.services.queries import patient_list


@pytest.fixture
def people(make_patient: Any) -> dict[str, Any]:
    return {
        "ana": make_patient(given_name="Ana", family_name="Ruiz", mrn="MRN100200", phone="(646) 555-0123"),
        "ana_maria": make_patient(given_name="Ana María", family_name="Ruiz Gómez", mrn="MRN100201"),
        "jose": make_patient(given_name="José", family_name="García-López", mrn="mrn-77ab"),
        "sean": make_patient(given_name="Seán", family_name="O\u2019Brien", mrn="MRN100203"),
        "maria": make_patient(given_name="Maria", family_name="Ruizdael", mrn="MRN100204"),
        "cruz": make_patient(given_name="Ana", family_name="de la Cruz", mrn="MRN100205"),
    }


def _found(session: Any, q: str) -> list[tuple[str, str]]:
    return [(f.patient.mrn, f.matched) for f in find(session, q).rows]


def test_fold_drops_accents_case_and_punctuation() -> None:
    assert fold("  José  GARCÍA-López ") == "jose garcia lopez"
    assert fold("O'Brien") == fold("O\u2019Brien") == "obrien"
    assert fold("Ñúñez") == "nunez"
    assert fold("Straße") == "strasse"


def test_family_name_first_given_first_and_family_comma_given(session: Any, people: dict[str, Any]) -> None:
    for q in ("Ruiz Ana", "ruiz ana", "Ana Ruiz", "ANA RUIZ", "Ruiz, Ana", "ruiz,ana", "ru an"):
        found = _found(session, q)
        assert ("MRN100200", "family_given") in found, q
        assert ("MRN100204", "family_given") not in found, q  # Maria Ruizdael: her given name is not Ana
    # "family, given" is read one way only: Ana is not a family name here.
    assert _found(session, "Ana, Ruiz") == []
    # More than one word in a name: each split is tried.
    assert ("MRN100201", "family_given") in _found(session, "Ruiz Gómez Ana María")
    assert ("MRN100201", "family_given") in _found(session, "ana maria ruiz gomez")
    assert _found(session, "de la cruz ana") == [("MRN100205", "family_given")]


def test_one_name_alone_says_which_it_matched(session: Any, people: dict[str, Any]) -> None:
    assert _found(session, "ruiz") == [("MRN100200", "family"), ("MRN100201", "family"), ("MRN100204", "family")]
    assert sorted(_found(session, "ANA")) == [("MRN100200", "given"), ("MRN100201", "given"),
                                              ("MRN100205", "given")]
    assert _found(session, "zzz") == []
    assert _found(session, "nothing ruiz") == []


def test_accents_and_punctuation_do_not_matter(session: Any, people: dict[str, Any]) -> None:
    for q in ("jose garcia", "José García-López", "GARCIA LOPEZ JOSE", "garcía, josé", "garcia lopez, j"):
        assert _found(session, q) == [("mrn-77ab", "family_given")], q
    assert _found(session, "Garcia-Lopez") == [("mrn-77ab", "family")]
    for q in ("obrien", "O'Brien", "O\u2019BRIEN sean", "Sean O'Brien"):
        assert [m for m, _ in _found(session, q)] == ["MRN100203"], q
    # Each name is read from its start: "maria" is not the start of "Ana María", it is of "Maria".
    assert _found(session, "maria ruiz") == [("MRN100204", "family_given")]
    assert _found(session, "ruiz gomez") == [("MRN100201", "family")]


def test_an_mrn_in_any_case(session: Any, people: dict[str, Any]) -> None:
    assert _found(session, "mrn100200") == [("MRN100200", "mrn")]
    assert _found(session, " MRN100200 ") == [("MRN100200", "mrn")]
    assert _found(session, "MRN-77AB") == [("mrn-77ab", "mrn")]
    assert _found(session, "MRN1002") == []  # an MRN is matched whole
    # Stored in mixed case and typed in another mix.
    assert _found(session, "Mrn-77Ab") == [("mrn-77ab", "mrn")]


def test_an_mrn_stored_in_mixed_case_is_found_in_any_case(session: Any, make_patient: Any) -> None:
    make_patient(given_name="Li", family_name="Wong", mrn="Ab12cD")
    for q in ("ab12cd", "AB12CD", "Ab12cD", "aB12Cd"):
        assert _found(session, q) == [("Ab12cD", "mrn")], q


@pytest.mark.parametrize("q", ["(646) 555-0123", "646-555-0123", "646.555.0123", "6465550123", "+1 646 555 0123",
                               "1 (646) 555 0123", "+16465550123", "646 555 0123"])
def test_a_phone_number_as_people_type_it(session: Any, people: dict[str, Any], q: str) -> None:
    assert _found(session, q) == [("MRN100200", "phone")]


def test_a_number_that_is_not_a_phone_finds_no_one_by_phone(session: Any, people: dict[str, Any]) -> None:
    assert _found(session, "555-0123") == []  # seven digits: no area code, not the patient's number
    assert _found(session, "(212) 555-0123") == []


def test_every_reason_has_words_and_is_in_the_api_vocabulary() -> None:
    assert tuple(MATCH_WORDS) == PATIENT_MATCHES
    assert all(w and "_" not in w for w in MATCH_WORDS.values())


def test_results_are_paged_by_family_then_given_name_with_the_total(session: Any, people: dict[str, Any]) -> None:
    first = find(session, "ruiz", limit=2)
    second = find(session, "ruiz", limit=2, offset=2)
    assert (first.total, second.total) == (3, 3)
    assert [f.patient.mrn for f in first.rows + second.rows] == ["MRN100200", "MRN100201", "MRN100204"]
    assert first.has_next and not second.has_next


def test_a_changed_name_is_found_by_the_new_name_only(session: Any, env: Any, staff: Any,
                                                       people: dict[str, Any]) -> None:
    ana = people["ana"]
    update_patient(session, env, staff["coordinator"], ana.id, {"family_name": "Núñez", "given_name": "Anabel"})
    session.flush()
    assert ("MRN100200", "family_given") in _found(session, "nunez anabel")
    assert "MRN100200" not in [m for m, _ in _found(session, "ruiz")]
    assert (ana.search_family, ana.search_given) == ("nunez", "anabel")


def test_an_imported_patient_is_found_by_a_folded_name(session: Any, env: Any, staff: Any) -> None:
    row = "IMP1,Zoë,Ibáñez,1950-02-03,+1 312 555 0101,America/Chicago,es,yes,2027-03-10T08:00,North,Dr. Lee,L4-L5,"
    report = si.import_schedule(session, env, staff["coordinator"],
                                si.parse_file(("\n".join([",".join(si.COLUMNS), row]) + "\n").encode()))
    assert report.ok and report.applied
    session.flush()
    assert _found(session, "ibanez zoe") == [("IMP1", "family_given")]


def test_without_a_query_the_active_patients_with_their_procedure(session: Any, env: Any, staff: Any,
                                                                  make_patient: Any, make_episode: Any) -> None:
    coord = staff["coordinator"]
    ahead = make_episode(make_patient(family_name="Ahead"), procedure_at="2027-03-10T08:00")
    recent = make_episode(make_patient(family_name="Recent"), procedure_at="2027-02-20T08:00")
    old = make_episode(make_patient(family_name="Old"), procedure_at="2027-02-20T08:00")
    cancelled = make_episode(make_patient(family_name="Cancelled"), procedure_at="2027-03-12T08:00")
    make_patient(family_name="Nothing")
    ep.cancel_episode(session, env, coord, cancelled.id, {"reason": "patient unwell"})
    session.flush()
    later = env.now + timedelta(days=35)  # 23 days after Recent's and Old's procedures; Ahead's still ahead
    # Old's procedure moved back to 31 days before "later": just out of the active days.
    old.procedure_at = later - timedelta(days=31)
    recent.procedure_at = later - timedelta(days=29)
    session.flush()
    found = find(session, "", now=later)
    assert [(f.patient.family_name, f.matched) for f in found.rows] == [("Ahead", "active"), ("Recent", "active")]
    assert found.rows[0].procedure_at == ahead.procedure_at and found.total == 2
    assert find(session, "", now=later, limit=1, offset=1).rows[0].patient.family_name == "Recent"
    # The audited list names whom it showed, and the query (none).
    shown = patient_list(session, env.__class__(rules=env.rules, now=later), coord, "")
    assert [f.patient.id for f in shown.rows] == [ahead.patient_id, recent.patient_id]


def test_the_search_uses_the_indexes(session: Any, people: dict[str, Any]) -> None:
    """The prefix ranges are answered by the name indexes (collation "C" on PostgreSQL), not a scan."""
    from sqlalchemy import and_, or_, select

    from pathway.models import Patient
    from pathway.services.patients import _name_forms, _starts

    forms = _name_forms("Ruiz Ana")
    where = or_(*(and_(_starts(Patient.search_family, f) if f else text("1=1"),
                       _starts(Patient.search_given, g) if g else text("1=1")) for f, g in forms))
    stmt = select(Patient.id).where(where)
    bind = session.connection()
    if bind.dialect.name == "postgresql":
        bind.execute(text("SET LOCAL enable_seqscan = off"))
        compiled = stmt.compile(bind, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in bind.execute(text(f"EXPLAIN {compiled}")))
    else:
        compiled = stmt.compile(bind, compile_kwargs={"literal_binds": True})
        plan = "\n".join(str(r[-1]) for r in bind.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "ix_patients_search_family_given" in plan and "ix_patients_search_given_family" in plan, plan
    assert "SCAN patients" not in plan and "Seq Scan" not in plan, plan
