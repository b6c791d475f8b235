"""Send texts through Twilio's Messages API with the official SDK.

The only module in the project that imports ``twilio`` (and the HTTP stack under it,
``requests``/``urllib3``, whose exceptions it must read to tell "never sent" from "maybe sent").

The SDK's own ``TwilioHttpClient`` is kept: it is a ``requests.Session`` that merges the
environment on every request, so ``HTTPS_PROXY``/``NO_PROXY`` and ``REQUESTS_CA_BUNDLE`` work
as they do for any ``requests`` program. We only give it a timeout and a response hook (to read
``Retry-After``, which ``TwilioRestException`` does not carry).

Patient data stays out of logs: the SDK logs query strings and headers at INFO and urllib3 logs
request lines (``?To=%2B1555...`` when listing) at DEBUG, so both loggers are raised to WARNING /
INFO here; our own records carry only our message ref, the Twilio SID and error codes; and
errors are re-raised ``from None`` because Twilio's error text quotes the phone number.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from pathway.sms.base import (
    Answer,
    IncomingText,
    Outcome,
    OutgoingSms,
    ProviderMessage,
    SendResult,
    SmsError,
    StatusReport,
)

log = logging.getLogger(__name__)

#: Loggers of the HTTP stack that write phone numbers or bodies below this level.
_QUIET_LOGGERS: dict[str, int] = {
    "twilio.http_client": logging.WARNING,  # query params and headers at INFO
    "urllib3.connectionpool": logging.INFO,  # '"GET ...?To=%2B1555... HTTP/1.1" 200' at DEBUG
    "urllib3.util.retry": logging.INFO,  # "Incremented Retry for (url=...)" at DEBUG
}

#: A US 10DLC/long code sends about one segment a second; a Messaging Service pools several
#: senders (and queues at Twilio), so it can take more.
RATE_FROM_NUMBER = 1.0
RATE_MESSAGING_SERVICE = 10.0


# --- Twilio's error codes and what each lets the dispatcher do -------------------------------

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


#: Permanent errors that say our sender or account is misconfigured, not that the number is bad:
#: the dispatcher retries them with backoff (someone fixes the settings) and raises one task.
CONFIGURATION_ERRORS: Final[dict[int, str]] = {
    20003: "authentication failed",
    20404: "account or resource not found",
    21606: "From number not owned by the account",
    21659: "From number not valid",
    21212: "invalid From number",
}

#: Twilio's message statuses -> ours.
MESSAGE_STATUSES: Final[dict[str, str]] = {
    "accepted": "sent", "scheduled": "sent", "queued": "sent", "sending": "sent", "sent": "sent",
    "delivered": "delivered", "read": "delivered", "undelivered": "undelivered", "failed": "failed",
}

#: Carrier errors in a status callback that mean the number itself cannot take texts.
BAD_NUMBER_ERRORS: Final[dict[int, str]] = {
    30003: "unreachable handset",
    30005: "unknown destination",
    30006: "landline or unreachable carrier",
}


def _quiet_sdk_loggers() -> None:
    # An explicit level on each logger, so turning the root logger to DEBUG later (as a
    # developer or caplog does) cannot bring them back.
    for name, level in _QUIET_LOGGERS.items():
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < level:
            logger.setLevel(level)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (args, ``reason``, cause, context), breadth-first."""
    seen: list[BaseException] = []
    todo: list[object] = [exc]
    while todo and len(seen) < 20:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        todo.extend(item.args)
        todo.extend([getattr(item, "reason", None), item.__cause__, item.__context__])
    return seen


def network_outcome(exc: requests.RequestException) -> Outcome:
    """Did the request leave this machine? requests/urllib3 tell connect from read failures.

    - ``ConnectTimeout``, a refused or unresolvable connection (urllib3 ``NewConnectionError``,
      ``NameResolutionError``), a proxy that would not open the tunnel (``ProxyError``) and a
      failed TLS handshake (``SSLError``) all happen before a byte of the request is written:
      ``retry``.
    - ``ReadTimeout`` and a connection reset/closed while waiting for the answer
      (``ProtocolError('Connection aborted.', ...)``) happen after it was written: ``ambiguous``.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "retry"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "ambiguous"
    if isinstance(exc, (requests.exceptions.ProxyError, requests.exceptions.SSLError)):
        return "retry"
    if isinstance(exc, requests.exceptions.ConnectionError):
        before_send = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
        if any(isinstance(c, before_send) for c in _causes(exc)):
            return "retry"
        return "ambiguous"
    return "ambiguous"


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` as seconds: delta-seconds, or an HTTP date measured against the
    response's own ``Date`` header (so no clock is read here)."""
    value = headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        until = parsedate_to_datetime(value)
        now = parsedate_to_datetime(headers.get("Date", ""))
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, (until - now).total_seconds())


def _error_code_from_body(text: str) -> int | None:
    try:
        payload = json.loads(text)
    except ValueError:
        return None
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, int) else None


class TwilioBackend:
    """Twilio's webhooks and codes: all the web side needs, from the Auth Token alone."""

    name = "twilio"

    def __init__(self, auth_token: str) -> None:
        self._auth_token = auth_token

    def webhook_signed(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        """True when ``X-Twilio-Signature`` matches ``url`` (as Twilio called it) and the POST params.

        ``url`` must be the public address Twilio used, not the one the app sees behind a
        TLS-terminating proxy; callers build it from ``[web] public_url``.
        """
        signature = headers.get("X-Twilio-Signature")
        if not self._auth_token or not signature:
            return False
        from twilio.request_validator import RequestValidator

        return bool(RequestValidator(self._auth_token).validate(url, dict(params), signature))

    def answer(self, text: str | None) -> Answer:
        """A TwiML answer to an incoming text: one message back, or nothing."""
        from twilio.twiml.messaging_response import MessagingResponse

        response = MessagingResponse()
        if text:
            response.message(text)
        return Answer(str(response), "application/xml")

    def read_status(self, params: Mapping[str, str]) -> StatusReport:
        provider_status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
        raw_code = str(params.get("ErrorCode") or "")
        code = int(raw_code) if raw_code.isdigit() else None
        return StatusReport(sid=params.get("MessageSid") or params.get("SmsSid") or "",
                            provider_status=provider_status, status=MESSAGE_STATUSES.get(provider_status),
                            error_code=code, bad_number=BAD_NUMBER_ERRORS.get(code) if code is not None else None)

    def read_reply(self, params: Mapping[str, str]) -> IncomingText:
        return IncomingText(from_number=params.get("From", ""), body=params.get("Body", ""),
                            sid=params.get("MessageSid") or params.get("SmsSid"))


class TwilioTransport(TwilioBackend):
    """Twilio Programmable Messaging behind the :class:`~pathway.sms.base.Transport` protocol."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        api_base_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if (from_number is None) == (messaging_service_sid is None):
            raise ValueError(
                "TwilioTransport needs exactly one sender: from_number (an E.164 Twilio number) "
                "or messaging_service_sid (MG...), not both and not neither"
            )
        if timeout <= 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout!r}")
        super().__init__(auth_token)
        _quiet_sdk_loggers()
        self._from_number = from_number
        self._messaging_service_sid = messaging_service_sid
        self.default_rate_per_second: float | None = (
            RATE_FROM_NUMBER if from_number is not None else RATE_MESSAGING_SERVICE
        )
        self._last = threading.local()
        http_client = TwilioHttpClient(
            timeout=timeout, request_hooks={"response": [self._remember_response]}
        )
        self._client = Client(account_sid, auth_token, http_client=http_client)
        if api_base_url is not None:
            # Tests and development only. Twilio's Domain builds every URL from base_url;
            # TWILIO_EDGE / TWILIO_REGION in the environment would rewrite the host, so drop them.
            self._client.api.base_url = api_base_url.rstrip("/")
            self._client.edge = None
            self._client.region = None

    def close(self) -> None:
        """Close pooled connections (the transport can still be used; it reconnects)."""
        session = getattr(self._client.http_client, "session", None)
        if session is not None:
            session.close()

    # The SDK raises TwilioRestException without the response headers; keep them per thread.
    def _remember_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last.headers = CaseInsensitiveDict(response.headers)

    def _last_headers(self) -> Mapping[str, str]:
        headers: Mapping[str, str] | None = getattr(self._last, "headers", None)
        return headers if headers is not None else CaseInsensitiveDict()

    def send(self, sms: OutgoingSms) -> SendResult:
        self._last.headers = None
        sender: dict[str, str] = (
            {"from_": self._from_number}
            if self._from_number is not None
            else {"messaging_service_sid": str(self._messaging_service_sid)}
        )
        extra: dict[str, str] = {}
        if sms.status_callback is not None:
            extra["status_callback"] = sms.status_callback
        try:
            message = self._client.messages.create(to=sms.to, body=sms.body, **sender, **extra)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise self._api_error(sms.ref, "send", exc.status, exc.code) from None
        except requests.RequestException as exc:
            raise self._network_error(sms.ref, "send", exc) from None
        except json.JSONDecodeError:
            # A 2xx whose body is not Twilio's JSON: something answered; it may have been sent.
            log.warning("sms %s: unreadable answer to send -> ambiguous", sms.ref)
            raise SmsError(
                "Twilio's answer to the send could not be read", outcome="ambiguous"
            ) from None
        provider_id = str(message.sid)
        status = str(message.status or "queued")
        log.info("sms %s: accepted by Twilio as %s (%s)", sms.ref, provider_id, status)
        return SendResult(provider_id=provider_id, status=status)

    def list_sent(self, to: str, since: datetime) -> list[ProviderMessage]:
        """Messages to ``to`` created at or after ``since``, newest first.

        Twilio filters ``DateSent`` by whole (UTC) days, so we ask for everything sent since
        the start of ``since``'s day and filter on ``date_created`` here. Twilio's dates have
        whole seconds, so ``since`` is floored to the second. Twilio's clock is not ours:
        callers reconciling a send should pass ``since`` with a margin and match on the body.
        """
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        floor = since.astimezone(UTC).replace(microsecond=0)
        day_start = floor.replace(hour=0, minute=0, second=0)
        self._last.headers = None
        try:
            messages = self._client.messages.list(to=to, date_sent_after=day_start)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise self._api_error(None, "list", exc.status, exc.code) from None
        except requests.RequestException as exc:
            raise self._network_error(None, "list", exc) from None
        except TwilioException as exc:
            # A page that was not 200 comes back as TwilioException("Unable to fetch page", r).
            response = exc.args[1] if len(exc.args) > 1 else None
            status = getattr(response, "status_code", None)
            code = _error_code_from_body(str(getattr(response, "text", "")))
            raise self._api_error(None, "list", status, code) from None
        found: list[ProviderMessage] = []
        for m in messages:
            created = m.date_created
            if created is None:
                continue
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            created = created.astimezone(UTC)
            if created < floor:
                continue
            found.append(
                ProviderMessage(
                    provider_id=str(m.sid),
                    to=str(m.to),
                    body=str(m.body or ""),
                    status=str(m.status),
                    created_at=created,
                )
            )
        found.sort(key=lambda p: p.created_at, reverse=True)
        return found

    def _api_error(
        self, ref: str | None, action: str, http_status: int | None, code: int | None
    ) -> SmsError:
        outcome = classify(http_status, code)
        retry_after = retry_after_seconds(self._last_headers()) if outcome == "retry" else None
        log.warning(
            "sms %s: Twilio refused %s: HTTP %s error %s -> %s",
            ref or "-", action, http_status, code, outcome,
        )
        return SmsError(
            f"Twilio refused the {action}: HTTP {http_status}, error {code}",
            outcome=outcome,
            code=code,
            http_status=http_status,
            retry_after=retry_after,
            configuration=CONFIGURATION_ERRORS.get(code) if outcome == "permanent" and code is not None else None,
        )

    def _network_error(
        self, ref: str | None, action: str, exc: requests.RequestException
    ) -> SmsError:
        outcome = network_outcome(exc)
        # Only the exception's type: its text holds the URL, which holds To= when listing.
        kind = type(exc).__name__
        log.warning("sms %s: %s failed on the network (%s) -> %s", ref or "-", action, kind, outcome)
        return SmsError(f"{action} to Twilio failed: {kind}", outcome=outcome)
