"""Alembic environment: the URL comes from pathway's configuration (or the caller's engine)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

import pathway.models  # noqa: F401  (registers every table on Base.metadata)
from pathway.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from pathway.config import load_config

    return load_config().database.url


def _configure(connection: Connection) -> None:
    dialect = connection.dialect.name

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        # An index the models create on some databases only (``info["dialects"]``, with ``ddl_if``)
        # is not missing from the others.
        dialects = getattr(obj, "info", {}).get("dialects") if type_ == "index" and not reflected else None
        return dialects is None or dialect in dialects

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
        include_object=include_object,
    )


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    owned = engine is None
    if owned:
        engine = make_engine(_url(), pool=False)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        if owned:
            engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
