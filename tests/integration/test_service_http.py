"""The foundation's HTTP face over real HTTP: tenancy, problem details, limits, tracing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis.asyncio import Redis

from shared.bus import StreamNames
from shared.service import build_service
from shared.settings import Settings
from shared.testing.http import serve
from shared.web.auth import issue_token
from tests.support.sample_service import SPEC

pytestmark = pytest.mark.redis


@pytest.fixture
def settings(stream_names: StreamNames, tmp_path: Path) -> Settings:
    from shared.testing.services import redis_url

    return Settings(
        data_dir=tmp_path,
        redis_url=redis_url(),
        stream_prefix=stream_names.prefix,
        partitions=stream_names.partitions,
        consumer_block_ms=20,
        max_body_bytes=2048,
    )


@pytest.fixture
async def client(settings: Settings, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(build_service(SPEC, settings)) as http:
        yield http


def bearer(settings: Settings, ward: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(settings, ward=ward, roles=list(roles))}"}


async def total(client: httpx.AsyncClient, ward: str) -> dict[str, int]:
    response = await client.get(f"/v1/wards/{ward}/gifts/total")
    assert response.status_code == 200
    return dict(response.json())


async def wait_for_total(client: httpx.AsyncClient, ward: str, gifts: int) -> dict[str, int]:
    async with asyncio.timeout(10):
        while (current := await total(client, ward))["gifts"] < gifts:
            await asyncio.sleep(0.02)
    return current


async def test_write_reaches_the_read_model(client: httpx.AsyncClient, settings: Settings) -> None:
    headers = bearer(settings, "nerima", "finance")
    for amount in (1000, 2500):
        response = await client.post(
            "/v1/wards/nerima/gifts", json={"amount": amount}, headers=headers
        )
        assert response.status_code == 201
    assert await wait_for_total(client, "nerima", 2) == {"gifts": 2, "yen": 3500}
    assert await total(client, "ota") == {"gifts": 0, "yen": 0}


async def test_other_wards_token_is_forbidden_and_changes_nothing(
    client: httpx.AsyncClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.post(
        "/v1/wards/ota/gifts", json={"amount": 100}, headers=bearer(settings, "nerima", "finance")
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 403 and "nerima" in response.json()["detail"]
    assert any("access denied" in r.getMessage() for r in caplog.records)
    reader = await client.get(
        "/v1/wards/ota/gifts/total", headers=bearer(settings, "nerima", "staff")
    )
    assert reader.status_code == 403
    await asyncio.sleep(0.2)
    assert await total(client, "ota") == {"gifts": 0, "yen": 0}


@pytest.mark.parametrize(
    ("headers_for", "status"),
    [
        (lambda s: {}, 401),
        (lambda s: {"Authorization": "Bearer not-a-token"}, 401),
        (lambda s: bearer(s, "nerima", "staff"), 403),
        (lambda s: bearer(Settings(jwt_secret="x" * 40), "nerima", "finance"), 401),
    ],
)
async def test_unauthenticated_or_wrong_role(
    client: httpx.AsyncClient, settings: Settings, headers_for: object, status: int
) -> None:
    headers = headers_for(settings)  # type: ignore[operator]
    response = await client.post("/v1/wards/nerima/gifts", json={"amount": 100}, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        {"amount": -5},
        {"amount": 0},
        {"amount": 10.5},
        {"amount": "1000"},
        {"amount": 100, "unknown": 1},
        {},
    ],
)
async def test_bad_input_is_a_problem_and_changes_nothing(
    client: httpx.AsyncClient, settings: Settings, body: dict[str, object]
) -> None:
    headers = bearer(settings, "nerima", "finance")
    response = await client.post("/v1/wards/nerima/gifts", json=body, headers=headers)
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["type"].endswith("/validation") and problem["errors"]
    await asyncio.sleep(0.1)
    assert await total(client, "nerima") == {"gifts": 0, "yen": 0}


async def test_oversized_and_malformed_bodies(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    headers = {**bearer(settings, "nerima", "finance"), "content-type": "application/json"}
    big = await client.post(
        "/v1/wards/nerima/gifts", content=b'{"note":"' + b"x" * 5000 + b'"}', headers=headers
    )
    assert big.status_code == 413
    assert big.headers["content-type"] == "application/problem+json"
    broken = await client.post("/v1/wards/nerima/gifts", content=b'{"amount": 1', headers=headers)
    assert broken.status_code == 422


async def test_idempotency_key_replays_and_refuses_other_bodies(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    headers = {**bearer(settings, "nerima", "finance"), "Idempotency-Key": "gift-1"}
    first = await client.post("/v1/wards/nerima/gifts", json={"amount": 700}, headers=headers)
    again = await client.post("/v1/wards/nerima/gifts", json={"amount": 700}, headers=headers)
    assert again.json() == {**first.json(), "replayed": True}
    other = await client.post("/v1/wards/nerima/gifts", json={"amount": 800}, headers=headers)
    assert other.status_code == 422
    assert await wait_for_total(client, "nerima", 1) == {"gifts": 1, "yen": 700}


async def test_health_routes(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).status_code == 200
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "redis": True, "workers": True}


async def test_one_trace_from_request_through_append_relay_and_consumer(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    response = await client.post(
        "/v1/wards/nerima/gifts", json={"amount": 1}, headers=bearer(settings, "nerima", "finance")
    )
    assert response.status_code == 201
    await wait_for_total(client, "nerima", 1)
    await asyncio.sleep(0.1)
    spans = exporter.get_finished_spans()
    request_span = next(s for s in spans if s.name == "POST /v1/wards/nerima/gifts")
    trace_id = request_span.context.trace_id
    names = {s.name for s in spans if s.context.trace_id == trace_id}
    assert {"POST /v1/wards/nerima/gifts", "relay.publish sample", "consume sample"} <= names


async def test_readiness_fails_when_the_consumer_has_stopped(
    settings: Settings, redis: Redis
) -> None:
    app = build_service(SPEC, settings)
    async with serve(app) as http:
        assert (await http.get("/health/ready")).status_code == 200
        consumer_task = app.state.ctx.tasks[1]
        consumer_task.cancel()
        await asyncio.sleep(0.05)
        ready = await http.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["workers"] is False


async def test_readiness_fails_when_redis_is_unreachable(tmp_path: Path) -> None:
    from shared.testing.http import free_port

    unreachable = Settings(data_dir=tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with serve(build_service(SPEC, unreachable)) as http:
        ready = await http.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"] is False
        assert (await http.get("/health/live")).status_code == 200


async def test_an_api_process_and_a_workers_process_together_serve_one_service(
    settings: Settings, redis: Redis
) -> None:
    """The API on one core, the relay and consumer on another: a write still reaches the
    read model, the API process runs no workers and the workers process serves no API."""
    api = build_service(SPEC, settings.model_copy(update={"process_role": "api"}))
    workers = build_service(SPEC, settings.model_copy(update={"process_role": "workers"}))
    async with serve(api) as api_http, serve(workers) as workers_http:
        assert api.state.ctx.tasks == []
        assert len(workers.state.ctx.tasks) >= 2
        for http in (api_http, workers_http):
            assert (await http.get("/health/ready")).status_code == 200
        headers = bearer(settings, "nerima", "finance")
        gift = await workers_http.post(
            "/v1/wards/nerima/gifts", json={"amount": 1}, headers=headers
        )
        assert gift.status_code == 404
        response = await api_http.post(
            "/v1/wards/nerima/gifts", json={"amount": 700}, headers=headers
        )
        assert response.status_code == 201
        assert await wait_for_total(api_http, "nerima", 1) == {"gifts": 1, "yen": 700}
