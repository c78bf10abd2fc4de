"""Hot routes are answered by the middleware, past FastAPI's router, with the same problems."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response

from services.fund.api_donations import router as donations_router
from shared.errors import NotFound
from shared.testing.http import assert_problem, serve
from shared.web.hot import HotRoutes, hot, is_hot
from shared.web.problems import install_problem_handlers


async def routed_only() -> None:
    """A router dependency: it runs for requests FastAPI routes, never for hot ones."""
    raise HTTPException(status_code=418, detail="routed by FastAPI")


def app_with_hot_routes() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    router = APIRouter(prefix="/v1/wards/{ward}", dependencies=[Depends(routed_only)])
    app.add_middleware(HotRoutes, routes=router.routes, handlers=app.exception_handlers)

    @router.post("/things/{name}")
    @hot
    async def make_thing(ward: str, name: str, request: Request) -> Response:
        if ward == "nowhere":
            raise NotFound(f"no ward {ward}")
        body = await request.body()
        text = f"{ward}:{name}:{body.decode()}:{request.path_params['name']}"
        return Response(text, status_code=201)

    @router.get("/things/{name}")
    async def read_thing(ward: str, name: str) -> dict[str, str]:
        return {"name": name}

    app.include_router(router)
    return app


async def test_a_hot_route_is_answered_past_the_router() -> None:
    async with serve(app_with_hot_routes()) as client:
        made = await client.post("/v1/wards/ota/things/lamp", content=b"hello")
        routed = await client.get("/v1/wards/ota/things/lamp")
        elsewhere = await client.post("/v1/wards/ota/things/lamp/parts", content=b"")
    assert made.status_code == 201
    assert made.text == "ota:lamp:hello:lamp"
    assert_problem(routed, 418)  # the same path, another method: FastAPI's router and its deps
    assert_problem(elsewhere, 404)


async def test_errors_of_a_hot_route_are_the_apps_own_problems() -> None:
    async with serve(app_with_hot_routes()) as client:
        missing = await client.post("/v1/wards/nowhere/things/lamp", content=b"")
    assert assert_problem(missing, 404)["detail"] == "no ward nowhere"


def test_a_hot_route_takes_only_the_request_and_text_path_values() -> None:
    async def numbered(ward: str, number: int, request: Request) -> Response:
        return Response()

    with pytest.raises(TypeError, match="number must be a str"):
        hot(numbered)


def test_the_fund_serves_recorded_donations_as_a_hot_route() -> None:
    posts = [
        route
        for route in donations_router.routes
        if getattr(route, "path", "") == "/v1/wards/{ward}/donations"
        and "POST" in getattr(route, "methods", ())
    ]
    assert len(posts) == 1 and is_hot(posts[0])
