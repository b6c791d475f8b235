from __future__ import annotations

from tests.fakes.fixtures import fake_twilio, twilio_transport_factory  # noqa: F401  (fixtures)
