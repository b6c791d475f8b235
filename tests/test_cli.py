"""The `pathway` command, run the way a clinic's scripts run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pathway.cli import main


@pytest.fixture
def cli_env(fresh_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATHWAY_DATABASE_URL", fresh_db.url)
    return {"PATHWAY_DATABASE_URL": fresh_db.url}


def test_db_upgrade_user_create_and_token_create(cli_env) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["db", "upgrade"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["db", "check"])
    assert r.exit_code == 0 and "matches" in r.output
    r = runner.invoke(main, ["user", "create", "--email", "c@clinic.example", "--role", "coordinator"],
                      input="a long passphrase\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["token", "create", "--email", "c@clinic.example"])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip()
    assert token.startswith("pw_") and "\n" not in token  # the token alone on stdout

    from pathway.clock import system_clock
    from pathway.db import make_engine, make_session_factory
    from pathway.services.base import Env
    from pathway.services.users import user_for_token

    engine = make_engine(cli_env["PATHWAY_DATABASE_URL"], pool=False)
    try:
        with make_session_factory(engine)() as s:
            now = Env(rules=None, now=system_clock())  # type: ignore[arg-type]  # tokens need only the time
            user = user_for_token(s, now, token)
            assert user is not None and user.email == "c@clinic.example"
    finally:
        engine.dispose()


def test_user_create_reports_bad_input_clearly(cli_env) -> None:
    runner = CliRunner()
    runner.invoke(main, ["db", "upgrade"])
    r = runner.invoke(main, ["user", "create", "--email", "c@clinic.example", "--role", "coordinator"], input="short\n")
    assert r.exit_code != 0 and "password: must be at least" in r.output
    r = runner.invoke(main, ["token", "create", "--email", "nobody@clinic.example"])
    assert r.exit_code != 0 and "not found" in r.output


def test_bad_configuration_stops_with_the_key_named(cli_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATHWAY_SMS_BACKNED", "twilio")
    r = CliRunner().invoke(main, ["db", "upgrade"])
    assert r.exit_code != 0 and "[sms] backned: unknown setting" in r.output


def test_demo_seeds_patients_at_every_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PATHWAY_DATABASE_URL", raising=False)
    r = CliRunner().invoke(main, ["demo", "--no-serve"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "instance" / "demo.db").exists()
    out = r.output
    for needle in ("Ruiz, Ana", "[cancelled]", "[opted out]", "check_72h", "coordinator@demo.clinic", "completed"):
        assert needle in out
    # Running it again starts from a fresh demo database.
    assert CliRunner().invoke(main, ["demo", "--no-serve"]).exit_code == 0


def test_token_create_works_against_the_demo_database_the_demo_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PATHWAY_DATABASE_URL", raising=False)
    demo = CliRunner().invoke(main, ["demo", "--no-serve"])
    assert demo.exit_code == 0, demo.output
    demo_url = f"sqlite:///{tmp_path / 'instance' / 'demo.db'}"
    assert f"Demo database: {demo_url}" in demo.output
    # Without --database the default config's database has no schema: the error says what to do.
    r = CliRunner().invoke(main, ["token", "create", "--email", "coordinator@demo.clinic"])
    assert r.exit_code != 0
    assert "pathway db upgrade" in r.output and f"--database {demo_url}" in r.output
    assert "Traceback" not in r.output
    # The command the demo prints gives a token.
    printed = next(line for line in demo.output.splitlines() if line.startswith("API token:"))
    args = printed.removeprefix("API token:").split()
    assert args[:2] == ["pathway", "token"]
    r = CliRunner().invoke(main, args[1:])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().startswith("pw_")


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("pathway")
    r = subprocess.run([str(exe), "--help"], capture_output=True, text=True, env=os.environ, timeout=60)
    assert r.returncode == 0
    for command in ("demo", "serve", "db", "user", "token"):
        assert command in r.stdout


def test_serve_runs_the_web_app_on_a_production_server(cli_env, tmp_path: Path) -> None:
    import socket
    import time
    import urllib.error
    import urllib.request

    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("pathway")
    env = {**os.environ, **cli_env}
    proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code  # 503: the database answers but no worker has beaten yet
            except OSError:
                time.sleep(0.3)
        assert status == 503
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # serve never starts a scheduler: nothing wrote a worker heartbeat.
    from sqlalchemy import create_engine, text

    engine = create_engine(cli_env["PATHWAY_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM worker_heartbeats")).scalar() == 0
    engine.dispose()
