from __future__ import annotations

import pytest
import requests
import urllib3.exceptions

from pathway.sms.base import SmsError
from pathway.sms.twilio import (
    OPTED_OUT_CODES,
    PERMANENT_CODES,
    RETRY_CODES,
    classify,
    network_outcome,
    retry_after_seconds,
)


@pytest.mark.parametrize(
    ("http_status", "code", "outcome"),
    [
        (429, 20429, "retry"),
        (429, None, "retry"),
        (400, 21211, "permanent"),  # invalid To
        (400, 21408, "permanent"),  # region not enabled
        (400, 21612, "permanent"),  # unreachable via SMS
        (400, 21614, "permanent"),  # not a mobile number
        (400, 21606, "permanent"),  # bad From
        (400, 21659, "permanent"),  # bad From
        (400, 21617, "permanent"),  # body too long
        (400, 30005, "permanent"),
        (400, 21610, "opted_out"),  # patient replied STOP
        (401, 20003, "permanent"),  # bad credentials
        (400, 99999, "permanent"),  # unknown 4xx with a Twilio code
        (404, 20404, "permanent"),
        (500, 20500, "ambiguous"),
        (503, 20503, "ambiguous"),
        (502, None, "ambiguous"),  # unknown 5xx
        (None, None, "ambiguous"),
    ],
)
def test_classify_maps_twilio_answers_to_what_the_dispatcher_may_do(
    http_status: int | None, code: int | None, outcome: str
) -> None:
    assert classify(http_status, code) == outcome


def test_every_listed_code_has_twilios_meaning_and_belongs_to_one_table() -> None:
    tables = [PERMANENT_CODES, OPTED_OUT_CODES, RETRY_CODES]
    for table in tables:
        assert all(isinstance(c, int) and meaning.strip() for c, meaning in table.items())
    codes = [c for t in tables for c in t]
    assert len(codes) == len(set(codes))


def test_sms_error_is_permanent_only_when_retrying_can_never_help() -> None:
    assert SmsError("x", outcome="permanent").permanent
    assert SmsError("x", outcome="opted_out").permanent
    assert not SmsError("x", outcome="retry").permanent
    assert not SmsError("x", outcome="ambiguous").permanent


def test_sms_error_rejects_an_unknown_outcome() -> None:
    with pytest.raises(ValueError, match="outcome"):
        SmsError("x", outcome="maybe")


def _connection_error(reason: Exception) -> requests.exceptions.ConnectionError:
    return requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, "/x", reason)  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (requests.exceptions.ConnectTimeout(), "retry"),
        (requests.exceptions.ReadTimeout(), "ambiguous"),
        (requests.exceptions.SSLError(), "retry"),
        (requests.exceptions.ProxyError(), "retry"),
        (_connection_error(urllib3.exceptions.NewConnectionError(None, "refused")), "retry"),  # type: ignore[arg-type]
        (_connection_error(urllib3.exceptions.NameResolutionError("h", None, OSError())), "retry"),  # type: ignore[arg-type]
        (
            requests.exceptions.ConnectionError(
                urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104))
            ),
            "ambiguous",
        ),
        (requests.exceptions.ChunkedEncodingError(), "ambiguous"),
    ],
)
def test_network_failures_retry_only_when_the_request_never_left(
    exc: requests.RequestException, outcome: str
) -> None:
    assert network_outcome(exc) == outcome


def test_retry_after_reads_seconds_or_a_date_against_the_responses_own_date() -> None:
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    assert retry_after_seconds({}) is None
    assert retry_after_seconds(
        {"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT", "Date": "Wed, 21 Oct 2015 07:28:00 GMT"}
    ) == 30.0
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}) is None
    assert retry_after_seconds({"Retry-After": "soon"}) is None
