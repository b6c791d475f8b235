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


def _rows(session):  # type: ignore[no-untyped-def]
    session.flush()
    return [(r.action, r.entity_id, r.patient_id, r.detail, r.actor, r.at) for r in
            session.scalars(select(AuditEvent).where(AuditEvent.action.like("t.%")).order_by(AuditEvent.id))]


def test_an_audit_batch_stores_the_same_rows_in_order_at_its_end(session, env, staff) -> None:
    from pathway.services.base import audit, audit_batch

    who = staff["coordinator"]
    calls = [("t.a", 1, {"n": 1}), ("t.b", 2, None), ("t.c", None, None), ("t.d", 4, {"n": 4})]
    for action, entity, detail in calls:
        audit(session, env, who, action, "x", entity, detail=detail)
    direct = _rows(session)
    direct_nulls = _null_details(session)
    session.execute(AuditEvent.__table__.delete().where(AuditEvent.action.like("t.%")))
    with audit_batch(session):
        for action, entity, detail in calls:
            audit(session, env, who, action, "x", entity, detail=detail)
        assert _rows(session) == []  # kept back until the block ends
    assert _rows(session) == direct
    assert _null_details(session) == direct_nulls  # a detail of None: JSON 'null' both ways, not SQL NULL


def _null_details(session):  # type: ignore[no-untyped-def]
    return sorted(session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("t.%"),
                                                                   AuditEvent.detail.is_(None))))


def test_an_audit_batch_that_fails_stores_nothing_and_does_not_nest(session, env, staff) -> None:
    from pathway.services.base import audit, audit_batch

    with pytest.raises(RuntimeError, match="boom"), audit_batch(session):
        audit(session, env, staff["coordinator"], "t.lost", "x", None)
        raise RuntimeError("boom")
    assert _rows(session) == []
    with pytest.raises(RuntimeError, match="do not nest"), audit_batch(session), audit_batch(session):
        pass
    audit(session, env, staff["coordinator"], "t.after", "x", None)  # the session audits as usual again
    assert [r[0] for r in _rows(session)] == ["t.after"]
