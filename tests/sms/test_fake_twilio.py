"""The fake Twilio itself: what later tests (webhooks, workers, faults) rely on."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from twilio.request_validator import RequestValidator

from pathway.sms.base import OutgoingSms, SmsError
from pathway.sms.twilio import TwilioTransport
from tests.fakes.fake_twilio import FakeTwilio, Fault, RandomFaults, RequestInfo, num_segments

ROOT = Path(__file__).resolve().parents[2]
PATIENT = "+15551230001"
MakeTransport = Callable[..., TwilioTransport]


def api(fake: FakeTwilio, path: str = "") -> str:
    return f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages{path}.json"


def test_the_fake_answers_a_create_with_twilios_message_shape(fake_twilio: FakeTwilio) -> None:
    response = requests.post(
        api(fake_twilio),
        data={"To": PATIENT, "From": "+15005550006", "Body": "héllo ✓"},
        auth=(fake_twilio.account_sid, fake_twilio.auth_token),
        timeout=2,
    )
    assert response.status_code == 201
    message = response.json()
    assert message["sid"].startswith("SM") and len(message["sid"]) == 34
    assert message["status"] == "queued"
    assert message["date_created"].endswith(" +0000")  # RFC 2822, GMT
    assert message["num_segments"] == "1" and message["direction"] == "outbound-api"
    assert message["uri"] == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages/{message['sid']}.json"
    fetched = requests.get(
        api(fake_twilio, "/" + message["sid"]),
        auth=(fake_twilio.account_sid, fake_twilio.auth_token),
        timeout=2,
    ).json()
    assert fetched["sid"] == message["sid"] and fetched["body"] == "héllo ✓"


def test_the_fake_rejects_bad_credentials_and_unknown_messages_like_twilio(
    fake_twilio: FakeTwilio,
) -> None:
    denied = requests.get(api(fake_twilio), auth=(fake_twilio.account_sid, "wrong"), timeout=2)
    assert denied.status_code == 401
    assert denied.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    missing = requests.get(
        api(fake_twilio, "/SM" + "0" * 32),
        auth=(fake_twilio.account_sid, fake_twilio.auth_token),
        timeout=2,
    )
    assert (missing.status_code, missing.json()["code"]) == (404, 20404)


def test_the_fake_pages_with_next_page_uri_without_repeating_rows(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    transport = twilio_transport_factory()
    for i in range(5):
        transport.send(OutgoingSms(f"m{i}", PATIENT, f"text {i}", None))
    auth = (fake_twilio.account_sid, fake_twilio.auth_token)
    url: str | None = api(fake_twilio) + f"?To=%2B{PATIENT[1:]}&PageSize=2"
    seen: list[str] = []
    while url:
        page = requests.get(url, auth=auth, timeout=2).json()
        seen += [m["body"] for m in page["messages"]]
        # a message arriving mid-listing must not shift the pages
        transport.send(OutgoingSms("late", PATIENT, "arrived while paging", None))
        url = fake_twilio.base_url + page["next_page_uri"] if page["next_page_uri"] else None
    assert seen == [f"text {i}" for i in reversed(range(5))]


def test_the_fake_filters_date_sent_by_whole_days(fake_twilio: FakeTwilio) -> None:
    moments = iter([datetime(2025, 3, 4, 23, 0, tzinfo=UTC),
                    datetime(2025, 3, 5, 1, 0, tzinfo=UTC)])
    fake_twilio.clock = lambda: next(moments)
    auth = (fake_twilio.account_sid, fake_twilio.auth_token)
    for body in ("tuesday", "wednesday"):
        requests.post(api(fake_twilio), data={"To": PATIENT, "From": "+15005550006", "Body": body},
                      auth=auth, timeout=2)

    def bodies(**params: str) -> list[str]:
        page = requests.get(api(fake_twilio), params=params, auth=auth, timeout=2).json()
        return [m["body"] for m in page["messages"]]

    assert bodies(**{"DateSent>": "2025-03-05T00:30:00Z"}) == ["wednesday"]
    assert bodies(**{"DateSent>": "2025-03-05T23:00:00Z"}) == ["wednesday"]  # same day counts
    assert bodies(**{"DateSent<": "2025-03-04"}) == ["tuesday"]
    assert bodies(DateSent="2025-03-05") == ["wednesday"]


def test_the_fake_counts_segments_like_twilio() -> None:
    assert num_segments("a" * 160) == 1
    assert num_segments("a" * 161) == 2
    assert num_segments("€" * 80) == 1  # extension chars cost two septets
    assert num_segments("✓" * 70) == 1
    assert num_segments("✓" * 71) == 2


class _Webhook:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                outer.received.append((dict(self.headers), form))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms/status/m42?x=1"


@pytest.fixture
def webhook() -> Iterator[_Webhook]:
    hook = _Webhook()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def test_deliver_posts_a_status_callback_signed_like_twilio(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport, webhook: _Webhook
) -> None:
    sent = twilio_transport_factory().send(OutgoingSms("m42", PATIENT, "hi", webhook.url))
    response = fake_twilio.deliver(sent.provider_id, "undelivered", error_code=30003)
    assert response.status_code == 204
    [(headers, form)] = webhook.received
    assert form["MessageSid"] == form["SmsSid"] == sent.provider_id
    assert form["MessageStatus"] == form["SmsStatus"] == "undelivered"
    assert form["ErrorCode"] == "30003"
    assert form["To"] == PATIENT and form["AccountSid"] == fake_twilio.account_sid
    assert form["ApiVersion"] == "2010-04-01"
    validator = RequestValidator(fake_twilio.auth_token)
    assert validator.validate(webhook.url, form, headers["X-Twilio-Signature"])
    assert not RequestValidator("another-token").validate(
        webhook.url, form, headers["X-Twilio-Signature"]
    )
    assert fake_twilio.get(sent.provider_id).status == "undelivered"


def test_random_faults_are_reproducible_from_the_seed() -> None:
    create = RequestInfo("POST", "/2010-04-01/Accounts/AC1/Messages.json", {})
    runs = []
    for _ in range(2):
        policy = RandomFaults(rate=0.3, seed=11)
        runs.append([policy(create) for _ in range(200)])
    assert runs[0] == runs[1]
    failed = sum(f is not None for f in runs[0])
    assert 35 <= failed <= 85
    assert {f.kind for f in runs[0] if f} >= {"error", "timeout_after_recording",
                                              "drop_before_recording", "drop_after_recording"}
    assert RandomFaults(rate=1.0, seed=1)(RequestInfo("GET", "/x", {})) is None  # reads untouched


def test_under_random_faults_retry_never_reached_twilio_and_success_reached_it_once(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    fake_twilio.random_faults(rate=0.3, seed=5, hold=1.0)
    transport = twilio_transport_factory(timeout=0.3)
    outcomes: dict[str, str] = {}
    for i in range(40):
        body = f"text {i}"
        try:
            transport.send(OutgoingSms(f"m{i}", PATIENT, body, None))
            outcomes[body] = "sent"
        except SmsError as error:
            outcomes[body] = error.outcome
    bodies = fake_twilio.bodies()
    assert set(outcomes.values()) >= {"sent", "retry", "ambiguous"}
    for body, outcome in outcomes.items():
        if outcome == "sent":
            assert bodies.count(body) == 1
        elif outcome == "retry":
            assert body not in bodies
        else:
            assert outcome == "ambiguous" and bodies.count(body) <= 1


def test_worker_processes_send_to_the_fake_hosted_by_the_test(fake_twilio: FakeTwilio) -> None:
    script = (
        "import sys\n"
        "from pathway.sms.base import OutgoingSms\n"
        "from pathway.sms.twilio import TwilioTransport\n"
        "sid, token, url, worker = sys.argv[1:5]\n"
        "t = TwilioTransport(sid, token, from_number='+15005550006', api_base_url=url, timeout=2)\n"
        "for i in range(3):\n"
        "    t.send(OutgoingSms(f'w{worker}-{i}', '+1555123000' + worker, f'from {worker} #{i}', None))\n"
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, fake_twilio.account_sid, fake_twilio.auth_token,
             fake_twilio.base_url, str(n)],
            cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        for n in (1, 2)
    ]
    assert [w.wait(timeout=20) for w in workers] == [0, 0]
    assert fake_twilio.count() == 6
    assert sorted(r.body for r in fake_twilio.requests_to("+15551230002")) == [
        "from 2 #0", "from 2 #1", "from 2 #2"]


def test_reset_forgets_messages_and_faults(fake_twilio: FakeTwilio,
                                           twilio_transport_factory: MakeTransport) -> None:
    transport = twilio_transport_factory()
    transport.send(OutgoingSms("m1", PATIENT, "one", None))
    fake_twilio.inject(Fault.error(21211))
    fake_twilio.reset()
    assert fake_twilio.count() == 0 and fake_twilio.pending_faults() == 0
    transport.send(OutgoingSms("m2", PATIENT, "two", None))
    assert fake_twilio.bodies() == ["two"]
