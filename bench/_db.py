"""A scratch database for the benchmarks: migrated, empty, and gone afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def scratch_database(base: str | None, tmp: Path, name: str) -> Iterator[str]:
    """A migrated, empty database: a SQLite file in ``tmp`` or a throwaway PostgreSQL database."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from pathway import migrate
    from pathway.db import normalise_url

    if base and not base.startswith("sqlite"):
        url = make_url(normalise_url(base))
        db = f"pathway_bench_{name}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{db}"'))
        target = url.set(database=db).render_as_string(hide_password=False)
        try:
            migrate.upgrade(target)
            yield target
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            admin.dispose()
    else:
        target = f"sqlite:///{tmp / f'{name}.db'}"
        migrate.upgrade(target)
        yield target
