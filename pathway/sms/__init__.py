"""Sending texts: one Protocol, a console backend for demos and the Twilio backend.

``pathway.sms.twilio`` is imported on purpose by whoever configures it (or by :func:`backend`,
only when Twilio is the configured backend); the rest of the project never loads the Twilio SDK
by accident and never names it.
"""

from pathway.sms.base import (
    Answer,
    Backend,
    IncomingText,
    OutgoingSms,
    ProviderMessage,
    SendResult,
    SmsError,
    StatusReport,
    Transport,
)
from pathway.sms.console import ConsoleBackend, ConsoleTransport


def backend(name: str, auth_token: str) -> Backend:
    """The configured provider's webhooks and codes (``[sms] backend``): what the web side speaks to."""
    if name == "twilio":
        from pathway.sms.twilio import TwilioBackend

        return TwilioBackend(auth_token)
    return ConsoleBackend()


__all__ = [
    "Answer",
    "Backend",
    "ConsoleBackend",
    "ConsoleTransport",
    "IncomingText",
    "OutgoingSms",
    "ProviderMessage",
    "SendResult",
    "SmsError",
    "StatusReport",
    "Transport",
    "backend",
]
