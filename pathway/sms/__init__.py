"""Sending texts: one Protocol, a console backend for demos and the Twilio backend.

``pathway.sms.twilio`` is imported on purpose by whoever configures it; this package does not
import it, so the rest of the project never loads the Twilio SDK by accident.
"""

from pathway.sms.base import (
    OutgoingSms,
    ProviderMessage,
    SendResult,
    SmsError,
    Transport,
    classify,
)
from pathway.sms.console import ConsoleTransport

__all__ = [
    "ConsoleTransport",
    "OutgoingSms",
    "ProviderMessage",
    "SendResult",
    "SmsError",
    "Transport",
    "classify",
]
