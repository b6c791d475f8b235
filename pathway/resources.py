"""Where the files that ship beside the code live (stdlib only; any layer may import it).

In a wheel, ``templates/`` and ``migrations/`` are copied into the package; in an editable
checkout they stay at the top of the repository.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"


def _shipped(name: str) -> Path:
    inside = PACKAGE_DIR / name
    if inside.is_dir():
        return inside
    return PACKAGE_DIR.parent / name


def templates_dir() -> Path:
    return _shipped("templates")


def sms_templates_dir() -> Path:
    return templates_dir() / "sms"


def migrations_dir() -> Path:
    return _shipped("migrations")
