"""RFC 9457 problem details for every error response."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import KyodoError

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://kyodo.example/problems/"


def problem(
    status: int, title: str, detail: str, *, slug: str, instance: str, **extra: Any
) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


async def _kyodo_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, KyodoError)
    return problem(
        error.status,
        error.title,
        error.detail,
        slug=error.type_slug,
        instance=request.url.path,
        **error.extensions,
    )


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in error.errors()
    ]
    return problem(
        422,
        "Invalid request",
        "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors),
        slug="validation",
        instance=request.url.path,
        errors=errors,
    )


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    return problem(
        error.status_code,
        _TITLES.get(error.status_code, "Error"),
        str(error.detail),
        slug=f"http-{error.status_code}",
        instance=request.url.path,
    )


_TITLES = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KyodoError, _kyodo_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
