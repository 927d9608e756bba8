"""The OpenAPI builder: documents it produces validate as OpenAPI 3.1."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate

from sandbox.openapi import INTEGER, Operation, Param, build_document, obj, ref


def document(*operations: Operation) -> dict[str, Any]:
    return build_document(
        title="t",
        description="d",
        server_url="http://sandbox.test/x",
        operations=operations,
        schemas={"Thing": obj({"id": INTEGER})},
        security_scheme={"type": "http", "scheme": "bearer"},
    )


def test_path_parameters_are_declared_even_when_not_listed() -> None:
    built = document(Operation("GET", "/things/{id}", "Get", {200: ("A thing", ref("Thing"))}))

    validate(built)
    (parameter,) = built["paths"]["/things/{id}"]["get"]["parameters"]
    assert parameter["name"] == "id"
    assert parameter["in"] == "path"
    assert parameter["required"] is True


def test_public_operations_need_no_security() -> None:
    built = document(
        Operation("GET", "/health", "Health", {200: ("Up", None)}, public=True),
        Operation("GET", "/things", "List", {200: ("Things", None)}, params=(Param("q", "query"),)),
    )

    validate(built)
    paths = built["paths"]
    assert paths["/health"]["get"]["security"] == []
    assert "security" not in paths["/things"]["get"]
