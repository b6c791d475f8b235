from __future__ import annotations

import pytest
from sqlalchemy import select

from pathway.models import AuditEvent
from pathway.models.audit import AuditIsAppendOnly


def _enrol_row(session):  # type: ignore[no-untyped-def]
    return session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.enrol")).one()


def test_audit_rows_cannot_be_changed_through_the_orm(session, env, make_patient) -> None:
    make_patient()
    row = _enrol_row(session)
    assert row.actor.startswith("user:") and row.entity_type == "patient"
    row.action = "nothing happened"
    with pytest.raises(AuditIsAppendOnly):
        session.flush()


def test_audit_rows_cannot_be_deleted_through_the_orm(session, env, make_patient) -> None:
    make_patient()
    session.delete(_enrol_row(session))
    with pytest.raises(AuditIsAppendOnly):
        session.flush()
