"""TwilioTransport through the real twilio SDK against the fake Twilio on loopback."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pathway.sms.base import OutgoingSms, SmsError
from pathway.sms.twilio import TwilioTransport
from tests.fakes.fake_twilio import FakeTwilio, Fault
from tests.fakes.fixtures import FROM_NUMBER, MESSAGING_SERVICE_SID

PATIENT = "+15551230001"
BODY = "Reminder: stop apixaban 48 h before your MILD procedure."
CALLBACK = "https://pathway.example/sms/status/m42"

MakeTransport = Callable[..., TwilioTransport]


def sms(ref: str = "m42", to: str = PATIENT, body: str = BODY, callback: str | None = CALLBACK) -> OutgoingSms:
    return OutgoingSms(ref=ref, to=to, body=body, status_callback=callback)


def send_error(transport: TwilioTransport, message: OutgoingSms | None = None) -> SmsError:
    with pytest.raises(SmsError) as info:
        transport.send(message or sms())
    return info.value


# --- sending -----------------------------------------------------------------------------------


def test_send_from_a_number_posts_to_twilio_and_returns_the_sid(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    result = twilio_transport_factory().send(sms())
    [record] = fake_twilio.records()
    assert result.provider_id == record.sid
    assert result.provider_id.startswith("SM") and len(result.provider_id) == 34
    assert result.status == "queued"
    assert (record.to, record.body, record.from_) == (PATIENT, BODY, FROM_NUMBER)
    assert record.messaging_service_sid is None


def test_send_through_a_messaging_service_names_the_service_not_a_number(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    transport = twilio_transport_factory(messaging_service_sid=MESSAGING_SERVICE_SID)
    transport.send(sms())
    [record] = fake_twilio.records()
    assert record.messaging_service_sid == MESSAGING_SERVICE_SID
    assert record.from_ is None
    assert "From" not in record.params


def test_send_passes_the_status_callback_through(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    transport = twilio_transport_factory()
    transport.send(sms())
    transport.send(sms(ref="m43", callback=None))
    first, second = fake_twilio.records()
    assert first.status_callback == CALLBACK
    assert second.status_callback is None and "StatusCallback" not in second.params


def test_a_long_code_sends_one_a_second_and_a_messaging_service_ten() -> None:
    by_number = TwilioTransport("AC1", "t", from_number=FROM_NUMBER)
    by_service = TwilioTransport("AC1", "t", messaging_service_sid=MESSAGING_SERVICE_SID)
    assert by_number.default_rate_per_second == 1.0
    assert by_service.default_rate_per_second == 10.0
    assert by_number.name == by_service.name == "twilio"


@pytest.mark.parametrize(
    "senders",
    [{}, {"from_number": FROM_NUMBER, "messaging_service_sid": MESSAGING_SERVICE_SID}],
)
def test_transport_needs_exactly_one_sender(senders: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="exactly one sender"):
        TwilioTransport("AC1", "token", **senders)


# --- faults ------------------------------------------------------------------------------------


def test_429_is_retried_after_twilios_retry_after(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    fake_twilio.inject(Fault.too_many_requests(retry_after="3"))
    error = send_error(twilio_transport_factory())
    assert (error.outcome, error.code, error.http_status) == ("retry", 20429, 429)
    assert error.retry_after == 3.0
    assert not error.permanent
    assert fake_twilio.count() == 0


def test_429_without_retry_after_leaves_the_backoff_to_the_dispatcher(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    fake_twilio.inject(Fault.too_many_requests())
    error = send_error(twilio_transport_factory())
    assert (error.outcome, error.retry_after) == ("retry", None)


def test_error_20429_alone_means_retry(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    fake_twilio.inject(Fault.error(20429, status=400))
    assert send_error(twilio_transport_factory()).outcome == "retry"


def test_a_refused_connection_is_retried_because_nothing_was_sent(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    transport = twilio_transport_factory()
    with fake_twilio.refusing_connections():
        error = send_error(transport)
    assert error.outcome == "retry"
    assert fake_twilio.count() == 0
    # and the fake is back afterwards, on the same port
    assert transport.send(sms()).provider_id == fake_twilio.records()[0].sid


def test_nothing_listening_at_all_is_retried() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    transport = TwilioTransport(
        "AC1", "t", from_number=FROM_NUMBER, api_base_url=f"http://127.0.0.1:{port}", timeout=1.0
    )
    assert send_error(transport).outcome == "retry"


def test_a_timeout_after_twilio_recorded_the_text_is_ambiguous(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    fake_twilio.inject(Fault.timeout_after_recording(hold=3.0))
    started = time.monotonic()
    error = send_error(twilio_transport_factory(timeout=0.5))
    assert time.monotonic() - started < 2.5
    assert error.outcome == "ambiguous"
    assert fake_twilio.bodies() == [BODY]  # it reached Twilio: resending would duplicate it


def test_a_connection_dropped_after_recording_is_ambiguous(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    fake_twilio.inject(Fault.drop_after_recording())
    assert send_error(twilio_transport_factory()).outcome == "ambiguous"
    assert fake_twilio.count() == 1


def test_a_connection_reset_before_recording_is_still_ambiguous_to_the_client(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    # The request was written before the reset: the client cannot know it was not processed,
    # so it must reconcile (and will find nothing) rather than resend blindly.
    fake_twilio.inject(Fault.drop_before_recording())
    assert send_error(twilio_transport_factory()).outcome == "ambiguous"
    assert fake_twilio.count() == 0


@pytest.mark.parametrize("status", [500, 503])
def test_a_twilio_5xx_is_ambiguous(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport, status: int
) -> None:
    fake_twilio.inject(Fault.server_error(status))
    error = send_error(twilio_transport_factory())
    assert (error.outcome, error.http_status) == ("ambiguous", status)


@pytest.mark.parametrize("code", [21211, 21614, 21408, 21612, 21606, 21617])
def test_twilio_errors_about_the_number_or_body_are_permanent(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport, code: int
) -> None:
    fake_twilio.inject(Fault.error(code))
    error = send_error(twilio_transport_factory())
    assert (error.outcome, error.code, error.http_status) == ("permanent", code, 400)
    assert error.permanent


def test_an_invalid_to_number_is_rejected_by_twilio_as_permanent(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    error = send_error(twilio_transport_factory(), sms(to="555-0100"))
    assert (error.outcome, error.code) == ("permanent", 21211)
    assert fake_twilio.count() == 0


def test_a_patient_who_replied_stop_is_opted_out(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    fake_twilio.inject(Fault.error(21610))
    error = send_error(twilio_transport_factory())
    assert (error.outcome, error.code) == ("opted_out", 21610)
    assert error.permanent


def test_wrong_credentials_are_permanent(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    error = send_error(twilio_transport_factory(auth_token="not-the-token"))
    assert (error.outcome, error.code, error.http_status) == ("permanent", 20003, 401)
    assert fake_twilio.count() == 0


# --- reconciliation ----------------------------------------------------------------------------


def test_list_sent_finds_a_text_sent_earlier(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    transport = twilio_transport_factory()
    since = datetime.now(UTC) - timedelta(minutes=1)
    sent = transport.send(sms())
    transport.send(sms(to="+15551230002", body="someone else"))
    [found] = transport.list_sent(PATIENT, since)
    assert (found.provider_id, found.to, found.body) == (sent.provider_id, PATIENT, BODY)
    assert found.status == "queued"
    assert found.created_at.tzinfo == UTC


def test_list_sent_finds_the_text_whose_answer_timed_out(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    transport = twilio_transport_factory(timeout=0.5)
    since = datetime.now(UTC)
    fake_twilio.inject(Fault.timeout_after_recording(hold=2.0))
    assert send_error(transport).outcome == "ambiguous"
    [found] = transport.list_sent(PATIENT, since)
    assert found.body == BODY and found.provider_id == fake_twilio.records()[0].sid


def test_list_sent_respects_since_within_the_same_day_and_across_days(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    # Twilio filters DateSent by whole days; the transport must filter the rest itself.
    now = [datetime(2025, 3, 4, 23, 59, 0, tzinfo=UTC)]
    fake_twilio.clock = lambda: now[0]
    transport = twilio_transport_factory()
    for label, moment in [
        ("day before", datetime(2025, 3, 4, 23, 59, 0, tzinfo=UTC)),
        ("same day, earlier", datetime(2025, 3, 5, 10, 0, 0, tzinfo=UTC)),
        ("same second as since", datetime(2025, 3, 5, 10, 0, 5, tzinfo=UTC)),
        ("later", datetime(2025, 3, 5, 10, 0, 9, tzinfo=UTC)),
    ]:
        now[0] = moment
        transport.send(sms(body=label))
    since = datetime(2025, 3, 5, 10, 0, 5, 400_000, tzinfo=UTC)
    found = transport.list_sent(PATIENT, since)
    assert [m.body for m in found] == ["later", "same second as since"]
    # a non-UTC since means the same instant
    eastern = since.astimezone(timezone(timedelta(hours=-5)))
    assert [m.body for m in transport.list_sent(PATIENT, eastern)] == [m.body for m in found]


def test_list_sent_follows_twilios_pages(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    transport = twilio_transport_factory()
    since = datetime.now(UTC) - timedelta(minutes=1)
    for i in range(57):  # the SDK asks for 50 a page
        transport.send(sms(ref=f"m{i}", body=f"text {i}"))
    found = transport.list_sent(PATIENT, since)
    assert sorted(m.body for m in found) == sorted(f"text {i}" for i in range(57))
    assert len({m.provider_id for m in found}) == 57


def test_list_sent_needs_an_aware_since(twilio_transport_factory: MakeTransport) -> None:
    with pytest.raises(ValueError, match="aware"):
        twilio_transport_factory().list_sent(PATIENT, datetime(2025, 3, 5, 10, 0))


def test_list_sent_errors_are_sms_errors(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    fake_twilio.set_fault_policy(lambda request: Fault.server_error(503))
    with pytest.raises(SmsError) as info:
        twilio_transport_factory().list_sent(PATIENT, datetime.now(UTC))
    assert (info.value.outcome, info.value.http_status) == ("ambiguous", 503)


# --- privacy -----------------------------------------------------------------------------------


def test_no_phone_number_or_body_reaches_the_logs_or_the_error(
    fake_twilio: FakeTwilio,
    twilio_transport_factory: MakeTransport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    transport = twilio_transport_factory()
    transport.send(sms(ref="m-ok"))
    transport.list_sent(PATIENT, datetime.now(UTC) - timedelta(minutes=1))
    fake_twilio.inject(Fault.error(21614))  # Twilio's text quotes the number
    error = send_error(transport, sms(ref="m-bad"))
    fake_twilio.inject(Fault.timeout_after_recording(hold=2.0))
    timed_out = send_error(twilio_transport_factory(timeout=0.5), sms(ref="m-slow"))

    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "m-ok" in logged and "m-bad" in logged and "m-slow" in logged
    national = PATIENT[2:]
    for secret in (PATIENT, national, "%2B1" + national, BODY, "apixaban"):
        assert secret not in logged
        for exc in (error, timed_out):
            assert secret not in "".join(traceback.format_exception(exc))


def test_the_sdk_loggers_are_quieted_by_the_transport(
    twilio_transport_factory: MakeTransport,
) -> None:
    twilio_transport_factory()
    assert logging.getLogger("twilio.http_client").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("urllib3.connectionpool").getEffectiveLevel() >= logging.INFO




def test_a_refusal_that_names_our_own_settings_says_so(
    fake_twilio: FakeTwilio, twilio_transport_factory: MakeTransport
) -> None:
    error = send_error(twilio_transport_factory(auth_token="not-the-token"))
    assert error.configuration == "authentication failed"
