"""Alembic, configured from pathway's own settings (no alembic.ini to keep in sync)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine

from pathway.resources import migrations_dir


def alembic_config(url: str, engine: Engine | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(url: str, revision: str = "head", engine: Engine | None = None) -> None:
    command.upgrade(alembic_config(url, engine), revision)


def downgrade(url: str, revision: str = "base", engine: Engine | None = None) -> None:
    command.downgrade(alembic_config(url, engine), revision)


def check(url: str, engine: Engine | None = None) -> None:
    """Raise if the migrated schema differs from the models (``alembic check``)."""
    command.check(alembic_config(url, engine))


def revision_module(number: str) -> ModuleType:
    """A migration file's module by its number (``"0020"``): to read what it runs, such as its
    backfill statement (the bench times it; a test checks the models run the same)."""
    path = next((migrations_dir() / "versions").glob(f"{number}_*.py"))
    spec = importlib.util.spec_from_file_location(f"pathway_migration_{number}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
