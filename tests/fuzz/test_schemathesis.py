"""schemathesis against /openapi.json of real Gunicorn: no 5xx, every error in the envelope,
every answer as documented. The quick profile runs in the suite; `make fuzz` runs longer
(FUZZ_EXAMPLES per operation and generation mode)."""

from __future__ import annotations

import os

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.servers import gunicorn

pytestmark = pytest.mark.gunicorn

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
MINIMUM_CASES = int(os.environ.get("FUZZ_MINIMUM_CASES", "1000"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def server(pristine_models, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    with gunicorn(tmp, {"KOSPRICE_MODELS_DIR": str(pristine_models)}, workers=2) as running:
        yield running


def header(response, name: str) -> str:
    """One header of a schemathesis response (its headers: lower-case names, value lists)."""
    values = response.headers.get(name.lower()) or [""]
    return values[0] if isinstance(values, list) else values


def assert_envelope(response) -> None:
    if response.status_code < 400:
        return
    assert header(response, "Content-Type") == "application/json", response.text[:300]
    body = response.json()
    assert list(body) == ["error"] and list(body["error"]) == [
        "code", "message", "details", "request_id"], body
    assert header(response, "X-Request-ID") == body["error"]["request_id"]
    assert len(response.content) < 4096


def test_fuzz_every_operation(server):
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    session = requests.Session()
    cases = {"total": 0, "5xx": 0}

    def fuzz(operation, mode: GenerationMode) -> None:
        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                             phases=[Phase.generate], derandomize=False,
                             suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            response = case.call(base_url=server.url, session=session, timeout=30)
            cases["total"] += 1
            cases["5xx"] += response.status_code >= 500
            assert_envelope(response)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except hypothesis.errors.Unsatisfiable:  # nothing invalid to make (no parameters)
            pass

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode)
    print(f"schemathesis: {cases['total']} cases over {len(operations)} operations, "
          f"{cases['5xx']} 5xx")
    assert cases["5xx"] == 0
    assert cases["total"] >= MINIMUM_CASES
