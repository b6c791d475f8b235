"""`pathway catalogue review --by NAME`: who reviewed which catalogue version, at the CLI's clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from pathway import cli
from pathway.cli import main
from pathway.clock import FixedClock

REVIEWED_AT = datetime(2027, 1, 15, 14, 30, tzinfo=UTC)


@pytest.fixture
def cli_db(fresh_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:  # type: ignore[no-untyped-def]
    from pathway.runtime import Runtime

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATHWAY_DATABASE_URL", fresh_db.url)
    # The clock is read at the CLI edge; the test fixes it there.
    monkeypatch.setattr(cli, "_runtime", lambda database=None: Runtime.build(cli._config(database),
                                                                             clock=FixedClock(REVIEWED_AT)))
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return str(fresh_db.url)


def test_catalogue_review_records_who_reviewed_which_version_at_the_cli_clock(cli_db: str) -> None:
    from pathway.db import make_engine, make_session_factory
    from pathway.models import AuditEvent, CatalogueReview
    from pathway.timeline.catalogue import load_catalogue

    result = CliRunner().invoke(main, ["catalogue", "review", "--by", "Dr. Rivera"])
    assert result.exit_code == 0, result.output
    version = load_catalogue().version
    assert f"catalogue version {version} reviewed by Dr. Rivera" in result.output
    engine = make_engine(cli_db, pool=False)
    try:
        with make_session_factory(engine)() as s:
            review = s.scalars(select(CatalogueReview)).one()
            assert (review.version, review.reviewed_by, review.reviewed_at) == (version, "Dr. Rivera", REVIEWED_AT)
            event = s.scalars(select(AuditEvent).where(AuditEvent.action == "catalogue.review")).one()
            assert event.actor == "cli" and event.at == REVIEWED_AT
    finally:
        engine.dispose()


@pytest.mark.parametrize("args", [[], ["--by", "  "]])
def test_catalogue_review_without_a_name_is_a_clear_error(cli_db: str, args: list[str]) -> None:
    result = CliRunner().invoke(main, ["catalogue", "review", *args])
    assert result.exit_code == 2
    assert "pathway catalogue review --by NAME" in result.output
