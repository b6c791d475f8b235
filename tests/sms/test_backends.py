"""What the web side asks of an SMS backend: webhook signatures, reading callbacks, answering."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from pathway.sms import Backend, ConsoleBackend, backend
from pathway.sms.twilio import BAD_NUMBER_ERRORS, CONFIGURATION_ERRORS, PERMANENT_CODES, TwilioBackend, classify

URL = "https://pathway.clinic.example/webhooks/twilio/status?m=7"


def test_the_configured_backend_is_chosen_by_name() -> None:
    assert isinstance(backend("twilio", "token"), TwilioBackend)
    assert isinstance(backend("console", ""), ConsoleBackend)


def test_twilio_backend_accepts_only_its_own_signature_for_the_public_url() -> None:
    b: Backend = TwilioBackend("token")
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    good = RequestValidator("token").compute_signature(URL, params)
    assert b.webhook_signed(URL, params, {"X-Twilio-Signature": good})
    assert not b.webhook_signed(URL + "&x=1", params, {"X-Twilio-Signature": good})
    assert not b.webhook_signed(URL, params, {})
    assert not TwilioBackend("").webhook_signed(URL, params, {"X-Twilio-Signature": good})


def test_twilio_backend_reads_a_status_callback_into_our_words() -> None:
    report = TwilioBackend("t").read_status({"SmsSid": "SM1", "SmsStatus": "Undelivered", "ErrorCode": "30006"})
    assert (report.sid, report.provider_status, report.status, report.error_code) == (
        "SM1", "undelivered", "undelivered", 30006)
    assert report.bad_number == BAD_NUMBER_ERRORS[30006]
    odd = TwilioBackend("t").read_status({"MessageStatus": "receiving", "ErrorCode": "x"})
    assert (odd.sid, odd.status, odd.error_code, odd.bad_number) == ("", None, None, None)


def test_twilio_backend_reads_a_reply_and_answers_with_twiml() -> None:
    text = TwilioBackend("t").read_reply({"From": "+12125550101", "Body": "HELP", "MessageSid": "SM2"})
    assert (text.from_number, text.body, text.sid) == ("+12125550101", "HELP", "SM2")
    answer = TwilioBackend("t").answer("Call us")
    assert answer.mimetype == "application/xml" and "<Message>Call us</Message>" in answer.body
    assert "<Message" not in TwilioBackend("t").answer(None).body


def test_configuration_and_bad_number_codes_are_permanent_refusals() -> None:
    assert all(classify(400, code) == "permanent" for code in CONFIGURATION_ERRORS)
    assert set(BAD_NUMBER_ERRORS) <= set(PERMANENT_CODES)


def test_console_backend_refuses_every_webhook() -> None:
    b: Backend = ConsoleBackend()
    assert not b.webhook_signed(URL, {}, {"X-Twilio-Signature": "anything"})
    assert b.read_status({"MessageStatus": "delivered"}).status is None
