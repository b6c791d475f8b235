"""A fake Twilio Messages API on loopback that the real ``twilio`` SDK talks to over HTTP.

Start it in the test process (``with FakeTwilio() as fake:`` or the ``fake_twilio`` fixture) and
point a transport at ``fake.base_url`` -- from this process or from worker subprocesses, which
reach it over 127.0.0.1. Everything it records is kept in this process and guarded by a lock.

Endpoints (shapes from Twilio's OpenAPI description of the 2010-04-01 API):

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` -> 201 message JSON, status "queued"
- ``GET  /2010-04-01/Accounts/{AccountSid}/Messages.json`` with To, From, DateSent, DateSent<,
  DateSent> (whole UTC days, like Twilio), PageSize, Page, PageToken -> a page with
  ``next_page_uri``; newest first
- ``GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`` -> the message, or 404/20404

Errors use Twilio's JSON: ``{"code", "message", "more_info", "status"}``.

Faults apply to message creation (POST) unless a policy says otherwise:

- ``fake.inject(Fault.too_many_requests(retry_after="2"), Fault.error(21211), ...)``: a FIFO
  used one fault per create request, before the policy;
- ``fake.set_fault_policy(fn)``: ``fn(RequestInfo) -> Fault | None`` for every request;
- ``fake.random_faults(rate=0.3, seed=7)``: a seeded mix for the fault tests;
- ``with fake.refusing_connections():`` closes the listening socket, so connects are refused
  (ECONNREFUSED) -- the one failure a client can prove happened before its request left.

The server's clock is a parameter (``clock=``) so simulated-time tests and the fake agree on
``date_created``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import re
import secrets
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEFAULT_AUTH_TOKEN = "fake-auth-token-0123456789abcdef"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_ACCOUNT_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages(?:/(?P<sid>[^/]+))?\.json$"
)

# GSM 03.38 basic set; the extension set costs two septets.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("^{}\\[~]|€\f")


def num_segments(body: str) -> int:
    """Segments Twilio bills for ``body`` (GSM-7: 160/153, otherwise UCS-2: 70/67)."""
    if all(c in _GSM_BASIC or c in _GSM_EXT for c in body):
        septets = sum(2 if c in _GSM_EXT else 1 for c in body)
        return 1 if septets <= 160 else -(-septets // 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


def rfc2822(moment: datetime) -> str:
    """Twilio's date format: 'Thu, 24 Aug 2023 05:01:45 +0000'."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0))


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --- records and faults ------------------------------------------------------------------------


@dataclass
class SentRecord:
    """One message Twilio accepted (the request reached it), whatever the client then saw."""

    sid: str
    at: datetime  # date_created, by the fake's clock
    to: str
    body: str
    from_: str | None
    messaging_service_sid: str | None
    status_callback: str | None
    account_sid: str
    seq: int
    status: str = "queued"
    error_code: int | None = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestInfo:
    """What a fault policy sees: method, path, and for a create, the form fields."""

    method: str
    path: str
    form: dict[str, str]

    @property
    def is_create(self) -> bool:
        return self.method == "POST" and self.path.endswith("/Messages.json")


@dataclass(frozen=True)
class Fault:
    """One way for a request to go wrong. Build with the class methods.

    kind:
      ``error``                  answer ``status`` with Twilio's error JSON for ``code``; the
                                 message is recorded first only if ``record`` (a 500 that sent)
      ``timeout_after_recording`` record the message, then hold the connection ``hold`` seconds
                                 (longer than the client timeout) and close it unanswered
      ``drop_after_recording``   record the message, then close the connection unanswered
      ``drop_before_recording``  read the request line and headers, then reset the connection
                                 without reading the body; nothing is recorded
    """

    kind: str
    status: int = 400
    code: int | None = None
    message: str | None = None
    retry_after: str | None = None
    record: bool = False
    hold: float = 5.0

    @classmethod
    def error(cls, code: int, status: int = 400, message: str | None = None) -> Fault:
        return cls("error", status=status, code=code, message=message)

    @classmethod
    def too_many_requests(cls, retry_after: str | None = None) -> Fault:
        return cls("error", status=429, code=20429, message="Too Many Requests",
                   retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500, *, record: bool = False) -> Fault:
        return cls("error", status=status, code=20500 if status == 500 else 20503,
                   message="Internal Server Error" if status == 500 else "Service Unavailable",
                   record=record)

    @classmethod
    def timeout_after_recording(cls, hold: float = 5.0) -> Fault:
        return cls("timeout_after_recording", hold=hold)

    @classmethod
    def drop_after_recording(cls) -> Fault:
        return cls("drop_after_recording")

    @classmethod
    def drop_before_recording(cls) -> Fault:
        return cls("drop_before_recording")


FaultPolicy = Callable[[RequestInfo], Fault | None]


class RandomFaults:
    """A seeded policy: ``rate`` of create requests fail with a fault drawn from ``mix``.

    The default mix covers every outcome class the dispatcher must handle: 429 (retry),
    500/503 (ambiguous, sometimes actually sent), a read timeout after the message was recorded
    and a dropped connection before it was (both ambiguous to the client).
    """

    def __init__(
        self,
        rate: float,
        seed: int,
        mix: list[Fault] | None = None,
        *,
        hold: float = 3.0,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        self.rate = rate
        self.mix = mix or [
            Fault.too_many_requests(retry_after="1"),
            Fault.server_error(500),
            Fault.server_error(503, record=True),
            Fault.timeout_after_recording(hold=hold),
            Fault.drop_before_recording(),
            Fault.drop_after_recording(),
        ]
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.decisions: list[Fault | None] = []

    def __call__(self, request: RequestInfo) -> Fault | None:
        if not request.is_create:
            return None
        with self._lock:
            fault = self._rng.choice(self.mix) if self._rng.random() < self.rate else None
            self.decisions.append(fault)
            return fault


# --- the server --------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler holding a connection for a timeout fault never blocks stop
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeTwilio) -> None:
        self.fake = fake
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 10  # per-socket: a stuck client never holds a thread for long

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines carry ?To=+1...; the fake logs nothing

    def do_GET(self) -> None:
        self.server.fake._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._handle(self, "POST")

    def do_DELETE(self) -> None:
        self.server.fake._handle(self, "DELETE")


class FakeTwilio:
    """A Twilio Messages API on 127.0.0.1 with recorded messages and programmable faults."""

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        clock: Callable[[], datetime] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.clock = clock or _utc_now
        self.host = host
        self._port = port
        self._lock = threading.Lock()
        self._records: list[SentRecord] = []
        self._faults: deque[Fault] = deque()
        self._policy: FaultPolicy | None = None
        self._seq = 0
        self._requests_seen = 0
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._serve(self._port)
        return self

    def _serve(self, port: int) -> None:
        httpd = _Server((self.host, port), self)
        self._port = httpd.server_address[1]
        thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"fake-twilio:{self._port}", daemon=True,
        )
        thread.start()
        self._httpd, self._thread = httpd, thread

    def _close_listener(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers holding a connection for a timeout fault
        self._close_listener()

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """What to pass as ``TwilioTransport(api_base_url=...)``."""
        return f"http://{self.host}:{self._port}"

    @contextlib.contextmanager
    def refusing_connections(self) -> Iterator[None]:
        """Close the listening socket for the block: clients get ECONNREFUSED."""
        port = self._port
        self._close_listener()
        try:
            yield
        finally:
            if not self._stopping.is_set():
                self._serve(port)

    # fault injection ---------------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each create request takes the next one, before the policy."""
        with self._lock:
            self._faults.extend(faults)

    def set_fault_policy(self, policy: FaultPolicy | None) -> None:
        with self._lock:
            self._policy = policy

    def random_faults(self, rate: float, seed: int, **kwargs: Any) -> RandomFaults:
        policy = RandomFaults(rate, seed, **kwargs)
        self.set_fault_policy(policy)
        return policy

    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def _next_fault(self, info: RequestInfo) -> Fault | None:
        with self._lock:
            if info.is_create and self._faults:
                return self._faults.popleft()
            policy = self._policy
        return policy(info) if policy is not None else None

    # what was sent -----------------------------------------------------------------------------

    def records(self) -> list[SentRecord]:
        with self._lock:
            return [replace(r) for r in self._records]

    def requests_to(self, number: str) -> list[SentRecord]:
        return [r for r in self.records() if r.to == number]

    def count(self) -> int:
        with self._lock:
            return len(self._records)

    def bodies(self) -> list[str]:
        return [r.body for r in self.records()]

    def get(self, sid: str) -> SentRecord:
        with self._lock:
            for r in self._records:
                if r.sid == sid:
                    return replace(r)
        raise KeyError(sid)

    @property
    def requests_seen(self) -> int:
        """Every HTTP request that reached a handler (including faulted and GET ones)."""
        with self._lock:
            return self._requests_seen

    def reset(self) -> None:
        """Forget messages and faults (the server keeps running)."""
        with self._lock:
            self._records.clear()
            self._faults.clear()
            self._policy = None
            self._requests_seen = 0

    # status callbacks --------------------------------------------------------------------------

    def callback_params(
        self, sid: str, status: str, error_code: int | None = None
    ) -> dict[str, str]:
        """The form Twilio posts to StatusCallback for ``sid`` entering ``status``."""
        r = self.get(sid)
        params = {
            "AccountSid": r.account_sid,
            "ApiVersion": API_VERSION,
            "From": r.from_ or "+15005550006",
            "MessageSid": r.sid,
            "MessageStatus": status,
            "SmsSid": r.sid,
            "SmsStatus": status,
            "To": r.to,
        }
        if r.messaging_service_sid:
            params["MessagingServiceSid"] = r.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params

    def deliver(
        self, sid: str, status: str = "delivered", *, error_code: int | None = None,
        timeout: float = 5.0,
    ) -> requests.Response:
        """Move ``sid`` to ``status`` and POST the signed callback to its StatusCallback URL.

        Signed like Twilio: ``X-Twilio-Signature`` = RequestValidator over the full URL and the
        sorted POST parameters. Returns the webhook's response.
        """
        record = self.get(sid)
        if not record.status_callback:
            raise ValueError(f"message {sid} was sent without a StatusCallback")
        with self._lock:
            for r in self._records:
                if r.sid == sid:
                    r.status, r.error_code = status, error_code
        params = self.callback_params(sid, status, error_code)
        url = record.status_callback
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        with requests.Session() as session:
            session.trust_env = False  # loopback webhook: never through a test's HTTPS_PROXY
            return session.post(
                url, data=params, timeout=timeout, allow_redirects=False,
                headers={
                    "X-Twilio-Signature": signature,
                    "User-Agent": "TwilioProxy/1.1",
                    "I-Twilio-Idempotency-Token": secrets.token_hex(16),
                },
            )

    # request handling --------------------------------------------------------------------------

    def _handle(self, h: _Handler, method: str) -> None:
        with self._lock:
            self._requests_seen += 1
        split = urlsplit(h.path)
        match = _ACCOUNT_PATH.match(split.path)
        if not self._authorized(h):
            self._send_error(h, 401, 20003, "Authenticate",
                             extra_headers={"WWW-Authenticate": 'Basic realm="Twilio API"'})
            return
        if match is None or match["account"] != self.account_sid:
            self._send_error(h, 404, 20404, f"The requested resource {split.path} was not found")
            return
        if method == "POST" and match["sid"] is None:
            info = RequestInfo(method, split.path, {})
            fault = self._next_fault(info)
            if fault is not None and fault.kind == "drop_before_recording":
                self._reset_connection(h)
                return
            form = self._read_form(h)
            self._create(h, replace(info, form=form), fault)
            return
        if method != "GET":
            self._drain(h)
            self._send_error(h, 405, 20004, "Method not allowed")
            return
        info = RequestInfo(method, split.path, {})
        fault = self._next_fault(info)
        if fault is not None:
            self._apply_non_create_fault(h, fault)
            return
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        if match["sid"] is not None:
            self._fetch(h, match["sid"])
            return
        self._list(h, split.path, query)

    def _authorized(self, h: _Handler) -> bool:
        header = h.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(
            password, self.auth_token
        )

    def _read_form(self, h: _Handler) -> dict[str, str]:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length).decode() if length else ""
        return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def _drain(self, h: _Handler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        if length:
            h.rfile.read(length)

    def _create(self, h: _Handler, info: RequestInfo, fault: Fault | None) -> None:
        form = info.form
        if fault is not None and fault.kind == "error" and not fault.record:
            self._send_fault(h, fault, form)
            return
        to = form.get("To", "")
        if not to:
            self._send_error(h, 400, 21604, "A 'To' phone number is required.")
            return
        if not E164.match(to):
            self._send_error(h, 400, 21211, f"Invalid 'To' Phone Number: {to}")
            return
        if not form.get("From") and not form.get("MessagingServiceSid"):
            self._send_error(h, 400, 21603, "A 'From' phone number is required.")
            return
        if not form.get("Body"):
            self._send_error(h, 400, 21602, "Message body is required.")
            return
        record = self._record(form)
        if fault is None:
            self._send_json(h, 201, self._message_json(record, status="queued"))
            return
        if fault.kind == "error":
            self._send_fault(h, fault, form)
            return
        if fault.kind == "timeout_after_recording":
            self._stopping.wait(fault.hold)
            self._close_unanswered(h)
            return
        if fault.kind == "drop_after_recording":
            self._close_unanswered(h)
            return
        raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _apply_non_create_fault(self, h: _Handler, fault: Fault) -> None:
        if fault.kind == "error":
            self._send_fault(h, fault)
            return
        if fault.kind == "timeout_after_recording":
            self._stopping.wait(fault.hold)
            self._close_unanswered(h)
            return
        if fault.kind == "drop_before_recording":
            self._reset_connection(h)
            return
        self._close_unanswered(h)

    def _record(self, form: dict[str, str]) -> SentRecord:
        now = self.clock().astimezone(UTC).replace(microsecond=0)
        with self._lock:
            self._seq += 1
            record = SentRecord(
                sid="SM" + secrets.token_hex(16),
                at=now,
                to=form["To"],
                body=form.get("Body", ""),
                from_=form.get("From") or None,
                messaging_service_sid=form.get("MessagingServiceSid") or None,
                status_callback=form.get("StatusCallback") or None,
                account_sid=self.account_sid,
                seq=self._seq,
                params=dict(form),
            )
            self._records.append(record)
        return replace(record)

    def _message_json(self, r: SentRecord, status: str | None = None) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{r.account_sid}/Messages/{r.sid}.json"
        stamp = rfc2822(r.at)
        return {
            "account_sid": r.account_sid,
            "api_version": API_VERSION,
            "body": r.body,
            "date_created": stamp,
            "date_sent": stamp,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": r.error_code,
            "error_message": None,
            "from": r.from_,
            "messaging_service_sid": r.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(num_segments(r.body)),
            "price": None,
            "price_unit": "USD",
            "sid": r.sid,
            "status": status or r.status,
            "subresource_uris": {
                "media": uri.replace(".json", "/Media.json"),
                "feedback": uri.replace(".json", "/Feedback.json"),
            },
            "to": r.to,
            "uri": uri,
        }

    def _fetch(self, h: _Handler, sid: str) -> None:
        try:
            record = self.get(sid)
        except KeyError:
            self._send_error(
                h, 404, 20404,
                f"The requested resource /{API_VERSION}/Accounts/{self.account_sid}"
                f"/Messages/{sid}.json was not found",
            )
            return
        self._send_json(h, 200, self._message_json(record))

    def _list(self, h: _Handler, path: str, q: dict[str, str]) -> None:
        try:
            page_size = min(1000, max(1, int(q.get("PageSize") or 50)))
            page = max(0, int(q.get("Page") or 0))
            on = _day(q["DateSent"]) if q.get("DateSent") else None
            before = _day(q["DateSent<"]) if q.get("DateSent<") else None
            after = _day(q["DateSent>"]) if q.get("DateSent>") else None
        except ValueError as exc:
            self._send_error(h, 400, 20001, f"Invalid parameter: {exc}")
            return
        with self._lock:
            rows = [replace(r) for r in self._records]
        rows = [
            r for r in rows
            if (not q.get("To") or r.to == q["To"])
            and (not q.get("From") or r.from_ == q["From"])
            and (on is None or r.at.date() == on)
            and (before is None or r.at.date() <= before)
            and (after is None or r.at.date() >= after)
        ]
        rows.sort(key=lambda r: (r.at, r.seq), reverse=True)
        token = q.get("PageToken") or ""
        if token.startswith("PA") and token[2:].isdigit():
            # Keyset paging: everything older than the last row of the previous page, so
            # messages created meanwhile never shift or repeat a page.
            last = next((r for r in rows if r.seq == int(token[2:])), None)
            if last is not None:
                rows = [r for r in rows if (r.at, r.seq) < (last.at, last.seq)]
            start = page * page_size
        else:
            start = page * page_size
            rows = rows[start:]
        chunk = rows[:page_size]
        filters = {k: q[k] for k in ("To", "From", "DateSent", "DateSent<", "DateSent>") if q.get(k)}

        def uri(page_no: int, token: str | None = None) -> str:
            params = dict(filters, PageSize=str(page_size), Page=str(page_no))
            if token:
                params["PageToken"] = token
            return f"{path}?{urlencode(params)}"

        next_uri = uri(page + 1, f"PA{chunk[-1].seq}") if len(rows) > page_size else None
        self._send_json(h, 200, {
            "end": start + max(0, len(chunk) - 1),
            "first_page_uri": uri(0),
            "next_page_uri": next_uri,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": uri(page, token or None),
            "messages": [self._message_json(r) for r in chunk],
        })

    # wire helpers ------------------------------------------------------------------------------

    def _send_fault(self, h: _Handler, fault: Fault, form: dict[str, str] | None = None) -> None:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
        message = fault.message or _default_message(fault, form or {})
        self._send_error(h, fault.status, fault.code, message, extra_headers=headers)

    def _send_error(
        self, h: _Handler, status: int, code: int | None, message: str,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        payload: dict[str, Any] = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        self._send_json(h, status, payload, extra_headers)

    def _send_json(
        self, h: _Handler, status: int, payload: dict[str, Any],
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(payload).encode()
        h.close_connection = True
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("Connection", "close")
        h.send_header("Twilio-Request-Id", "RQ" + secrets.token_hex(16))
        for key, value in (extra_headers or {}).items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(data)

    def _close_unanswered(self, h: _Handler) -> None:
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)

    def _reset_connection(self, h: _Handler) -> None:
        """Close with RST (SO_LINGER 0) without reading the body."""
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()


# Twilio's wording; like Twilio's, several quote the phone number (so tests can prove that
# none of it reaches our logs).
_MESSAGES = {
    20003: "Authenticate",
    20429: "Too Many Requests",
    21211: "Invalid 'To' Phone Number: {to}",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the "
           "'To' number: {to}.",
    21606: "The 'From' phone number provided ({from_}) is not a valid message-capable Twilio "
           "phone number for this destination.",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number: {to}, is not currently reachable using the 'From' phone "
           "number: {from_} via SMS.",
    21614: "'To' number {to} is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}


def _default_message(fault: Fault, form: dict[str, str]) -> str:
    by_status = {429: "Too Many Requests", 500: "Internal Server Error",
                 503: "Service Unavailable"}
    template = _MESSAGES.get(fault.code or 0) or by_status.get(fault.status, f"Error {fault.code}")
    return template.format(to=form.get("To", ""), from_=form.get("From", ""))


def _day(value: str) -> date:
    """Twilio's DateSent filters compare whole UTC days, whatever time is given."""
    value = value.strip().lstrip("<>=")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return parsedate_to_datetime(value).astimezone(UTC).date()
