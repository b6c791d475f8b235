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

Stdlib only. A provider's own vocabulary (its error codes, its webhook signature, its reply
document) lives in its backend: ``pathway/sms/twilio.py`` is the one module that knows Twilio.
"""

from __future__ import annotations

from collections.abc import Mapping
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
        configuration: str | None = None,
    ) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")
        super().__init__(message)
        self.outcome: str = outcome
        self.code = code
        self.http_status = http_status
        self.retry_after = retry_after
        # Set when the refusal says our sender or account is misconfigured (not the number):
        # what is wrong, in the provider's words. Someone must fix the settings; retry meanwhile.
        self.configuration = configuration

    @property
    def permanent(self) -> bool:
        """True when sending this text again can never help."""
        return self.outcome in ("permanent", "opted_out")

    def __repr__(self) -> str:
        return (
            f"SmsError({str(self)!r}, outcome={self.outcome!r}, code={self.code!r}, "
            f"http_status={self.http_status!r}, retry_after={self.retry_after!r})"
        )


@dataclass(frozen=True)
class Answer:
    """What a webhook answers the provider with (e.g. TwiML carrying a reply to the patient)."""

    body: str
    mimetype: str


@dataclass(frozen=True)
class StatusReport:
    """A delivery status callback, read into our words."""

    sid: str  # the provider's id of the text ("" when not given)
    provider_status: str  # the provider's own word, lower case ("" when not given)
    status: str | None  # ours: sent | delivered | undelivered | failed; None for a word we do not know
    error_code: int | None
    bad_number: str | None  # why the number itself cannot take texts, when the code says so


@dataclass(frozen=True)
class IncomingText:
    """A text a patient sent us, as the provider's webhook delivered it."""

    from_number: str
    body: str
    sid: str | None


class Backend(Protocol):
    """What the web side asks of an SMS provider: its webhooks and the meaning of its codes."""

    name: str

    def webhook_signed(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        """True when the provider signed these POST params for ``url`` (the public address it called)."""
        ...

    def answer(self, text: str | None) -> Answer:
        """The answer to an incoming text: one text back to the patient, or nothing."""
        ...

    def read_status(self, params: Mapping[str, str]) -> StatusReport:
        """A status callback's POST params, in our words."""
        ...

    def read_reply(self, params: Mapping[str, str]) -> IncomingText:
        """An incoming text's POST params."""
        ...


class Transport(Backend, Protocol):
    default_rate_per_second: float | None  # None = unlimited

    def send(self, sms: OutgoingSms) -> SendResult: ...

    def list_sent(self, to: str, since: datetime) -> list[ProviderMessage]:
        """Messages to ``to`` created at or after ``since`` (aware), newest first."""
        ...
