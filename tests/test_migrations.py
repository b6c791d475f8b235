"""The migrations build exactly the models' schema, and undo cleanly, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, inspect

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


def test_check_constraints_generated_from_the_vocabularies_match_what_the_migrations_wrote() -> None:
    # alembic check does not compare CHECK texts: this does. Changing a vocabulary fails here
    # until a migration (named as a sentence) writes the new constraint.
    import pathway.models  # noqa: F401  (registers every table)
    from pathway.resources import migrations_dir

    written = "\n".join(p.read_text() for p in (migrations_dir() / "versions").glob("*.py"))
    checks = [c for t in Base.metadata.tables.values() for c in t.constraints if isinstance(c, CheckConstraint)]
    assert len(checks) >= 10
    for check in checks:
        assert str(check.sqltext) in written, f"{check.name}: {check.sqltext} is in no migration; add one"
