"""`pathway import schedule FILE.csv --by EMAIL [--dry-run]`: the command line of the schedule import."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from pathway import cli
from pathway.cli import main
from pathway.clock import FixedClock
from tests.services.test_schedule_import import ANA, BOB, HEADER

NOW = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def cli_db(fresh_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:  # type: ignore[no-untyped-def]
    from pathway.runtime import Runtime

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATHWAY_DATABASE_URL", fresh_db.url)
    monkeypatch.setattr(cli, "_runtime", lambda database=None: Runtime.build(cli._config(database),
                                                                             clock=FixedClock(NOW)))
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    for email, role in (("coord@example.test", "coordinator"), ("admin@example.test", "admin")):
        result = runner.invoke(main, ["user", "create", "--email", email, "--role", role],
                               input="correct horse battery\n")
        assert result.exit_code == 0, result.output
    return str(fresh_db.url)


def _csv(tmp_path: Path, *rows: str, name: str = "schedule.csv") -> str:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return str(path)


def _import(*args: str) -> Any:
    return CliRunner().invoke(main, ["import", "schedule", *args])


def _query(url: str, fn: Any) -> Any:
    from pathway.db import make_engine, make_session_factory

    engine = make_engine(url, pool=False)
    try:
        with make_session_factory(engine)() as s:
            return fn(s)
    finally:
        engine.dispose()


def _patients(url: str) -> int:
    from pathway.models import Patient

    return int(_query(url, lambda s: s.scalar(select(func.count(Patient.id)))))


def test_import_stores_the_file_prints_a_line_per_row_and_audits_the_user(cli_db: str, tmp_path: Path) -> None:
    from pathway.models import AuditEvent, User

    result = _import(_csv(tmp_path, ANA, BOB), "--by", "coord@example.test")
    assert result.exit_code == 0, result.output
    assert "line 2: MRN A100: new patient: 2027-03-10 08:00 CST" in result.output
    assert "line 3: MRN B200: new patient: 2027-03-11 09:30 EST" in result.output
    assert "imported 2 row(s): 2 new patient" in result.output
    assert "Checking rows" in result.output  # the progress bar (stderr is mixed in by CliRunner)
    assert _patients(cli_db) == 2
    uid = _query(cli_db, lambda s: s.scalar(select(User.id).where(User.email == "coord@example.test")))
    actors = _query(cli_db, lambda s: set(s.scalars(select(AuditEvent.actor).where(
        AuditEvent.action.in_(("patient.enrol", "episode.schedule", "schedule.import"))))))
    assert actors == {f"user:{uid}"}


def test_the_same_file_again_changes_nothing(cli_db: str, tmp_path: Path) -> None:
    from pathway.models import Message

    path = _csv(tmp_path, ANA, BOB)
    assert _import(path, "--by", "coord@example.test").exit_code == 0
    texts = _query(cli_db, lambda s: s.scalar(select(func.count(Message.id))))
    again = _import(path, "--by", "coord@example.test")
    assert again.exit_code == 0 and "2 unchanged" in again.output
    assert _patients(cli_db) == 2 and _query(cli_db, lambda s: s.scalar(select(func.count(Message.id)))) == texts


def test_a_bad_row_exits_non_zero_naming_line_and_column_and_stores_nothing(cli_db: str, tmp_path: Path) -> None:
    bad = BOB.replace("1948-07-01", "07/01/1948")
    result = _import(_csv(tmp_path, ANA, bad), "--by", "coord@example.test")
    assert result.exit_code == 1
    assert "line 3: MRN B200: birth_date: not a date: '07/01/1948' (use YYYY-MM-DD)" in result.output
    assert "nothing was imported" in result.output
    assert _patients(cli_db) == 0


def test_an_unknown_column_is_an_error(cli_db: str, tmp_path: Path) -> None:
    path = tmp_path / "extra.csv"
    path.write_text(HEADER + ",notes\n" + ANA + ",hello\n", encoding="utf-8")
    result = _import(str(path), "--by", "coord@example.test")
    assert result.exit_code == 1 and "line 1: notes: unknown column" in result.output
    assert _patients(cli_db) == 0


def test_dry_run_only_reports(cli_db: str, tmp_path: Path) -> None:
    result = _import(_csv(tmp_path, ANA, BOB), "--by", "coord@example.test", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: 2 row(s) checked, nothing stored (2 new patient)" in result.output
    assert _patients(cli_db) == 0


def test_a_move_that_puts_signed_holds_at_risk_needs_the_flag(cli_db: str, tmp_path: Path) -> None:
    from pathway.models import MedicationHold

    assert _import(_csv(tmp_path, ANA), "--by", "coord@example.test").exit_code == 0

    def sign(s: Any) -> None:
        from pathway.models import User
        from pathway.runtime import Runtime
        from pathway.services import episodes as ep
        from pathway.services.base import Actor, Env
        from pathway.services.users import create_user

        rules = Runtime.build(cli._config()).rules
        env = Env(rules=rules, now=NOW)
        admin = Actor.for_user(s.scalars(select(User).where(User.role == "admin")).one())
        clinician = Actor.for_user(create_user(s, env, admin, "dr@example.test", "clinician", "correct horse battery"))
        for hold in s.scalars(select(MedicationHold)):
            ep.record_clearance(s, env, clinician, hold.id, {"status": "approved", "by": "Dr. Ortiz"})
        s.commit()

    _query(cli_db, sign)
    earlier = _csv(tmp_path, ANA.replace("2027-03-10T08:00", "2027-03-05T08:00"), name="earlier.csv")
    refused = _import(earlier, "--by", "coord@example.test")
    assert refused.exit_code == 1 and "procedure_at: needs a coordinator's confirmation" in refused.output
    assert _query(cli_db, lambda s: all(h.signed_at for h in s.scalars(select(MedicationHold))))
    confirmed = _import(earlier, "--by", "coord@example.test", "--confirm-holds-at-risk")
    assert confirmed.exit_code == 0, confirmed.output
    assert "reschedule: move 2027-03-10 08:00 CST -> 2027-03-05 08:00 CST" in confirmed.output
    assert _query(cli_db, lambda s: not any(h.signed_at for h in s.scalars(select(MedicationHold))))


@pytest.mark.parametrize(("by", "message"), [("nobody@example.test", "not found"),
                                             ("admin@example.test", "needs the coordinator or clinician role")])
def test_the_importer_must_be_an_active_care_team_account(cli_db: str, tmp_path: Path, by: str,
                                                          message: str) -> None:
    result = _import(_csv(tmp_path, ANA), "--by", by)
    assert result.exit_code == 1 and message in result.output
    assert _patients(cli_db) == 0


def test_without_by_the_command_says_how_to_name_the_importer(cli_db: str, tmp_path: Path) -> None:
    result = _import(_csv(tmp_path, ANA))
    assert result.exit_code == 2 and "--by" in result.output
