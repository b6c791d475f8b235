"""`pathway user set-password` and `pathway user end-sessions`: each ends the account's sessions."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from pathway.cli import main
from tests.test_cli import cli_env

__all__ = ["cli_env"]  # the fixture: a fresh database named by PATHWAY_DATABASE_URL


def _user(url: str) -> Any:
    from sqlalchemy import select

    from pathway.db import make_engine, make_session_factory
    from pathway.models import AuditEvent, User

    engine = make_engine(url, pool=False)
    try:
        with make_session_factory(engine)() as s:
            user = s.scalars(select(User).where(User.email == "c@clinic.example")).one()
            actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == user.id)
                                     .order_by(AuditEvent.id)))
            return user, actions
    finally:
        engine.dispose()


def test_setting_a_password_or_ending_sessions_from_the_command_line_ends_them(cli_env: dict[str, str]) -> None:
    from pathway.services.users import _password_matches

    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    r = runner.invoke(main, ["user", "create", "--email", "c@clinic.example", "--role", "coordinator"],
                      input="a long passphrase\n")
    assert r.exit_code == 0, r.output
    before, _ = _user(cli_env["PATHWAY_DATABASE_URL"])
    r = runner.invoke(main, ["user", "set-password", "--email", "C@clinic.example"], input="another passphrase\n")
    assert r.exit_code == 0 and "sessions have ended" in r.output, r.output
    r = runner.invoke(main, ["user", "end-sessions", "--email", "c@clinic.example"])
    assert r.exit_code == 0 and "signed out everywhere" in r.output, r.output
    after, actions = _user(cli_env["PATHWAY_DATABASE_URL"])
    assert after.session_generation == before.session_generation + 2
    assert _password_matches(after.password_hash, "another passphrase")
    assert actions == ["user.create", "user.password_set", "user.sessions_ended"]


def test_the_user_commands_say_what_is_wrong(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    runner.invoke(main, ["db", "upgrade"])
    r = runner.invoke(main, ["user", "end-sessions", "--email", "nobody@clinic.example"])
    assert r.exit_code != 0 and "not found" in r.output
    runner.invoke(main, ["user", "create", "--email", "c@clinic.example", "--role", "coordinator"],
                  input="a long passphrase\n")
    r = runner.invoke(main, ["user", "set-password", "--email", "c@clinic.example"], input="short\n")
    assert r.exit_code != 0 and "password: must be at least" in r.output
