"""Schemathesis against the service's own OpenAPI document: whatever it sends, no 5xx.

Bounded: a few generated requests per operation (about 20-30 s in all), as a
participant for participant routes and as an operator for operator routes, so that
the generated bodies reach the parsers and the authorisation behind the routes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from starlette.testclient import TestClient

from interbank.api.app import create_app

from .conftest import AS, make_service

EXAMPLES_PER_OPERATION_MAX = int(os.environ.get("INTERBANK_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def service_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    service = make_service(Path(tmp_path_factory.mktemp("fuzz")))
    try:
        app = create_app(service)
        with TestClient(app):  # the app's loop for the worker threads' answers
            yield app
    finally:
        service.close()


@pytest.fixture(scope="module")
def api_schema(service_app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", service_app)


def test_no_server_errors(api_schema: Any, service_app: Any) -> None:
    """Every operation, a bounded number of generated requests each: never a 5xx."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:
        path = operation.path
        operator = path.startswith("/v1/operator") or path == "/metrics"
        headers = AS["op-alice" if operator else "bank-a"]

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION_MAX,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize="INTERBANK_FUZZ_EXAMPLES" not in os.environ,
            database=None,
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])  # noqa: B023

        run()
    # The requests did reach the service (and none met the catch-all).
    metrics = service_app.service.metrics
    answered = sum(sample.value for sample in next(iter(metrics.requests.collect())).samples
                   if sample.name.endswith("_total"))  # fmt: skip
    assert answered >= len(operations) * 5
    assert metrics.internal_errors._value.get() == 0
