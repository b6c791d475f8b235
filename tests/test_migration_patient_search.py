"""0018_patient_search gives every patient enrolled before it their folded name keys, so the
search finds them as it finds a patient enrolled after (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from pathway import migrate
from pathway.db import make_engine
from pathway.services.patients import find, fold


def test_patients_enrolled_before_the_upgrade_are_found_by_a_folded_name(fresh_db: Any) -> None:
    engine = make_engine(fresh_db.url, pool=False)
    try:
        migrate.upgrade(fresh_db.url, "0017_report_indexes", engine=engine)
        with engine.begin() as conn:
            for n, (given, family) in enumerate((("José", "García-López"), ("Seán", "O'Brien"))):
                conn.execute(text(
                    "INSERT INTO patients (mrn, given_name, family_name, birth_date, phone, timezone, language, "
                    "detailed_texts, created_at) VALUES (:mrn, :given, :family, '1950-01-01', '+12125550100', "
                    "'America/New_York', 'en', false, '2026-12-01 12:00:00+00:00')"),
                    {"mrn": f"OLD{n}", "given": given, "family": family})
        migrate.upgrade(fresh_db.url, engine=engine)
        with engine.connect() as conn:
            keys = conn.execute(text("SELECT search_family, search_given FROM patients ORDER BY mrn")).all()
        assert [tuple(k) for k in keys] == [("garcia lopez", "jose"), ("obrien", "sean")]
        assert [tuple(k) for k in keys] == [(fold("García-López"), fold("José")), (fold("O'Brien"), fold("Seán"))]
        with Session(engine) as session:
            assert [(f.patient.mrn, f.matched) for f in find(session, "GARCIA LOPEZ, jose").rows] == [
                ("OLD0", "family_given")]
        migrate.downgrade(fresh_db.url, "0017_report_indexes", engine=engine)
        migrate.upgrade(fresh_db.url, engine=engine)
        migrate.check(fresh_db.url, engine=engine)
    finally:
        engine.dispose()
