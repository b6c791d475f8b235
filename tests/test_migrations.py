"""The migrations build exactly the models' schema, and undo cleanly, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect

from pathway import migrate
from pathway.db import Base, make_engine


def test_upgrade_matches_models_and_downgrade_reaches_base(fresh_db) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(fresh_db.url, pool=False)
    try:
        migrate.upgrade(fresh_db.url, engine=engine)
        migrate.check(fresh_db.url, engine=engine)  # raises if the models and migrations differ
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        migrate.downgrade(fresh_db.url, "base", engine=engine)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(fresh_db.url, engine=engine)
        migrate.check(fresh_db.url, engine=engine)
    finally:
        engine.dispose()


def test_migration_files_are_named_as_sentences() -> None:
    from pathway.resources import migrations_dir

    names = sorted(p.stem for p in (migrations_dir() / "versions").glob("*.py"))
    assert names
    for name in names:
        rev, _, words = name.partition("_")
        assert rev.isdigit() and len(words.split("_")) >= 3, f"{name}: name migrations NNNN_a_sentence"
