"""Account administration rules that hold whoever calls: a page, the API or the command line."""

from __future__ import annotations

from typing import Any

import pytest

from pathway.models import AuditEvent, User
from pathway.services.base import Forbidden
from pathway.services.users import set_active


def test_an_admin_cannot_deactivate_their_own_account(session: Any, env: Any, staff: Any) -> None:
    admin = staff["admin"]
    with pytest.raises(Forbidden, match="your own account"):
        set_active(session, env, admin, admin.user_id, False)
    assert session.get(User, admin.user_id).active
    assert session.query(AuditEvent).filter_by(action="user.deactivate").count() == 0


def test_an_admin_deactivates_another_account_and_may_reactivate_their_own(session: Any, env: Any,
                                                                           staff: Any) -> None:
    admin = staff["admin"]
    assert not set_active(session, env, admin, staff["clinician"].user_id, False).active
    assert set_active(session, env, admin, admin.user_id, True).active
