"""JSON bodies read by the route itself, for the few routes on a hot path.

FastAPI resolves a body parameter, validates the returned model against the response model and
serialises it again; on a route that takes a thousand requests a second that machinery costs
more than the work. A hot route reads its body with :func:`parse_body` (the same 422 problem
as FastAPI's), answers with :func:`json_response`, and documents the body with
:func:`documented_body`, whose schema :func:`add_documented_schemas` puts into the OpenAPI
components.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError

M = TypeVar("M", bound=BaseModel)
REF_TEMPLATE = "#/components/schemas/{model}"
_documented: dict[str, type[BaseModel]] = {}


def parse_body(model: type[M], raw: bytes) -> M:
    """The validated body; invalid JSON or values raise FastAPI's validation error."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        errors = [
            {**e, "loc": ("body", *e["loc"])}
            for e in error.errors(include_url=False, include_context=False)
        ]
        raise RequestValidationError(errors) from None


def json_response(
    answer: BaseModel, *, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    content = answer.model_dump_json(exclude_unset=True)
    return Response(content, status_code, headers, media_type="application/json")


def documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` of a route that reads a ``model`` body itself."""
    _documented[model.__name__] = model
    schema = {"$ref": REF_TEMPLATE.format(model=model.__name__)}
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


def add_documented_schemas(openapi: dict[str, Any]) -> dict[str, Any]:
    """Put the schemas of the bodies named by :func:`documented_body` into the components."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name, model in _documented.items():
        schema = TypeAdapter(model).json_schema(ref_template=REF_TEMPLATE)
        for nested, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(nested, definition)
        schemas.setdefault(name, schema)
    return openapi
