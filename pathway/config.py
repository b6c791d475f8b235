"""Configuration: a TOML file plus environment overrides, validated by pydantic-settings.

Read order: built-in defaults, then the file named by ``PATHWAY_CONFIG`` (or ``./pathway.toml``
when it exists), then ``PATHWAY_<SECTION>_<KEY>`` environment variables. Secrets come only from
the environment (``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``PATHWAY_SECRET_KEY``).
Unknown keys and bad values raise :class:`ConfigError` naming the key, so a typo never passes
silently.

Each section is a frozen pydantic dataclass (its fields are the documented settings, see
config.example.toml); :class:`Config` is the pydantic-settings ``BaseSettings`` that holds them.
The file is read by pydantic-settings' ``TomlConfigSettingsSource`` and the environment by
:class:`PathwayEnvironment`, a settings source for the ``PATHWAY_<SECTION>_<KEY>`` names (one
underscore joins section and key, and sections have underscores of their own, so the stock
nested-delimiter parsing cannot split them). :func:`load_config` takes the file and the
environment as arguments, so tests never read the process's own.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import field, fields
from datetime import time
from pathlib import Path
from typing import Annotated, Any, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

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


def _only(*kinds: type) -> BeforeValidator:
    """Refuse pydantic's lax cross-type conversions (true as 1, 1 as true, 28800 as 08:00).

    A TOML value must already have the setting's type; the environment gives text, parsed.
    """

    def check(value: Any) -> Any:
        if isinstance(value, bool) and bool not in kinds:
            raise ValueError("wrong type")
        if not isinstance(value, (*kinds, str)):
            raise ValueError("wrong type")
        return value

    return BeforeValidator(check)


Whole = Annotated[int, _only(int)]
Number = Annotated[float, _only(int, float)]
Flag = Annotated[bool, _only(bool), BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v)]
Clock = Annotated[time, _only(time)]
Text = Annotated[str, _only(str)]

# What a bad value of each type is told.
EXPECTED: dict[Any, str] = {
    Whole: "expected a whole number", Number: "expected a number", Flag: "expected true or false",
    Clock: 'expected a time like "08:00"', Text: "expected text",
}
_SECTION = ConfigDict(extra="forbid", frozen=True)

def _default_database_url() -> str:
    return "sqlite:///" + str(Path.cwd() / "instance" / "pathway.db")


@dataclass(config=_SECTION)
class DatabaseConfig:
    url: Text = field(default_factory=_default_database_url)
    echo: Flag = False


@dataclass(config=_SECTION)
class WebConfig:
    public_url: Text = "http://127.0.0.1:5000"
    host: Text = "127.0.0.1"
    port: Whole = 5000
    session_idle_minutes: Whole = 30
    session_absolute_hours: Whole = 12
    trusted_proxies: Whole = 0
    max_request_bytes: Whole = 1_048_576
    api_token_days: Whole = 90


@dataclass(config=_SECTION)
class ClinicConfig:
    name: Text = "Riverside Spine & Pain"
    phone: Text = "+15555550100"
    timezone: Text = "America/New_York"


@dataclass(config=_SECTION)
class QuietHoursConfig:
    start: Clock = time(8, 0)
    end: Clock = time(20, 0)


@dataclass(config=_SECTION)
class SmsConfig:
    backend: Text = "console"
    from_number: Text = ""
    messaging_service_sid: Text = ""
    rate_per_second: Number = 0.0
    rate_limit: Flag = True
    api_base_url: Text = ""
    timeout_seconds: Number = 10.0
    console_show_bodies: Flag = False


@dataclass(config=_SECTION)
class DispatchConfig:
    tick_seconds: Number = 1.0
    housekeeping_seconds: Number = 30.0
    batch_size: Whole = 100
    lease_seconds: Number = 60.0
    max_attempts: Whole = 6
    backoff_base_seconds: Number = 30.0
    backoff_max_seconds: Number = 3600.0
    reconcile_grace_seconds: Number = 300.0
    concurrency: Whole = 4


@dataclass(config=_SECTION)
class Secrets:
    twilio_account_sid: Text = ""
    twilio_auth_token: Text = ""
    secret_key: Text = ""


class Config(BaseSettings):
    """Every setting. Built by :func:`load_config`; frozen, so a running process cannot drift."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    clinic: ClinicConfig = Field(default_factory=ClinicConfig)
    quiet_hours: QuietHoursConfig = Field(default_factory=QuietHoursConfig)
    sms: SmsConfig = Field(default_factory=SmsConfig)
    dispatch: DispatchConfig = Field(default_factory=DispatchConfig)
    secrets: Secrets = Field(default_factory=Secrets, repr=False)
    source: str = "defaults"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_config gathers the file and the environment it is given, in order, and passes
        # the result in; the stock sources would read this process's environment behind it.
        return (init_settings,)

    def replace(self, **sections: Any) -> Config:
        return self.model_copy(update=sections)


SECTIONS: dict[str, type] = {
    "database": DatabaseConfig,
    "web": WebConfig,
    "clinic": ClinicConfig,
    "quiet_hours": QuietHoursConfig,
    "sms": SmsConfig,
    "dispatch": DispatchConfig,
}


def _check_keys(section: str, values: Mapping[str, Any]) -> None:
    """Unknown sections and keys, and secrets outside the environment, are errors naming them."""
    if section not in SECTIONS:
        raise ConfigError(f"[{section}]: unknown section; known sections: {', '.join(SECTIONS)}")
    if not isinstance(values, Mapping):
        raise ConfigError(f"{section}: must be a [{section}] table")
    known = [f.name for f in fields(SECTIONS[section])]
    for key in values:
        name = f"[{section}] {key}"
        if key in SECRET_KEYS:
            raise ConfigError(f"{name}: secrets are read only from the environment ({SECRET_KEYS[key]})")
        if key not in known:
            raise ConfigError(f"{name}: unknown setting; known settings in [{section}]: {', '.join(sorted(known))}")


class PathwayEnvironment(PydanticBaseSettingsSource):
    """``PATHWAY_<SECTION>_<KEY>`` variables as settings, and the secrets, from a given mapping."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.env = env

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ reads every variable at once, as a section can only be told by prefix.
        return None, field_name, False  # pragma: no cover

    def __call__(self) -> dict[str, Any]:
        data: dict[str, dict[str, Any]] = {}
        for var, value in self.env.items():
            if not var.startswith("PATHWAY_") or var in NOT_SETTINGS or var.startswith(NOT_SETTING_PREFIXES):
                continue
            rest = var[len("PATHWAY_"):].lower()
            for section in sorted(SECTIONS, key=len, reverse=True):
                if rest.startswith(section + "_"):
                    data.setdefault(section, {})[rest[len(section) + 1:]] = value
                    break
            else:
                raise ConfigError(
                    f"{var}: unknown setting; use PATHWAY_<SECTION>_<KEY> with a section of {', '.join(SECTIONS)}"
                )
        for section, values in data.items():
            _check_keys(section, values)
        secrets = {"twilio_account_sid": self.env.get("TWILIO_ACCOUNT_SID", ""),
                   "twilio_auth_token": self.env.get("TWILIO_AUTH_TOKEN", ""),
                   "secret_key": self.env.get("PATHWAY_SECRET_KEY", "")}
        return {**data, "secrets": secrets}


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"configuration file {str(path)!r} does not exist (PATHWAY_CONFIG)")
    try:
        data: dict[str, Any] = TomlConfigSettingsSource(Config, toml_file=path).toml_data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for section, values in data.items():
        _check_keys(section, values)
    return data


def _merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers win, key by key within a section."""
    out: dict[str, Any] = {}
    for layer in layers:
        for section, values in layer.items():
            if isinstance(values, Mapping):
                out[section] = {**out.get(section, {}), **values}
            else:
                out[section] = values
    return out


def _validation_error(exc: ValidationError) -> ConfigError:
    """The first problem, named as ``[section] key`` and said as the old loader said it."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    if len(loc) < 2 or loc[0] not in SECTIONS:  # pragma: no cover (keys are checked before)
        return ConfigError(f"{'.'.join(loc)}: {error['msg']}")
    section, key = loc[0], loc[1]
    kind = get_type_hints(SECTIONS[section], include_extras=True).get(key)
    expected = EXPECTED.get(kind, error["msg"])
    return ConfigError(f"[{section}] {key}: {expected}, got {error.get('input')!r}")


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
    for name in ("session_idle_minutes", "session_absolute_hours", "max_request_bytes"):
        if getattr(cfg.web, name) < 1:
            raise ConfigError(f"[web] {name}: must be at least 1")
    if not 1 <= cfg.web.api_token_days <= 365:
        raise ConfigError(f"[web] api_token_days: must be between 1 and 365, got {cfg.web.api_token_days}")
    if cfg.web.trusted_proxies < 0:
        raise ConfigError("[web] trusted_proxies: must be 0 (the app faces clients directly) or more")
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
    from_file = _read_file(Path(path)) if path is not None else {}
    from_env = PathwayEnvironment(Config, env)()
    for section, values in (overrides or {}).items():
        _check_keys(section, values)
    try:
        cfg = Config(**_merge(from_file, from_env, overrides or {}),
                     source=str(Path(path)) if path is not None else "defaults")
    except ValidationError as exc:
        raise _validation_error(exc) from None
    _validate(cfg)
    return cfg
