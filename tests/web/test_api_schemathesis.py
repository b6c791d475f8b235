"""schemathesis against the live OpenAPI document (issue 13): the app is served over HTTP on
loopback, its own ``/api/v1/openapi.json`` is loaded from there, and every operation gets a
bounded number of generated requests (valid and not) with a fixed seed, signed in as a
coordinator. No request may answer 500, and every answer must match the schema the document
gives for its status (and its content type and headers).

SQLite only: the property is the app's, not the database's, and the run is kept short (about
half a minute); PostgreSQL runs every other API test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import test_database_url
from tests.web.conftest_api import Harness
from tests.web.loopback import LoopbackServer

pytestmark = pytest.mark.skipif(
    test_database_url() is not None,
    reason="schemathesis runs on SQLite only (issue 13): the property checked is the API's, and one bounded run "
           "is enough; every other API test runs on PostgreSQL",
)

SEED = 1313  # fixed: the same cases every run, so a failure reproduces
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance,
          response_headers_conformance]


@pytest.fixture(scope="module")
def live_api(api_module: Harness) -> Iterator[tuple[str, Harness]]:
    """The module's app on a loopback port, with a few records for the generated ids to meet."""
    api = api_module
    for _ in range(3):
        e = api.episode(holds=[{"drug": "clopidogrel", "prescriber_name": "Dr. Ortiz"}, {"drug": "apixaban"}])
        api.post(f"/holds/{e['holds'][0]['id']}/clearance", {"status": "requested"})
    server = LoopbackServer(api.app)
    try:
        yield server.url, api
    finally:
        server.stop()


def _fuzz(operation: Any, mode: GenerationMode, examples: int, base_url: str, headers: dict[str, str],
          sent: list[str], failures: list[str]) -> None:
    """``examples`` generated requests to one operation; its first failure goes into ``failures``."""
    label = operation.label

    @given(case=operation.as_strategy(generation_mode=mode))
    @seed(SEED)
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case: Any) -> None:
        sent.append(label)
        try:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{label}: {type(exc).__name__}: {str(exc)[:1500]}")
            raise

    try:
        run()
    except (Exception, BaseExceptionGroup):
        return  # recorded in failures (hypothesis re-raises the shrunk one); the next operation still runs


@pytest.mark.parametrize(("mode", "examples"), [(GenerationMode.POSITIVE, 15), (GenerationMode.NEGATIVE, 8)])
def test_no_generated_request_answers_500_or_breaks_its_schema(
    live_api: tuple[str, Harness], mode: GenerationMode, examples: int
) -> None:
    """Every operation of the live document, ``examples`` cases each (valid ones, then invalid
    ones), the same cases every run. Every failure is collected, then reported together."""
    url, api = live_api
    schema = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {api.tokens['coordinator']}"}
    failures: list[str] = []
    sent: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18  # every route of the document

    for operation in operations:
        _fuzz(operation, mode, examples, f"{url}/api/v1", headers, sent, failures)
    assert not failures, "\n\n".join(failures)
    # It really ran: every operation was called, many times.
    assert {op.label for op in operations} <= set(sent) and len(sent) >= examples * len(operations) // 2
