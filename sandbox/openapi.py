"""A small builder of OpenAPI 3.1 documents from hand-written route descriptions.

Each system lists its ``Operation``s next to its routes and hand-writes the JSON Schemas of
its objects; this module only assembles the document (paths, parameters, security), so
that the shapes stay readable in the module that produces them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sandbox.responses import JSON

_PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


def ref(schema: str) -> JSON:
    """A reference to a schema of ``components.schemas``."""
    return {"$ref": f"#/components/schemas/{schema}"}


def nullable(schema: JSON) -> JSON:
    """``schema`` or null (JSON Schema 2020-12, as OpenAPI 3.1 uses)."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: Mapping[str, JSON], *, required: Sequence[str] | None = None) -> JSON:
    """An object schema; every property is required unless ``required`` says otherwise."""
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties if required is None else required),
    }


STRING: JSON = {"type": "string"}
INTEGER: JSON = {"type": "integer"}
NUMBER: JSON = {"type": "number"}
BOOLEAN: JSON = {"type": "boolean"}


@dataclass(frozen=True, slots=True)
class Param:
    """One query, path or header parameter."""

    name: str
    description: str
    schema: JSON = field(default_factory=lambda: dict(STRING))
    where: Literal["query", "path", "header"] = "query"
    required: bool = False


@dataclass(frozen=True, slots=True)
class Operation:
    """One route and method: what it takes and what it answers."""

    method: str
    path: str
    summary: str
    #: status -> (description, body schema or None for no body)
    responses: Mapping[int, tuple[str, JSON | None]]
    params: Sequence[Param] = ()
    body: JSON | None = None
    #: Public operations need no API key (the sandbox's own routes).
    public: bool = False
    tag: str | None = None


def build_document(
    *,
    title: str,
    description: str,
    server_url: str,
    operations: Sequence[Operation],
    schemas: Mapping[str, JSON],
    security_scheme: JSON,
) -> JSON:
    """An OpenAPI 3.1 document for ``operations``, secured by ``security_scheme``."""
    paths: dict[str, JSON] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0", "description": description},
        "servers": [{"url": server_url}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": dict(schemas),
            "securitySchemes": {"apiKey": security_scheme},
        },
    }


def _operation(operation: Operation) -> JSON:
    declared = {param.name for param in operation.params if param.where == "path"}
    params = list(operation.params) + [
        Param(name, f"The {name} of the resource", where="path", required=True)
        for name in _PATH_PARAM.findall(operation.path)
        if name not in declared
    ]
    result: JSON = {
        "operationId": _operation_id(operation),
        "summary": operation.summary,
        "parameters": [
            {
                "name": param.name,
                "in": param.where,
                "description": param.description,
                "required": param.required or param.where == "path",
                "schema": param.schema,
            }
            for param in params
        ],
        "responses": {
            str(status): _response(description, schema)
            for status, (description, schema) in operation.responses.items()
        },
    }
    if operation.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": operation.body}},
        }
    if operation.public:
        result["security"] = []
    if operation.tag:
        result["tags"] = [operation.tag]
    return result


def _response(description: str, schema: JSON | None) -> JSON:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation_id(operation: Operation) -> str:
    words = re.findall(r"[A-Za-z0-9]+", _PATH_PARAM.sub(r"by_\1", operation.path))
    return "_".join([operation.method.lower(), *words])
