from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from pathway.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_example_config_documents_every_setting_and_loads() -> None:
    from dataclasses import fields

    from pathway.config import SECTIONS

    text = (ROOT / "config.example.toml").read_text()
    cfg = load_config(ROOT / "config.example.toml", env={})
    assert cfg.clinic.timezone == "America/New_York"
    for section, cls in SECTIONS.items():
        assert f"[{section}]" in text
        for f in fields(cls):
            assert f"\n{f.name} = " in text, f"config.example.toml does not document [{section}] {f.name}"


def test_defaults_use_sqlite_in_instance_folder_and_console_texts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(env={})
    assert cfg.database.url == f"sqlite:///{tmp_path / 'instance' / 'pathway.db'}"
    assert cfg.sms.backend == "console"
    assert cfg.quiet_hours.start == time(8) and cfg.quiet_hours.end == time(20)


def test_pathway_toml_in_working_directory_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pathway.toml").write_text('[clinic]\nname = "North Clinic"\n')
    assert load_config(env={}).clinic.name == "North Clinic"


def test_environment_overrides_file(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[sms]\nbackend = "console"\n[dispatch]\ntick_seconds = 5\n')
    cfg = load_config(env={"PATHWAY_CONFIG": str(f), "PATHWAY_DISPATCH_TICK_SECONDS": "2.5",
                           "PATHWAY_WEB_PUBLIC_URL": "https://p.example", "PATHWAY_QUIET_HOURS_START": "09:00"})
    assert cfg.dispatch.tick_seconds == 2.5
    assert cfg.web.public_url == "https://p.example"
    assert cfg.quiet_hours.start == time(9)
    assert cfg.source == str(f)


def test_secrets_come_from_environment_only(tmp_path: Path) -> None:
    # A secret no setting's name contains ("tok" is in api_token_days).
    cfg = load_config(env={"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "zq-auth-9f3", "PATHWAY_SECRET_KEY": "s"})
    secrets = cfg.secrets
    assert (secrets.twilio_account_sid, secrets.twilio_auth_token, secrets.secret_key) == ("AC1", "zq-auth-9f3", "s")
    assert "zq-auth-9f3" not in repr(cfg)
    f = tmp_path / "c.toml"
    f.write_text('[sms]\nauth_token = "leaked"\n')
    with pytest.raises(ConfigError, match=r"\[sms\] auth_token: secrets are read only from the environment"):
        load_config(f, env={})


@pytest.mark.parametrize(
    ("content", "env", "message"),
    [
        ('[sms]\nbackned = "console"\n', {}, r"\[sms\] backned: unknown setting"),
        ('[smss]\nbackend = "console"\n', {}, r"\[smss\]: unknown section"),
        ("", {"PATHWAY_SMS_BACKNED": "x"}, r"\[sms\] backned: unknown setting"),
        ("", {"PATHWAY_NOPE_X": "1"}, r"PATHWAY_NOPE_X: unknown setting"),
        ("[dispatch]\ntick_seconds = \"fast\"\n", {}, r"\[dispatch\] tick_seconds: expected a number"),
        ("[web]\nport = 1.5\n", {}, r"\[web\] port: expected a whole number"),
        ('[quiet_hours]\nstart = "8am"\n', {}, r"\[quiet_hours\] start: expected a time"),
        ('[quiet_hours]\nstart = "21:00"\n', {}, r"start must be before end"),
        ('[clinic]\ntimezone = "Mars/Olympus"\n', {}, r"\[clinic\] timezone: unknown IANA time zone"),
        ('[sms]\nbackend = "pigeon"\n', {}, r"\[sms\] backend: must be"),
        ('[sms]\nbackend = "twilio"\nfrom_number = "+15555550123"\n', {}, r"TWILIO_ACCOUNT_SID"),
        ('[sms]\nbackend = "twilio"\n', {"TWILIO_ACCOUNT_SID": "a", "TWILIO_AUTH_TOKEN": "b"}, r"exactly one of"),
        ('[web]\npublic_url = "pathway.example"\n', {}, r"\[web\] public_url: must start with"),
        ("not toml = = =", {}, r"not valid TOML"),
        ("[dispatch]\nreconcile_grace_seconds = 30\n", {}, r"reconcile_grace_seconds: must be more than"),
    ],
)
def test_bad_settings_are_errors_that_name_the_key(
    tmp_path: Path, content: str, env: dict[str, str], message: str
) -> None:
    f = tmp_path / "c.toml"
    f.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(f, env=env)


def test_missing_config_file_is_an_error() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(env={"PATHWAY_CONFIG": "/nonexistent/pathway.toml"})


def test_test_and_bench_variables_are_not_settings() -> None:
    load_config(env={"PATHWAY_TEST_DATABASE_URL": "postgresql://x", "PATHWAY_BENCH_SIZE": "3"})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[database]\necho = 1\n", r"\[database\] echo: expected true or false, got 1"),
        ("[web]\nport = true\n", r"\[web\] port: expected a whole number, got True"),
        ("[sms]\ntimeout_seconds = false\n", r"\[sms\] timeout_seconds: expected a number, got False"),
        ("[quiet_hours]\nstart = 28800\n", r"\[quiet_hours\] start: expected a time"),
        ("[clinic]\nname = 5\n", r"\[clinic\] name: expected text, got 5"),
    ],
)
def test_a_file_value_of_the_wrong_type_is_not_converted(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(f, env={})


def test_environment_text_is_parsed_to_each_settings_type() -> None:
    cfg = load_config(env={"PATHWAY_SMS_RATE_LIMIT": "off", "PATHWAY_DATABASE_ECHO": "yes", "PATHWAY_WEB_PORT": "8080",
                           "PATHWAY_QUIET_HOURS_END": "21:30", "PATHWAY_DISPATCH_CONCURRENCY": "2"})
    assert (cfg.sms.rate_limit, cfg.database.echo, cfg.web.port) == (False, True, 8080)
    assert cfg.quiet_hours.end == time(21, 30) and cfg.dispatch.concurrency == 2


def test_overrides_are_checked_like_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[web\] porrt: unknown setting"):
        load_config(env={}, overrides={"web": {"porrt": 1}})
    with pytest.raises(ConfigError, match=r"\[sms\] auth_token: secrets are read only from the environment"):
        load_config(env={}, overrides={"sms": {"auth_token": "x"}})
    with pytest.raises(ConfigError, match=r"\[sms\] auth_token: secrets are read only from the environment"):
        load_config(env={"PATHWAY_SMS_AUTH_TOKEN": "x"})


def test_settings_are_frozen() -> None:
    from dataclasses import FrozenInstanceError

    cfg = load_config(env={})
    with pytest.raises(FrozenInstanceError):
        cfg.web.port = 1  # type: ignore[misc]
    with pytest.raises(ValueError, match="frozen"):
        cfg.source = "x"  # type: ignore[misc]
