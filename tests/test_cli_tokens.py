"""`pathway token create --name --expires-in-days`, `pathway token list`, `pathway token revoke ID`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from click.testing import CliRunner

from pathway.cli import main
from tests.test_cli import cli_env

__all__ = ["cli_env"]  # the fixture: a fresh database named by PATHWAY_DATABASE_URL


def _rows(url: str) -> list[Any]:
    from sqlalchemy import select

    from pathway.db import make_engine, make_session_factory
    from pathway.models import ApiToken, AuditEvent

    engine = make_engine(url, pool=False)
    try:
        with make_session_factory(engine)() as s:
            tokens = [(t.id, t.name, t.created_at, t.expires_at, t.revoked_at)
                      for t in s.scalars(select(ApiToken).order_by(ApiToken.id))]
            actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "api_token")
                                     .order_by(AuditEvent.id)))
            return [tokens, actions]
    finally:
        engine.dispose()


def _works(url: str, token: str) -> bool:
    from pathway.clock import system_clock
    from pathway.db import make_engine, make_session_factory
    from pathway.services.base import Env
    from pathway.services.users import user_for_token

    engine = make_engine(url, pool=False)
    try:
        with make_session_factory(engine)() as s:
            return user_for_token(s, Env(rules=None, now=system_clock()), token) is not None  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_create_list_and_revoke_tokens_from_the_command_line(cli_env: dict[str, str]) -> None:
    url = cli_env["PATHWAY_DATABASE_URL"]
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    r = runner.invoke(main, ["user", "create", "--email", "c@clinic.example", "--role", "coordinator"],
                      input="a long passphrase\n")
    assert r.exit_code == 0, r.output

    r = runner.invoke(main, ["token", "create", "--email", "c@clinic.example", "--name", "EHR sync",
                             "--expires-in-days", "7"])
    assert r.exit_code == 0, r.output
    named = r.stdout.strip()
    assert named.startswith("pw_") and "\n" not in named
    r = runner.invoke(main, ["token", "create", "--email", "c@clinic.example"])  # the old form still works
    assert r.exit_code == 0, r.output
    plain = r.stdout.strip()

    (first, second), actions = _rows(url)
    assert first[1] == "EHR sync" and first[3] - first[2] == timedelta(days=7)
    assert second[1] == "(unnamed)" and second[3] - second[2] == timedelta(days=90)
    assert actions == ["token.create", "token.create"]

    r = runner.invoke(main, ["token", "list"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0].split("\t") == ["id", "state", "name", "account", "prefix", "created", "expires", "last_used"]
    listed = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert listed[str(first[0])][1:5] == ["active", "EHR sync", "c@clinic.example", named[:10]]
    assert named not in r.output and plain not in r.output  # never the secret

    r = runner.invoke(main, ["token", "revoke", str(first[0])])
    assert r.exit_code == 0 and "revoked" in r.output
    assert not _works(url, named) and _works(url, plain)
    assert "\trevoked\tEHR sync\t" in runner.invoke(main, ["token", "list"]).stdout
    assert _rows(url)[1] == ["token.create", "token.create", "token.revoke"]


def test_the_command_line_names_what_is_wrong(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    runner.invoke(main, ["user", "create", "--email", "c@clinic.example", "--role", "coordinator"],
                  input="a long passphrase\n")
    r = runner.invoke(main, ["token", "create", "--email", "c@clinic.example", "--expires-in-days", "400"])
    assert r.exit_code != 0 and "expires_in_days: must be between 1 and 365" in r.output
    r = runner.invoke(main, ["token", "create", "--email", "c@clinic.example", "--name", "a\u202eb"])
    assert r.exit_code != 0 and "name: must not contain control or text-direction characters" in r.output
    for missing in ("99", "99999999999999999999", "x"):
        r = runner.invoke(main, ["token", "revoke", missing])
        assert r.exit_code != 0 and "API token not found" in r.output
    assert runner.invoke(main, ["token", "list"]).exit_code == 0
    assert _rows(cli_env["PATHWAY_DATABASE_URL"])[0] == []


def test_the_default_lifetime_is_a_setting(cli_env: dict[str, str], monkeypatch: Any) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    runner.invoke(main, ["user", "create", "--email", "c@clinic.example", "--role", "coordinator"],
                  input="a long passphrase\n")
    monkeypatch.setenv("PATHWAY_WEB_API_TOKEN_DAYS", "14")
    r = runner.invoke(main, ["token", "create", "--email", "c@clinic.example", "--name", "fortnight"])
    assert r.exit_code == 0, r.output
    (row,), _ = _rows(cli_env["PATHWAY_DATABASE_URL"])
    assert row[3] - row[2] == timedelta(days=14)
    monkeypatch.setenv("PATHWAY_WEB_API_TOKEN_DAYS", "0")
    r = runner.invoke(main, ["token", "create", "--email", "c@clinic.example"])
    assert r.exit_code != 0 and "api_token_days" in r.output
