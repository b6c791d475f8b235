"""`pathway audit export --from --to [--out]`: the audit log as CSV for a compliance officer."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from pathway.cli import main
from tests.test_cli import cli_env

__all__ = ["cli_env"]  # the fixture: a fresh database named by PATHWAY_DATABASE_URL


def _seed(url: str) -> dict[str, int]:
    """A coordinator, a patient and audit events around the clinic's (New York's) midnights."""
    from pathway.db import make_engine, make_session_factory
    from pathway.models import AuditEvent, Patient, User

    engine = make_engine(url, pool=False)
    try:
        with make_session_factory(engine)() as s, s.begin():
            user = User(email="c@clinic.example", role="coordinator", name="C", password_hash="x", active=True,
                        created_at=datetime(2027, 1, 1, tzinfo=UTC))
            patient = Patient(mrn="MRN-0042", given_name="Ana", family_name="Rivera", birth_date=date(1950, 4, 30),
                              phone="+12125550142", timezone="America/New_York", language="en",
                              detailed_texts=False, created_at=datetime(2027, 1, 1, tzinfo=UTC))
            s.add_all([user, patient])
            s.flush()

            def event(at: datetime, action: str, **kw: Any) -> None:
                s.add(AuditEvent(at=at, user_id=user.id, actor=f"user:{user.id}", action=action,
                                 entity_type=kw.pop("entity_type", "patient"), entity_id=kw.pop("entity_id", None),
                                 remote_addr="198.51.100.23", **kw))

            # 28 Feb 23:59 in New York: the day before the export.
            event(datetime(2027, 3, 1, 4, 59, tzinfo=UTC), "patient.view", entity_id=patient.id,
                  patient_id=patient.id)
            # 1 Mar 00:30 and 2 Mar 23:30 in New York: inside.
            event(datetime(2027, 3, 1, 5, 30, tzinfo=UTC), "patient.view", entity_id=patient.id,
                  patient_id=patient.id)
            event(datetime(2027, 3, 3, 4, 30, tzinfo=UTC), "patient.search",
                  detail={"query": "=HYPERLINK(\"http://evil.example\")", "results": 1,
                          "patient_ids": [patient.id]})
            # 3 Mar 00:30 in New York: the day after.
            event(datetime(2027, 3, 3, 5, 30, tzinfo=UTC), "patient.view", entity_id=patient.id,
                  patient_id=patient.id)
            return {"user_id": user.id, "patient_id": patient.id}
    finally:
        engine.dispose()


def _actions(url: str) -> list[tuple[str, Any]]:
    from sqlalchemy import select

    from pathway.db import make_engine, make_session_factory
    from pathway.models import AuditEvent

    engine = make_engine(url, pool=False)
    try:
        with make_session_factory(engine)() as s:
            return [(a.action, a.detail) for a in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    finally:
        engine.dispose()


def test_the_export_writes_the_days_asked_for_in_the_clinics_zone_as_csv(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    ids = _seed(cli_env["PATHWAY_DATABASE_URL"])
    r = runner.invoke(main, ["audit", "export", "--from", "2027-03-01", "--to", "2027-03-02"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["action"] for row in rows] == ["patient.view", "patient.search"]
    view, search = rows
    assert view["at_utc"] == "2027-03-01T05:30:00+00:00" and view["at_clinic"] == "2027-03-01T00:30:00-05:00"
    assert (view["user_id"], view["user_email"], view["actor"]) == (str(ids["user_id"]), "c@clinic.example",
                                                                     f"user:{ids['user_id']}")
    assert (view["patient_id"], view["patient_mrn"], view["remote_addr"]) == (str(ids["patient_id"]), "MRN-0042",
                                                                              "198.51.100.23")
    assert view["detail"] == "" and search["patient_id"] == ""
    assert json.loads(search["detail"]) == {"query": "=HYPERLINK(\"http://evil.example\")", "results": 1,
                                            "patient_ids": [ids["patient_id"]]}
    assert "2 audit event(s) from 2027-03-01 to 2027-03-02 exported" in r.stderr
    # The export is itself audited, with what was asked and how much was written.
    assert _actions(cli_env["PATHWAY_DATABASE_URL"])[-1] == (
        "audit.export", {"from": "2027-03-01", "to": "2027-03-02", "rows": 2})


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_written_as_text(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    runner.invoke(main, ["db", "upgrade"])
    _seed(cli_env["PATHWAY_DATABASE_URL"])
    from pathway.services.audit_export import _cell

    assert _cell("=1+1") == "'=1+1" and _cell("-2") == "'-2" and _cell("@SUM(A1)") == "'@SUM(A1)"
    assert _cell("patient.view") == "patient.view" and _cell(None) == "" and _cell(7) == "7"


def test_the_export_goes_to_a_file_with_out(cli_env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(main, ["db", "upgrade"])
    _seed(cli_env["PATHWAY_DATABASE_URL"])
    target = tmp_path / "audit-march.csv"
    r = runner.invoke(main, ["audit", "export", "--from", "2027-02-28", "--to", "2027-03-03", "--out", str(target)])
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    rows = list(csv.DictReader(target.open(encoding="utf-8", newline="")))
    assert len(rows) == 4 and rows[0]["at_clinic"].startswith("2027-02-28T23:59")
    assert not (tmp_path / "audit-march.csv.partial").exists()


def test_the_export_says_what_is_wrong_with_its_dates(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    runner.invoke(main, ["db", "upgrade"])
    r = runner.invoke(main, ["audit", "export", "--from", "2027-03-02", "--to", "2027-03-01"])
    assert r.exit_code == 1 and "to: is before --from (2027-03-02)" in r.output
    r = runner.invoke(main, ["audit", "export", "--from", "March 1", "--to", "2027-03-01"])
    assert r.exit_code == 2 and "--from" in r.output
    r = runner.invoke(main, ["audit", "export", "--to", "2027-03-01"])
    assert r.exit_code == 2 and "--from" in r.output
