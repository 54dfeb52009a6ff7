"""The OpenAPI document integrators build against: valid OpenAPI, and our own rules (issue 22 item 2).

Built straight from the app (no database): ``create_app().openapi()`` is what /api/openapi.json serves.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from openapi_spec_validator import validate

from sscard.api.app import create_app


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "delete", "patch"}
    ]


def test_the_document_is_valid_openapi(document) -> None:
    validate(document)


def test_summaries_and_operation_ids_are_unique_and_meaningful(document) -> None:
    operations = _operations(document)
    summaries = Counter(op.get("summary") for _, op in operations)
    ids = Counter(op.get("operationId") for _, op in operations)
    assert not [s for s, n in summaries.items() if n > 1 or not s], "repeated or missing summaries"
    assert not [i for i, n in ids.items() if n > 1 or not i], "repeated or missing operationIds"
    generated = [i for i in ids if "_api_v1_" in i or not re.fullmatch(r"[a-z][A-Za-z0-9]+", i)]
    assert not generated, f"operationIds not of the form channelFunction: {generated}"


def test_every_4xx_is_problem_json_with_its_codes(document) -> None:
    for where, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                content = response.get("content", {})
                assert list(content) == ["application/problem+json"], f"{where} {status}: {list(content)}"
                codes = content["application/problem+json"]["schema"]["allOf"][1]["properties"]["code"]["enum"]
                assert codes and set(codes) == set(content["application/problem+json"]["examples"]), where


def test_422_is_documented_as_served(document) -> None:
    """FastAPI documents 422 as ``{detail[]}``; we serve a problem with ``errors[]`` (problems.py)."""
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "errors" in document["components"]["schemas"]["Problem"]["properties"]


def test_secured_operations_declare_401_and_role_checked_ones_403(document) -> None:
    secured = [(w, op) for w, op in _operations(document) if op.get("security")]
    assert len(secured) > 100
    for where, operation in secured:
        assert "401" in operation["responses"], f"{where} is secured but does not declare 401"
        if any("StaffBearer" in requirement for requirement in operation["security"]):
            assert "403" in operation["responses"], f"{where} checks a staff role but does not declare 403"


def test_terminal_operations_carry_the_signature_scheme(document) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["TerminalMac"]["in"] == "header" and "CMAC" in schemes["TerminalMac"]["description"]
    signed = [w for w, op in _operations(document) if any("TerminalMac" in r for r in op.get("security", []))]
    assert "POST /api/v1/terminal/pin/verify" in signed and "GET /api/v1/terminal/status" in signed
    assert "POST /api/v1/terminal/enroll" not in signed  # a staff operation


def test_every_json_request_body_has_an_example(document) -> None:
    for where, operation in _operations(document):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            assert "example" in body or "examples" in body, f"{where} has no request body example"


def _floats(node: Any, where: str = "") -> list[str]:
    if isinstance(node, dict):
        found = [f"{where}.{k}" for k in ("maximum", "minimum") if isinstance(node.get(k), float)
                 and node.get("type") == "integer"]  # fmt: skip
        return found + [f for k, v in node.items() for f in _floats(v, f"{where}.{k}")]
    if isinstance(node, list):
        return [f for i, v in enumerate(node) for f in _floats(v, f"{where}[{i}]")]
    return []


def test_no_integer_bound_is_printed_as_a_float(document) -> None:
    assert _floats(document) == []
    assert "e+18" not in str(document)


def test_descriptions_name_no_internal_files(document) -> None:
    text = str(document)
    assert not re.findall(r"[\w/]+\.py\b", text), re.findall(r"[\w/]+\.py\b", text)[:5]


def test_the_api_is_described(document) -> None:
    description = document["info"]["description"]
    for topic in ("Bearer", "X-Terminal", "problem+json", "Idempotency-Key", "order"):
        assert topic in description, topic
