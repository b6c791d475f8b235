"""Pytest fixtures for the fakes. Import them into a conftest:

    from tests.fakes.fixtures import fake_twilio, twilio_transport_factory  # noqa: F401

``fake_twilio`` is a started :class:`FakeTwilio` on 127.0.0.1 (stopped after the test);
``twilio_transport_factory(**overrides)`` builds a real ``TwilioTransport`` pointed at it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.fake_twilio import FakeTwilio

FROM_NUMBER = "+15005550006"
MESSAGING_SERVICE_SID = "MG" + "a" * 32


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def twilio_transport_factory(fake_twilio: FakeTwilio) -> Callable[..., Any]:
    from pathway.sms.twilio import TwilioTransport

    def make(**overrides: Any) -> TwilioTransport:
        kwargs: dict[str, Any] = {
            "account_sid": fake_twilio.account_sid,
            "auth_token": fake_twilio.auth_token,
            "api_base_url": fake_twilio.base_url,
            "timeout": 1.0,
        }
        if "messaging_service_sid" not in overrides:
            kwargs["from_number"] = FROM_NUMBER
        kwargs.update(overrides)
        return TwilioTransport(**kwargs)

    return make
