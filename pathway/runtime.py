"""The wired-up parts one process needs: configuration, database, rules and the clock.

Built by the edges (CLI commands, ``create_app``); nothing below them imports this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pathway.clock import Clock, system_clock
from pathway.config import Config, load_config
from pathway.db import make_engine, make_session_factory
from pathway.services.base import Clinic, Env, Rules
from pathway.timeline import QuietHours


@dataclass
class Runtime:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    rules: Rules
    clock: Clock

    @classmethod
    def build(
        cls, config: Config | None = None, *, clock: Clock = system_clock, engine: Engine | None = None
    ) -> Runtime:
        config = config or load_config()
        engine = engine or make_engine(config.database.url, echo=config.database.echo)
        clinic = Clinic(config.clinic.name, config.clinic.phone, config.clinic.timezone, config.web.public_url)
        rules = Rules.load(clinic, QuietHours(config.quiet_hours.start, config.quiet_hours.end))
        return cls(config=config, engine=engine, sessions=make_session_factory(engine), rules=rules, clock=clock)

    def env(self) -> Env:
        return Env(rules=self.rules, now=self.clock())

    @contextmanager
    def unit_of_work(self) -> Iterator[tuple[Session, Env]]:
        """One transaction and one reading of the clock."""
        with self.sessions() as session, session.begin():
            yield session, self.env()
