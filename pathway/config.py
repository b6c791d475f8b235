"""Configuration: a TOML file plus environment overrides, into frozen dataclasses.

Read order: built-in defaults, then the file named by ``PATHWAY_CONFIG`` (or ``./pathway.toml``
when it exists), then ``PATHWAY_<SECTION>_<KEY>`` environment variables. Secrets come only from
the environment (``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``PATHWAY_SECRET_KEY``).
Unknown keys and bad values raise :class:`ConfigError` naming the key, so a typo never passes
silently.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import time
from pathlib import Path
from typing import Any, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SECRET_KEYS = {
    "account_sid": "TWILIO_ACCOUNT_SID",
    "auth_token": "TWILIO_AUTH_TOKEN",
    "secret_key": "PATHWAY_SECRET_KEY",
    "password": "the database URL in PATHWAY_DATABASE_URL",
}
# Environment variables that start with PATHWAY_ but are not settings.
NOT_SETTINGS = {"PATHWAY_CONFIG", "PATHWAY_SECRET_KEY"}
NOT_SETTING_PREFIXES = ("PATHWAY_TEST_", "PATHWAY_BENCH_")


class ConfigError(ValueError):
    """A setting is unknown or has a bad value; the message names it and says what to fix."""


def _default_database_url() -> str:
    return "sqlite:///" + str(Path.cwd() / "instance" / "pathway.db")


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = field(default_factory=_default_database_url)
    echo: bool = False


@dataclass(frozen=True)
class WebConfig:
    public_url: str = "http://127.0.0.1:5000"
    host: str = "127.0.0.1"
    port: int = 5000
    session_idle_minutes: int = 30
    trusted_proxies: int = 0


@dataclass(frozen=True)
class ClinicConfig:
    name: str = "Riverside Spine & Pain"
    phone: str = "+15555550100"
    timezone: str = "America/New_York"


@dataclass(frozen=True)
class QuietHoursConfig:
    start: time = time(8, 0)
    end: time = time(20, 0)


@dataclass(frozen=True)
class SmsConfig:
    backend: str = "console"
    from_number: str = ""
    messaging_service_sid: str = ""
    rate_per_second: float = 0.0
    rate_limit: bool = True
    api_base_url: str = ""
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class DispatchConfig:
    tick_seconds: float = 1.0
    housekeeping_seconds: float = 30.0
    batch_size: int = 100
    lease_seconds: float = 60.0
    max_attempts: int = 6
    backoff_base_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    reconcile_grace_seconds: float = 300.0
    concurrency: int = 4


@dataclass(frozen=True)
class Secrets:
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    secret_key: str = ""


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    web: WebConfig = field(default_factory=WebConfig)
    clinic: ClinicConfig = field(default_factory=ClinicConfig)
    quiet_hours: QuietHoursConfig = field(default_factory=QuietHoursConfig)
    sms: SmsConfig = field(default_factory=SmsConfig)
    dispatch: DispatchConfig = field(default_factory=DispatchConfig)
    secrets: Secrets = field(default_factory=Secrets, repr=False)
    source: str = "defaults"

    def replace(self, **sections: Any) -> Config:
        return dataclasses.replace(self, **sections)


SECTIONS: dict[str, type] = {
    "database": DatabaseConfig,
    "web": WebConfig,
    "clinic": ClinicConfig,
    "quiet_hours": QuietHoursConfig,
    "sms": SmsConfig,
    "dispatch": DispatchConfig,
}


def _parse_value(name: str, kind: Any, raw: Any) -> Any:
    from_env = isinstance(raw, str)
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if from_env and raw.strip().lower() in {"1", "true", "yes", "on"}:
            return True
        if from_env and raw.strip().lower() in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name}: expected true or false, got {raw!r}")
    if kind is int:
        if isinstance(raw, bool) or isinstance(raw, float):
            raise ConfigError(f"{name}: expected a whole number, got {raw!r}")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if kind is float:
        if isinstance(raw, bool):
            raise ConfigError(f"{name}: expected a number, got {raw!r}")
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if kind is time:
        if isinstance(raw, time):
            return raw
        try:
            return time.fromisoformat(str(raw))
        except ValueError:
            raise ConfigError(f"{name}: expected a time like \"08:00\", got {raw!r}") from None
    if kind is str:
        if not isinstance(raw, str):
            raise ConfigError(f"{name}: expected text, got {raw!r}")
        return raw
    raise ConfigError(f"{name}: unsupported setting type")  # pragma: no cover


def _build_section(section: str, cls: type, values: Mapping[str, Any]) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, raw in values.items():
        name = f"[{section}] {key}"
        if key in SECRET_KEYS:
            raise ConfigError(f"{name}: secrets are read only from the environment ({SECRET_KEYS[key]})")
        if key not in known:
            raise ConfigError(f"{name}: unknown setting; known settings in [{section}]: {', '.join(sorted(known))}")
        kwargs[key] = _parse_value(name, hints[key], raw)
    return cls(**kwargs)


def _validate(cfg: Config) -> None:
    try:
        ZoneInfo(cfg.clinic.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"[clinic] timezone: unknown IANA time zone {cfg.clinic.timezone!r}") from None
    if cfg.quiet_hours.start >= cfg.quiet_hours.end:
        raise ConfigError("[quiet_hours] start must be before end (for example start = \"08:00\", end = \"20:00\")")
    if cfg.sms.backend not in {"console", "twilio"}:
        raise ConfigError(f"[sms] backend: must be \"console\" or \"twilio\", got {cfg.sms.backend!r}")
    if cfg.sms.backend == "twilio":
        if bool(cfg.sms.from_number) == bool(cfg.sms.messaging_service_sid):
            raise ConfigError("[sms] set exactly one of from_number or messaging_service_sid for the twilio backend")
        if not (cfg.secrets.twilio_account_sid and cfg.secrets.twilio_auth_token):
            raise ConfigError("[sms] backend twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN in the environment")
    if cfg.sms.rate_per_second < 0:
        raise ConfigError("[sms] rate_per_second: must be 0 (the transport's default) or more")
    if not cfg.web.public_url.startswith(("http://", "https://")):
        raise ConfigError(f"[web] public_url: must start with http:// or https://, got {cfg.web.public_url!r}")
    for name in ("tick_seconds", "housekeeping_seconds", "lease_seconds"):
        if getattr(cfg.dispatch, name) <= 0:
            raise ConfigError(f"[dispatch] {name}: must be more than 0")
    floor = cfg.sms.timeout_seconds + cfg.dispatch.lease_seconds
    if cfg.dispatch.reconcile_grace_seconds <= floor:
        # A text not yet visible at Twilio may still be in flight until the send times out and the
        # lease ends; resending sooner than that could text the patient twice.
        raise ConfigError(f"[dispatch] reconcile_grace_seconds: must be more than [sms] timeout_seconds + "
                          f"[dispatch] lease_seconds ({floor:g}), or an unknown text could be sent twice")
    if cfg.dispatch.batch_size < 1 or cfg.dispatch.max_attempts < 1 or cfg.dispatch.concurrency < 1:
        raise ConfigError("[dispatch] batch_size, max_attempts and concurrency must be at least 1")


def load_config(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Load configuration. ``overrides`` (section -> key -> value) win over everything; tests use it."""
    env = os.environ if env is None else env
    if path is None:
        path = env.get("PATHWAY_CONFIG") or None
        if path is None and Path("pathway.toml").is_file():
            path = "pathway.toml"
    data: dict[str, dict[str, Any]] = {}
    source = "defaults"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"configuration file {str(p)!r} does not exist (PATHWAY_CONFIG)")
        try:
            with p.open("rb") as fh:
                raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from None
        for section, values in raw.items():
            if section not in SECTIONS:
                raise ConfigError(f"[{section}]: unknown section; known sections: {', '.join(SECTIONS)}")
            if not isinstance(values, dict):
                raise ConfigError(f"{section}: must be a [{section}] table")
            data[section] = dict(values)
        source = str(p)
    for var, value in env.items():
        if not var.startswith("PATHWAY_") or var in NOT_SETTINGS or var.startswith(NOT_SETTING_PREFIXES):
            continue
        rest = var[len("PATHWAY_"):].lower()
        for section in sorted(SECTIONS, key=len, reverse=True):
            if rest.startswith(section + "_"):
                data.setdefault(section, {})[rest[len(section) + 1:]] = value
                break
        else:
            raise ConfigError(f"{var}: unknown setting; use PATHWAY_<SECTION>_<KEY> with a section of {', '.join(SECTIONS)}")
    for section, values in (overrides or {}).items():
        if section not in SECTIONS:
            raise ConfigError(f"[{section}]: unknown section")
        data.setdefault(section, {}).update(values)
    built = {name: _build_section(name, cls, data.get(name, {})) for name, cls in SECTIONS.items()}
    secrets = Secrets(
        twilio_account_sid=env.get("TWILIO_ACCOUNT_SID", ""),
        twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", ""),
        secret_key=env.get("PATHWAY_SECRET_KEY", ""),
    )
    cfg = Config(**built, secrets=secrets, source=source)
    _validate(cfg)
    return cfg
