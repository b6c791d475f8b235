"""Fixtures for the pure timeline rules: shipped data, and builders for episode facts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pathway.timeline import (
    Catalogue,
    EpisodeFacts,
    HoldFacts,
    PathwayDefinition,
    QuietHours,
    TemplateSet,
    load_catalogue,
    load_definition,
)

NY = ZoneInfo("America/New_York")
UTC = UTC


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def definition() -> PathwayDefinition:
    return load_definition()


@pytest.fixture(scope="session")
def templates() -> TemplateSet:
    return TemplateSet.load()


@pytest.fixture(scope="session")
def quiet(definition: PathwayDefinition) -> QuietHours:
    return definition.quiet_hours()


HoldBuilder = Callable[..., HoldFacts]
FactsBuilder = Callable[..., EpisodeFacts]


@pytest.fixture
def make_hold() -> HoldBuilder:
    """Clopidogrel, approved and signed, unless told otherwise."""

    def build(**overrides: Any) -> HoldFacts:
        values: dict[str, Any] = {
            "ref": "h1",
            "drug_label": "clopidogrel",
            "stop_days": 7,
            "stop_hours": None,
            "restart_hours": 24,
            "clearance": "approved",
            "signed": True,
            "rule": "clopidogrel: 7 days before, restart 24 h after; ASRA 2018 high-risk",
        }
        values.update(overrides)
        return HoldFacts(**values)

    return build


@pytest.fixture
def make_facts() -> FactsBuilder:
    """Procedure Wed 2027-03-10 08:00 New York, scheduled, created Feb 1, no bookings."""

    def build(**overrides: Any) -> EpisodeFacts:
        values: dict[str, Any] = {
            "tz": NY,
            "status": "scheduled",
            "procedure_at": datetime(2027, 3, 10, 8, 0, tzinfo=NY),
            "duration": timedelta(minutes=60),
            "ended_at": None,
            "created_at": datetime(2027, 2, 1, 15, 0, tzinfo=UTC),
            "holds": (),
            "follow_up_at": None,
            "pt_start_at": None,
        }
        values.update(overrides)
        return EpisodeFacts(**values)

    return build
