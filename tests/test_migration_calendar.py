"""0014_calendar (after 0013_observations) gives every patient enrolled before it a private calendar link of its own."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text

from pathway import migrate
from pathway.db import make_engine


def test_patients_enrolled_before_the_upgrade_get_a_calendar_link_each(fresh_db: Any) -> None:
    engine = make_engine(fresh_db.url, pool=False)
    try:
        migrate.upgrade(fresh_db.url, "0013_observations", engine=engine)
        with engine.begin() as conn:
            for n in (1, 2):
                conn.execute(text(
                    "INSERT INTO patients (mrn, given_name, family_name, birth_date, phone, timezone, language, "
                    "detailed_texts, created_at) VALUES (:mrn, 'Pat', 'Old', '1950-01-01', '+12125550100', "
                    "'America/New_York', 'en', false, '2026-12-01 12:00:00+00:00')"), {"mrn": f"OLD{n}"})
        migrate.upgrade(fresh_db.url, engine=engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT patient_id, token, kind, revoked_at FROM calendar_links "
                                     "ORDER BY patient_id")).all()
        assert len(rows) == 2 and rows[0].patient_id != rows[1].patient_id
        assert all(r.kind == "patient" and r.revoked_at is None for r in rows)
        assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", r.token) for r in rows) and rows[0].token != rows[1].token
        migrate.downgrade(fresh_db.url, "0013_observations", engine=engine)
        migrate.upgrade(fresh_db.url, engine=engine)
    finally:
        engine.dispose()
