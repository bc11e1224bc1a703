"""schemathesis against a live Flow's ``/openapi.json``: requests generated from the schema (valid ones and
broken ones) over real HTTP. Every answer must match what the schema documents (status codes, content
types, response bodies, ``405`` + ``Allow`` for verbs a path does not take); no 5xx but an executor's
own exception (500 ``ExecutorError``) or a deadline the request itself set (504 ``RequestTimeout``);
every error body names its cause. ``make fuzz`` runs the same with hundreds of examples per operation and mode.

Left out on purpose: schemathesis's ``positive_data_acceptance`` (``/post``'s documents are
free-form in the schema, each endpoint checks its own document schema: a valid-looking document can be
a 422) and ``negative_data_rejection`` (protobuf's JSON mapping reads ``"5"`` and ``5.0`` as the integer 5,
which a strict JSON schema calls wrong).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from executors import Embedder, Raiser, Searcher, Streamer, Strict, TextDoc
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, not_a_server_error, positive_data_acceptance
from schemathesis.schemas import APIOperation

from docwire import Flow

#: Examples per operation and mode: ``make fuzz`` sets DOCWIRE_FUZZ_REQUESTS (hundreds); ``make test`` keeps 15.
EXAMPLES = int(os.environ.get("DOCWIRE_FUZZ_REQUESTS", "15"))
#: The 5xx a request may earn through no fault of the server: its executor raised, or its own deadline passed.
ALLOWED_SERVER_ERRORS = {(500, "ExecutorError"), (504, "RequestTimeout")}


@pytest.fixture(scope="module")
def fuzzed_flow() -> Iterator[Flow]:
    flow = (
        Flow(host="127.0.0.1", protocol="http", max_message_size=256 * 1024)
        .add(uses=Raiser, name="raiser")
        .add(uses=Strict, name="strict")
        .add(uses=Searcher, name="searcher")
        .add(uses=Embedder, name="embedder")
        .add(uses=Streamer, name="streamer")
    )
    with flow:
        yield flow


@pytest.fixture(scope="module")
def api_schema(fuzzed_flow: Flow) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"http://127.0.0.1:{fuzzed_flow.port}/openapi.json")


def _operations(schema: schemathesis.BaseSchema) -> list[APIOperation[Any, Any, Any, Any]]:
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]  # Err raises here


def _checked(case: schemathesis.Case[Any]) -> None:
    response = case.call(timeout=30)
    case.validate_response(
        response, excluded_checks=[not_a_server_error, positive_data_acceptance, negative_data_rejection]
    )
    content_type = (response.headers.get("content-type") or [""])[0]  # schemathesis: each header's values
    if response.status_code >= 400 and content_type.startswith("application/json"):
        error, message = _error_of(response.json())
        assert message, f"an error must say what was wrong: {response.text}"
        if response.status_code >= 500:
            assert (response.status_code, error) in ALLOWED_SERVER_ERRORS, response.text


def _error_of(body: dict[str, Any]) -> tuple[str, str]:
    """(error class, message) of an error answer: the Error schema's, or a failed reply's status
    (an executor raised: the reply comes back whole, its header saying what happened)."""
    if "error" in body:
        return body["error"], body["message"]
    status = body["header"]["status"]
    exception = status.get("exception", {})
    return ("ExecutorError" if exception.get("executor") else exception.get("name", "")), status["description"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_every_answer_matches_the_schema_and_no_5xx_is_the_servers_fault(
    api_schema: schemathesis.BaseSchema, mode: GenerationMode
) -> None:
    """Each operation in turn (schemathesis's pytest plugin does not run on pytest 9 yet: it is driven here)."""
    operations = _operations(api_schema)
    assert len(operations) >= 10, [op.label for op in operations]
    for operation in operations:
        run = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)(
            given(case=operation.as_strategy(generation_mode=mode))(_checked)
        )
        try:
            run()
        except Unsatisfiable:  # GET /status and such take no input: nothing to make invalid
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as failure:
            raise AssertionError(f"{operation.label} ({mode.value}): {failure}") from failure


def test_the_flow_still_serves_after_the_fuzzing(fuzzed_flow: Flow) -> None:
    """Runs after the generated requests (pytest keeps file order): the Flow answers a plain request."""
    (doc,) = fuzzed_flow.post("/embed", [TextDoc(text="still")])
    assert doc.embedding is not None
