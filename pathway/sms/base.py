"""One interface for sending texts, and the classification of what went wrong.

A transport sends one text and either returns the provider's id or raises :class:`SmsError`
whose ``outcome`` tells the dispatcher what it may do next (see docs/dispatch.md):

``retry``      Twilio documents the request was NOT processed (HTTP 429 / error 20429, or the
               connection failed before a byte of the request left: refused, DNS, TLS, proxy).
               Safe to send again later.
``permanent``  Will never succeed for this number/body/sender: no retry; flag the phone.
``opted_out``  Error 21610: the patient replied STOP. Suppress their other texts.
``ambiguous``  The request may have reached Twilio (read timeout, 5xx, connection dropped after
               the request was written). Never resend blindly: reconcile with ``list_sent``.

Stdlib only; ``pathway/sms/twilio.py`` is the one module that knows about the Twilio SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, Protocol

Outcome = Literal["retry", "permanent", "opted_out", "ambiguous"]
OUTCOMES: Final[frozenset[str]] = frozenset({"retry", "permanent", "opted_out", "ambiguous"})


@dataclass(frozen=True)
class OutgoingSms:
    ref: str  # our message id, e.g. "m123": the only thing about a text that may be logged
    to: str  # E.164
    body: str
    status_callback: str | None  # URL Twilio posts delivery status to


@dataclass(frozen=True)
class SendResult:
    provider_id: str  # Twilio SID "SM..."
    status: str  # provider status at acceptance: queued|accepted|sending|sent|delivered


@dataclass(frozen=True)
class ProviderMessage:
    """A message as the provider knows it; used to reconcile an ambiguous send."""

    provider_id: str
    to: str
    body: str
    status: str
    created_at: datetime  # aware, UTC


class SmsError(Exception):
    """A send (or a provider query) failed; ``outcome`` says what the dispatcher may do.

    The message never contains a phone number or a body: Twilio's own error text often quotes
    the number ("The 'To' number +1... is not a valid phone number"), so it is not carried here.
    """

    def __init__(
        self,
        message: str,
        *,
        outcome: str,
        code: int | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")
        super().__init__(message)
        self.outcome: str = outcome
        self.code = code
        self.http_status = http_status
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        """True when sending this text again can never help."""
        return self.outcome in ("permanent", "opted_out")

    def __repr__(self) -> str:
        return (
            f"SmsError({str(self)!r}, outcome={self.outcome!r}, code={self.code!r}, "
            f"http_status={self.http_status!r}, retry_after={self.retry_after!r})"
        )


class Transport(Protocol):
    name: str
    default_rate_per_second: float | None  # None = unlimited

    def send(self, sms: OutgoingSms) -> SendResult: ...

    def list_sent(self, to: str, since: datetime) -> list[ProviderMessage]:
        """Messages to ``to`` created at or after ``since`` (aware), newest first."""
        ...


# --- classification ----------------------------------------------------------------------------

#: Twilio error codes after which the same text to the same number can never succeed.
#: code -> Twilio's meaning (https://www.twilio.com/docs/api/errors/<code>).
PERMANENT_CODES: Final[dict[int, str]] = {
    20003: "Authentication failed (wrong Account SID or Auth Token): configuration, not the phone",
    21211: "Invalid 'To' phone number",
    21212: "Invalid 'From' phone number",
    21408: "Permission to send an SMS has not been enabled for the region of the 'To' number",
    21601: "Phone number is not a valid SMS-capable number",
    21602: "Message body is required",
    21603: "A 'From' phone number is required",
    21604: "A 'To' phone number is required",
    21606: "The 'From' phone number is not a valid, SMS-capable number for this account",
    21612: "The 'To' number is not reachable via SMS (carrier or From/To combination)",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit",
    21659: "'From' is not a Twilio number or short code of this account, or a country mismatch",
    21660: "Mismatch between the 'From' number and the account",
    21703: "The Messaging Service has no phone number available to send from",
    30003: "Unreachable destination handset",
    30004: "Message blocked (e.g. the recipient blocked it or the number cannot receive SMS)",
    30005: "Unknown destination handset (the number does not exist)",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered by the carrier",
    30008: "Unknown error from the carrier",
}

#: The patient replied STOP (or another opt-out keyword) to this sender.
OPTED_OUT_CODES: Final[dict[int, str]] = {
    21610: "Attempt to send to an unsubscribed recipient (the patient replied STOP)",
}

#: Twilio documents these as "not processed": safe to send again later.
RETRY_CODES: Final[dict[int, str]] = {
    20429: "Too Many Requests: the request was rejected by rate limiting",
}


def classify(http_status: int | None, code: int | None) -> Outcome:
    """Map Twilio's (HTTP status, error code) to what the dispatcher may do.

    The tables above decide first; then the HTTP status: 429 is Twilio's "not processed",
    any other 4xx is the request's fault and will fail again (permanent), 5xx and anything
    unexpected may have been processed (ambiguous).
    """
    if code is not None:
        if code in RETRY_CODES:
            return "retry"
        if code in OPTED_OUT_CODES:
            return "opted_out"
        if code in PERMANENT_CODES:
            return "permanent"
    if http_status == 429:
        return "retry"
    if http_status is not None and 400 <= http_status < 500:
        return "permanent"
    return "ambiguous"
