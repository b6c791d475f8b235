"""`pathway export fhir --out DIR [--since DATE]` (issue 14): every episode as FHIR Bulk Data NDJSON.

A real migrated database (SQLite, or PostgreSQL under PATHWAY_TEST_DATABASE_URL) with several
patients and episodes made through the services; every line is parsed with fhir.resources' R4B
models, and every `Type/id` reference must name a resource the export wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pathway import cli
from pathway.cli import main
from pathway.clock import FixedClock
from tests.fhir_check import check_bulk

NOW = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def runtime(fresh_db, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    from pathway import migrate
    from pathway.runtime import Runtime

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATHWAY_DATABASE_URL", fresh_db.url)
    monkeypatch.setattr(cli, "_runtime", lambda database=None: Runtime.build(cli._config(database),
                                                                             clock=FixedClock(NOW)))
    migrate.upgrade(fresh_db.url)
    rt = cli._runtime()
    try:
        yield rt
    finally:
        rt.engine.dispose()


def _seed(rt: Any) -> dict[str, int]:
    """Three patients: Ana with two episodes, Bob with one (detailed texts), Cy with a cancelled one."""
    from pathway.services.base import SYSTEM
    from pathway.services.episodes import cancel_episode, schedule_episode
    from pathway.services.observations import record_observation
    from pathway.services.patients import enrol_patient

    ids: dict[str, int] = {}
    with rt.unit_of_work() as (session, env):
        for n, (name, detailed) in enumerate((("Ana", False), ("Bob", True), ("Cy", False)), start=1):
            p = enrol_patient(session, env, SYSTEM, {
                "mrn": f"X{n:03d}", "given_name": name, "family_name": "Export", "birth_date": "1948-05-06",
                "phone": f"+1 212 555 01{n:02d}", "timezone": "America/Chicago", "language": "es" if n == 2 else "en",
                "sms_consent": True, "detailed_texts": detailed})
            session.flush()
            ids[name] = p.id
        a1 = schedule_episode(session, env, SYSTEM, ids["Ana"], {"procedure_at": "2027-03-10T08:00",
                                                                 "holds": [{"drug": "clopidogrel"}]})
        schedule_episode(session, env, SYSTEM, ids["Ana"], {"procedure_at": "2027-06-10T08:00",
                                                            "holds": [{"drug": "Eliquis"}, {"drug": "ibuprofen"}]})
        schedule_episode(session, env, SYSTEM, ids["Bob"], {"procedure_at": "2027-04-01T09:00",
                                                            "holds": [{"drug": "warfarin"}]})
        cy = schedule_episode(session, env, SYSTEM, ids["Cy"], {"procedure_at": "2027-02-20T08:00"})
        session.flush()
        cancel_episode(session, env, SYSTEM, cy.id, {"reason": "unwell"})
        record_observation(session, env, SYSTEM, a1.id, {"code": "nprs", "value": 8, "time_point": "baseline"})
        ids["ana_first"] = a1.id
    return ids


def _read(out: Path) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(out.glob("*.ndjson")):
        lines = path.read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines]
        assert rows, f"{path.name} is empty"
        assert {r["resourceType"] for r in rows} == {path.stem}, "one file per resource type"
        found[path.stem] = rows
    return found


def _send_due_texts(rt: Any) -> int:
    """One dispatch pass through the console transport: the enrolment texts go now."""
    import io

    from pathway.dispatch.run import Dispatcher
    from pathway.dispatch.settings import DispatchSettings
    from pathway.sms.console import ConsoleTransport

    d = Dispatcher(sessions=rt.sessions, transport=ConsoleTransport(io.StringIO(), clock=rt.clock),
                   settings=DispatchSettings.from_config(rt.config, None), rules=rt.rules, clock=rt.clock,
                   worker_id="fhir-export-test", sleep=lambda s: None)
    try:
        return d.dispatch_due().sent
    finally:
        d.close()


def test_every_episode_is_written_as_ndjson_one_file_per_type_each_resource_once(runtime: Any, tmp_path: Path) -> None:
    _seed(runtime)
    assert _send_due_texts(runtime) == 4  # an enrolment text per patient, and Cy's cancellation notice
    out = tmp_path / "bulk"
    result = CliRunner().invoke(main, ["export", "fhir", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Exporting episodes" in result.output  # the progress bar (CliRunner mixes stderr in)
    files = _read(out)
    assert set(files) == {"Patient", "CarePlan", "Task", "Appointment", "MedicationStatement",
                          "CommunicationRequest", "Communication", "Observation"}
    (pain,) = files["Observation"]
    assert pain["code"]["coding"][0]["code"] == "72514-3" and pain["valueQuantity"]["value"] == 8
    # The enrolment text belongs to no episode: written once per patient, not once per episode.
    sent = files["Communication"]
    enrolments = [c for c in sent if c["category"][0]["text"] == "enrolment confirmation"]
    assert sorted(c["subject"]["reference"] for c in enrolments) == sorted(
        f"Patient/{p['id']}" for p in files["Patient"])
    assert len(sent) == 4
    check_bulk(r for rows in files.values() for r in rows)
    assert sorted(p["name"][0]["given"][0] for p in files["Patient"]) == ["Ana", "Bob", "Cy"]  # once each
    assert len(files["CarePlan"]) == 4
    assert sorted(c["status"] for c in files["CarePlan"]) == ["active", "active", "active", "revoked"]
    codes = sorted(m["medicationCodeableConcept"]["coding"][0]["code"] for m in files["MedicationStatement"])
    assert codes == sorted(["32968", "1364430", "5640", "11289"])
    requests = files["CommunicationRequest"]
    assert len({r["id"] for r in requests}) == len(requests)
    # Words only for the patient who chose detailed texts (Bob).
    bob = next(p for p in files["Patient"] if p["name"][0]["given"] == ["Bob"])
    with_words = {r["subject"]["reference"] for r in [*requests, *sent] if "payload" in r}
    assert with_words == {f"Patient/{bob['id']}"}
    assert "Patient.ndjson: 3 resource(s)" in result.output and "CarePlan.ndjson: 4 resource(s)" in result.output
    from sqlalchemy import select

    from pathway.models import AuditEvent
    with runtime.unit_of_work() as (session, _):
        actions = list(session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "fhir.export")))
    assert actions == ["cli:export-fhir"]


def test_since_keeps_episodes_on_or_after_the_date(runtime: Any, tmp_path: Path) -> None:
    _seed(runtime)
    out = tmp_path / "since"
    # Every episode was created at NOW (2027-02-01); from 2027-03-11 only later procedures count.
    result = CliRunner().invoke(main, ["export", "fhir", "--out", str(out), "--since", "2027-03-11"])
    assert result.exit_code == 0, result.output
    files = _read(out)
    check_bulk(r for rows in files.values() for r in rows)
    starts = sorted(a["start"] for a in files["Appointment"])
    assert starts == ["2027-04-01T14:00:00+00:00", "2027-06-10T13:00:00+00:00"]
    assert sorted(p["name"][0]["given"][0] for p in files["Patient"]) == ["Ana", "Bob"]
    bad = CliRunner().invoke(main, ["export", "fhir", "--out", str(out), "--since", "11/03/2027"])
    assert bad.exit_code == 2 and "--since" in bad.output
    assert _read(out) == files  # a refused command leaves the last export as it was


def test_a_new_export_replaces_the_files_and_leaves_no_stale_type(runtime: Any, tmp_path: Path) -> None:
    _seed(runtime)
    out = tmp_path / "again"
    assert CliRunner().invoke(main, ["export", "fhir", "--out", str(out)]).exit_code == 0
    assert "MedicationStatement" in _read(out)
    # From 2027-07-01 there is nothing: every file of the earlier export goes, none is left half-written.
    result = CliRunner().invoke(main, ["export", "fhir", "--out", str(out), "--since", "2027-07-01"])
    assert result.exit_code == 0, result.output
    assert "exported 0 resource(s)" in result.output
    assert sorted(p.name for p in out.iterdir()) == []


def test_export_reads_in_batches_and_lets_each_go(runtime: Any) -> None:
    """The same resources whatever the batch size, and the session never holds more than one
    batch's records: memory stays flat however many episodes there are."""
    from pathway.services import fhir
    from pathway.services.base import SYSTEM

    _seed(runtime)
    with runtime.unit_of_work() as (session, env):
        whole = [r for _, r in fhir.export_resources(session, env, SYSTEM)]
    held: list[int] = []
    with runtime.unit_of_work() as (session, env):
        one_by_one = []
        for _, r in fhir.export_resources(session, env, SYSTEM, batch=1):
            one_by_one.append(r)
            held.append(len(session.identity_map))
    assert one_by_one == whole
    check_bulk(whole)
    # One episode with its patient, holds, milestones and appointments at most (~20 records), never all four.
    assert max(held) < 30
    with runtime.unit_of_work() as (session, env):
        for _, _r in fhir.export_resources(session, env, SYSTEM, batch=200):
            pass
        assert len(session.identity_map) == 0
